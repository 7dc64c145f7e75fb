"""Issue 2: the project's own engine builds multi-arch, pushes, and runs arm64 under QEMU."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT, Engine

from .orchestrate import registry_platforms


def test_multi_arch_run_step_build_push_inspect_and_run_arm64(
    engine: Engine, tmp_path: Path
) -> None:
    upstream, local = engine.images["BUSYBOX_UPSTREAM"], engine.images["BUSYBOX_IMAGE"]
    (tmp_path / "Dockerfile").write_text(
        f'FROM {upstream}\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n', encoding="utf-8"
    )
    ref = engine.unique_repo("smoke") + ":1"
    engine.run(
        "docker",
        "buildx",
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "--build-context",
        f"{upstream}=docker-image://{local}",
        "--output",
        f"type=image,name={ref},push=true",
        str(tmp_path),
    )
    assert set(registry_platforms(engine, ref)) == {"linux/amd64", "linux/arm64"}
    out = engine.run("docker", "run", "--rm", "--pull", "always", "--platform", "linux/arm64", ref)
    assert out.stdout.strip() == "aarch64"
    out = engine.run("docker", "run", "--rm", "--platform", "linux/amd64", ref)
    assert out.stdout.strip() == "x86_64"


def _pids() -> tuple[str, str]:
    state = Path("/var/lib/orchestrator-engine/run")
    return (
        (state / "dockerd.pid").read_text().strip(),
        (state / "registry.pid").read_text().strip(),
    )


def test_engine_up_again_changes_nothing(engine: Engine) -> None:
    before = _pids()
    proc = subprocess.run(
        ["bash", str(ROOT / "engine" / "up.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert _pids() == before  # the same daemon and registry processes: nothing was restarted
    assert "installing" not in proc.stdout  # nothing was installed
