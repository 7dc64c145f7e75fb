"""The benchmark's own bookkeeping: absolute figures (a goal in ms or MB, not a ratio) and the
case list. Measurements themselves are `make bench`, never a unit test."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.__main__ import parse_args
from bench.harness import Figure, Goal, Series
from bench.report import Results, rows


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
