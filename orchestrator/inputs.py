"""The files a plan or check was derived from, noted where they are read or probed.

Reading a file and noting it happen in the same place (manifest, lock, Dockerfile, secret files,
ssh keys; for `check` also ignore files, context directories and entries, scripts, the baseline,
hadolint and its config files), so the list cannot drift from what the code looks at; tests run
`plan` and `check` under an audit hook and check that every file they opened (and directory they
listed) was noted. The memos (replaymemo.py) store their stat signatures and replay an answer
only while none of them changed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_noted: list[str] | None = None
# Not a file: the plan read the clock (`{{date}}` in a tag), so no stored copy of it is valid later.
CLOCK = "<clock>"


# The spelling noted for each absolute path given: a check notes the same few thousand paths
# over and over (every target probes its context, hadolint's config files), and building a Path
# for each costs more than the rest of note(). Only absolute paths: their spelling does not
# depend on the working directory.
_spelled: dict[str, str] = {}
_SPELLED_MAX = 65536  # a bound on the memory, far above one command's paths


def note(path: str | os.PathLike[str]) -> None:
    """Record that the command read `path` or checked whether it exists (no-op outside
    `recording()`)."""
    if _noted is not None:
        given = os.fspath(path)
        spelled = _spelled.get(given)
        if spelled is None:
            built = Path(given)
            spelled = str(built.absolute())
            if built.is_absolute() and len(_spelled) < _SPELLED_MAX:
                _spelled[given] = spelled
        _noted.append(spelled)


def note_clock() -> None:
    """Record that the plan depends on the current time (the plan memo then stores nothing)."""
    if _noted is not None:
        _noted.append(CLOCK)


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Collect the paths noted inside this block; an enclosing block sees them too."""
    global _noted  # noqa: PLW0603 (one recorder per process: runs are sequential)
    previous, _noted = _noted, []
    try:
        yield _noted
    finally:
        if previous is not None:
            previous.extend(_noted)
        _noted = previous
