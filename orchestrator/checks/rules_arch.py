"""Rules about the architecture of what is built: content made for the build platform that ends
up in another platform's image. These ship a broken image, so they are errors.

Each check runs once per target platform (see run_checks), with BuildKit's platform ARGs set
for it: on the platform the builder runs natively nothing is wrong, so a finding says on which
platforms it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator import platformargs
from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.checks.rules_build import declared_names
from orchestrator.dockerfile import Stage


def run_platform(ctx: CheckContext, stage: Stage) -> str:
    """The platform `stage` runs on: its --platform, or its parent stage's, else the target's."""
    seen: set[int] = set()
    current: Stage | None = stage
    while current is not None and current.index not in seen:
        if current.platform:
            return platformargs.values(ctx.expand(current.platform))["TARGETPLATFORM"]
        seen.add(current.index)
        parent = ctx.stage_of(current.base)
        current = parent if parent is not None and parent.index < current.index else None
    return platformargs.values(ctx.platform)["TARGETPLATFORM"]


def _target(ctx: CheckContext) -> str:
    return platformargs.values(ctx.platform)["TARGETPLATFORM"]


@rule(
    "OR017",
    "build-platform-shipped",
    "A stage of the shipped image runs `FROM --platform=$BUILDPLATFORM`: the image for another "
    "platform gets the build platform's base and binaries.",
    "drop --platform from the final stage (keep it on the build stages that cross-compile), "
    "and COPY --from the build stage into it",
    development="error",
    production="error",
)
def build_platform_shipped(ctx: CheckContext) -> Iterator[Hit]:
    target = _target(ctx)
    for stage in ctx.final:
        if not stage.platform:
            continue
        runs_on = run_platform(ctx, stage)
        if runs_on != target:
            yield Hit(
                stage.line,
                f"stage {stage.label} is part of the shipped image but is FROM --platform="
                f"{stage.platform} ({runs_on}): the {target} image gets {runs_on} content",
            )


_GO_BUILD = re.compile(r"(?<![\w-])go\s+(?:build|install)\b")
_CROSS_TOOL = re.compile(r"\bxx-go\b|\bgoreleaser\b")
_FROM_ARG = re.compile(r"\b(GOOS|GOARCH)=[\"']?\$\{?(TARGET[A-Z]+|BUILD[A-Z]+)\b")


def _sets(ins_text: str, name: str) -> bool:
    return re.search(rf"\b{name}=|\bgo\s+env\s+-w\s+[^;&|]*\b{name}=", ins_text) is not None


@rule(
    "OR018",
    "native-go-build",
    "`go build` in a stage that runs on the build platform, without GOOS/GOARCH for the target: "
    "the other platforms' images get a binary for the build platform.",
    "pass the target: `ARG TARGETOS TARGETARCH` then "
    "`RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build ...` (or ENV GOOS=... GOARCH=...)",
    development="error",
    production="error",
)
def native_go_build(ctx: CheckContext) -> Iterator[Hit]:
    target = platformargs.split(_target(ctx))
    for stage in ctx.stages:
        runs_on = run_platform(ctx, stage)
        build = platformargs.split(runs_on)
        needs = [
            name
            for name, differs in (
                ("GOOS", build[0] != target[0]),
                ("GOARCH", build[1:] != target[1:]),
            )
            if differs
        ]
        if not needs:
            continue
        env = ""  # ENV lines seen so far in the stage: `ENV GOARCH=$TARGETARCH` counts
        declared: set[str] = set()  # ARGs of this stage: only those expand in it
        for ins in stage.instructions:
            if ins.keyword == "ARG":
                declared.update(declared_names(ins))
                continue
            if ins.keyword == "ENV":
                env += f" {ins.args}"
                continue
            if ins.keyword != "RUN" or not _GO_BUILD.search(ins.args):
                continue
            if _CROSS_TOOL.search(ins.args):
                continue
            text = f"{env} {ins.args}"
            missing = [n for n in needs if not _sets(text, n)]
            # `GOARCH=$TARGETARCH` without `ARG TARGETARCH` in the stage: it expands to "".
            undeclared = sorted(
                {
                    m.group(2)
                    for m in _FROM_ARG.finditer(text)
                    if m.group(1) in needs and m.group(2) not in declared
                }
            )
            if missing:
                yield Hit(
                    ins.line,
                    f"stage {stage.label} runs on {runs_on} and builds Go without "
                    f"{'/'.join(missing)}: the {_target(ctx)} image gets a {runs_on} binary",
                )
                break  # one per stage: the fix is one ENV or ARG
            if undeclared:
                yield Hit(
                    ins.line,
                    f"stage {stage.label} uses ${', $'.join(undeclared)} but does not declare "
                    f"`ARG {' '.join(undeclared)}`: it is empty here, so Go builds for {runs_on}",
                )
                break
