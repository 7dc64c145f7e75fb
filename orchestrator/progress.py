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
from collections.abc import Callable, Sequence
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


def step_line(step: Step, elapsed: float, node: str | None = None) -> str:
    """A completed step as plain progress prints it (`node/` first for a fan-out build)."""
    mark = "CACHED" if step.cached else ("ERROR" if is_failure(step) else "done")
    where = f"{node}/{step.target or '-'}" if node else step.target or "-"
    return f"[{where}] {elapsed:6.1f}s {mark:6} {step.name}"


MAX_OBJECT = 64 * 1024 * 1024  # characters of one SolveStatus, far above any real one
_BLANKS = frozenset(" \t\r\n")
# The status BuildKit's image exporter shows while it pushes an image's root manifest or index;
# once completed, that image is in the registry (its tags come later: build.py).
PUSHING = "pushing manifest for "


class Tracker:
    """Accumulates SolveStatus lines; keeps the last log lines of every step for error reports."""

    def __init__(self, targets: Sequence[str], log_tail: int = 40) -> None:
        self.targets = {name: TargetProgress(name) for name in targets}
        self.single = targets[0] if len(targets) == 1 else None
        # Names a `[name ...]` prefix cannot be cut out of (a space or `]` in them): only with
        # one of those is a vertex name matched against every target, as before.
        self._odd_names = any(" " in t or "]" in t for t in targets)
        self.vertex_target: dict[str, str | None] = {}
        self.logs: dict[str, list[str]] = {}
        self.log_tail = log_tail
        self.other_lines: list[str] = []
        # Counts the changes a progress table shows (a step added, started, cached or done),
        # so a display redraws only when there is something new to draw.
        self.version = 0
        # Text read but not yet applied: the start of an object or of a line still being written.
        self._buffer = ""
        self._searched = 0  # see feed
        self._decoder = json.JSONDecoder()
        # Called once per image pushed (reference as pushed, digest), while the bake runs on.
        self.on_pushed: Callable[[str, str], None] | None = None
        self._pushed: set[str] = set()

    def _target_of(self, name: str) -> str | None:
        if self.single:
            return self.single
        if not self._odd_names:
            # `[target 2/5] RUN ...` or `[target] exporting ...`: the word after `[` is the only
            # target the prefix test below can match, so one dict lookup replaces the loop.
            if not name.startswith("["):
                return None
            end = len(name)
            for stop in (" ", "]"):
                found = name.find(stop, 1)
                if found != -1 and found < end:
                    end = found
            word = name[1:end]
            return word if end < len(name) and word in self.targets else None
        for target in self.targets:
            if name.startswith((f"[{target} ", f"[{target}]")):
                return target
        return None

    def feed(self, text: str) -> list[Step]:
        """Feed output as it arrives, in pieces of any size (a line, many lines, part of one);
        returns the steps completed by it (for plain progress).

        buildx 0.13 pretty-prints each SolveStatus over many lines (Go's indenting encoder:
        `{` alone on its line, every line inside indented, `}` at column 0 last), later ones one
        object a line, and plain text (the final `ERROR: ...`) comes in between. Objects are
        cut out of the text by those marks with str.find, and each is decoded once: a bake of
        30 targets sends ~25,000 lines in ~1,800 writes, and Python work per line was most of
        the CPU the orchestrator spent while it ran (measured: 0.29 s in the reading thread,
        of which 0.05 s the decoding and the steps)."""
        buffer = self._buffer + text if self._buffer else text
        completed: list[Step] = []
        at, size = 0, len(buffer)
        # How far the item still pending from the last piece (it starts at 0) was searched for
        # its end: not again, so an object or line arriving in many pieces costs its length
        # once, not once per piece (less a mark's length: one may straddle the cut).
        searched, self._searched = max(0, self._searched - 2), 0
        while at < size:
            if buffer[at] in _BLANKS:  # between objects and lines: newlines, stray blanks
                at += 1
                continue
            start = max(at, searched) if at == 0 else at
            if buffer[at] != "{":  # a line of plain text, once it is whole
                stop = buffer.find("\n", start)
                if stop != -1:
                    self.other_lines.append(buffer[at:stop].rstrip())
                    at = stop + 1
                    continue
            elif buffer.startswith(("{\n", "{\r\n"), at):  # pretty: ends at `}` in column 0
                stop = buffer.find("\n}", start)
                # A `{` at column 0 before it starts the next object: this one was cut off.
                cut = buffer.find("\n{", start, size if stop == -1 else stop)
                if cut != -1:
                    self.other_lines.append(buffer[at:cut].rstrip()[:200])
                    at = cut + 1
                    continue
                stop = -1 if stop == -1 else stop + 2
            else:  # compact: the object is its line
                stop = buffer.find("\n", start)
            if stop == -1:  # still being written
                if size - at > MAX_OBJECT:  # too long to be a line or object: keep its start
                    self.other_lines.append(buffer[at : at + 200].rstrip())
                    at = size
                break
            completed += self._object(buffer[at:stop])
            at = stop
        self._buffer = buffer[at:]
        self._searched = len(self._buffer)
        return completed

    def finish(self) -> list[Step]:
        """The stream ended: what is left is a last object or line without its newline."""
        rest, self._buffer, self._searched = self._buffer, "", 0
        return self.feed(rest + "\n") if rest.strip() else []

    def _object(self, text: str) -> list[Step]:
        """Apply the object(s) `text` holds; what is not one is kept as text."""
        completed: list[Step] = []
        while text := text.strip():
            try:
                status, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self.other_lines.append(text[:200].rstrip())
                break
            text = text[end:]
            if isinstance(status, dict):
                completed += self._apply(status)
        return completed

    def _apply(self, status: dict[str, Any]) -> list[Step]:
        now = time.monotonic()
        completed: list[Step] = []
        for vertex in status.get("vertexes") or []:
            digest = str(vertex.get("digest", ""))
            name = str(vertex.get("name", ""))
            if digest in self.vertex_target:
                target = self.vertex_target[digest]
            else:  # attributed once, by the name it first came with
                target = self.vertex_target[digest] = self._target_of(name)
            if target:
                tp = self.targets[target]
                step = tp.steps.get(digest)
                if step is None:
                    step = tp.steps[digest] = Step(name, target)
                    self.version += 1
                if vertex.get("started") and not step.started:
                    step.started = True
                    tp.current = name
                    tp.started_at = tp.started_at or now
                    self.version += 1
                if vertex.get("cached") and not step.cached:
                    step.cached = True
                    self.version += 1
                if vertex.get("error"):
                    step.error = str(vertex["error"])
                if vertex.get("completed") and not step.completed:
                    step.completed = True
                    completed.append(step)
                    tp.finished_at = now
                    self.version += 1
        if self.on_pushed is not None:
            self._seen_pushes(status.get("statuses") or [])
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

    def _seen_pushes(self, statuses: list[Any]) -> None:
        for entry in statuses:
            ident = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(ident, str) or not ident.startswith(PUSHING):
                continue
            if not entry.get("completed") or ident in self._pushed:
                continue
            self._pushed.add(ident)
            ref, _, digest = ident[len(PUSHING) :].rpartition("@")
            if ref and digest.startswith("sha256:") and self.on_pushed is not None:
                self.on_pushed(ref, digest)

    def failure_lines(self, target: str) -> list[str]:
        tp = self.targets[target]
        out: list[str] = []
        for digest, step in tp.steps.items():
            if is_failure(step):
                out.append(f"{step.name}: {step.error}")
                out.extend(f"  | {line}" for line in self.logs.get(digest, [])[-15:])
        return out
