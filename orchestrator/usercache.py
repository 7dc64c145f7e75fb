"""The user's cache directory, shared by the memos (plan output, hadolint findings).

`$XDG_CACHE_HOME/orchestrator/<kind>` (default `~/.cache/...`): directories 0700, files 0600
(atomic.write_text), the newest `keep` entries of a kind kept. Everything here is best effort
for the callers: a memo that cannot be read or written is simply not used.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator import atomic


def directory(kind: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orchestrator" / kind


def store(kind: str, name: str, text: str, keep: int) -> None:
    """Write entry `name` of `kind`, then drop all but the `keep` newest entries."""
    where = directory(kind)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_text(where / name, text)
    entries = sorted(where.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)
