"""Rules about the build context: what BuildKit will send (see orchestrator.buildcontext)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from orchestrator import inputs
from orchestrator.checks import CheckContext, Hit, rule


def _has_context(ctx: CheckContext) -> bool:
    inputs.note(ctx.target.context)
    return Path(ctx.target.context).is_dir()


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
