"""The tool's own scratch directory, `.orchestrator/` next to builds.yaml.

It must never make a work tree dirty: VERSION gets `-dirty` from untracked files too, so a first
build in a repository whose .gitignore does not list `.orchestrator/` would turn every later
release into a dev version. Like pytest's and ruff's caches, the directory ignores itself with a
`.gitignore` of `*` written when it is created.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from orchestrator.errors import UserError

NAME = ".orchestrator"
_IGNORE_ALL = "# Written by orchestrator: its scratch files are never part of the tree.\n*\n"


def mkdir(path: Path) -> Path:
    """`mkdir -p path`; the `.orchestrator` directory on the way gets its `.gitignore`."""
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if folder.name == NAME:
            ignore = folder / ".gitignore"
            if not ignore.is_file():
                # Best effort: a read-only tree still builds; git then shows the folder.
                with contextlib.suppress(OSError):
                    ignore.write_text(_IGNORE_ALL, encoding="utf-8")
            break
    return path


def refuse_blocked(root: Path) -> None:
    """One line, before any work, when `.orchestrator` next to builds.yaml exists and is not a
    directory: every command that records something (reports, runs, build records, the lock's
    side file) would otherwise fail midway with a traceback, and its crash log with it."""
    path = root / NAME
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise UserError(
            f"{path}: this tool's scratch directory is not a directory; move that file away "
            "(orchestrator recreates the directory, with a .gitignore of its own)"
        )
