"""Rules about the build context: what BuildKit will send (see orchestrator.buildcontext)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from orchestrator import buildcontext, inputs
from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.checks.rules_build import WHOLE_TREE, sources


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


# What a build writes to the scratch directory, one path of each kind: a pattern that excludes
# only some of them (`.orchestrator/runs`) still lets the rest through.
_SCRATCH_SAMPLES = ("report.json", "runs/0/build.log", "state/app.json", "oci/app.tar")


@rule(
    "OR022",
    "scratch-in-context",
    "A COPY or ADD of the whole build context takes this tool's own `.orchestrator/` directory "
    "(reports, build logs, records) into the image: .dockerignore does not exclude it.",
    "add the line `.orchestrator` to .dockerignore",
    development="warning",
    production="error",
)
def scratch_in_context(ctx: CheckContext) -> Iterator[Hit]:
    """Every build rewrites that directory, so a `COPY . .` puts the last run's report and logs
    in the image and changes its layer on every build: no cache hit after it, no reproducible
    digest. Without such a COPY it is only sent, which costs little: not reported. The
    directory need not exist yet: the first build creates it before the context is sent."""
    if ctx.scratch is None or not _has_context(ctx):
        return
    context = Path(ctx.target.context)
    if not ctx.scratch.is_relative_to(context):
        return
    rel = ctx.scratch.relative_to(context).as_posix()
    copy = next(
        (
            ins
            for stage in ctx.stages
            for ins in stage.instructions
            if ins.keyword in ("COPY", "ADD")
            and not ins.flag("from")
            and any(src in WHOLE_TREE or src.startswith(rel) for src in sources(ins))
        ),
        None,
    )
    if copy is None:  # sent at most, never shipped: the ignore file need not be read
        return
    samples = [f"{rel}/{sample}" for sample in _SCRATCH_SAMPLES]
    if buildcontext.sends_any(context, samples, Path(ctx.target.dockerfile)):
        what = f"{rel}/ (this tool's reports, logs and records, rewritten by every build)"
        yield Hit(
            copy.line,
            f"{copy.keyword} copies {what} into the image: the layer changes on every build, "
            "so it and every step after it miss the cache",
        )
