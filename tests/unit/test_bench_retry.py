"""The bench's retry rule is the same for both sides: an orchestrator build whose bake was retried
inside the run after a registry 500 fails, as a raw bake meeting that 500 does, so attempt() runs
it again and times only the try that succeeded (bench/workspace.py, Workspace.build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.harness import BenchError, Completed, attempt
from bench.workspace import REGISTRY_RETRY, Bench, Workspace


class _Runner:
    """The process seam: answers each `orchestrator build` with the next stderr in line."""

    def __init__(self, stderrs: list[str]) -> None:
        self.stderrs = stderrs
        self.calls = 0

    def run(self, argv: Any, **_: Any) -> Completed:
        self.calls += 1
        return Completed(tuple(argv), 0.0, 0, "", self.stderrs.pop(0))


def _workspace(tmp_path: Path, runner: _Runner) -> Workspace:
    bench = Bench(runner, None, tmp_path, "localhost:5000")  # type: ignore[arg-type]
    return Workspace(bench, "case", tmp_path, base_sets=[])


def test_a_build_that_retried_its_bake_fails(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _Runner([f"{REGISTRY_RETRY} (2/3)\n"]))
    with pytest.raises(BenchError, match="registry 500"):
        ws.build(["production"])


def test_attempt_reruns_it_with_its_setup(tmp_path: Path) -> None:
    runner = _Runner([f"{REGISTRY_RETRY} (2/3)\n", ""])
    ws = _workspace(tmp_path, runner)
    setups: list[int] = []
    retried: list[str] = []
    attempt("warm", lambda: ws.build(["production"]), lambda: setups.append(1), retried, 3)
    assert runner.calls == 2
    assert setups == [1, 1]  # a fresh change before each try
    assert len(retried) == 1
    assert "registry 500" in retried[0]


def test_a_clean_build_passes(tmp_path: Path) -> None:
    runner = _Runner(["done\n"])
    _workspace(tmp_path, runner).build(["production"])
    assert runner.calls == 1
