"""Issue 4: plan -> bake definition buildx accepts; build -> report digests = the registry's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator import gitinfo
from tests.conftest import ROOT, Engine

from .orchestrate import orchestrator, registry_platforms


def test_bake_definition_is_accepted_by_buildx_unchanged(engine: Engine, tmp_path: Path) -> None:
    out = orchestrator(engine, "plan", "--format", "bake", "all")
    definition = tmp_path / "p.json"
    definition.write_text(out.stdout, encoding="utf-8")
    printed = json.loads(
        engine.run(
            "docker",
            "buildx",
            "bake",
            "-f",
            str(definition),
            "--print",
            "development",
            "production",
        ).stdout
    )
    ours = json.loads(out.stdout)
    for name in ("development", "production"):
        theirs = printed["target"][name]
        assert theirs["target"] == ours["target"][name]["target"]
        assert theirs["output"] == ours["target"][name]["output"]
        assert theirs["args"] == ours["target"][name]["args"]
        assert theirs.get("platforms") == ours["target"][name].get("platforms")


def test_build_reports_the_registry_digests_and_git_version(engine: Engine) -> None:
    registry = engine.unique_repo("pipe").rsplit("/", 1)[0]
    report_path = ROOT / ".orchestrator" / f"test-pipeline-{registry.rsplit('/', 1)[-1]}.json"
    orchestrator(
        engine, "build", "production", "--var", f"REGISTRY={registry}", "--report", str(report_path)
    )
    report = json.loads(report_path.read_text())
    (target,) = report["targets"]
    git = gitinfo.read(ROOT)
    assert report["version"] == git.version
    assert target["status"] == "ok"
    repo = f"{registry}/sample-go-app"
    for tag in target["tags"]:
        assert registry_platforms(engine, tag) == target["platforms"]
        # The digest is the sha256 of the exact bytes the registry serves for the tag.
        raw_bytes = engine.run("docker", "buildx", "imagetools", "inspect", "--raw", tag).stdout
        assert f"sha256:{hashlib.sha256(raw_bytes.encode()).hexdigest()}" == target["digest"]
    # The arm64 image prints the VERSION and GIT_COMMIT derived from git.
    out = engine.run(
        "docker",
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        "linux/arm64",
        f"{repo}@{target['digest']}",
        "--version",
    )
    assert out.stdout.strip() == f"sample-go-app {git.version} (commit {git.short})"


def test_overridden_variables_reach_the_binary(engine: Engine) -> None:
    registry = engine.unique_repo("ovr").rsplit("/", 1)[0]
    orchestrator(
        engine,
        "build",
        "production",
        "--var",
        f"REGISTRY={registry}",
        "--var",
        "VERSION=7.7.7",
        "--var",
        "GIT_COMMIT=feedbee",
    )
    out = engine.run(
        "docker",
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        "linux/arm64",
        f"{registry}/sample-go-app:7.7.7",
        "--version",
    )
    assert out.stdout.strip() == "sample-go-app 7.7.7 (commit feedbee)"
