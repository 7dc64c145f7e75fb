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
        return [s for s in self.steps.values() if s.error]


class Tracker:
    """Accumulates SolveStatus lines; keeps the last log lines of every step for error reports."""

    def __init__(self, targets: Sequence[str], log_tail: int = 40) -> None:
        self.targets = {name: TargetProgress(name) for name in targets}
        self.single = targets[0] if len(targets) == 1 else None
        self.vertex_target: dict[str, str | None] = {}
        self.logs: dict[str, list[str]] = {}
        self.log_tail = log_tail
        self.other_lines: list[str] = []

    def _target_of(self, name: str) -> str | None:
        if self.single:
            return self.single
        for target in self.targets:
            if name.startswith((f"[{target} ", f"[{target}]")):
                return target
        return None

    def feed(self, line: str) -> list[Step]:
        """Feed one line; returns the steps that completed with it (for plain progress)."""
        try:
            status = json.loads(line)
        except json.JSONDecodeError:
            if line.strip():
                self.other_lines.append(line.rstrip())
            return []
        if not isinstance(status, dict):
            return []
        return self._apply(status)

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
            if step.error:
                out.append(f"{step.name}: {step.error}")
                out.extend(f"  | {line}" for line in self.logs.get(digest, [])[-15:])
        return out
