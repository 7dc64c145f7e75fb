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
from orchestrator.dockerfile import sources

# chmod modes, numeric or symbolic; _world_writable() decides (777, 0666, 1777, o+w, a=rwx).
_CHMOD = re.compile(
    r"\bchmod\s+(?P<opts>(?:-\S+\s+)*)(?P<mode>0?[0-7]?[0-7]{3}|[ugoa]*[+=][rwxXst]*w[rwxXst]*)"
    r"(?=\s)"
)


def _world_writable(mode: str) -> bool:
    if mode[0].isdigit():
        return int(mode[-1]) & 2 == 2
    who = re.split(r"[+=]", mode, maxsplit=1)[0]
    # `+w` without a who follows the umask (022 in images: the owner only).
    return "o" in who or "a" in who


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
                for found in _CHMOD.finditer(ins.args):
                    if _world_writable(found.group("mode")):
                        recursive = "-R" in found.group("opts") or "--recursive" in found.group(
                            "opts"
                        )
                        scope = " recursively" if recursive else ""
                        yield Hit(
                            ins.line,
                            f"`chmod {found.group('opts')}{found.group('mode')}` makes files "
                            f"writable by every user{scope}: any process in the container can "
                            "replace them",
                        )
                        break
            elif (
                ins.keyword in ("COPY", "ADD")
                and (mode := ins.flag("chmod"))
                and re.fullmatch(r"0?[0-7]?[0-7]{3}", mode)
                and _world_writable(mode)
            ):
                yield Hit(ins.line, f"{ins.keyword} --chmod={mode} makes files world-writable")


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
