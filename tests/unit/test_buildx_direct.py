"""buildx is started the way the docker CLI starts it, found where the CLI looks for it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import executor


@pytest.fixture(autouse=True)
def fresh_lookup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv(executor.DIRECT_ENV, raising=False)
    monkeypatch.setattr(executor, "SYSTEM_PLUGIN_DIRS", (str(tmp_path / "system"),))
    executor.buildx_plugin.cache_clear()
    yield
    executor.buildx_plugin.cache_clear()


def plugin(folder: Path, executable: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker-buildx"
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755 if executable else 0o644)
    return path


def test_no_plugin_found_means_docker_buildx() -> None:
    assert executor.buildx("inspect") == (["docker", "buildx", "inspect"], None)


def test_the_plugin_runs_as_the_cli_would_run_it(tmp_path: Path) -> None:
    found = plugin(tmp_path / "system")
    argv, env = executor.buildx("bake", "--file", "x.json")
    assert argv == [str(found), "buildx", "bake", "--file", "x.json"]
    assert env is not None
    assert env[executor.PLUGIN_ENV] == "docker"
    assert env["PATH"] == os.environ["PATH"]  # the rest of our environment is kept
    assert executor.PLUGIN_ENV not in os.environ  # and ours is not changed


def test_search_order_config_dir_then_extra_dirs_then_system(tmp_path: Path) -> None:
    plugin(tmp_path / "system")
    extra = plugin(tmp_path / "extra")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.json").write_text(
        json.dumps({"cliPluginsExtraDirs": [str(tmp_path / "extra")]}), encoding="utf-8"
    )
    assert executor.buildx_plugin() == str(extra)
    executor.buildx_plugin.cache_clear()
    own = plugin(tmp_path / "config" / "cli-plugins")
    assert executor.buildx_plugin() == str(own)


def test_not_executable_or_a_broken_config_is_skipped(tmp_path: Path) -> None:
    plugin(tmp_path / "config" / "cli-plugins", executable=False)
    (tmp_path / "config" / "config.json").write_text("{not json", encoding="utf-8")
    system = plugin(tmp_path / "system")
    assert executor.buildx_plugin() == str(system)
    skipped = tmp_path / "config" / "cli-plugins" / "docker-buildx"
    assert not skipped.stat().st_mode & stat.S_IXUSR


def test_switched_off_uses_the_docker_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin(tmp_path / "system")
    monkeypatch.setenv(executor.DIRECT_ENV, "0")
    assert executor.buildx("version") == (["docker", "buildx", "version"], None)
