"""A memo of `orchestrator check` output: a repeated check of an unchanged tree is a replay.

`check` runs from editors, pre-commit hooks and CI, mostly over a tree that did not change
since the last run. Computing one parses the manifest and every Dockerfile, walks every build
context and runs hadolint on each Dockerfile (~0.03-0.05 s of CPU each: seconds for a monorepo,
even with its answers memoized the imports and the walk remain). Replaying one checks that
nothing it came from changed, prints the stored report and exits with the stored status: 1
for a check that failed stays 1.

What a replay checks is replaymemo.py's (shared with the plan memo): the command line (so
`--format json`, `--context` or a list of targets each have their own entry), cwd, the whole
environment (`HADOLINT_*`, `NO_COLOR`, `XDG_CONFIG_HOME` included), our code, git's answers, and
the stat of every file the check read or probed, noted next to each read (inputs.py): the
manifest, the lock, every Dockerfile, each context's .dockerignore candidates, every directory
walked and entry listed in a build context, scripts read from a context, the checks baseline,
the files fingerprinted against it, the hadolint binary and every place it was looked for, and
each of hadolint's configuration files (present or not). A test runs `check` under an audit
hook and fails when it opens a file that was not noted.

Never stored: `--write-baseline`, `--output` (they write), `--explain`; a check whose hadolint
run failed (a timeout or a start failure is not an answer about the files, the next run must
try again); one that read the clock or touched a file in the last 2 s. Entries live in
`$XDG_CACHE_HOME/orchestrator/check`, the 64 newest kept; the stored report is the masked text
that was printed. `ORCH_CHECK_MEMO=0` turns it off. Only the standard library, gitinfo and
usercache are imported on the replay path (no pydantic, PyYAML or rich).
"""

from __future__ import annotations

from pathlib import Path

from orchestrator import gitinfo, replaymemo

SWITCH = "ORCH_CHECK_MEMO"
FORMAT = 1
KEEP = 64
RACY_SECONDS = replaymemo.RACY_SECONDS_DEFAULT
emit = replaymemo.emit


def _kind() -> replaymemo.Kind:
    # Read at each call: tests change RACY_SECONDS and KEEP.
    return replaymemo.Kind("check", SWITCH, FORMAT, KEEP, RACY_SECONDS)


def replay(argv: list[str]) -> int | None:
    """Print the stored report of `orchestrator <argv>` and return its exit status, if it is
    still what a run would give; None: run the check."""
    found = replaymemo.replay(_kind(), argv)
    if found is None:
        return None
    replaymemo.emit(found.stdout)
    return found.status


def store(
    argv: list[str], stdout: str, status: int, files: list[str], root: Path, git: gitinfo.GitInfo
) -> None:
    """Remember a check's report and status. Best effort: never fails the check."""
    replaymemo.store(_kind(), argv, stdout, status, files, root, git)
