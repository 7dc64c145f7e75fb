"""Timing machinery: commands, paired rounds in alternating order, medians and ratios.

Every figure is a *paired* measurement: in each round both sides (A and B, or more variants) run
back to back, each after its own untimed setup, and the round's ratio A/B is computed from that
round alone. Rounds alternate the order (A B, then B A, ...) so a slow drift of the machine
(thermal, another build starting) does not always hit the same side. The reported figure is the
median of the per-round ratios; the medians of the raw times are reported next to it.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BenchError(RuntimeError):
    """A command of the benchmark failed: the figure cannot be measured."""


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Runner:
    """Runs commands with one environment; every call is timed with perf_counter."""

    def __init__(self, env: Mapping[str, str], *, verbose: bool = False) -> None:
        self.env = dict(env)
        self.verbose = verbose

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 1800,
        extra_env: Mapping[str, str] | None = None,
    ) -> Completed:
        if self.verbose:
            log(f"  $ {shlex.join(argv)}" + (f"   (in {cwd})" if cwd else ""))
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                list(argv),
                cwd=cwd,
                env={**self.env, **(extra_env or {})},
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{shlex.join(argv)}: no result after {timeout:.0f} s") from None
        seconds = time.perf_counter() - start
        done = Completed(tuple(argv), seconds, proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise BenchError(
                f"{shlex.join(argv)} exited {proc.returncode}"
                + (f" (in {cwd})" if cwd else "")
                + f"\n{_tail(proc.stdout, 10)}\n{_tail(proc.stderr)}".rstrip()
            )
        return done


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the final table."""
    print(message, file=sys.stderr, flush=True)


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` takes. Dirty pages are written out first (untimed): a cold build leaves
    hundreds of MB for the kernel to flush, and that write-back would otherwise land in whichever
    command runs next (measured: warm rebuilds right after a cold one at 2.3-3.6 s)."""
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Variant:
    """One side of a comparison: `setup` is not timed, `action` is."""

    name: str
    action: Callable[[], object]
    setup: Callable[[], object] | None = None


def alternating(items: Sequence[Any], round_index: int) -> list[Any]:
    """Round 0 runs A B C, round 1 C B A, round 2 A B C, ..."""
    return list(items) if round_index % 2 == 0 else list(reversed(items))


def attempt(
    name: str,
    action: Callable[[], object],
    setup: Callable[[], object] | None = None,
    retried: list[str] | None = None,
    tries: int = 2,
) -> float:
    """Setup (untimed), then the timed action; up to `tries` attempts of both when the action
    fails.

    A retry covers transient engine trouble (another client pruning the shared build cache
    mid-build: "snapshot ... does not exist"; the local registry's 500s); it is recorded in the
    figure's notes, and only the attempt that succeeded is timed.
    """
    for number in range(1, tries + 1):
        if setup is not None:
            setup()
        try:
            return timed(action)
        except BenchError as exc:
            if number == tries:
                raise
            why = error_line(str(exc))
            log(f"  {name} failed ({why}); retrying ({number + 1}/{tries})")
            if retried is not None:
                retried.append(f"{name}: one run retried after: {why}")
    raise AssertionError("unreachable")


def error_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["?"])[-1][:300]


def rounds(
    variants: Sequence[Variant],
    count: int,
    *,
    warmup: int = 0,
    label: str = "",
    retried: list[str] | None = None,
    tries: int = 2,
) -> dict[str, list[float]]:
    """`warmup` discarded rounds, then `count` measured ones; seconds per variant, per round."""
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    total = warmup + count
    for index in range(total):
        measured = index >= warmup
        tag = f"round {index - warmup + 1}/{count}" if measured else f"warm-up {index + 1}"
        for variant in alternating(variants, index):
            seconds = attempt(variant.name, variant.action, variant.setup, retried, tries)
            if measured:
                samples[variant.name].append(seconds)
            log(f"[{label}] {tag}: {variant.name}: {seconds:.2f} s")
    return samples


def median(values: Sequence[float]) -> float:
    if not values:
        raise BenchError("no samples")
    return float(statistics.median(values))


def ratio(a: float, b: float) -> float:
    if b <= 0:
        raise BenchError(f"cannot divide by a non-positive measurement ({b})")
    return a / b


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [ratio(x, y) for x, y in zip(a, b, strict=True)]


@dataclass
class Series:
    """The samples of one side: seconds, or bytes for the build-context case."""

    label: str
    samples: list[float]
    unit: str = "s"

    @property
    def median(self) -> float:
        return median(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "median": _round(self.median),
            "samples": [_round(s) for s in self.samples],
        }


@dataclass(frozen=True)
class Goal:
    """`ratio <= limit`; `text` is how the issue states it."""

    limit: float
    text: str

    def met(self, value: float) -> bool:
        return value <= self.limit + 1e-12


@dataclass
class Figure:
    """One row of the table: a ratio A/B with what it is compared against."""

    id: str
    title: str
    a: Series | None = None
    b: Series | None = None
    ratios: list[float] = field(default_factory=list)
    goal: Goal | None = None
    raw: float | None = None  # raw buildx's own ratio for the same pair, measured in this run
    raw_a: Series | None = None
    raw_b: Series | None = None
    reference: str = ""  # a figure from /work/shared/ENGINE.md-style measurements, for contrast
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    # An absolute figure (a goal in seconds, ms or MB, not a ratio): `ratios` then holds the
    # measured values themselves, in this unit, and A/B shows their median.
    unit: str = ""

    @property
    def ratio(self) -> float | None:
        return median(self.ratios) if self.ratios else None

    @property
    def pairs(self) -> int:
        return len(self.ratios)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        value = self.ratio
        if self.goal is None or value is None:
            return "info"
        return "pass" if self.goal.met(value) else "fail"

    def to_dict(self) -> dict[str, Any]:
        value = self.ratio
        return {
            "id": self.id,
            "title": self.title,
            "ratio": _round(value) if value is not None else None,
            "ratios": [_round(r) for r in self.ratios],
            "pairs": self.pairs,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
            "raw_ratio": _round(self.raw) if self.raw is not None else None,
            "raw_a": self.raw_a.to_dict() if self.raw_a else None,
            "raw_b": self.raw_b.to_dict() if self.raw_b else None,
            "goal": {"limit": _round(self.goal.limit), "text": self.goal.text}
            if self.goal
            else None,
            "status": self.status,
            "reference": self.reference or None,
            "notes": list(self.notes),
            "error": self.error,
            "unit": self.unit or None,
        }


def _round(value: float) -> float:
    if math.isinf(value) or math.isnan(value):
        return value
    # Six significant digits: a ratio of 0.000724 must not become 0.0007.
    return float(f"{value:.6g}") if abs(value) < 1000 else round(value, 1)


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """The objects of a `--progress=rawjson` stream (pretty-printed, concatenated, maybe mixed
    with plain warning lines, which are skipped)."""
    decoder = json.JSONDecoder()
    index = text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            yield value
        index = text.find("{", end)
