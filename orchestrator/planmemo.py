"""A memo of `orchestrator plan` output: a repeated plan costs a process start, not a parse.

`plan` runs from editors, Makefiles (`$(shell orchestrator plan --format bake)`) and CI matrix
steps, often many times over an unchanged tree. Computing one imports pydantic and PyYAML,
parses the manifest, the lock and every Dockerfile and asks git five questions (~0.2 s, four
times `docker buildx bake --print`). Replaying one checks that nothing it came from changed and
prints the stored text (~0.04 s). Only this module's imports are paid on that path: the standard
library and gitinfo.

A stored plan is replayed only when all of these are unchanged, else it is computed again:
* the command line, working directory, interpreter, the orchestrator's own source files and
  the installed packages (`sys.path` directory stats change when pip adds or removes one);
* the whole environment (any variable may be interpolated into the manifest), except `_`;
* whether stdout is a terminal;
* git's answers to gitinfo.QUERIES (HEAD, branch, version tags, clean or dirty): VERSION and
  GIT_COMMIT come from them;
* every file the plan read or probed (inputs.py: manifest, lock, Dockerfiles, secret files,
  ssh keys), compared by stat: size, mtime, ctime and inode. A missing file must stay missing.
A plan is not stored when it read the clock (a `{{date}}` tag), nor when one of its files
changed in the last 2 seconds (git's "racy clean"
rule: a second edit within one timestamp tick could otherwise go unseen), nor when it printed a
warning. `build` never uses the memo: it always plans afresh.

Entries live in `$XDG_CACHE_HOME/orchestrator/plan` (default `~/.cache/...`), directory 0700 and
files 0600, the 64 newest kept. Their names are an HMAC of the inputs under a random per-user
key, so they say nothing about environment values; files are recorded by stat, never by
content, and printed plans already mask secret values. `ORCH_PLAN_MEMO=0` turns it off.
Known limit: a symlink in a context or Dockerfile path retargeted with nothing else changed
is not noticed (the paths are stat-ed as the plan resolved them).
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
from pathlib import Path
from typing import Any

from orchestrator import __version__, gitinfo, usercache
from orchestrator.errors import stdout_guard

SWITCH = "ORCH_PLAN_MEMO"
FORMAT = 1
KEEP = 64
RACY_SECONDS_DEFAULT = 2.0
RACY_SECONDS = RACY_SECONDS_DEFAULT
_PACKAGE = Path(__file__).resolve().parent


def enabled() -> bool:
    return os.environ.get(SWITCH, "1").lower() not in ("0", "false", "no", "off")


def directory() -> Path:
    return usercache.directory("plan")


def _signature(path: str) -> list[int] | None:
    try:
        st = Path(path).stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _code_fingerprint() -> list[Any]:
    """What the output could depend on besides the user's inputs: our code and the libraries."""
    ours = sorted(
        (str(p.relative_to(_PACKAGE)), _signature(str(p))) for p in _PACKAGE.rglob("*.py")
    )
    installed = [(entry, _signature(entry)) for entry in sys.path if entry]
    return [__version__, sys.executable, ours, installed]


def _key(where: Path, argv: list[str]) -> str:
    secret_file = where / "key"
    try:
        secret = secret_file.read_bytes()
    except FileNotFoundError:
        secret = secrets.token_bytes(32)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
    material = json.dumps(
        [
            FORMAT,
            argv,
            str(Path.cwd()),
            # `_` is the shell's "last command" (the program's own path, or /usr/bin/time's):
            # not configuration, and it would make identical runs look different.
            sorted((k, v) for k, v in os.environ.items() if k != "_"),
            sys.stdout.isatty(),
            _code_fingerprint(),
        ]
    )
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()


def replay(argv: list[str]) -> bool:
    """Print the stored output of `orchestrator <argv>` if it is still what a run would print."""
    if not enabled():
        return False
    try:
        where = directory()
        entry = json.loads((where / f"{_key(where, argv)}.json").read_text(encoding="utf-8"))
        if entry["format"] != FORMAT:
            return False
        if any(_signature(path) != sig for path, sig in entry["files"].items()):
            return False
        if list(gitinfo.ask(Path(entry["root"]))) != entry["git"]:
            return False
        text = str(entry["stdout"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return False  # no entry, one we cannot read, or no home directory: plan normally
    emit(text)
    return True


def emit(text: str) -> None:
    """Write a plan to stdout exactly; errors.stdout_guard says which failures are errors."""
    with stdout_guard():
        sys.stdout.write(text)


def store(argv: list[str], stdout: str, files: list[str], root: Path, git: gitinfo.GitInfo) -> None:
    """Remember a plan's output. Best effort: a read-only or full home never fails a plan."""
    if not enabled():
        return
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: no home directory
        _store(argv, stdout, files, root.resolve(), git)


def _store(
    argv: list[str], stdout: str, files: list[str], root: Path, git: gitinfo.GitInfo
) -> None:
    from orchestrator import inputs

    if inputs.CLOCK in files:
        return  # a tag from `{{date}}`: tomorrow's replay would print today's tag
    recent = (time.time() - RACY_SECONDS) * 1e9
    signatures = {path: _signature(path) for path in sorted(set(files))}
    if any(sig is not None and max(sig[1], sig[2]) >= recent for sig in signatures.values()):
        return  # changed a moment ago: a same-tick edit after this run would look unchanged
    answers = gitinfo.ask(root)
    if gitinfo.from_answers(root, answers) != git:
        return  # git moved while we planned: what we would record is not what we used
    where = directory()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)  # before _key() writes the key file
    entry = {
        "format": FORMAT,
        "root": str(root),
        "git": list(answers),
        "files": signatures,
        "stdout": stdout,
    }
    usercache.store("plan", f"{_key(where, argv)}.json", json.dumps(entry), KEEP)
