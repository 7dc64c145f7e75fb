"""Issue 4: plan -> bake definition buildx accepts; build -> report digests = the registry's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator import gitinfo
from tests.conftest import ROOT, Engine

from .orchestrate import image_version, orchestrator, platforms_of, raw_text


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
        text = raw_text(engine, tag)
        assert platforms_of(json.loads(text)) == target["platforms"]
        # The digest is the sha256 of the exact bytes the registry serves for the tag.
        assert f"sha256:{hashlib.sha256(text.encode()).hexdigest()}" == target["digest"]
    # The arm64 image prints the VERSION and GIT_COMMIT derived from git.
    version = image_version(engine, f"{repo}@{target['digest']}", "linux/arm64")
    assert version == f"sample-go-app {git.version} (commit {git.short})"


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
    out = image_version(engine, f"{registry}/sample-go-app:7.7.7", "linux/arm64")
    assert out == "sample-go-app 7.7.7 (commit feedbee)"
