"""A memo of `orchestrator plan` output: a repeated plan costs a process start, not a parse.

`plan` runs from editors, Makefiles (`$(shell orchestrator plan --format bake)`) and CI matrix
steps, often many times over an unchanged tree. Computing one imports pydantic and PyYAML,
parses the manifest, the lock and every Dockerfile and asks git five questions (~0.2 s, four
times `docker buildx bake --print`). Replaying one checks that nothing it came from changed and
prints the stored text (~0.04 s).

What a replay checks, and when nothing is stored, is replaymemo.py's (shared with the check
memo): command line, cwd, environment, our code, git's answers (VERSION and GIT_COMMIT come from
them) and the stat of every file the plan read or probed (manifest, lock, Dockerfiles, secret
files, ssh keys). A plan that read the clock (a `{{date}}` tag), touched a file in the last 2 s
or printed a warning is not stored. `build` never uses the memo: it always plans afresh.

Entries live in `$XDG_CACHE_HOME/orchestrator/plan` (default `~/.cache/...`), the 64 newest
kept; printed plans already mask secret values. `ORCH_PLAN_MEMO=0` turns it off.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator import gitinfo, replaymemo, usercache

SWITCH = "ORCH_PLAN_MEMO"
FORMAT = 2
KEEP = 64
RACY_SECONDS_DEFAULT = replaymemo.RACY_SECONDS_DEFAULT
RACY_SECONDS = RACY_SECONDS_DEFAULT
_PACKAGE = replaymemo.PACKAGE
emit = replaymemo.emit


def _kind() -> replaymemo.Kind:
    # Read at each call: tests change RACY_SECONDS, KEEP and _PACKAGE.
    return replaymemo.Kind("plan", SWITCH, FORMAT, KEEP, RACY_SECONDS, _PACKAGE)


def enabled() -> bool:
    return replaymemo.enabled(_kind())


def directory() -> Path:
    return usercache.directory("plan")


def replay(argv: list[str]) -> bool:
    """Print the stored output of `orchestrator <argv>` if it is still what a run would print."""
    found = replaymemo.replay(_kind(), argv)
    if found is None:
        return False
    emit(found.stdout)
    return True


def store(argv: list[str], stdout: str, files: list[str], root: Path, git: gitinfo.GitInfo) -> None:
    """Remember a plan's output. Best effort: a read-only or full home never fails a plan."""
    replaymemo.store(_kind(), argv, stdout, 0, files, root, git)
