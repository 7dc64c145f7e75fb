"""console.plain writes a log line straight to a non-terminal stderr: the bytes must be exactly
what rich's print would have written, and a terminal or recording console still gets rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from orchestrator import console

LINES = [
    "[svc001]   0.3s done   [svc001 2/3] COPY --chown=65534:65534 run.sh /usr/local/bin/svc",
    "[bold]not markup[/] :smile: not an emoji, ü 中文",
    "\x1b[31mescape sequences pass\x1b[0m",
    "bell\x07 backspace\x08 vt\x0b ff\x0c cr\r are stripped",
    "a tab\there, one\tmore",  # tabs are left to rich (cell widths)
    "two\nlines",
    "",
    "trailing   ",
]


def _rich(line: str) -> str:
    out = io.StringIO()
    Console(file=out, highlight=False, soft_wrap=True, emoji=False).print(
        line, markup=False, highlight=False
    )
    return out.getvalue()


@pytest.mark.parametrize("line", LINES)
def test_plain_writes_what_rich_would(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=out, highlight=False, emoji=False))
    console.plain(line)
    assert out.getvalue() == _rich(line)


def test_a_terminal_or_recording_console_is_not_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert console._bypass(Console(file=io.StringIO()))
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert not console._bypass(terminal)
    assert not console._bypass(Console(file=io.StringIO(), record=True))
    recorded = Console(file=io.StringIO(), record=True, soft_wrap=True)
    monkeypatch.setattr(console, "err", recorded)
    console.plain("kept")
    assert recorded.export_text() == "kept\n"
