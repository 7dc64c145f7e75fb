"""Build avoidance on the real engine: an unchanged build is not baked, and a target whose
outputs moved or vanished (a tag pointing elsewhere, a loaded image removed) is baked again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import uptodate
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
    # Nothing was baked: the phase is a few bookkeeping calls (2 ms once, on a loaded machine).
    assert again["phases"]["bake"] < 0.05
    assert again["cpu"].get("per_baked_target") is None
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
    assert 0 <= cpu["preload"] < cpu["bake"]
    # production's index and attestations were read back while the bake ran (readahead.py)
    assert 0 < cpu["readahead"] < cpu["bake"]
    per_target = (cpu["bake"] - cpu["preload"] - cpu["readahead"]) / 2
    assert cpu["per_baked_target"] == pytest.approx(per_target, abs=1e-4)
    after, _ = _build(engine, registry, "6")  # a --rebuild leaves records like any build
    assert _statuses(after) == {"development": "up to date", "production": "up to date"}


def test_a_base_referenced_by_tag_is_keyed_by_what_the_tag_resolves_to(
    engine: Engine, tmp_path: Path
) -> None:
    """`FROM busybox:1.35` through a mirror, no lock: unchanged builds are up to date (also
    after --rebuild, whose records count), and moving the base's tag rebuilds the target."""
    base = engine.unique_repo("base") + ":1"
    image = engine.unique_repo("app")
    engine.run("docker", "buildx", "imagetools", "create", "--tag", base,
               engine.images["BUSYBOX_IMAGE"])  # fmt: skip
    (tmp_path / "builds.yaml").write_text(
        "version: 1\n"
        # a context of its own (the manifest directory as context: the test below)
        f"project: {{name: tagged, image: {image}, context: ctx}}\n"
        f"mirrors: {{'busybox:1.35': '{base}'}}\n"
        "targets:\n"
        "  app: {tags: [v1], outputs: [push], platforms: [linux/amd64]}\n",
        encoding="utf-8",
    )
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(
        'FROM busybox:1.35\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n',
        encoding="utf-8",
    )
    (tmp_path / "ctx" / "hello.txt").write_text("hi\n", encoding="utf-8")
    time.sleep(uptodate.RACY_SECONDS + 0.5)  # out of the racy-clean window: recordable

    def build(*extra: str) -> str:
        report = tmp_path.parent / f"{tmp_path.name}-report.json"  # not in the context
        orchestrator(engine, "build", "--skip-checks", "--report", str(report), *extra,
                     cwd=tmp_path)  # fmt: skip
        (target,) = json.loads(report.read_text())["targets"]
        return str(target["status"])

    assert build() == "ok"
    assert build() == "up to date"
    assert build("--rebuild") == "ok"
    assert build() == "up to date"  # the --rebuild's record
    # The base tag moves (a new busybox release, say): the same Dockerfile is a new build.
    engine.run("docker", "buildx", "imagetools", "create", "--tag", base,
               engine.images["DEBIAN_IMAGE"])  # fmt: skip
    assert build() == "ok"
    assert build() == "up to date"
    out = engine.run("docker", "run", "--rm", "--pull", "always", f"{image}:v1").stdout
    assert out.strip() == "hi"


def test_a_project_built_from_its_own_directory_becomes_up_to_date(
    engine: Engine, tmp_path: Path
) -> None:
    """The most common layout: builds.yaml, Dockerfile and `COPY . .` at the root of a git
    repository, with a .dockerignore written before this tool (`.git` only). `.git` (which
    every git query rewrites) and the tool's own `.orchestrator/` must not keep it stale, and
    the directory must not reach the image: build sends a copy of the Dockerfile whose own
    ignore file leaves it out (before, check OR022 refused such a build until the user edited
    .dockerignore). The user's .dockerignore is not touched."""
    image = engine.unique_repo("rootctx")
    (tmp_path / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: rootctx, image: {image}}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        "targets:\n"
        "  app: {tags: [v1], outputs: [push], platforms: [linux/amd64]}\n",
        encoding="utf-8",
    )
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:1.35\nWORKDIR /app\nCOPY . .\nUSER 65534:65534\n"
        'HEALTHCHECK CMD ["true"]\nCMD ["ls", "-a", "/app"]\n',
        encoding="utf-8",
    )
    (tmp_path / "hello.txt").write_text("hi\n", encoding="utf-8")
    ignore = tmp_path / ".dockerignore"
    ignore.write_text(".git\n", encoding="utf-8")
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "one")):
        engine.run("git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args)

    time.sleep(uptodate.RACY_SECONDS + 0.5)  # out of the racy-clean window: recordable

    def build() -> str:
        orchestrator(engine, "build", cwd=tmp_path)
        report = json.loads((tmp_path / ".orchestrator" / "report.json").read_text())
        return str(report["targets"][0]["status"])

    assert build() == "ok"
    assert build() == "up to date"
    listed = engine.run("docker", "run", "--rm", "--pull", "always", f"{image}:v1").stdout.split()
    assert "hello.txt" in listed
    assert "builds.yaml" in listed
    assert ".orchestrator" not in listed
    assert ".git" not in listed
    assert ignore.read_text(encoding="utf-8") == ".git\n"
