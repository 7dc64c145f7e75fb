"""Replace a file all at once: readers see the old content or the new, never half of either.

Used for everything we write that something else may read meanwhile: the report, builds.lock,
Dockerfiles rewritten by `pin --write`, up-to-date records and plan memo entries. Standard
library only: the plan memo imports it on its light path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    newline: str | None = None,
    fsync: bool = False,
    errors: str = "strict",
) -> None:
    """Write `text` to a temp file beside `path`, then rename it over `path`.

    The temp file is created 0600 (mkstemp), which is what private files keep; `mode` sets
    other permissions. `newline=""` writes line endings exactly as they are in `text`. `fsync`
    makes the content durable before the rename (for files people commit). `errors=
    "surrogateescape"` writes back the stray bytes of a file textfile.read kept."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=errors, newline=newline) as handle:
            handle.write(text)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
