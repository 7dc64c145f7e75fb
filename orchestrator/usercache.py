"""The user's cache directory, shared by the memos (plan and check output, hadolint's answers).

`$XDG_CACHE_HOME/orchestrator/<kind>` (default `~/.cache/...`): directories 0700, files 0600
(atomic.write_text), at most `keep` entries of a kind kept. Everything here is best effort for
the callers: a memo that cannot be read or written is simply not used.

Pruning costs one directory listing (names only, no stat) while a kind holds no more than `keep`
entries. Past that, entries are stat-ed and the oldest dropped down to `low` (default `keep`); a
kind stored often (hadolint's answers) passes a lower mark so that cost is paid once per
`keep - low` new entries, not on every store.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from orchestrator import atomic, textfile


def directory(kind: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orchestrator" / kind


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a file we wrote here, or OSError for anything else under its name: read
    only if regular (textfile.open_regular: a FIFO would block the run until a writer came)
    and no larger than `limit` (a huge file would cost the memory, or MemoryError)."""
    fd, info = textfile.open_regular(path)
    try:
        if info.st_size > limit:
            raise OSError(f"{path}: not a memo file (over {limit} bytes)")
        data = textfile.read_all(fd, info.st_size, limit)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"{path}: not a memo file (over {limit} bytes)")
    return data


def store(kind: str, name: str, text: str, keep: int | None) -> None:
    """Write entry `name` of `kind`, then prune to `keep` (None: the caller prunes later)."""
    where = directory(kind)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_text(where / name, text)
    if keep is not None:
        prune(kind, keep)


def prune(kind: str, keep: int, low: int | None = None) -> None:
    """When `kind` holds more than `keep` entries, drop the oldest down to `low` (or `keep`)."""
    try:
        with os.scandir(directory(kind)) as found:
            entries = [e for e in found if e.name.endswith(".json")]
    except OSError:
        return
    if len(entries) <= keep:
        return
    ages: list[tuple[int, str]] = []
    for entry in entries:
        with contextlib.suppress(OSError):  # removed meanwhile by another run's prune
            ages.append((entry.stat().st_mtime_ns, entry.path))
    ages.sort(reverse=True)
    for _, path in ages[keep if low is None else low :]:
        Path(path).unlink(missing_ok=True)
