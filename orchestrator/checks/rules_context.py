"""Rules about the build context: what BuildKit will send (see orchestrator.buildcontext)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from orchestrator import inputs, scratch
from orchestrator.checks import CheckContext, Hit, rule


def _has_context(ctx: CheckContext) -> bool:
    inputs.note(ctx.target.context)
    return ctx.has_context


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


@rule(
    "OR015",
    "no-dockerignore",
    "The build context has no .dockerignore (nor <Dockerfile>.dockerignore): every file is sent.",
    "add a .dockerignore; for sensitive projects an allowlist: `*` then `!go.mod`, `!cmd/`, ...",
    development="warning",
    production="warning",
)
def no_dockerignore(ctx: CheckContext) -> Iterator[Hit]:
    if not _has_context(ctx):
        return
    listing = ctx.listing
    if listing.ignore_file is None:
        yield Hit(
            None,
            f"no .dockerignore in {ctx.target.context}: all {len(listing.files)} files "
            f"({human(listing.total_bytes)}) are sent to the builder on every build",
        )


@rule(
    "OR016",
    "sensitive-in-context",
    "Files that hold credentials or history (.env*, .git, private keys, *.pem, cloud or "
    "registry credentials) would be sent to the builder.",
    "exclude them in .dockerignore (`.git`, `**/.env*`, `**/*.pem`, ...), or use an allowlist",
    development="warning",
    production="error",
)
def sensitive_in_context(ctx: CheckContext) -> Iterator[Hit]:
    if not _has_context(ctx):
        return
    listing = ctx.listing
    if not listing.sensitive:
        return
    shown = ", ".join(p + ("/" if p in listing.dirs else "") for p in listing.sensitive[:6])
    more = f" and {len(listing.sensitive) - 6} more" if len(listing.sensitive) > 6 else ""
    where = str(listing.ignore_file) if listing.ignore_file else None
    yield Hit(
        None,
        f"{len(listing.sensitive)} sensitive path(s) would be sent to the builder: {shown}{more} "
        "(`orchestrator check --explain PATH` shows why)",
        file=where,
    )


@rule(
    "OR022",
    "scratch-in-context",
    "A COPY or ADD of the whole build context would take this tool's own `.orchestrator/` "
    "directory (reports, build logs, records) into the image: .dockerignore does not exclude it. "
    "`orchestrator build` leaves it out anyway; other tools building the context would not.",
    "add the line `.orchestrator` to .dockerignore (then build sends the Dockerfile as it is)",
    development="info",
    production="info",
)
def scratch_in_context(ctx: CheckContext) -> Iterator[Hit]:
    """Every build rewrites that directory, so a `COPY . .` would put the last run's report and
    logs in the image and change its layer on every build. `build` keeps it out on its own
    (scratch.sent_dockerfile: a Dockerfile-specific ignore file), so this is information, for
    whoever builds the context with something else. Without such a COPY: not reported."""
    if ctx.scratch is None or not _has_context(ctx):
        return
    context, root = Path(ctx.target.context), ctx.scratch.parent
    copy = scratch.copied_in(root, context, ctx.stages)
    # No such COPY: sent at most, never shipped, and the ignore file need not be read.
    if copy is not None and scratch.sends_scratch(root, context, Path(ctx.target.dockerfile)):
        rel = ctx.scratch.relative_to(context).as_posix()
        what = f"{rel}/ (this tool's reports, logs and records, rewritten by every build)"
        yield Hit(
            copy.line,
            f"{copy.keyword} would copy {what} into the image with another tool: "
            f"`orchestrator build` leaves it out (a copy of the Dockerfile in "
            f"{rel}/{scratch.SENT}/ with its own ignore file)",
        )
