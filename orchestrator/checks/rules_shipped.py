"""Rules about files that end up in the image: world-writable trees, credentials copied in.

A layer keeps what it was given: a file deleted in a later RUN is still in the earlier layer,
readable by anyone who pulls the image. So what matters is where a file is written, not
whether it survives to the last layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.dockerfile import Instruction, sources

# chmod modes, numeric or symbolic; _world_writable() decides (777, 0666, 1777, o+w, a=rwx).
# `paths`: the words after the mode, up to the end of that command.
_CHMOD = re.compile(
    r"\bchmod\s+(?P<opts>(?:-\S+\s+)*)(?P<mode>0?[0-7]?[0-7]{3}|[ugoa]*[+=][rwxXst]*w[rwxXst]*)"
    r"(?=\s)(?P<paths>[^;&|]*)"
)
# The shared temporary directories: world-writable with the sticky bit (1777) by design.
_TEMP_DIRS = frozenset({"/tmp", "/var/tmp", "/dev/shm"})  # noqa: S108 (names, not files we use)


def _world_writable(mode: str) -> bool:
    if mode[0].isdigit():
        return int(mode[-1]) & 2 == 2
    who = re.split(r"[+=]", mode, maxsplit=1)[0]
    # `+w` without a who follows the umask (022 in images: the owner only).
    return "o" in who or "a" in who


def _sticky(mode: str) -> bool:
    """The restricted-deletion bit (1777, +t): in such a directory only a file's owner can
    delete or rename it, others can still add files."""
    if mode[0].isdigit():
        return len(mode.lstrip("0")) == 4 and int(mode.lstrip("0")[0]) & 1 == 1
    return "t" in re.split(r"[+=]", mode, maxsplit=1)[1]


def _line_of(ctx: CheckContext, ins: Instruction, offset: int) -> int:
    """The file line of `offset` in a RUN's content: it keeps every line of the instruction
    but the comments between them. The RUN's first line when they do not add up (an empty
    line the parser dropped, say)."""
    comments = {c.line for c in ctx.dockerfile.comments if ins.line < c.line <= ins.end_line}
    lines = [n for n in range(ins.line, ins.end_line + 1) if n not in comments]
    if len(lines) != len(ins.content.rstrip("\n").split("\n")):
        return ins.line
    return lines[ins.content.count("\n", 0, offset)]


@rule(
    "OR019",
    "world-writable",
    "The shipped image makes files world-writable (chmod 777, chmod -R a+w, COPY --chmod=777).",
    "give the files to the user that needs them (COPY --chown=10001:10001, chown) with 755/644 "
    "modes; a directory the app writes to needs only its owner's write bit",
    development="warning",
    production="warning",
)
def world_writable(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword == "RUN":
                yield from _chmods(ctx, ins)
            elif (
                ins.keyword in ("COPY", "ADD")
                and (mode := ins.flag("chmod"))
                and re.fullmatch(r"0?[0-7]?[0-7]{3}", mode)
                and _world_writable(mode)
            ):
                yield Hit(ins.line, f"{ins.keyword} --chmod={mode} makes files world-writable")


def _chmods(ctx: CheckContext, ins: Instruction) -> Iterator[Hit]:
    """The first world-writable chmod of a RUN, at its own line."""
    for found in _CHMOD.finditer(ins.content):
        opts, mode = found.group("opts"), found.group("mode")
        if not _world_writable(mode):
            continue
        paths = {p.strip("\"'").rstrip("/") or "/" for p in found.group("paths").split()}
        paths.discard("\\")  # a continuation character between the words
        sticky = _sticky(mode)
        if sticky and paths and paths <= _TEMP_DIRS:
            continue  # /tmp's own mode
        scope = " recursively" if "-R" in opts or "--recursive" in opts else ""
        what = f"`chmod {opts}{mode}` makes files writable by every user{scope}: "
        if sticky:
            what += (
                "any process in the container can add files there (the sticky bit only "
                "stops it from deleting or renaming others' files)"
            )
        else:
            what += "any process in the container can replace them"
        yield Hit(_line_of(ctx, ins, found.start()), what)
        return


# Files that hold credentials by their name (the same names OR016 looks for in the context).
_CREDENTIAL_NAMES = {
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".dockercfg",
    ".pgpass",
    ".htpasswd",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".env",
    "credentials.json",
    "service-account.json",
}
_CREDENTIAL_PATHS = (".aws/credentials", ".docker/config.json", ".kube/config", ".ssh/")


def credential(source: str) -> str | None:
    """Why `source` (a COPY source as written) is a credentials file, or None."""
    path = source.strip("/")
    name = PurePosixPath(path).name
    if name in _CREDENTIAL_NAMES or (
        name.startswith(".env.")
        and name.split(".")[-1]
        in {
            "local",
            "production",
            "prod",
            "secret",
        }
    ):
        return name
    for marker in _CREDENTIAL_PATHS:
        if f"/{path}/".find(f"/{marker}") >= 0 or path.startswith(marker):
            return marker.rstrip("/")
    return None


@rule(
    "OR020",
    "credentials-copied",
    "A credentials file (.npmrc, .pypirc, .netrc, .env, id_rsa, .aws/credentials, ...) is "
    "COPYed into a stage: its layer keeps it, and in the shipped image anyone who pulls it can "
    "read it.",
    "mount it only for the step that needs it: declare it under `secrets:` in builds.yaml and "
    "use RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci",
    development="warning",
    production="error",
)
def credentials_copied(ctx: CheckContext) -> Iterator[Hit]:
    shipped = {s.index for s in ctx.final}
    for stage in ctx.stages:
        for ins in stage.instructions:
            if ins.keyword not in ("COPY", "ADD") or ins.flag("from"):
                continue
            for src in sources(ins):
                why = credential(src)
                if why is None:
                    continue
                if stage.index in shipped:
                    yield Hit(
                        ins.line,
                        f"{ins.keyword} {src} puts a credentials file ({why}) in the shipped "
                        "image: a later `rm` does not remove it from this layer",
                    )
                else:
                    # A build stage is not pushed, but its layers are in the build cache (and
                    # in a registry cache exported with mode=max).
                    yield Hit(
                        ins.line,
                        f"{ins.keyword} {src} puts a credentials file ({why}) in a build "
                        f"stage's layer ({stage.label}): it is kept in the build cache",
                        severity="warning",
                    )
