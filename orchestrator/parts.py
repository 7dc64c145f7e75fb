"""Per-platform parts of a multi-platform image, and the rules for merging them into one index.

A part is one or more platforms of a target, built on their own machine (a native CI runner, a
node of a fan-out builder) and pushed by digest under a part staging tag. `publish` (or a
fan-out build) merges the parts with `docker buildx imagetools create`, which keeps every
platform's attestation manifest, then attaches the release tags by digest. Pure data and checks
here; executor.py does the registry work.

What makes parts mergeable is decided from the parts alone, and refused in one line before
anything is tagged: one project and target, one commit, one version, one plan fingerprint (the
target's bake entry with its platforms set to the full declared list: the same inputs, the same
Dockerfile, the same args), every declared platform exactly once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator import platforms as platforms_
from orchestrator import refs
from orchestrator.errors import UserError
from orchestrator.plan import Plan, TargetPlan, staging_tag

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def slug(platform: str) -> str:
    """`linux/arm64/v8` -> `linux-arm64-v8`: a platform as part of a tag."""
    return platform.replace("/", "-")


def part_tag(target: str, platforms: Sequence[str]) -> str:
    """The staging tag of a part; never a release tag, one per platform set. A tag is at most
    128 characters: a longer one keeps its start and ends in a digest of the whole, so two
    platform sets of a long target name still get two tags (a plain cut made amd64's and
    arm64's the same, and one part's push replaced the other's)."""
    full = f"{staging_tag(target)}-{'_'.join(slug(p) for p in platforms)}"
    if len(full) <= 128:
        return full
    return f"{full[:115]}-{hashlib.sha256(full.encode()).hexdigest()[:12]}"


def fingerprint(t: TargetPlan) -> str:
    """The identity of what a target builds, the same for every part of it.

    The bake entry as built, with the declared platforms (a part narrows them) and without the
    outputs (a part pushes under its own staging tag) or secret/ssh sources (which runner has
    which optional secret does not change what the Dockerfile declares)."""
    from orchestrator import argv  # local: argv imports plan, and parts is imported by build

    entry = argv.bake_target(t)
    for key in ("output", "secret", "ssh", "platforms"):
        entry.pop(key, None)
    entry["platforms"] = list(t.platforms)
    entry["repository"] = t.repository
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def normalise(platforms: Sequence[str]) -> list[str]:
    """`--platform` values as written, checked and in a canonical spelling; twice is an error."""
    out: list[str] = []
    seen: set[str] = set()  # as BuildKit compares them: `linux/arm64/v8` is `linux/arm64`
    for text in platforms:
        for one in text.split(","):
            try:
                value = refs.parse_platform(one.strip())
            except ValueError as exc:
                raise UserError(f"--platform {one.strip()!r}: {exc}") from None
            if platforms_.normalize(value) in seen:
                raise UserError(f"--platform {value}: given twice")
            seen.add(platforms_.normalize(value))
            out.append(value)
    return out


def narrow(t: TargetPlan, platforms: tuple[str, ...]) -> TargetPlan:
    """`t` building only `platforms`, pushed under their part tag instead of the staging tag."""
    old, new = f":{staging_tag(t.name)}", f":{part_tag(t.name, platforms)}"
    outputs = tuple(o.replace(old, new) for o in t.outputs)
    return dataclasses.replace(t, platforms=platforms, outputs=outputs)


@dataclass(frozen=True)
class Whole:
    """What a part keeps of the target it was narrowed from."""

    fingerprint: str
    declared: tuple[str, ...]


def restrict(plan: Plan, platforms: Sequence[str]) -> tuple[Plan, dict[str, Whole]]:
    """The plan of a part: each selected target narrowed to `platforms`, pushed under its part
    tag. Returns it with what each target was before narrowing."""
    wanted = normalise(platforms)
    chosen = {platforms_.normalize(p) for p in wanted}
    prints: dict[str, Whole] = {}
    narrowed: list[TargetPlan] = []
    problems: list[str] = []
    for t in plan.targets:
        # Compared as BuildKit compares them: `linux/arm64/v8` is `linux/arm64`.
        declared = [platforms_.normalize(refs.parse_platform(p)) for p in t.platforms]
        unknown = [p for p in wanted if platforms_.normalize(p) not in declared]
        if not declared:
            problems.append(f"{t.name}: declares no platforms; --platform needs a target that does")
            continue
        if unknown:
            problems.append(
                f"{t.name}: {', '.join(unknown)} is not one of its platforms "
                f"({', '.join(t.platforms)})"
            )
            continue
        prints[t.name] = Whole(fingerprint(t), t.platforms)
        keep = tuple(p for p, d in zip(t.platforms, declared, strict=True) if d in chosen)
        narrowed.append(narrow(t, keep))
    if problems:
        raise UserError(f"--platform: {len(problems)} problem(s)", problems=problems)
    return dataclasses.replace(plan, targets=tuple(narrowed)), prints


def _text(value: Any) -> str:
    """A part record's text field as written; anything else is no part record."""
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    return value


@dataclass(frozen=True)
class Part:
    """What a merge needs from one part, as a report records it (`TargetResult.part`)."""

    project: str
    target: str
    repository: str
    commit: str
    version: str
    fingerprint: str
    declared: tuple[str, ...]  # every platform of the target
    digest: str  # the part's own index (its platforms + their attestation manifests)
    platforms: Mapping[str, str]  # platform -> manifest digest, as pushed
    source: str = ""  # where it came from, for messages: a report path or a node name

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        data["declared"] = list(self.declared)
        data["platforms"] = dict(self.platforms)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> Part:
        try:
            platforms = {str(k): str(v) for k, v in dict(data["platforms"]).items()}
            part = cls(
                # _text: a null would be compared as the text "None"
                project=_text(data["project"]),
                target=_text(data["target"]),
                repository=_text(data["repository"]),
                commit=_text(data["commit"]),
                version=_text(data["version"]),
                fingerprint=_text(data["fingerprint"]),
                # list() of a string would be its letters: a list, or a TypeError.
                declared=tuple(str(p) for p in _listed(data["declared"])),
                digest=str(data["digest"]),
                platforms=platforms,
                source=source,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UserError(f"{source}: a part record without the fields a merge needs") from None
        if not part.digest or not part.platforms:
            raise UserError(f"{source}: {part.target}: the part has no pushed digest")
        # A part comes from another machine's artifact and is merged by digest as it says: what
        # reaches the registry (digests) or the merge rules (platforms) is checked first.
        for key, digest in (
            ("digest", part.digest),
            *((f"platforms.{p}", d) for p, d in part.platforms.items()),
        ):
            if not DIGEST.fullmatch(digest):
                raise UserError(
                    f"{source}: {part.target}: {key}: {digest!r} is not a sha256 digest "
                    "(sha256:<64 lower-case hex>); nothing was tagged"
                )
        for key, written in (("platforms", list(part.platforms)), ("declared", part.declared)):
            for platform in written:
                try:
                    refs.parse_platform(platform)
                except ValueError as exc:
                    raise UserError(f"{source}: {part.target}: {key}: {exc}") from None
        return part


def _listed(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def record(
    plan: Plan,
    t: TargetPlan,
    whole: Whole,
    digest: str,
    platforms: Mapping[str, str],
    source: str = "",
) -> Part:
    """The part `t` (narrowed from `whole`) pushed as `digest`, with this run's identity."""
    return Part(
        project=plan.project,
        target=t.name,
        repository=t.repository,
        commit=plan.variables.get("GIT_COMMIT_FULL", ""),
        version=plan.variables.get("VERSION", ""),
        fingerprint=whole.fingerprint,
        declared=whole.declared,
        digest=digest,
        platforms=platforms,
        source=source,
    )


def mergeable(parts: Sequence[Part], target: str) -> list[Part]:
    """The parts of `target`, checked to form exactly one image; sorted by platform, so the
    same parts always give the same index (and the same index digest)."""
    mine = [p for p in parts if p.target == target]
    if not mine:
        raise UserError(f"{target}: no part of this target in the reports given")
    first = mine[0]
    for other in mine[1:]:
        for field in ("project", "repository", "commit", "version", "fingerprint", "declared"):
            a, b = getattr(first, field), getattr(other, field)
            if a != b:
                shown = (a, b) if field != "declared" else (", ".join(a), ", ".join(b))
                raise UserError(
                    f"{target}: parts differ in {field}: {shown[0]} ({first.source}) "
                    f"vs {shown[1]} ({other.source}); nothing was tagged"
                )
    seen: dict[str, str] = {}
    for part in mine:
        for platform in part.platforms:
            if platform in seen:
                raise UserError(
                    f"{target}: {platform} is in two parts ({seen[platform]} and {part.source}); "
                    "nothing was tagged"
                )
            seen[platform] = part.source
    declared = [refs.parse_platform(p) for p in first.declared]
    missing = [p for p in declared if p not in {refs.parse_platform(s) for s in seen}]
    if missing:
        raise UserError(
            f"{target}: no part for {', '.join(missing)} (have {', '.join(sorted(seen))}); "
            "nothing was tagged"
        )
    return sorted(mine, key=lambda p: sorted(p.platforms)[0])
