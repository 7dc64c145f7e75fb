"""The tool's own scratch directory, `.orchestrator/` next to builds.yaml.

It must never make a work tree dirty: VERSION gets `-dirty` from untracked files too, so a first
build in a repository whose .gitignore does not list `.orchestrator/` would turn every later
release into a dev version. Like pytest's and ruff's caches, the directory ignores itself with a
`.gitignore` of `*` written when it is created.

It must never reach an image either. The most common layout builds the directory builds.yaml
is in (`COPY . .`), and most projects' .dockerignore predates this tool: every build would send
the last run's report and logs, ship them, and miss the cache from that COPY on. So a target
whose context would send the directory is built from a copy of its Dockerfile in
`.orchestrator/dockerfiles/<target>/`, next to a Dockerfile-specific ignore file (BuildKit
reads `<Dockerfile>.dockerignore` beside the Dockerfile instead of the context's) holding the
project's own ignore lines plus this directory. The user's files are never touched; BuildKit
sees the same Dockerfile bytes and the same context minus this directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from orchestrator import atomic, buildcontext, inputs, textfile
from orchestrator.dockerfile import WHOLE_TREE, Instruction, Stage, sources
from orchestrator.errors import UserError

NAME = ".orchestrator"
_IGNORE_ALL = "# Written by orchestrator: its scratch files are never part of the tree.\n*\n"
SENT = "dockerfiles"  # .orchestrator/dockerfiles/<target>/: the Dockerfiles build sends
# Paths a build writes under the directory: if the context sends any of them, it sends the rest.
SAMPLES = ("report.json", "runs/0/build.log", "state/app.json", "oci/app.tar")


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


def refuse_shipped_link(root: Path) -> None:
    """build writes its reports, logs, records and Dockerfile copies under `.orchestrator`. A
    symlink there that the repository itself ships (in git's index) would send them wherever
    it points: a cloned repository could aim it at another project or a home directory. Such
    a link is refused in one line before anything is written; a link the user made (not in
    git, e.g. to a cache disk on CI) is theirs and is followed."""
    from orchestrator import gitinfo  # only for a symlink, which is rare

    path = root / NAME
    if path.is_symlink() and gitinfo.tracked(root, NAME):
        raise UserError(
            f"{path}: the repository ships this tool's scratch directory as a symlink (to "
            f"{path.readlink()}); build would write its reports there. Remove it from git "
            f"(`git rm --cached {NAME}`) or, if you made it, keep it untracked"
        )


def copied_in(root: Path, context: Path, stages: Iterable[Stage]) -> Instruction | None:
    """The first COPY/ADD (from the context) of `stages` that would take this tool's directory
    into the image: of the whole context, or of a path inside the directory. None also when
    the directory is not inside `context`. Whether the ignore file lets it through is
    `sends_scratch`'s question."""
    scratch = root / NAME
    if not scratch.is_relative_to(context):
        return None
    rel = scratch.relative_to(context).as_posix()
    return next(
        (
            ins
            for stage in stages
            for ins in stage.instructions
            if ins.keyword in ("COPY", "ADD")
            and not ins.flag("from")
            and any(src in WHOLE_TREE or src.startswith(rel) for src in sources(ins))
        ),
        None,
    )


def sends_scratch(root: Path, context: Path, dockerfile: Path) -> bool:
    """Would BuildKit send this tool's directory (any of SAMPLES) with `context`, under the
    ignore file it reads for `dockerfile`?"""
    rel = (root / NAME).relative_to(context).as_posix()
    return buildcontext.sends_any(context, [f"{rel}/{s}" for s in SAMPLES], dockerfile)


def sent_dockerfile(
    root: Path, target: str, context: Path, dockerfile: Path, stages: Iterable[Stage]
) -> Path | None:
    """Where `build` sends `target`'s Dockerfile from: None when no COPY would take this tool's
    directory in (copied_in) or the context's ignore file leaves it out already, else the
    copy's path under `.orchestrator/dockerfiles/<target>/` (see the module docstring). Sent
    without such a COPY, it is not read by the build (BuildKit transfers what steps use)."""
    if copied_in(root, context, stages) is None or not sends_scratch(root, context, dockerfile):
        return None
    return root / NAME / SENT / target / dockerfile.name


def left_out(context: Path, sent: Path) -> str:
    """The directory a copy made by sent_dockerfile keeps out of `context`, relative to it."""
    return sent.parents[2].relative_to(context).as_posix()  # NAME/SENT/<target>/<file>


def write_sent(context: Path, dockerfile: Path, sent: Path) -> None:
    """Write the copy of `dockerfile` at `sent` and its ignore file: the ignore lines the build
    would have used (`<Dockerfile>.dockerignore`, else the context's `.dockerignore`) and then
    this directory, so it wins over any `!` line before it. Unchanged files are not rewritten
    (the plan memo records their stat: a deleted copy makes the next plan write it again)."""
    ignore = buildcontext.read_ignore(context, dockerfile)
    lines = textfile.read(ignore.path, "ignore file") if ignore.path else ""
    if lines and not lines.endswith("\n"):
        lines += "\n"
    lines += (
        f"# Added by orchestrator: its scratch directory is never sent (copied from "
        f"{ignore.path or 'no ignore file'}).\n{left_out(context, sent)}\n"
    )
    text = textfile.read(dockerfile, "Dockerfile")
    mkdir(sent.parent)
    for path, content, what in (
        (sent, text, "Dockerfile"),
        (Path(f"{sent}.dockerignore"), lines, "ignore file"),
    ):
        try:
            current: str | None = textfile.read(path, what)
        except (FileNotFoundError, UserError):
            current = None
        if current != content:
            # surrogateescape: the user's bytes exactly, a Latin-1 comment included.
            atomic.write_text(path, content, mode=0o644, newline="", errors="surrogateescape")
        inputs.note(path)
