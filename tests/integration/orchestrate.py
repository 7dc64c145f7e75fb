"""Run the orchestrator exactly as users do: a subprocess of `python -m orchestrator`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Engine


def run_cli(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """`python -m orchestrator ARGS` in `cwd` with exactly `env`; the caller judges the result."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def orchestrator(
    engine: Engine,
    *args: str,
    cwd: Path = ROOT,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the engine; fail the test with its output when it fails."""
    proc = run_cli(env or engine.env, cwd, *args)
    if check and proc.returncode != 0:
        pytest.fail(
            f"orchestrator {' '.join(args)} exited {proc.returncode}\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def raw_text(engine: Engine, ref: str) -> str:
    """The exact manifest/index bytes the registry serves for `ref` (imagetools inspect --raw)."""
    return engine.run("docker", "buildx", "imagetools", "inspect", "--raw", ref).stdout


def raw_manifest(engine: Engine, ref: str) -> Any:
    """The manifest/index the registry serves for `ref`, parsed."""
    return json.loads(raw_text(engine, ref))


def platforms_of(index: Any) -> dict[str, str]:
    """`os/arch` -> manifest digest of an index, attestation entries left out."""
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}": str(m["digest"])
        for m in index["manifests"]
        if m["platform"]["os"] != "unknown"
    }


def registry_platforms(engine: Engine, ref: str) -> dict[str, str]:
    """`os/arch` -> manifest digest in the registry's index for `ref`."""
    return platforms_of(raw_manifest(engine, ref))


def image_version(engine: Engine, ref: str, platform: str) -> str:
    """What `IMAGE --version` prints, pulled fresh from the registry for `platform`."""
    out = engine.run(
        "docker", "run", "--rm", "--pull", "always", "--platform", platform, ref, "--version"
    )
    return out.stdout.strip()


def run_published(engine: Engine, name: str, port: int, image: str, *extra: str) -> None:
    """`docker run -d` with the container's 8080 published on 127.0.0.1:`port`."""
    engine.run("docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", *extra, image)
