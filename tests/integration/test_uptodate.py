"""Build avoidance on the real engine: an unchanged build is not baked, and a target whose
outputs moved or vanished (a tag pointing elsewhere, a loaded image removed) is baked again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOT, Engine

from .orchestrate import orchestrator


def _build(engine: Engine, registry: str, name: str, *extra: str) -> tuple[Any, str]:
    path = ROOT / ".orchestrator" / f"test-uptodate-{name}.json"
    proc = orchestrator(
        engine,
        "build",
        "all",
        "--ci",
        "--report",
        str(path),
        "--var",
        f"REGISTRY={registry}",
        *extra,
    )
    return json.loads(path.read_text()), proc.stderr


def _statuses(report: Any) -> dict[str, str]:
    return {t["name"]: t["status"] for t in report["targets"]}


def test_unchanged_targets_are_not_baked_until_an_output_changes(engine: Engine) -> None:
    registry = engine.unique_repo("uptodate").rsplit("/", 1)[0]
    first, _ = _build(engine, registry, "1")
    assert _statuses(first) == {"development": "ok", "production": "ok"}
    production = {t["name"]: t for t in first["targets"]}["production"]

    again, err = _build(engine, registry, "2")
    assert _statuses(again) == {"development": "up to date", "production": "up to date"}
    assert again["phases"]["bake"] == 0.0
    assert "production: up to date" in err
    same = {t["name"]: t for t in again["targets"]}["production"]
    assert (same["digest"], same["platforms"]) == (production["digest"], production["platforms"])

    # Someone points a release tag at another image: production is built and tagged again.
    sha_tag = next(t for t in production["tags"] if ":sha-" in t)
    busybox = f"{engine.registry}/library/busybox:1.35"
    engine.run("docker", "buildx", "imagetools", "create", "--tag", sha_tag, busybox)
    moved, _ = _build(engine, registry, "3")
    assert _statuses(moved) == {"development": "up to date", "production": "ok"}
    resolved = engine.run(
        "docker", "buildx", "imagetools", "inspect", sha_tag, "--format", "{{json .Manifest}}"
    ).stdout
    assert (
        json.loads(resolved)["digest"]
        == {t["name"]: t for t in moved["targets"]}["production"]["digest"]
    )

    # The loaded development image is removed from the engine: development is built again.
    dev_tag = {t["name"]: t for t in first["targets"]}["development"]["tags"][0]
    engine.run("docker", "image", "rm", dev_tag)
    reloaded, _ = _build(engine, registry, "4")
    assert _statuses(reloaded) == {"development": "ok", "production": "up to date"}

    forced, _ = _build(engine, registry, "5", "--rebuild")
    assert _statuses(forced) == {"development": "ok", "production": "ok"}
    assert forced["phases"]["bake"] > 0
    cpu = forced["cpu"]  # the orchestrator's own CPU, not buildx's
    assert 0 < cpu["bake"] <= cpu["total"]
    assert cpu["per_baked_target"] == pytest.approx(cpu["bake"] / 2, abs=1e-4)
