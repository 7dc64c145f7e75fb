"""How a bake's stderr is read (executor.Running.chunks, executor._stream): in the pieces the
pipe gives, decoded as UTF-8 across cuts, with buildx's own text lines kept for messages.

Real processes run here (`sh`), through executor.spawn, the module's one process seam.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

import pytest

from orchestrator import executor
from orchestrator.progress import Tracker


def _sh(script: str) -> list[str]:
    running = executor.spawn(["sh", "-c", script])
    pieces = list(running.chunks())
    running.proc.wait()
    return pieces


def test_each_read_takes_what_is_there_not_a_line() -> None:
    pieces = _sh("printf 'one\\ntwo\\nthree\\n' >&2")
    assert pieces == ["one\ntwo\nthree\n"]  # one write, one piece


def test_utf8_cut_between_two_writes_is_one_character() -> None:
    # é is c3 a9: the first write ends inside it, the second completes it.
    pieces = _sh("printf '\\303' >&2; sleep 0.2; printf '\\251!\\n' >&2")
    assert "".join(pieces) == "é!\n"
    assert pieces[0] != "\ufffd"


def test_invalid_utf8_becomes_the_replacement_character() -> None:
    assert "".join(_sh("printf 'a\\377b\\n' >&2; printf '\\303' >&2")) == "a\ufffdb\n\ufffd"


def test_the_tail_keeps_buildx_text_lines_read_in_any_pieces() -> None:
    status = json.dumps({"vertexes": [{"digest": "d", "name": "x"}]}, indent=2)
    text = (
        f"#1 [internal] load\n{status}\n\nWARNING: one\n{json.dumps({'logs': []})}\n"
        "ERROR: failed to solve: 500 Internal Server Error"
    )
    for size in (1, 5, len(text)):
        tail = executor._Tail()
        for i in range(0, len(text), size):
            tail.add(text[i : i + size])
        assert tail.lines() == [
            "#1 [internal] load",
            "WARNING: one",
            "ERROR: failed to solve: 500 Internal Server Error",
        ]
    many = executor._Tail()
    many.add("".join(f"line {n}\n" for n in range(100)))
    assert many.lines() == [f"line {n}" for n in range(59, 100)]


def test_a_bake_stream_is_read_into_progress_and_its_tail(tmp_path: Path) -> None:
    """_stream over a real process writing objects the way buildx 0.13 does (one write each)."""
    objects = [
        {"vertexes": [{"digest": f"sha256:{n}", "name": f"[a {n}/3] RUN x", "completed": "t"}]}
        for n in range(1, 4)
    ]
    script = "".join(
        f"printf '%s\\n' '{json.dumps(o, indent=2)}' >&2; sleep 0.05; " for o in objects
    )
    script += "echo 'ERROR: failed to solve' >&2; exit 1"
    tracker = Tracker(["a", "b"])
    seen: list[str] = []

    def on_output(text: str) -> None:
        seen.append(text)
        tracker.feed(text)

    run = executor._stream(["sh", "-c", script], None, tmp_path / "metadata.json", on_output)
    tracker.finish()
    assert run.returncode == 1
    assert run.other_lines == ["ERROR: failed to solve"]
    assert tracker.targets["a"].done == 3
    assert len(seen) < sum(len(json.dumps(o, indent=2).splitlines()) for o in objects)


def test_output_written_in_many_small_writes_is_read_in_few_pieces() -> None:
    """Each wake-up of the reading thread costs more CPU than the text it reads: small writes
    gather for up to COALESCE_S before the next read."""
    script = "i=0; while [ $i -lt 20 ]; do echo line $i >&2; sleep 0.01; i=$((i+1)); done"
    pieces = _sh(script)
    assert "".join(pieces) == "".join(f"line {i}\n" for i in range(20))
    assert len(pieces) < 10  # read as written, each of the 20 writes would be a piece


def test_the_wait_for_more_output_ends_when_the_process_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executor, "COALESCE_S", 30.0)
    started = time.monotonic()
    assert "".join(_sh("echo first >&2; sleep 0.1; echo last >&2")) == "first\nlast\n"
    assert time.monotonic() - started < 15  # not two waits of 30 s


def test_the_pipe_is_widened_while_output_gathers() -> None:
    running = executor.spawn(["sh", "-c", "sleep 0.1"])
    assert running.proc.stderr is not None
    size = fcntl.fcntl(running.proc.stderr.fileno(), fcntl.F_GETPIPE_SZ)
    list(running.chunks())
    running.proc.wait()
    assert size == executor.PIPE_SIZE
