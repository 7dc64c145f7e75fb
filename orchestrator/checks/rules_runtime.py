"""Rules about the shipped image's runtime config: process form, user, health check.

They read only the *final chain*: the target stage and the stages it is `FROM`, because those
are the only ENTRYPOINT/CMD/USER/HEALTHCHECK instructions that reach the image config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from orchestrator import heredoc, inputs, refs
from orchestrator.checks import CheckContext, Hit, Inherited, Severity, rule, shells
from orchestrator.dockerfile import Instruction, Stage, sources

# Images that already run as a non-root user (the base's USER is inherited).
_NONROOT_BASES = ("nonroot", "rootless", "unprivileged")
# Publishers whose images say so in the tag only: (repository prefix, words of the tag).
# Microsoft's .NET chiseled (Ubuntu) and Azure Linux distroless images end with
# `USER $APP_UID` (uid 1654, "app"); their other .NET tags run as root. Not every distroless is
# non-root (gcr.io/distroless/static is root, its :nonroot is not): the prefix is the publisher's.
_NONROOT_TAGS = (("mcr.microsoft.com/dotnet/", ("chiseled", "distroless")),)


def _last_in(stages: Iterable[Stage], keyword: str) -> Instruction | None:
    found = None
    for stage in stages:
        for ins in stage.instructions:
            if ins.keyword == keyword:
                found = ins
    return found


def _last(ctx: CheckContext, keyword: str) -> Instruction | None:
    return _last_in(ctx.final, keyword)


def _is_root(user: Instruction) -> bool:
    """A USER instruction naming root (by name or uid 0, with or without a group)."""
    return user.args.strip().split(":", 1)[0] in ("root", "0")


def _base(ctx: CheckContext) -> str:
    """The image the shipped stages start FROM: through `target:` contexts, the one the first
    of those targets starts FROM."""
    return ctx.inherited[0].base if ctx.inherited else ctx.expand(ctx.final[0].base)


def _nonroot(base: str) -> bool:
    """Whether the image `base` names runs as a non-root user of its own."""
    image = base.lower()
    if any(word in image for word in _NONROOT_BASES):
        return True
    try:
        ref = refs.parse_reference(image)
    except refs.InvalidReferenceError:
        return False  # an unexpanded ${VAR}, say: nothing known of it
    tag = ref.tag or ""
    return any(
        ref.name.startswith(prefix) and any(word in tag for word in words)
        for prefix, words in _NONROOT_TAGS
    )


def _shown(path: Path) -> Path:
    """`path` as findings show files: relative to the working directory when under it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _inherited_last(ctx: CheckContext, keyword: str) -> tuple[Instruction, Inherited] | None:
    """The `keyword` instruction the image inherits from a target it is built FROM (a
    `target:` context), nearest first, or None."""
    for source in reversed(ctx.inherited):
        found = _last_in(source.stages, keyword)
        if found is not None:
            return found, source
    return None


def is_exec_form(args: str) -> bool:
    text = args.strip()
    if not text.startswith("["):
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a 5000-digit number, `[[[[…`
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


# Tools an entrypoint uses to start the service as another user after root-only setup
# (chown of a volume, binding a low port): a container that starts as root and steps down.
STEP_DOWN = re.compile(
    r"(?<![\w-])(gosu|su-exec|setpriv|runuser|s6-setuidgid|s6-applyuidgid|setuidgid"
    r"|chpst\s+-u|chroot\s+--userspec)(?![\w-])"
)
_SCRIPT_LIMIT = 256 * 1024


def _entrypoint_words(ctx: CheckContext) -> list[str]:
    words: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        ins = _last(ctx, keyword)
        if ins is None:
            continue
        if is_exec_form(ins.args):
            words += json.loads(ins.args)
        else:
            words += ins.args.split()
    return words


def _script_steps_down(ctx: CheckContext, words: list[str]) -> str | None:
    """The step-down tool a COPYed entrypoint script uses (read from the build context)."""
    names = {PurePosixPath(w).name for w in words if "/" in w or w.endswith(".sh")}
    if not names:
        return None
    root = Path(ctx.target.context)
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword not in ("COPY", "ADD") or ins.flag("from"):
                continue
            srcs = sources(ins)
            dest = ins.args.split()[-1] if ins.args.split() else ""
            body = _heredoc_text(ins)
            if body is not None and PurePosixPath(dest).name in names:
                # `COPY <<'EOF' /usr/local/bin/entry`: the script is written in the Dockerfile.
                if found := STEP_DOWN.search(body):
                    return f"{found.group(1)} (in the heredoc at line {ins.line})"
                continue
            for src in srcs:
                if PurePosixPath(src).name not in names and PurePosixPath(dest).name not in names:
                    continue
                path = root / src
                inputs.note(path)
                try:
                    if path.is_file() and path.stat().st_size <= _SCRIPT_LIMIT:
                        found = STEP_DOWN.search(path.read_text(encoding="utf-8", errors="replace"))
                        if found:
                            return f"{found.group(1)} (in {src})"
                except OSError:
                    continue
    return None


def _steps_down(ctx: CheckContext) -> tuple[str, Severity] | None:
    """(how, severity) when the image starts as root but something drops privileges."""
    words = _entrypoint_words(ctx)
    found = STEP_DOWN.search(" ".join(words))
    if found:
        return f"its entrypoint steps down with {found.group(1)}", "info"
    script = _script_steps_down(ctx, words)
    if script:
        return f"its entrypoint script steps down with {script}", "info"
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword in ("RUN", "COPY", "ADD") and (found := STEP_DOWN.search(ins.content)):
                # Installed but not seen in use: the entrypoint is probably a script we could
                # not read. Likely fine, so not an error, but worth a look. A heredoc COPY/ADD
                # installs nothing: it writes a file whose text uses the tool.
                if ins.keyword != "RUN" and _heredoc_text(ins) is not None:
                    how = f"a file it writes (line {ins.line}) uses {found.group(1)}"
                else:
                    how = f"it installs {found.group(1)} (line {ins.line})"
                return f"{how}, probably to step down", "warning"
    return None


def _heredoc_text(ins: Instruction) -> str | None:
    """The text of a COPY/ADD's heredoc(s) (what the file written holds), or None without."""
    opened = heredoc.WORD.search(ins.args)
    if opened is None:
        return None
    start = ins.content.find("\n", ins.content.find(opened.group(0)))
    return ins.content[start + 1 :] if start >= 0 else ""


@rule(
    "OR013",
    "runs-as-root",
    "The image runs as root: its last USER is root/0, or no stage of it sets a USER, and no "
    "entrypoint steps down (gosu, su-exec, setpriv, runuser, chroot --userspec, s6-setuidgid).",
    "create a fixed non-root UID and end with `USER 10001:10001` (or use a :nonroot base); if "
    'setup needs root, step down in the entrypoint: exec gosu app "$@"',
    development="info",
    production="error",
    supersedes=("DL3002",),
)
def runs_as_root(ctx: CheckContext) -> Iterator[Hit]:
    if _windows(ctx):
        yield from _runs_as_administrator(ctx)
        return
    user = _last(ctx, "USER")
    inherited = _inherited_last(ctx, "USER") if user is None else None
    if user is not None:
        if not _is_root(user):
            return
        line, what = user.line, f"USER {user.args.strip()}: the container runs as root"
    elif inherited is not None:
        ins, source = inherited
        if not _is_root(ins):
            return  # the non-root USER of the target it is built FROM is inherited
        line = ctx.final[0].line
        what = (
            f"USER {ins.args.strip()} inherited from target {source.target} "
            f"({_shown(source.path)}:{ins.line}): the container runs as root"
        )
    else:
        if _nonroot(_base(ctx)):
            return  # the base image's own non-root USER is inherited
        stage = ctx.final[-1]
        line, what = stage.line, f"no USER in stage {stage.label} (or its bases): runs as root"
    drop = _steps_down(ctx)
    if drop is None and not any(
        _last(ctx, k) or _inherited_last(ctx, k) for k in ("ENTRYPOINT", "CMD")
    ):
        # No process of its own: a base or tool image that others extend (and give a USER).
        drop = (
            "it starts no process of its own (no ENTRYPOINT/CMD): a base image to extend",
            "warning",
        )
    if drop is None:
        yield Hit(line, what)
        return
    how, severity = drop
    # Only lower the severity: a development target's info stays info.
    lowered: Severity = severity if ctx.kind == "production" else "info"
    yield Hit(line, f"{what} at start, but {how}", severity=lowered)


# Windows base images (shells.WINDOWS_BASES): Nano Server runs as ContainerUser unless told
# otherwise, Server Core and Windows as ContainerAdministrator; there is no root or uid 0.
_WINDOWS_ADMIN = "containeradministrator"


def _windows(ctx: CheckContext) -> bool:
    """A Windows image: the platform checked says so, or (no platform declared: the engine's)
    its base is one of Microsoft's Windows images."""
    if ctx.platform:
        return ctx.platform.startswith("windows/")
    return shells.windows_image(_base(ctx))


def _runs_as_administrator(ctx: CheckContext) -> Iterator[Hit]:
    """OR013 for a Windows image: the administrator account is the one to leave."""
    user = _last(ctx, "USER")
    if user is None and (inherited := _inherited_last(ctx, "USER")) is not None:
        user = inherited[0]  # from the target it is built FROM
    if user is not None:
        if user.args.strip().lower() == _WINDOWS_ADMIN:
            yield Hit(
                user.line,
                f"USER {user.args.strip()}: the container runs as its administrator; "
                "end with `USER ContainerUser`",
            )
        return
    if "nanoserver" in _base(ctx).lower():
        return  # Nano Server's default user is ContainerUser, not an administrator
    stage = ctx.final[-1]
    yield Hit(
        stage.line,
        f"no USER in stage {stage.label} (or its bases): a Windows Server Core or Windows image "
        "runs as ContainerAdministrator; end with `USER ContainerUser`",
    )


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
    got = _inherited_last(ctx, "HEALTHCHECK") if check is None else None
    if got is not None and got[0].args.strip().upper() != "NONE":
        return  # inherited from the target it is built FROM
    if check is None:
        stage = ctx.final[-1]
        yield Hit(stage.line, f"stage {stage.label} has no HEALTHCHECK")
    elif check.args.strip().upper() == "NONE":
        yield Hit(check.line, "HEALTHCHECK NONE disables the health check")
