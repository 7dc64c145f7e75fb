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

from .orchestrate import orchestrator


def _registry_digest(engine: Engine, ref: str) -> str:
    out = engine.run(
        "docker", "buildx", "imagetools", "inspect", "--format", "{{json .Manifest.Digest}}", ref
    )
    return out.stdout.strip().strip('"')


def test_committed_lock_verifies_in_a_fresh_clone(engine: Engine, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True, timeout=120
    )
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
