"""Run the orchestrator exactly as users do: a subprocess of `python -m orchestrator`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Engine


def orchestrator(
    engine: Engine,
    *args: str,
    cwd: Path = ROOT,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=env or engine.env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"orchestrator {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc
