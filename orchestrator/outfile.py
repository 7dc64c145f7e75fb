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


def write(path: Path, text: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OutputError(f"cannot write {path}: it exists and is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, masking.mask(text), mode=0o644)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
