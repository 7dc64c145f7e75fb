"""The one console object for all human output.

Diagnostics and progress go to stderr so that `plan --format json > p.json` stays clean.
Build logs contain `[` characters, so they are printed with markup and highlighting off.

`err` and `out` are made on first use: importing rich costs ~50 ms, and `plan`, which prints
its result without rich (see planmemo.emit), usually prints nothing else.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from orchestrator.errors import stdout_guard

if TYPE_CHECKING:
    from rich.console import Console

    err: Console
    out: Console


def _make(stderr: bool) -> Console:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich's default exits 1; a reader that left (`| head`) is handled by stdout_guard.
            raise BrokenPipeError

    # CI logs are not terminals; rich already honours NO_COLOR and COLUMNS.
    # emoji=False: engine bytes are data; `root:x:0:0` must not become `root❌0:0`.
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def __getattr__(name: str) -> Any:
    """`console.err` / `console.out`, made the first time they are read (then module globals,
    which a test may replace as before)."""
    if name in ("err", "out"):
        made = globals()[name] = _make(stderr=name == "err")
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _console(name: str) -> Console:
    found: Console | None = globals().get(name)
    return found if found is not None else __getattr__(name)


def result(*objects: Any, **options: Any) -> None:
    """Print a command's result on stdout (`out.print` arguments); see errors.stdout_guard."""
    with stdout_guard():
        _console("out").print(*objects, **options)


def is_ci() -> bool:
    """True in CI systems we know, so progress becomes plain lines and a report is written."""
    return any(
        os.environ.get(name, "").lower() not in ("", "0", "false")
        for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL", "TF_BUILD")
    )


# What rich's Text strips from a string (BEL, BS, VT, FF, CR): plain() writes what rich would.
_STRIPPED = dict.fromkeys((7, 8, 11, 12, 13))


@functools.lru_cache(maxsize=8)
def _bypass(err: Console) -> bool:
    """Whether a line for `err` can be written to its file directly. On a terminal rich draws
    (and may be drawing a live table), and a recording console keeps what it prints; for a
    log or a pipe, rich's print of a line without markup is the line itself, at ~70 us of CPU a
    call, which was a third of the CPU of reading a 30-target bake's progress. Asked once per
    console (rich works out is_terminal anew on every call)."""
    return not err.is_terminal and not err.record


def plain(line: str) -> None:
    """Print a log line verbatim to stderr (no markup: buildx output is full of brackets)."""
    err = _console("err")
    if "\t" not in line and _bypass(err):  # rich expands tabs by cell width: left to rich
        # Exactly rich's output for it: the control characters it strips are stripped.
        err.file.write(line.translate(_STRIPPED) + "\n")
        err.file.flush()
        return
    err.print(line, markup=False, highlight=False)
