"""Issue 7 on the real engine: registry cache reuse on an empty builder, reproducible digests."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ROOT, Engine

from .orchestrate import orchestrator, registry_platforms


def _report(engine: Engine, name: str, *args: str) -> Any:
    path = ROOT / ".orchestrator" / f"test-{name}.json"
    orchestrator(engine, "build", "production", "--ci", "--report", str(path), *args)
    return json.loads(path.read_text())


def test_ci_run_on_empty_builder_state_reuses_the_registry_cache(engine: Engine) -> None:
    registry = engine.unique_repo("cache").rsplit("/", 1)[0]
    _report(engine, "cache-1", "--var", f"REGISTRY={registry}")
    # An empty builder, as on a fresh CI runner: only the registry cache can help now.
    # (--rebuild: on a fresh runner there is no up-to-date record; here there is one.)
    engine.run("docker", "buildx", "prune", "-af")
    path = ROOT / ".orchestrator" / "test-cache-2.json"
    proc = orchestrator(
        engine,
        "build",
        "production",
        "--ci",
        "--report",
        str(path),
        "--var",
        f"REGISTRY={registry}",
        "--rebuild",
    )
    (target,) = json.loads(path.read_text())["targets"]
    assert target["cached_steps"] > 0
    # The expensive steps, the Go compile for each platform, came from the registry cache.
    compiles = [line for line in proc.stderr.splitlines() if "go build" in line]
    assert {"GOARCH=amd64", "GOARCH=arm64"} <= {
        arch for line in compiles for arch in ("GOARCH=amd64", "GOARCH=arm64") if arch in line
    }
    assert all(" CACHED " in line for line in compiles), compiles


def test_two_clean_reproducible_builds_give_identical_digests(engine: Engine) -> None:
    digests = []
    for n in (1, 2):
        registry = engine.unique_repo(f"repro{n}").rsplit("/", 1)[0]
        report = _report(
            engine,
            f"repro-{n}",
            "--var",
            f"REGISTRY={registry}",
            "--set",
            "production.reproducible=true",
            "--set",
            "production.no-cache=true",
        )
        (target,) = report["targets"]
        assert target["status"] == "ok"
        per_platform = registry_platforms(engine, target["tags"][0])
        assert per_platform == target["platforms"]
        digests.append((target["digest"], per_platform))
    assert digests[0] == digests[1]
    assert set(digests[0][1]) == {"linux/amd64", "linux/arm64"}


def test_verify_reproducible_builds_twice_and_agrees(engine: Engine) -> None:
    registry = engine.unique_repo("verify").rsplit("/", 1)[0]
    proc = orchestrator(
        engine,
        "build",
        "production",
        "--ci",
        "--verify-reproducible",
        "--var",
        f"REGISTRY={registry}",
        "--set",
        "production.reproducible=true",
    )
    assert "verify-reproducible: identical digests" in proc.stderr
