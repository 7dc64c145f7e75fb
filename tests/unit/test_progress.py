"""The rawjson progress stream: cutting SolveStatus objects out of lines, and what they count."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from rich.console import Console

from orchestrator import console, progress
from orchestrator.live import Display
from orchestrator.progress import Step, Tracker


def _pretty(status: dict[str, Any]) -> list[str]:
    """One SolveStatus as buildx 0.13 prints it: Go's encoder, two-space indent."""
    return [line + "\n" for line in json.dumps(status, indent=2).splitlines()]


def _compact(status: dict[str, Any]) -> list[str]:
    return [json.dumps(status) + "\n"]


def _vertex(digest: str, name: str, **state: Any) -> dict[str, Any]:
    return {"vertexes": [{"digest": digest, "name": name, **state}]}


def _log(digest: str, text: str) -> dict[str, Any]:
    data = base64.b64encode(text.encode()).decode()
    return {"logs": [{"vertex": digest, "stream": 1, "data": data}]}


def _feed(tracker: Tracker, lines: list[str]) -> list[Step]:
    done: list[Step] = []
    for line in lines:
        done += tracker.feed(line)
    return done


STATUSES = [
    _vertex("sha256:1", "[api 1/2] FROM docker.io/library/busybox", started="t"),
    _vertex("sha256:2", "[web 1/2] RUN echo '{' }}", started="t"),
    {"statuses": [{"id": "pushing layer", "vertex": "sha256:1", "current": 5}]},
    _vertex("sha256:1", "[api 1/2] FROM docker.io/library/busybox", completed="t", cached=True),
    _log("sha256:2", "one\ntwo {\n"),
    _vertex("sha256:2", "[web 1/2] RUN echo '{' }}", completed="t"),
]


@pytest.mark.parametrize("form", [_pretty, _compact])
def test_objects_over_many_lines_or_one_line_count_the_same(form: Any) -> None:
    tracker = Tracker(["api", "web"])
    done = _feed(tracker, [line for status in STATUSES for line in form(status)])
    assert [(s.target, s.name) for s in done] == [
        ("api", "[api 1/2] FROM docker.io/library/busybox"),
        ("web", "[web 1/2] RUN echo '{' }}"),
    ]
    api, web = tracker.targets["api"], tracker.targets["web"]
    assert (api.total, api.done, api.cached) == (1, 1, 1)
    assert (web.total, web.done, web.cached) == (1, 1, 0)
    assert web.current == "[web 1/2] RUN echo '{' }}"
    assert tracker.logs["sha256:2"] == ["one", "two {"]
    assert tracker.other_lines == []


def test_a_step_completes_once_however_often_it_is_reported() -> None:
    tracker = Tracker(["api", "web"])
    lines = _pretty(_vertex("sha256:1", "[api 1/3] RUN make", started="t", completed="t"))
    assert len(_feed(tracker, lines)) == 1
    assert _feed(tracker, lines) == []  # buildx repeats vertices (e.g. when another uses it)
    assert tracker.targets["api"].done == 1
    assert tracker.targets["api"].total == 1


def test_a_line_cut_in_two_reads_is_one_object() -> None:
    tracker = Tracker(["api", "web"])
    line = _compact(_vertex("sha256:1", "[api 1/1] RUN x", completed="t"))[0]
    cut = line.index("[api") + 2  # inside the name, after a `{`: the rest is no new object
    assert tracker.feed(line[:cut]) == []
    assert [s.name for s in tracker.feed(line[cut:])] == ["[api 1/1] RUN x"]


def test_pretty_lines_read_in_pieces_still_complete() -> None:
    tracker = Tracker(["api", "web"])
    text = "".join(_pretty(_vertex("sha256:1", "[web 2/2] COPY . .", completed="t")))
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert [s.target for s in _feed(tracker, pieces)] == ["web"]


def test_invalid_json_is_kept_as_text_and_the_next_object_still_counts() -> None:
    tracker = Tracker(["api", "web"])
    lines = [
        "{not json}\n",
        *_pretty(_vertex("sha256:1", "[api 1/1] RUN x", completed="t")),
        "{\n",
        '  "truncated": \n',
        *_compact(_vertex("sha256:2", "[web 1/1] RUN y", completed="t")),
    ]
    assert [s.target for s in _feed(tracker, lines)] == ["api", "web"]
    assert tracker.other_lines == ["{not json}", '{\n  "truncated":']


def test_plain_text_between_objects_is_kept_in_order() -> None:
    tracker = Tracker(["api", "web"])
    lines = [
        "#0 building with default instance\n",
        *_pretty(_vertex("sha256:1", "[api 1/1] RUN x", started="t")),
        "\n",
        "ERROR: failed to solve: process did not complete successfully\n",
    ]
    _feed(tracker, lines)
    assert tracker.other_lines == [
        "#0 building with default instance",
        "ERROR: failed to solve: process did not complete successfully",
    ]
    assert tracker.targets["api"].current == "[api 1/1] RUN x"


def test_logs_keep_the_last_lines_of_each_step_for_the_failure_report() -> None:
    tracker = Tracker(["api", "web"], log_tail=3)
    lines = [
        *_pretty(_vertex("sha256:1", "[api 2/2] RUN make", started="t")),
        *_pretty(_log("sha256:1", "a\nb\n")),
        *_compact(_log("sha256:1", "c\nd\ne")),
        *_compact({"logs": [{"vertex": "sha256:1", "data": "%%% not base64"}]}),
        *_pretty(_vertex("sha256:1", "[api 2/2] RUN make", completed="t", error="exit code: 2")),
    ]
    _feed(tracker, lines)
    assert tracker.logs["sha256:1"] == ["c", "d", "e"]
    assert tracker.failure_lines("api") == [
        "[api 2/2] RUN make: exit code: 2",
        "  | c",
        "  | d",
        "  | e",
    ]
    assert tracker.targets["api"].failed[0].error == "exit code: 2"


def test_steps_go_to_the_target_named_in_their_prefix() -> None:
    tracker = Tracker(["api", "api-v2", "web"])
    lines = [
        *_compact(_vertex("sha256:1", "[api-v2 1/2] RUN x", started="t")),
        *_compact(_vertex("sha256:2", "[api] exporting to image", started="t")),
        *_compact(_vertex("sha256:3", "[internal] load build definition", started="t")),
        *_compact(_vertex("sha256:4", "[apix 1/1] RUN y", started="t")),
        *_compact(_vertex("sha256:5", "[web", started="t")),
    ]
    _feed(tracker, lines)
    assert tracker.vertex_target == {
        "sha256:1": "api-v2",
        "sha256:2": "api",
        "sha256:3": None,
        "sha256:4": None,
        "sha256:5": None,
    }
    assert [tp.total for tp in tracker.targets.values()] == [1, 1, 0]


def test_a_vertex_keeps_the_target_it_was_first_seen_with() -> None:
    tracker = Tracker(["api", "web"])
    _feed(tracker, _compact(_vertex("sha256:1", "[api 1/1] FROM busybox", started="t")))
    _feed(tracker, _compact(_vertex("sha256:1", "[web 1/1] FROM busybox", completed="t")))
    assert tracker.targets["api"].done == 1
    assert tracker.targets["web"].total == 0


def test_names_with_spaces_or_brackets_are_still_matched() -> None:
    tracker = Tracker(["my app", "b]c"])
    _feed(tracker, _compact(_vertex("sha256:1", "[my app 1/1] RUN x", started="t")))
    _feed(tracker, _compact(_vertex("sha256:2", "[b]c] RUN y", started="t")))
    assert tracker.vertex_target == {"sha256:1": "my app", "sha256:2": "b]c"}


def test_one_target_owns_every_step() -> None:
    tracker = Tracker(["solo"])
    _feed(tracker, _compact(_vertex("sha256:1", "[2/3] RUN x", started="t")))
    assert tracker.targets["solo"].total == 1


def test_version_counts_only_changes_a_table_shows() -> None:
    tracker = Tracker(["api", "web"])
    _feed(tracker, _compact(_vertex("sha256:1", "[api 1/1] RUN x", started="t")))
    seen = tracker.version
    _feed(tracker, _compact({"statuses": [{"id": "x", "vertex": "sha256:1", "current": 1}]}))
    _feed(tracker, _compact(_vertex("sha256:1", "[api 1/1] RUN x", started="t")))
    assert tracker.version == seen
    _feed(tracker, _compact(_vertex("sha256:1", "[api 1/1] RUN x", completed="t")))
    assert tracker.version > seen


def test_plain_display_prints_each_completed_step_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tracker = Tracker(["api", "web"])
    with Display(tracker, plain=True) as display:
        for status in STATUSES:
            for line in _pretty(status):
                display.feed(line)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("[api]")
    assert err[0].endswith("CACHED [api 1/2] FROM docker.io/library/busybox")
    assert err[1].startswith("[web]")
    assert err[1].endswith(" done   [web 1/2] RUN echo '{' }}")


def test_live_display_draws_the_final_state_and_skips_unchanged_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    fake = Console(
        file=screen, force_terminal=True, width=120, height=40, emoji=False, highlight=False
    )
    monkeypatch.setattr(console, "err", fake)
    tracker = Tracker(["api", "web"])
    with Display(tracker, plain=False) as display:
        assert display.live is not None
        assert not display._changed()  # drawn when it started
        for status in STATUSES:
            for line in _pretty(status):
                display.feed(line)
        assert display._changed()
        display.live.refresh()
        assert not display._changed()
        drawn = screen.tell()
        display.live.refresh()  # nothing new: nothing drawn
        assert screen.tell() == drawn
    final = screen.getvalue()
    assert "1/1" in final
    assert "[web 1/2] RUN echo '{' }}" in final


def _push(ref: str, completed: bool) -> str:
    status: dict[str, Any] = {"id": f"pushing manifest for {ref}", "vertex": "sha256:v"}
    if completed:
        status["completed"] = "2026-12-01T19:29:20Z"
    return json.dumps({"statuses": [status]}, indent=2) + "\n"


def test_each_pushed_image_is_announced_once_when_its_push_completes() -> None:
    """BuildKit repeats a status on every update; only its completion counts, once."""
    tracker = Tracker(["a", "b"])
    seen: list[tuple[str, str]] = []
    tracker.on_pushed = lambda ref, digest: seen.append((ref, digest))
    digest = "sha256:" + "1" * 64
    lines = [
        _push(f"localhost:5000/app:staging@{digest}", completed=False),
        _push(f"localhost:5000/app:staging@{digest}", completed=True),
        _push(f"localhost:5000/app:staging@{digest}", completed=True),
        _push("localhost:5000/app:no-digest", completed=True),  # not a pushed root: ignored
        json.dumps({"statuses": [{"id": "pushing layers", "completed": "x"}, "junk"]}) + "\n",
    ]
    for text in lines:
        for line in io.StringIO(text):
            tracker.feed(line)
    assert seen == [("localhost:5000/app:staging", digest)]


def _stream() -> str:
    """A bake's stderr: text, pretty objects, compact objects, text again."""
    return "".join(
        [
            "#0 building with default instance\n",
            *[line for status in STATUSES[:3] for line in _pretty(status)],
            *[line for status in STATUSES[3:] for line in _compact(status)],
            "ERROR: failed to solve: é\n",
        ]
    )


def _outcome(tracker: Tracker, done: list[Step]) -> Any:
    return (
        [(s.target, s.name, s.cached) for s in done],
        {n: (tp.total, tp.done, tp.cached, tp.current) for n, tp in tracker.targets.items()},
        tracker.logs,
        tracker.other_lines,
    )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10**6])
def test_any_cut_of_the_stream_reads_as_its_lines_do(size: int) -> None:
    """Running.chunks hands over what each read gives: whole objects, many lines, or a part of
    one; the outcome is the same as line by line."""
    text = _stream()
    by_line = Tracker(["api", "web"])
    expected = _outcome(by_line, _feed(by_line, text.splitlines(keepends=True)))
    assert expected[3] == ["#0 building with default instance", "ERROR: failed to solve: é"]
    cut = Tracker(["api", "web"])
    done = _feed(cut, [text[i : i + size] for i in range(0, len(text), size)])
    assert _outcome(cut, done + cut.finish()) == expected


def test_what_the_stream_ends_with_without_a_newline_still_counts() -> None:
    tracker = Tracker(["api", "web"])
    last = json.dumps(_vertex("sha256:9", "[web 2/2] RUN z", completed="t"))
    assert tracker.feed(last) == []  # could be cut: waits for its newline
    assert [s.name for s in tracker.finish()] == ["[web 2/2] RUN z"]
    tracker.feed("ERROR: no newline at the end")
    tracker.finish()
    assert tracker.other_lines == ["ERROR: no newline at the end"]
    assert tracker.finish() == []


def test_the_display_applies_the_streams_end(capsys: pytest.CaptureFixture[str]) -> None:
    tracker = Tracker(["api", "web"])
    with Display(tracker, plain=True) as display:
        display.feed(json.dumps(_vertex("sha256:9", "[web 2/2] RUN z", completed="t")))
    assert capsys.readouterr().err.rstrip().endswith("done   [web 2/2] RUN z")


def test_endless_output_without_a_newline_is_not_kept_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer that never ends its line (or its object) cannot grow the buffer past
    MAX_OBJECT: its start is kept as text, and what follows is read as usual."""
    monkeypatch.setattr(progress, "MAX_OBJECT", 1000)
    for start in ("x", "{\n  "):
        tracker = Tracker(["api", "web"])
        for _ in range(50):
            tracker.feed(start + "y" * 99)
        assert len(tracker._buffer) <= 1000 + 100
        assert tracker.other_lines
        assert tracker.other_lines[0].startswith(start.strip() or "x")
        line = _compact(_vertex("sha256:1", "[api 1/1] RUN x", completed="t"))[0]
        assert [s.name for s in tracker.feed("\n" + line)] == ["[api 1/1] RUN x"]


def test_a_completed_step_prints_as_one_plain_line_with_its_node_for_a_fan_out() -> None:
    cached = Step("[api 1/2] FROM busybox", "api", completed=True, cached=True)
    failed = Step("[2/2] RUN make", None, completed=True, error="exit code: 2")
    assert progress.step_line(cached, 1.25) == "[api]    1.2s CACHED [api 1/2] FROM busybox"
    assert progress.step_line(failed, 12.0, "arm") == "[arm/-]   12.0s ERROR  [2/2] RUN make"
