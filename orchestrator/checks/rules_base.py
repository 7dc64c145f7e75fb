"""Rules about what a build starts from: base image pins, the frontend, the build platform."""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator import pinning, refs
from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.dockerfile import Stage


@rule(
    "OR001",
    "base-image-not-pinned",
    "A base image is pinned less tightly than the target's `pin:` policy requires.",
    "pin it as the policy asks, or lock it with `orchestrator pin` (builds use the locked digest)",
    development="error",
    production="error",
    supersedes=("DL3006", "DL3007"),
)
def base_not_pinned(ctx: CheckContext) -> Iterator[Hit]:
    # The policy is the user's explicit choice per target, so breaking it is an error for any
    # kind of target; `pinning.violation` is the single definition `build` enforces too.
    policy = ctx.target.pin
    for base in ctx.target.base_images:
        why = pinning.violation(base.ref, policy, base.digest)
        if why:
            yield Hit(
                base.line,
                f"stage {base.stage}: {why} (target pin policy: {policy})",
                file=base.file,  # builds.yaml for a docker-image:// named context
                fix=pinning.fix_for(base.ref, policy),
            )
        elif policy == "minor" and not base.digest and (release := pinning.codename(base.ref)):
            # Accepted, and said: the codename pins the major release, point releases float.
            yield Hit(
                base.line,
                f"stage {base.stage}: {base.ref} pins {release} by its codename: accepted as a "
                "major-release pin for `pin: minor` (point releases still float in)",
                severity="info",
                file=base.file,
                fix="nothing to do; for `pin: patch` use a dated or point-release tag",
            )


@rule(
    "OR002",
    "base-image-latest",
    "A base image uses `latest` or no tag at all, on a target without a pin policy.",
    "name a version tag (golang:1.25-alpine) and set `pin:` on the target",
    development="warning",
    production="error",
    supersedes=("DL3006", "DL3007"),
)
def base_latest(ctx: CheckContext) -> Iterator[Hit]:
    if ctx.target.pin != "none":
        return  # OR001 owns every pinned target; one finding per problem
    for base in ctx.target.base_images:
        try:
            ref = refs.parse_reference(base.ref)
        except refs.InvalidReferenceError:
            continue
        if ref.digest or base.digest or (ref.tag and ref.tag != "latest"):
            continue
        how = "is tagged latest" if ref.tag else "has no tag (so: latest)"
        message = f"stage {base.stage}: {base.ref} {how}; every build may differ"
        yield Hit(base.line, message, file=base.file)


@rule(
    "OR003",
    "syntax-needs-network",
    "`# syntax=` (or BUILDKIT_SYNTAX) makes BuildKit pull a frontend image before building.",
    "drop it: the frontend built into BuildKit (Engine 23+) knows RUN --mount and COPY --chmod; "
    "if you need a newer one, mirror it and pin it by digest",
    development="warning",
    production="warning",
)
def syntax_needs_network(ctx: CheckContext) -> Iterator[Hit]:
    directive = ctx.dockerfile.directives.get("syntax")
    if directive is not None:
        value, line = directive
        pinned = "@sha256:" in value
        drift = "" if pinned else "; the tag also floats, so the frontend can change under you"
        yield Hit(
            line,
            f"`# syntax={value}` pulls the frontend image from a registry at the start of every "
            f"build: offline builds fail{drift}",
        )
    arg = ctx.target.args.get("BUILDKIT_SYNTAX")
    if arg:
        yield Hit(None, f"build arg BUILDKIT_SYNTAX={arg} pulls a frontend image from a registry")


_COMPILERS = re.compile(
    r"\b(go\s+(?:build|install|test)|cargo\s+(?:build|install)|rustc|gcc|g\+\+|clang(?:\+\+)?"
    r"|cc|make|cmake|ninja|dotnet\s+(?:build|publish)|mvn|gradle|gradlew|tsc)\b"
)


def _platform(ctx: CheckContext, stage: Stage) -> str | None:
    """The --platform a stage runs with, following FROM <stage> (it inherits the parent's)."""
    seen: set[int] = set()
    current: Stage | None = stage
    while current is not None and current.index not in seen:
        if current.platform:
            return current.platform
        seen.add(current.index)
        parent = ctx.stage_of(current.base)
        current = parent if parent is not None and parent.index < current.index else None
    return None


@rule(
    "OR004",
    "emulated-compile",
    "On a multi-platform target, a stage compiles under emulation (QEMU) instead of "
    "cross-compiling.",
    "start the stage with `FROM --platform=$BUILDPLATFORM ...` and cross-compile with "
    "TARGETOS/TARGETARCH (e.g. GOOS=$TARGETOS GOARCH=$TARGETARCH go build)",
    development="warning",
    production="warning",
)
def emulated_compile(ctx: CheckContext) -> Iterator[Hit]:
    platforms = ctx.target.platforms
    if len(platforms) < 2:
        return  # one platform: the builder can usually run it natively
    for stage in ctx.stages:
        platform = _platform(ctx, stage)
        if platform and "BUILDPLATFORM" in platform:
            continue  # runs natively and cross-compiles
        if platform and "TARGET" not in platform:
            continue  # pinned to one fixed platform on purpose
        for ins in stage.instructions:
            found = _COMPILERS.search(ins.args) if ins.keyword == "RUN" else None
            if found:
                yield Hit(
                    ins.line,
                    f"stage {stage.label} runs `{found.group(0)}` once per platform "
                    f"({', '.join(platforms)}), emulated for every non-native one: slow",
                )
                break  # one finding per stage: the fix is on its FROM line
