"""Turn buildx's `--progress=rawjson` stream into per-target progress and counts.

Each line is a BuildKit SolveStatus: `vertexes` (steps: name, started, completed, cached, error),
`statuses`, `logs` (base64 output of a step). bake prefixes step names with `[target ...]` when
it builds several targets, which is how steps are attributed to targets.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    name: str
    target: str | None
    started: bool = False
    completed: bool = False
    cached: bool = False
    error: str = ""


@dataclass
class TargetProgress:
    name: str
    started_at: float | None = None
    finished_at: float | None = None
    steps: dict[str, Step] = field(default_factory=dict)
    current: str = ""

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps.values() if s.completed)

    @property
    def cached(self) -> int:
        return sum(1 for s in self.steps.values() if s.cached)

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps.values() if is_failure(s)]


def is_failure(step: Step) -> bool:
    """A step error that failed the build, not BuildKit's own bookkeeping.

    BuildKit cancels duplicate vertices (same step for two platforms or targets) with "context
    canceled", and a first build has no registry cache to import yet: neither is the cause.
    """
    if not step.error:
        return False
    if "context canceled" in step.error:
        return False
    return not step.name.startswith("importing cache manifest")


class Tracker:
    """Accumulates SolveStatus lines; keeps the last log lines of every step for error reports."""

    def __init__(self, targets: Sequence[str], log_tail: int = 40) -> None:
        self.targets = {name: TargetProgress(name) for name in targets}
        self.single = targets[0] if len(targets) == 1 else None
        self.vertex_target: dict[str, str | None] = {}
        self.logs: dict[str, list[str]] = {}
        self.log_tail = log_tail
        self.other_lines: list[str] = []
        self._buffer = ""
        self._decoder = json.JSONDecoder()

    def _target_of(self, name: str) -> str | None:
        if self.single:
            return self.single
        for target in self.targets:
            if name.startswith((f"[{target} ", f"[{target}]")):
                return target
        return None

    def feed(self, line: str) -> list[Step]:
        """Feed one line of output; returns the steps completed by it (for plain progress).

        buildx 0.13 pretty-prints each SolveStatus over many lines, and prints plain text (the
        final `ERROR: ...`) in between, so objects are cut out of a buffer as they complete.
        """
        if not self._buffer and not line.lstrip().startswith("{"):
            if line.strip():
                self.other_lines.append(line.rstrip())
            return []
        self._buffer += line
        completed: list[Step] = []
        while self._buffer:
            text = self._buffer.lstrip()
            try:
                status, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                if len(text) > 64 * 1024 * 1024:  # not JSON after all: don't grow forever
                    self.other_lines.append(text[:200])
                    self._buffer = ""
                break
            self._buffer = text[end:]
            if isinstance(status, dict):
                completed += self._apply(status)
            if not self._buffer.strip():
                self._buffer = ""
        return completed

    def _apply(self, status: dict[str, Any]) -> list[Step]:
        now = time.monotonic()
        completed: list[Step] = []
        for vertex in status.get("vertexes") or []:
            digest = str(vertex.get("digest", ""))
            name = str(vertex.get("name", ""))
            target = self.vertex_target.setdefault(digest, self._target_of(name))
            owners = [self.targets[target]] if target else []
            for tp in owners:
                step = tp.steps.setdefault(digest, Step(name, target))
                if vertex.get("started") and not step.started:
                    step.started = True
                    tp.current = name
                    tp.started_at = tp.started_at or now
                if vertex.get("cached"):
                    step.cached = True
                if vertex.get("error"):
                    step.error = str(vertex["error"])
                if vertex.get("completed") and not step.completed:
                    step.completed = True
                    completed.append(step)
                    tp.finished_at = now
        for log in status.get("logs") or []:
            digest = str(log.get("vertex", ""))
            try:
                text = base64.b64decode(log.get("data") or b"").decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                continue
            lines = self.logs.setdefault(digest, [])
            lines.extend(text.splitlines())
            del lines[: -self.log_tail]
        return completed

    def failure_lines(self, target: str) -> list[str]:
        tp = self.targets[target]
        out: list[str] = []
        for digest, step in tp.steps.items():
            if is_failure(step):
                out.append(f"{step.name}: {step.error}")
                out.extend(f"  | {line}" for line in self.logs.get(digest, [])[-15:])
        return out
