"""Dockerfile checks: the guide's practices as small rules, aware of the target being built.

A finding is plain data. Rules only look at the stages the target builds (BuildKit skips the
rest) and take their severity from the kind of target: *production-grade* when it pushes or its
pin policy is `patch`/`digest`, *development* otherwise. Ignore pragmas are applied after
checking, as hadolint does, so a rule never needs to know about them:

    # orchestrator:ignore=OR006,OR007     on the comment lines directly above an instruction
    # orchestrator:ignore-file=OR013      anywhere: for the whole Dockerfile (and its context)
    # hadolint ignore=DL3008              hadolint's own, honoured for its codes too
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from orchestrator.buildcontext import ContextListing, list_context
from orchestrator.contexts import TARGET
from orchestrator.dockerfile import Dockerfile, Stage
from orchestrator.plan import TargetPlan

if TYPE_CHECKING:
    from orchestrator.checks.hadolint import Runs

Severity = Literal["error", "warning", "info"]
Kind = Literal["development", "production"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    file: str
    line: int | None  # None: about the file or the build context as a whole
    message: str
    fix: str
    target: str
    source: Literal["orchestrator", "hadolint"] = "orchestrator"
    platforms: tuple[str, ...] = ()  # only on these of the target's platforms; () on all


@dataclass(frozen=True)
class Hit:
    """What a rule reports; the runner adds code, severity, fix and target."""

    line: int | None
    message: str
    file: str | None = None  # default: the Dockerfile
    severity: Severity | None = None  # default: the rule's severity for this kind of target
    fix: str | None = None  # default: the rule's fix


@dataclass
class CheckContext:
    target: TargetPlan
    dockerfile: Dockerfile
    kind: Kind
    stages: list[Stage]  # what the target builds on `platform`, in file order
    final: list[Stage]  # the shipped image: the target stage and the stages it is FROM
    platform: str | None = None  # the target platform checked (None: the engine's)
    # Shared by the contexts of one target's platforms: the build context is the same for all.
    listings: dict[str, ContextListing] = field(default_factory=dict)
    scratch: Path | None = None  # this tool's `.orchestrator/` next to builds.yaml, if known
    # The images `final[0]` starts FROM through `target:` contexts, nearest last (inherited()).
    inherited: list[Inherited] = field(default_factory=list)

    @property
    def listing(self) -> ContextListing:
        if "listing" not in self.listings:
            self.listings["listing"] = list_context(
                Path(self.target.context),
                Path(self.target.dockerfile),
                leave_out=self.target.left_out,
            )
        return self.listings["listing"]

    @functools.cached_property
    def has_context(self) -> bool:
        """The build context is a directory (asked by several rules: looked at once)."""
        return Path(self.target.context).is_dir()

    def stage_of(self, name: str) -> Stage | None:
        return self.dockerfile.find_stage(self.expand(name))

    def expand(self, text: str) -> str:
        """`text` expanded as BuildKit does in a FROM line for this platform."""
        return self.dockerfile.expand(text, self.target.args, self.platform)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # what it catches, one line (docs, SARIF)
    fix: str
    severity: Mapping[Kind, Severity | None]  # None: not reported for that kind of target
    check: Callable[[CheckContext], Iterable[Hit]]
    supersedes: tuple[str, ...] = field(default=())  # hadolint codes this rule replaces


_RULES: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    summary: str,
    fix: str,
    *,
    development: Severity | None,
    production: Severity | None,
    supersedes: tuple[str, ...] = (),
) -> Callable[[Callable[[CheckContext], Iterable[Hit]]], Callable[[CheckContext], Iterable[Hit]]]:
    def register(
        check: Callable[[CheckContext], Iterable[Hit]],
    ) -> Callable[[CheckContext], Iterable[Hit]]:
        severity: dict[Kind, Severity | None] = {
            "development": development,
            "production": production,
        }
        _RULES[code] = Rule(code, name, summary, fix, severity, check, supersedes)
        return check

    return register


def all_rules() -> dict[str, Rule]:
    _register_rules()
    return dict(sorted(_RULES.items()))


@functools.cache
def _register_rules() -> None:
    """Import the rule modules (each registers its rules), once: all_rules() is called for
    every target and platform, and even an import of loaded modules costs a lookup per name.
    Imported here, not at the top: the rule modules import this module for `rule` and `Hit`."""
    from orchestrator.checks import (
        rules_arch,
        rules_base,
        rules_build,
        rules_context,
        rules_runtime,
        rules_shipped,
    )

    del rules_arch, rules_base, rules_build, rules_context, rules_runtime, rules_shipped


def target_kind(target: TargetPlan) -> Kind:
    """Production-grade: it is published, or its pins are strict enough to be released."""
    return "production" if target.push or target.pin in ("patch", "digest") else "development"


@dataclass(frozen=True)
class Inherited:
    """Another target's shipped stages, which this target's image starts FROM (`FROM base`,
    `contexts: {base: target:base}`): its USER, HEALTHCHECK, ENTRYPOINT... are inherited."""

    target: str
    path: Path  # its Dockerfile: findings about its lines name that file
    stages: list[Stage]
    base: str  # the image its chain starts FROM, expanded


MAX_INHERITED = 16  # target: chains are acyclic (contexts.order); this only bounds the walk


def inherited(
    dockerfile: Dockerfile,
    target: TargetPlan,
    platform: str | None,
    targets: Mapping[str, TargetPlan],
    final: Sequence[Stage],
) -> list[Inherited]:
    """The targets this target's image (its shipped stages: `final`) is built on through
    `target:` contexts, base-most first: the one its first shipped stage names in FROM, the
    one that one names, and so on."""
    out: list[Inherited] = []
    seen = {target.name}
    base = dockerfile.expand(final[0].base, target.args, platform)
    while len(out) < MAX_INHERITED:
        source = target.build_contexts.get(base, "")
        producer = targets.get(source.removeprefix(TARGET)) if source.startswith(TARGET) else None
        if producer is None or producer.name in seen:
            break
        seen.add(producer.name)
        target, dockerfile = producer, producer.model()
        chain = final_chain(dockerfile, target, platform)
        base = dockerfile.expand(chain[0].base, target.args, platform)
        out.insert(0, Inherited(target.name, dockerfile.path, chain, base))
    return out


def final_chain(
    dockerfile: Dockerfile, target: TargetPlan, platform: str | None = None
) -> list[Stage]:
    """The stages whose layers and config end up in the image, base-most first."""
    chain = [dockerfile.target_stage(target.stage)]
    while True:
        parent = dockerfile.find_stage(dockerfile.expand(chain[0].base, target.args, platform))
        if parent is None or parent.index >= chain[0].index or parent in chain:
            return chain
        chain.insert(0, parent)


def run_checks(
    target: TargetPlan,
    dockerfile: Dockerfile,
    *,
    text: str | None = None,
    hadolint: bool = True,
    codes: Iterable[str] | None = None,
    hadolint_runs: Runs | None = None,
    scratch: Path | None = None,
    listings: dict[str, ContextListing] | None = None,
    targets: Mapping[str, TargetPlan] | None = None,
) -> list[Finding]:
    """Every finding for `target`, pragmas applied, sorted by file and line.

    Checked once per platform of the target (the stages built can differ, `FROM bin-$TARGETOS`);
    a finding on some platforms only says which. Pass one `hadolint_runs` dict to all targets
    of a check so each Dockerfile is linted once. `scratch` is the tool's own directory
    (`.orchestrator/` next to builds.yaml), which must not reach the builder. `listings` may be
    shared by targets with the same context and Dockerfile: their build context is the same.
    Equal to own_findings() then finish(), which a caller can run apart (check.collect runs
    hadolint meanwhile)."""
    passes = own_findings(
        target, dockerfile, codes=codes, scratch=scratch, listings=listings, targets=targets
    )
    return finish(target, dockerfile, passes, text=text, hadolint=hadolint, runs=hadolint_runs)


@dataclass(frozen=True)
class PlatformPass:
    """Our rules' findings for one platform of a target, and the stages it builds there."""

    platform: str | None
    stages: list[Stage]
    findings: list[Finding]


def own_findings(
    target: TargetPlan,
    dockerfile: Dockerfile,
    *,
    codes: Iterable[str] | None = None,
    scratch: Path | None = None,
    listings: dict[str, ContextListing] | None = None,
    targets: Mapping[str, TargetPlan] | None = None,
) -> list[PlatformPass]:
    """Our rules on each platform of `target` (hadolint not included: see finish()).
    `targets`: the plan's targets by name, to follow `target:` contexts (inherited())."""
    platforms: list[str | None] = list(target.platforms) or [None]
    # Shared by the platforms of one target at least: the build context is the same for all.
    shared: dict[str, ContextListing] = {} if listings is None else listings
    return [
        _check_platform(target, dockerfile, platform, codes, shared, scratch, targets or {})
        for platform in platforms
    ]


def finish(
    target: TargetPlan,
    dockerfile: Dockerfile,
    passes: list[PlatformPass],
    *,
    text: str | None = None,
    hadolint: bool = True,
    runs: Runs | None = None,
) -> list[Finding]:
    """hadolint's findings added to each platform's, then merged across platforms, pragmas
    applied, sorted: run_checks()'s answer."""
    superseded = {c for r in all_rules().values() for c in r.supersedes}
    seen: dict[Finding, list[str]] = {}
    for one in passes:
        found = list(one.findings)
        if hadolint:
            from orchestrator.checks import hadolint as tool
            from orchestrator.checks import shells

            linted = tool.run(dockerfile, one.stages, target.name, text, runs)
            # ShellCheck read PowerShell or cmd as shell syntax: its findings there are noise.
            windows = (
                shells.non_posix_lines(dockerfile, one.stages, target.args, one.platform)
                if any(f.code.startswith("SC") for f in linted)
                else set()
            )
            found += [
                f
                for f in linted
                if f.code not in superseded and not (f.code.startswith("SC") and f.line in windows)
            ]
        for finding in found:
            seen.setdefault(finding, []).append(one.platform or "")
    findings = []
    for finding, where in seen.items():
        if len(where) < len(passes):
            findings.append(
                replace(
                    finding,
                    message=f"{finding.message} (on {', '.join(where)} only)",
                    platforms=tuple(where),
                )
            )
        else:
            findings.append(finding)
    kept = apply_pragmas(findings, dockerfile, all_rules())
    return sorted(kept, key=lambda f: (f.file, f.line or 0, f.code))


def _check_platform(
    target: TargetPlan,
    dockerfile: Dockerfile,
    platform: str | None,
    codes: Iterable[str] | None,
    listings: dict[str, ContextListing],
    scratch: Path | None = None,
    targets: Mapping[str, TargetPlan] | None = None,
) -> PlatformPass:
    kind = target_kind(target)
    final = final_chain(dockerfile, target, platform)
    ctx = CheckContext(
        target,
        dockerfile,
        kind,
        dockerfile.stages_for(target.stage, target.args, platform),
        final,
        platform,
        listings,
        scratch,
        inherited(dockerfile, target, platform, targets, final)
        if targets and target.depends_on
        else [],
    )
    wanted = set(codes) if codes is not None else None
    findings: list[Finding] = []
    for code, item in all_rules().items():
        default = item.severity[kind]
        if default is None or (wanted is not None and code not in wanted):
            continue
        for hit in item.check(ctx):
            findings.append(
                Finding(
                    code=code,
                    severity=hit.severity or default,
                    file=hit.file or str(dockerfile.path),
                    line=hit.line,
                    message=hit.message,
                    fix=hit.fix or item.fix,
                    target=target.name,
                )
            )
    return PlatformPass(platform, ctx.stages, findings)


_LINE_PRAGMA = re.compile(
    r"^(?:orchestrator:\s*ignore|hadolint\s+ignore)\s*=\s*(?P<codes>[\w, ]+)$"
)
_FILE_PRAGMA = re.compile(
    r"^(?:orchestrator:\s*ignore-file|hadolint\s+global\s+ignore)\s*=\s*(?P<codes>[\w, ]+)$"
)


def _codes(text: str) -> set[str]:
    return {c.strip().upper() for c in text.split(",") if c.strip()}


def apply_pragmas(
    findings: list[Finding], dockerfile: Dockerfile, rules: Mapping[str, Rule]
) -> list[Finding]:
    file_wide: set[str] = set()
    by_line: dict[int, set[str]] = {}  # comment line -> codes
    for comment in dockerfile.comments:
        if match := _FILE_PRAGMA.match(comment.text):
            file_wide |= _codes(match.group("codes"))
        elif match := _LINE_PRAGMA.match(comment.text):
            by_line[comment.line] = _codes(match.group("codes"))
    # A pragma covers the instruction right below its block of comment lines.
    comment_lines = {c.line for c in dockerfile.comments}
    ignored_at: dict[int, set[str]] = {}
    for line, codes in by_line.items():
        below = line + 1
        while below in comment_lines:
            below += 1
        ignored_at.setdefault(below, set()).update(codes)

    def names(finding: Finding) -> set[str]:
        # Ignoring a hadolint code also ignores the orchestrator rule that replaces it.
        rule_ = rules.get(finding.code)
        return {finding.code, *(rule_.supersedes if rule_ else ())}

    kept = []
    for finding in findings:
        codes = names(finding)
        if codes & file_wide:
            continue
        on_dockerfile = finding.file == str(dockerfile.path)
        if (
            on_dockerfile
            and finding.line is not None
            and codes & ignored_at.get(finding.line, set())
        ):
            continue
        kept.append(finding)
    return kept


def worst(findings: Iterable[Finding]) -> Severity | None:
    present = {f.severity for f in findings}
    return next((s for s in SEVERITIES if s in present), None)


def counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    out: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        out[finding.severity] += 1
    return out
