"""Writing a result file named by the user (`check --output`, `schema --output`, crash log).

The text is masked (masking.mask), the file is replaced atomically, so an existing symlink at
the path is replaced, never followed, and something that is not a regular file (a directory, a
FIFO, /dev/full) is refused rather than written through. Every failure is one line naming the
path (errors.OutputError, exit 1). Standard library only: errors.py uses it for the crash log.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from orchestrator import atomic, masking
from orchestrator.errors import OutputError


def check(path: Path) -> None:
    """OutputError unless `path` can be replaced by a result file: absent, a regular file or a
    symlink (replaced, never followed). Asked before long work too (`build --report`), so a
    bad path fails at once rather than after the build."""
    try:
        found = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not (stat.S_ISREG(found) or stat.S_ISLNK(found)):
        raise OutputError(f"cannot write {path}: it exists and is not a regular file")


def write(path: Path, text: str, mode: int | None = 0o644) -> None:
    """`mode`: the file's permissions; None keeps the temp file's 0600 (private reports)."""
    check(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, masking.mask(text), mode=mode)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
