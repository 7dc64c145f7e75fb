"""The benchmark's own bookkeeping: absolute figures (a goal in ms or MB, not a ratio) and the
case list. Measurements themselves are `make bench`, never a unit test."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import harness
from bench.__main__ import parse_args
from bench.harness import BenchError, Completed, Figure, Goal, Runner, Series
from bench.report import Results, rows
from bench.workspace import Engine


def test_an_absolute_figure_is_judged_and_shown_in_its_unit() -> None:
    cpu = Figure(
        "9c",
        "cpu",
        a=Series("ms", [12.0, 8.0, 9.0], "ms"),
        ratios=[12.0, 8.0, 9.0],
        unit="ms",
        goal=Goal(10.0, "≤ 10 ms"),
    )
    rss = Figure(
        "10c",
        "rss",
        a=Series("MB", [180.0], "MB"),
        ratios=[180.0],
        unit="MB",
        goal=Goal(150.0, "≤ 150 MB"),
    )
    results = Results(datetime.now(tz=UTC), {}, {}, {}, [cpu, rss])
    (first, second) = rows(results)
    assert first[2:5] == ["9 ms", "-", "9 ms"]
    assert first[7] == "pass"
    assert second[4] == "180 MB"
    assert second[7] == "FAIL"


def test_every_case_is_selected_by_default_and_two_digit_ids_parse() -> None:
    args = parse_args([])
    assert {"1", "8", "9", "10", "11"} <= args.selected
    assert parse_args(["--only", "10,11"]).selected == {"10", "11"}


class _DuRunner(Runner):
    """`buildx prune` does nothing; `buildx du` answers the listed totals in turn."""

    def __init__(self, totals: list[str]) -> None:
        super().__init__({})
        self.totals = totals
        self.prunes = 0

    def run(self, argv: Sequence[str], **_: Any) -> Completed:
        if argv[-1].endswith("up.sh"):
            self.totals = ["0B"]  # the restarted engine has freed what it held
        if argv[0] == "bash" or "prune" in argv:
            self.prunes += "prune" in argv
            return Completed(tuple(argv), 0.0, 0, "", "")
        total = self.totals.pop(0) if len(self.totals) > 1 else self.totals[0]
        return Completed(tuple(argv), 0.0, 0, f"Reclaimable:\t0B\nTotal:\t\t{total}\n", "")


def test_a_prune_that_leaves_the_cache_full_stops_the_cold_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    emptied = Engine(_DuRunner(["745MB", "0B"]))
    emptied.prune()  # emptied by the second prune: fine, and counted
    assert emptied.repeated_prunes == 1
    stuck = _DuRunner(["745MB"])
    with pytest.raises(BenchError, match="745MB left after 5 runs"):
        Engine(stuck).prune()
    assert stuck.prunes == 5


def test_the_projects_engine_is_restarted_when_prune_cannot_empty_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    held = _DuRunner(["55MB"])
    engine = Engine(held, restart=True)
    engine.prune()  # emptied after the restart: no error
    assert engine.restarts == 1
    assert held.prunes == 6  # five, then one more after the restart


def test_an_attempt_is_tried_up_to_tries_times_and_only_the_success_is_timed() -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(len(calls))
        if len(calls) < 3:
            raise harness.BenchError("ERROR: 500 Internal Server Error")

    notes: list[str] = []
    seconds = harness.attempt("bake", flaky, retried=notes, tries=3)
    assert calls == [0, 1, 2]
    assert seconds >= 0
    assert len(notes) == 2
    calls.clear()
    with pytest.raises(harness.BenchError):
        harness.attempt("bake", flaky, tries=2)
    assert len(calls) == 2
