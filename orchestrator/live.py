"""Progress while buildx runs: a rich live table on a terminal, plain lines in CI and logs."""

from __future__ import annotations

import time
from types import TracebackType

from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator import console
from orchestrator.progress import Tracker, is_failure


class Display:
    def __init__(self, tracker: Tracker, *, plain: bool) -> None:
        self.tracker = tracker
        self.plain = plain or not console.err.is_terminal
        self.live: Live | None = None
        self.started = time.monotonic()

    def __enter__(self) -> Display:
        if not self.plain:
            self.live = Live(
                self._table(), console=console.err, refresh_per_second=4, transient=False
            )
            self.live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(kind, exc, tb)

    def feed(self, line: str) -> None:
        for step in self.tracker.feed(line):
            if self.plain:
                mark = "CACHED" if step.cached else ("ERROR" if is_failure(step) else "done")
                elapsed = time.monotonic() - self.started
                console.plain(f"[{step.target or '-'}] {elapsed:6.1f}s {mark:6} {step.name}")
        if self.live is not None:
            self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, pad_edge=False)
        for col in ("target", "steps", "cached", "now"):
            table.add_column(col, overflow="ellipsis", no_wrap=True)
        for tp in self.tracker.targets.values():
            # Text, not str: vertex names are engine bytes (`[builder 3/7] RUN …`), never markup.
            table.add_row(
                Text(tp.name), f"{tp.done}/{tp.total}", str(tp.cached), Text(tp.current[:80])
            )
        return table
