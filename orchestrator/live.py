"""Progress while buildx runs: a rich live table on a terminal, plain lines in CI and logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator import console
from orchestrator.progress import Step, Tracker, step_line

REFRESH_PER_SECOND = 4


class _Live(Live):
    """rich's Live, redrawn only when `changed()` says the table would look different.

    Its refresh thread redraws REFRESH_PER_SECOND times a second whatever happened, and
    drawing a table of 200 targets costs ~0.1 s of CPU: most seconds of a long step change
    nothing. Start and stop always draw.
    """

    def __init__(self, changed: Callable[[], bool], **options: Any) -> None:
        self._changed = changed
        self._always = True  # until started: the first draw
        super().__init__(**options)

    def start(self, refresh: bool = False) -> None:
        super().start(refresh)
        self._always = False

    def stop(self) -> None:
        self._always = True  # the last draw shows the final state in full
        super().stop()

    def refresh(self) -> None:
        if self._always or self._changed():
            super().refresh()


class Display:
    def __init__(self, tracker: Tracker, *, plain: bool) -> None:
        self.tracker = tracker
        self.plain = plain or not console.err.is_terminal
        self.live: Live | None = None
        self.started = time.monotonic()
        # The table is built when rich draws it (REFRESH_PER_SECOND times a second, on its
        # refresh thread), from the tracker as it is then, not on every line of the stream: a
        # bake of many targets sends thousands of lines, and a table per line cost more CPU
        # than all the parsing. The lock keeps that thread from reading the tracker while a
        # line is applied; the versions say whether the table changed since it was drawn.
        self._lock = threading.Lock()
        self._shown: tuple[int, Table] | None = None
        self._drawn = -1

    def __enter__(self) -> Display:
        if not self.plain:
            self.live = _Live(
                self._changed,
                console=console.err,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=False,
                get_renderable=self._current,
            )
            self.live.start(refresh=True)  # drawn at once, as Live(table) was
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            with self._lock:
                self.tracker.finish()
            self.live.stop()  # draws the final table
        else:
            self._print(self.tracker.finish())

    def feed(self, text: str) -> None:
        """Output as it arrives, in pieces of any size (Tracker.feed)."""
        if self.live is not None:
            with self._lock:
                self.tracker.feed(text)
            return
        self._print(self.tracker.feed(text))

    def _print(self, steps: list[Step]) -> None:
        for step in steps:
            console.plain(step_line(step, time.monotonic() - self.started))

    def _changed(self) -> bool:
        return self.tracker.version != self._drawn

    def _current(self) -> Table:
        """The table as of now, for rich to draw (called from its refresh thread too)."""
        with self._lock:
            version = self.tracker.version
            if self._shown is None or self._shown[0] != version:
                self._shown = (version, self._table())
            self._drawn = version
            return self._shown[1]

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
