"""Rules about the shipped image's runtime config: process form, user, health check.

They read only the *final chain*: the target stage and the stages it is `FROM`, because those
are the only ENTRYPOINT/CMD/USER/HEALTHCHECK instructions that reach the image config.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.dockerfile import Instruction

# Images that already run as a non-root user (the base's USER is inherited).
_NONROOT_BASES = ("nonroot", "rootless", "unprivileged")


def _last(ctx: CheckContext, keyword: str) -> Instruction | None:
    found = None
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword == keyword:
                found = ins
    return found


def _base(ctx: CheckContext) -> str:
    return ctx.expand(ctx.final[0].base)


def is_exec_form(args: str) -> bool:
    text = args.strip()
    if not text.startswith("["):
        return False
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False  # Docker then runs the text through /bin/sh -c, brackets and all
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@rule(
    "OR012",
    "shell-form-entrypoint",
    "The image's ENTRYPOINT or CMD uses shell form: /bin/sh becomes PID 1 and does not forward "
    "SIGTERM, so `docker stop` waits and kills.",
    'use exec form: ENTRYPOINT ["/app"] / CMD ["--port", "8080"] (a wrapper script ends with '
    '`exec "$@"`)',
    development="warning",
    production="error",
    supersedes=("DL3025",),
)
def shell_form(ctx: CheckContext) -> Iterator[Hit]:
    no_shell = _base(ctx).lower() == "scratch"
    for keyword in ("ENTRYPOINT", "CMD"):
        ins = _last(ctx, keyword)
        if ins is None or is_exec_form(ins.args):
            continue
        if no_shell:
            # Not a style issue here: scratch has no /bin/sh, so the container cannot start.
            msg = (
                f"shell-form {keyword} on scratch: there is no /bin/sh, the container cannot start"
            )
            yield Hit(ins.line, msg, severity="error")
        else:
            yield Hit(ins.line, f"shell-form {keyword}: signals go to /bin/sh, not the process")


@rule(
    "OR013",
    "runs-as-root",
    "The image runs as root: its last USER is root/0, or no stage of it sets a USER.",
    "create a fixed non-root UID and end with `USER 10001:10001` (or use a :nonroot base)",
    development="info",
    production="error",
    supersedes=("DL3002",),
)
def runs_as_root(ctx: CheckContext) -> Iterator[Hit]:
    user = _last(ctx, "USER")
    if user is not None:
        name = user.args.strip().split(":", 1)[0]
        if name in ("root", "0"):
            yield Hit(user.line, f"USER {user.args.strip()}: the container runs as root")
        return
    base = _base(ctx)
    if any(word in base.lower() for word in _NONROOT_BASES):
        return  # the base image's own non-root USER is inherited
    stage = ctx.final[-1]
    yield Hit(stage.line, f"no USER in stage {stage.label} (or its bases): runs as root")


@rule(
    "OR014",
    "no-healthcheck",
    "A production-grade image has no HEALTHCHECK (or disables it with HEALTHCHECK NONE).",
    "add HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD [...] probing a real /health "
    'endpoint (on scratch, let the binary probe itself: CMD ["/app", "-healthcheck"])',
    development=None,
    production="warning",
)
def no_healthcheck(ctx: CheckContext) -> Iterator[Hit]:
    check = _last(ctx, "HEALTHCHECK")
    if check is None:
        stage = ctx.final[-1]
        yield Hit(stage.line, f"stage {stage.label} has no HEALTHCHECK")
    elif check.args.strip().upper() == "NONE":
        yield Hit(check.line, "HEALTHCHECK NONE disables the health check")
