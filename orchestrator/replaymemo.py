"""A memo of a read-only command's output: a repeat costs a process start, not the work.

The machinery behind the plan memo (planmemo.py) and the check memo (checkmemo.py). A command
records the files it reads (inputs.py) and hands its exact stdout and exit status to `store`;
the next identical command line calls `replay` before importing anything heavy. Only the
standard library, gitinfo and usercache are imported on that path.

A stored answer is replayed only when all of these are unchanged, else it is computed again:
* the command line, working directory, interpreter, the orchestrator's own source files and
  the installed packages (`sys.path` directory stats change when pip adds or removes one);
* the whole environment (any variable may be interpolated into the manifest, or change a
  tool's answer: `HADOLINT_*`), except `_`;
* whether stdout is a terminal (colours);
* git's answers to gitinfo.QUERIES (HEAD, branch, version tags, clean or dirty);
* every file the command read or probed (inputs.note()), compared by stat: size, mtime, ctime
  and inode. A missing file must stay missing.
An answer is not stored when it read the clock (inputs.CLOCK), nor when one of its files
changed in the last 2 seconds (git's "racy clean" rule: a second edit within one timestamp tick
could otherwise go unseen); the commands also do not store an answer that printed a warning.

Entries live in `$XDG_CACHE_HOME/orchestrator/<kind>` (usercache.py), directory 0700 and files
0600. Their names are an HMAC of the inputs under a random per-user key, so they say nothing
about environment values; files are recorded by stat, never by content, and the stored output
is what was printed, masked. Known limit: a symlink retargeted with nothing else changed is not
noticed (paths are stat-ed as the command resolved them).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import __version__, gitinfo, usercache
from orchestrator.errors import stdout_guard

RACY_SECONDS_DEFAULT = 2.0
KEY_LIMIT = 4096  # the key we write is 32 bytes
ENTRY_LIMIT = 256 << 20  # a stored output: the plan of a few thousand targets
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Kind:
    """One command's memo: its cache directory, switch, entry format and limits."""

    name: str  # usercache kind: "plan", "check"
    switch: str  # environment variable; "0", "false", "no" or "off" turn the memo off
    format: int
    keep: int
    racy_seconds: float = RACY_SECONDS_DEFAULT
    package: Path = PACKAGE  # whose source files are part of the key


@dataclass(frozen=True)
class Stored:
    stdout: str
    status: int


def enabled(kind: Kind) -> bool:
    return os.environ.get(kind.switch, "1").lower() not in ("0", "false", "no", "off")


def signature(path: str) -> list[int] | None:
    try:
        st = Path(path).stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _code_fingerprint(package: Path) -> list[Any]:
    """What the output could depend on besides the user's inputs: our code and the libraries."""
    ours = sorted((str(p.relative_to(package)), signature(str(p))) for p in package.rglob("*.py"))
    installed = [(entry, signature(entry)) for entry in sys.path if entry]
    return [__version__, sys.executable, ours, installed]


def _key(kind: Kind, where: Path, argv: list[str]) -> str:
    secret_file = where / "key"
    try:
        secret = usercache.read_bytes(secret_file, KEY_LIMIT)
    except FileNotFoundError:
        secret = secrets.token_bytes(32)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
    material = json.dumps(
        [
            kind.format,
            argv,
            str(Path.cwd()),
            # `_` is the shell's "last command" (the program's own path, or /usr/bin/time's):
            # not configuration, and it would make identical runs look different.
            sorted((k, v) for k, v in os.environ.items() if k != "_"),
            sys.stdout.isatty(),
            _code_fingerprint(kind.package),
        ]
    )
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()


def replay(kind: Kind, argv: list[str]) -> Stored | None:
    """The stored answer of `orchestrator <argv>` if it is still what a run would give."""
    if not enabled(kind):
        return None
    try:
        where = usercache.directory(kind.name)
        name = f"{_key(kind, where, argv)}.json"
        entry = json.loads(usercache.read_bytes(where / name, ENTRY_LIMIT).decode("utf-8"))
        if entry["format"] != kind.format:
            return None
        if any(signature(path) != sig for path, sig in entry["files"].items()):
            return None
        if list(gitinfo.ask(Path(entry["root"]))) != entry["git"]:
            return None
        return Stored(str(entry["stdout"]), int(entry["status"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return None  # no entry, one we cannot read, or no home directory: run normally


def emit(text: str) -> None:
    """Write a command's result to stdout exactly; errors.stdout_guard says which failures are
    errors."""
    with stdout_guard():
        sys.stdout.write(text)


def store(
    kind: Kind,
    argv: list[str],
    stdout: str,
    status: int,
    files: list[str],
    root: Path,
    git: gitinfo.GitInfo,
) -> None:
    """Remember an answer. Best effort: a read-only or full home never fails the command."""
    if not enabled(kind):
        return
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: no home directory
        _store(kind, argv, stdout, status, files, root.resolve(), git)


def _store(
    kind: Kind,
    argv: list[str],
    stdout: str,
    status: int,
    files: list[str],
    root: Path,
    git: gitinfo.GitInfo,
) -> None:
    from orchestrator import inputs

    if inputs.CLOCK in files:
        return  # a tag from `{{date}}`: tomorrow's replay would print today's tag
    recent = (time.time() - kind.racy_seconds) * 1e9
    signatures = {path: signature(path) for path in sorted(set(files))}
    if any(sig is not None and max(sig[1], sig[2]) >= recent for sig in signatures.values()):
        return  # changed a moment ago: a same-tick edit after this run would look unchanged
    answers = gitinfo.ask(root)
    if gitinfo.from_answers(root, answers) != git:
        return  # git moved while we ran: what we would record is not what we used
    where = usercache.directory(kind.name)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)  # before _key() writes the key file
    entry = {
        "format": kind.format,
        "root": str(root),
        "git": list(answers),
        "files": signatures,
        "stdout": stdout,
        "status": status,
    }
    usercache.store(kind.name, f"{_key(kind, where, argv)}.json", json.dumps(entry), kind.keep)
