"""`orchestrator release`: refuses a dirty tree and a drifted lock before building."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from orchestrator.commands import build, pin
from orchestrator.gitinfo import GitInfo
from orchestrator.main import main

from . import helpers
from .helpers import write_project


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def fake_build(args: argparse.Namespace) -> int:
        seen.append("build")
        return 0

    monkeypatch.setattr(build, "run", fake_build)
    monkeypatch.setattr(pin, "drift", lambda _loaded: [])
    monkeypatch.setenv("TOKEN", "x")
    return seen


def _git(monkeypatch: pytest.MonkeyPatch, *, dirty: bool, version: str = "1.2.3") -> None:
    info = GitInfo("c" * 40, "ccccccc", "main", dirty, "", 1700000000, version)
    monkeypatch.setattr("orchestrator.gitinfo.read", lambda _root: info)


def test_dirty_tree_is_refused_without_force(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _git(monkeypatch, dirty=True)
    path = write_project(tmp_path, helpers.BASE)
    assert main(["release", "-f", str(path)]) == 2
    assert "uncommitted changes; commit them, or pass --force" in capsys.readouterr().err
    assert calls == []
    assert main(["release", "-f", str(path), "--force"]) == 0
    assert calls == ["build"]


def test_lock_drift_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _git(monkeypatch, dirty=False)
    monkeypatch.setattr(
        pin, "drift", lambda _loaded: ["drift: golang:1.23: locked sha256:a, registry now sha256:b"]
    )
    path = write_project(tmp_path, helpers.BASE)
    assert main(["release", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert "builds.lock does not match" in err
    assert "drift: golang:1.23: locked sha256:a, registry now sha256:b" in err
    assert calls == []


def test_prerelease_version_warns_but_builds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _git(monkeypatch, dirty=False, version="1.2.4-dev.3.gccccccc")
    path = write_project(tmp_path, helpers.BASE)
    assert main(["release", "-f", str(path)]) == 0
    assert "is not a plain release" in capsys.readouterr().err
    assert calls == ["build"]
