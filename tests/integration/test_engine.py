"""Issue 2: the project's own engine builds multi-arch, pushes, and runs arm64 under QEMU."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator import executor
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


def test_buildx_started_directly_answers_as_docker_buildx_does(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """executor.buildx() skips the docker CLI in front of the plugin; nothing else changes."""
    monkeypatch.setenv("DOCKER_HOST", engine.env["DOCKER_HOST"])
    executor.buildx_plugin.cache_clear()
    assert executor.buildx_plugin() is not None  # engine/up.sh installs it where the CLI looks
    missing = f"{engine.unique_repo('direct')}:absent"
    direct = executor.engine_info()
    direct_missing = executor.run_buildx("imagetools", "inspect", missing)
    monkeypatch.setenv(executor.DIRECT_ENV, "0")
    executor.buildx_plugin.cache_clear()
    assert executor.buildx("version")[0][:2] == ["docker", "buildx"]
    through_cli = executor.engine_info()
    cli_missing = executor.run_buildx("imagetools", "inspect", missing)
    executor.buildx_plugin.cache_clear()
    assert direct == through_cli
    assert direct.buildx_version != "unknown"
    assert "linux/arm64" in direct.platforms
    assert direct_missing.returncode == cli_missing.returncode != 0
    assert direct_missing.stderr.splitlines()[-1:] == cli_missing.stderr.splitlines()[-1:]


def test_engine_env_puts_the_engines_own_cli_first_on_path() -> None:
    """`. .engine/env` must give the engine's own CLI (same release as dockerd), not whatever
    `docker` comes first on PATH (these machines ship another one in /usr/local/bin)."""
    env_file = ROOT / ".engine" / "env"
    script = (
        f'PATH=/usr/local/bin:/usr/bin:/bin; . "{env_file}"; . "{env_file}"; '
        'command -v docker; echo "$PATH"; '
        "docker version --format '{{.Client.Version}} {{.Server.Version}}'"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    found, path, versions = out.stdout.splitlines()
    assert found == str(ROOT / ".engine" / "bin" / "docker")
    assert path == f"{ROOT / '.engine' / 'bin'}:/usr/local/bin:/usr/bin:/bin"  # once, first
    client, server = versions.split()
    assert client == server
