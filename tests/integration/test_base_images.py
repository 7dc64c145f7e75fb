"""The base images are reproducible, so a fresh clone's committed builds.lock verifies here.

Before, `docker import` stamped each machine's base images with the time they were made: the
committed lock failed `pin --check` everywhere but on the machine that wrote it, and `make demo`
re-pinned, which made every demo release `-dirty`. Now the same Debian packages give the same
bytes, so the same digests (engine/ociimage.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT, Engine

from .orchestrate import orchestrator, registry_platforms


def _registry_digest(engine: Engine, ref: str) -> str:
    out = engine.run(
        "docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest.Digest}}", ref
    )
    return out.stdout.strip().strip('"')


def _clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True, timeout=120
    )
    return clone


def test_committed_lock_verifies_in_a_fresh_clone(engine: Engine, tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    committed = subprocess.run(
        ["git", "show", "HEAD:builds.lock"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert (clone / "builds.lock").read_text() == committed
    proc = orchestrator(engine, "pin", "--check", cwd=clone)
    assert proc.stdout == "builds.lock is up to date (1 image)\n"
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, check=True, capture_output=True, text=True
    )
    assert status.stdout == ""  # nothing was re-pinned: a release from here is clean


def test_busybox_rebuilt_from_its_packages_has_the_registry_digest(engine: Engine) -> None:
    """The whole recipe run again, pushing nothing: the layout's digest is the registry's."""
    proc = engine.run("bash", str(ROOT / "engine" / "base-images.sh"), "digest", "busybox")
    rebuilt = proc.stdout.strip().splitlines()[-1]
    assert rebuilt.startswith("sha256:")
    assert rebuilt == _registry_digest(engine, engine.images["BUSYBOX_IMAGE"])


def test_release_from_a_fresh_clone_gets_the_full_tag_set(engine: Engine, tmp_path: Path) -> None:
    """What `make release VERSION=…` runs, in a fresh clone: clean tree, pin --check, build."""
    clone = _clone(tmp_path)
    registry = engine.unique_repo("clone").rsplit("/", 1)[0]
    orchestrator(
        engine, "release", "--var", "VERSION=2.3.4", "--var", f"REGISTRY={registry}", cwd=clone
    )
    head = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"],
        cwd=clone,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for tag in ("2.3.4", "2.3", "2", "latest", f"sha-{head}"):
        platforms = registry_platforms(engine, f"{registry}/sample-go-app:{tag}")
        assert set(platforms) == {"linux/amd64", "linux/arm64"}
