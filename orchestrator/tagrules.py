"""docker/metadata-action's tag rules, evaluated against the built-in variables.

An entry of `tags:` is one of
* a short keyword (`semver`, `latest`, `sha`, `branch`) or a template (`dev-${GIT_COMMIT}`):
  tags.py's meaning, unchanged, kept in the order written;
* a typed rule, as a mapping `{type: semver, pattern: "{{major}}.{{minor}}"}` or in
  metadata-action's own line form `type=semver,pattern={{major}}.{{minor}}`.

The event facts come from variables (cievent.py fills them, `--var` overrides them): GIT_REF,
EVENT, DEFAULT_BRANCH, TAG_SHA, GIT_BASE_REF, PR_BASE_BRANCH, SOURCE_DATE_EPOCH (commit_date)
and BUILD_DATE (`{{date}}`: now unless given). As in metadata-action: a list that holds a typed
rule is sorted by priority (highest first, stable); the first rule that yields a tag decides
`latest` under `flavor.latest: auto`; empty results are dropped; the typed rules' results are
made tag-safe (`[^A-Za-z0-9._-]+` -> `-`). Deliberate difference: `latest: auto` never tags a
prerelease `latest` (a git tag `v2.0.8-beta.67` gives no `latest` whatever rule matched it).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import inputs, refs, tagexpr, variables

if TYPE_CHECKING:
    import regex

TYPES = ("schedule", "semver", "pep440", "match", "edge", "ref", "raw", "sha")
PRIORITY = {
    "schedule": 1000,
    "semver": 900,
    "pep440": 900,
    "match": 800,
    "edge": 700,
    "ref": 600,
    "raw": 200,
    "sha": 100,
}
KEYWORDS = ("semver", "latest", "sha", "branch")
_ATTRS = (
    "value",
    "pattern",
    "group",
    "match",
    "event",
    "branch",
    "format",
    "length",
    "prefix",
    "suffix",
    "enable",
    "priority",
)
_SEMVER = re.compile(
    r"^[v=]?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class TagRuleSpec(BaseModel):
    """One typed tag rule (metadata-action's `type=...` line as a mapping)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=_kebab, populate_by_name=True
    )

    type: Literal["schedule", "semver", "pep440", "match", "edge", "ref", "raw", "sha"]
    value: str | None = Field(
        None, description="raw: the tag; semver/pep440/match: instead of the git tag"
    )
    pattern: str | None = Field(
        None,
        description="semver/pep440: {{version}}...; match: a regex; schedule: {{date 'YYYYMMDD'}}",
    )
    group: int | None = Field(None, description="match: the regex group (default 0)")
    match: str | None = Field(None, description="semver/pep440: regex whose group 1 is the version")
    event: Literal["branch", "tag", "pr"] | None = Field(None, description="ref: which ref")
    branch: str | None = Field(None, description="edge: the branch (default: the default branch)")
    format: Literal["short", "long"] | None = Field(None, description="sha: short (7) or long")
    length: int | None = Field(None, ge=1, le=40, description="sha: short length (default 7)")
    prefix: str | None = None
    suffix: str | None = None
    enable: bool | str | None = Field(None, description="true, false or {{is_default_branch}}...")
    priority: int | None = None


class FlavorSpec(BaseModel):
    """metadata-action's `flavor`: `latest` and a prefix/suffix for every rule without its own."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=_kebab, populate_by_name=True
    )

    latest: Literal["auto", "true", "false"] | bool = "auto"
    prefix: str = ""
    suffix: str = ""
    prefix_onlatest: bool = Field(False, description="put the prefix on `latest` too")
    suffix_onlatest: bool = Field(False, description="put the suffix on `latest` too")


@dataclass(frozen=True)
class Rule:
    kind: str  # one of TYPES, or "keyword" / "template" for the short forms
    attrs: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # as written, for error messages

    @property
    def typed(self) -> bool:
        return self.kind in TYPES

    @property
    def priority(self) -> int:
        if self.typed:
            return int(self.attrs["priority"])
        # The short forms sort as their typed twins when they share a list with typed rules.
        twin = {"semver": "semver", "branch": "ref", "sha": "sha"}.get(self.attrs.get("value", ""))
        return PRIORITY[twin or "raw"]


def parse(entry: str | TagRuleSpec | Mapping[str, object]) -> Rule:
    """One `tags:` entry as a Rule; ValueError says what is wrong with it."""
    if isinstance(entry, str):
        if entry.startswith("type="):
            return _typed(_csv_attrs(entry), entry)
        if entry in KEYWORDS:
            return Rule("keyword", {"value": entry}, entry)
        return Rule("template", {"value": entry}, entry)
    data = entry.model_dump(exclude_none=True) if isinstance(entry, BaseModel) else dict(entry)
    attrs = {k: _text(v) for k, v in data.items()}
    return _typed(attrs, ",".join(f"{k}={v}" for k, v in attrs.items()))


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _csv_attrs(line: str) -> dict[str, str]:
    """`type=match,"pattern=\\d.\\d",group=1` -> attributes (a bare field is the value)."""
    fields = next(csv.reader([line], skipinitialspace=True), [])
    attrs: dict[str, str] = {}
    for item in fields:
        key, eq, value = item.partition("=")
        if eq:
            attrs[key.strip().lower()] = value.strip()
        elif item.strip():
            attrs["value"] = item.strip()
    return attrs


def _typed(attrs: dict[str, str], source: str) -> Rule:
    kind = attrs.pop("type", "raw")
    if kind not in TYPES:
        raise ValueError(f"{source!r}: unknown type {kind!r} (known: {', '.join(TYPES)})")
    unknown = sorted(set(attrs) - set(_ATTRS))
    if unknown:
        raise ValueError(f"{source!r}: unknown attribute {unknown[0]!r}")
    if kind in ("semver", "pep440", "match") and "pattern" not in attrs:
        raise ValueError(f"{source!r}: {kind} needs a pattern")
    if kind == "raw" and "value" not in attrs:
        raise ValueError(f"{source!r}: raw needs a value")
    if kind == "ref" and attrs.get("event") not in ("branch", "tag", "pr"):
        raise ValueError(f"{source!r}: ref needs event=branch, tag or pr")
    if kind == "match" and not attrs.setdefault("group", "0").isdigit():
        raise ValueError(f"{source!r}: group must be a number")
    # Compiled here, whatever the ref: a bad regex otherwise surfaced only where the rule runs
    # (on a tag, at release time), and as re.error (exit 3).
    if kind == "match":
        _compile(_js_literal(attrs["pattern"])[0], source, "pattern")
    if kind in ("semver", "pep440") and attrs.get("match"):
        _compile(attrs["match"], source, "match")
    if kind == "sha":
        attrs.setdefault("prefix", "sha-")
        if attrs.setdefault("format", "short") not in ("short", "long"):
            raise ValueError(f"{source!r}: format must be short or long")
        if not attrs.setdefault("length", "7").isdigit():
            raise ValueError(f"{source!r}: length must be a number")
    if kind == "ref" and attrs["event"] == "pr":
        attrs.setdefault("prefix", "pr-")
    if kind == "schedule":
        attrs.setdefault("pattern", "nightly")
    attrs.setdefault("enable", "true")
    attrs.setdefault("priority", str(PRIORITY[kind]))
    if not re.fullmatch(r"-?\d+", attrs["priority"]):
        raise ValueError(f"{source!r}: priority must be a number")
    return Rule(kind, attrs, source)


@dataclass
class _Result:
    main: list[str] = field(default_factory=list)
    latest: bool | None = None

    def add(self, value: str, latest: bool | None) -> None:
        if value not in self.main:
            self.main.append(value)
        if latest is not None and self.latest is None:
            self.latest = latest


class _Context:
    """The facts every rule reads, from the variables (so `--var` overrides them)."""

    def __init__(self, values: Mapping[str, str], flavor: FlavorSpec) -> None:
        self.values = values
        self.flavor = flavor
        self.ref = values.get("GIT_REF", "")
        self.event = values.get("EVENT", "")
        self.sha = values.get("TAG_SHA", "") or values.get("GIT_COMMIT_FULL", "")
        self.sha = "" if self.sha == "unknown" else self.sha
        self.default_branch = values.get("DEFAULT_BRANCH", "")
        epoch = int(values.get("SOURCE_DATE_EPOCH") or 0)
        self.commit_date = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
        self.now = _instant(values.get("BUILD_DATE", ""))
        latest = str(flavor.latest).lower()
        self.latest_mode = latest if latest in ("true", "false") else "auto"

    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""

    def tag(self) -> str:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else ""

    def is_default_branch(self) -> bool:
        # metadata-action's rule, quirks included: a tag ref is never the default branch, and
        # these GitHub events always run on the default branch's last commit.
        branch = self.ref.removeprefix("refs/heads/")
        if not branch:
            return False
        if branch == self.default_branch:
            return True
        return bool(re.search("create|discussion|issues|schedule", self.event))

    def base_ref(self) -> str:
        if self.ref.startswith("refs/tags/"):
            return self.values.get("GIT_BASE_REF", "")
        if self.ref.startswith("refs/pull/"):
            return self.values.get("PR_BASE_BRANCH", "")
        return ""

    def helpers(self) -> dict[str, tagexpr.Helper | str]:
        default = "true" if self.is_default_branch() else "false"
        return {
            "branch": self.branch(),
            "tag": self.tag(),
            "sha": self.sha[:7],
            "base_ref": self.base_ref(),
            "is_default_branch": default,
            "is_not_default_branch": "false" if default == "true" else "true",
            "date": self._date,
            "commit_date": tagexpr.date_helper(self.commit_date),
        }

    def _date(self, args: list[str | None], options: dict[str, str]) -> str:
        if not self.values.get("BUILD_DATE"):
            inputs.note_clock()
        return tagexpr.date_helper(self.now)(args, options)

    def expression(self, text: str) -> str:
        """`${VAR}` first (as everywhere in the manifest), then `{{...}}`."""
        return tagexpr.render(variables.interpolate(text, self.values), self.helpers())

    def latest(self, auto: bool) -> bool:
        if self.latest_mode != "auto":
            return self.latest_mode == "true"
        # Never `latest` for a prerelease git tag (our rule, not metadata-action's).
        parsed = _SEMVER.match(self.tag())
        return auto and not (parsed and parsed["pre"])

    def affix(self, value: str, attrs: Mapping[str, str]) -> str:
        if "prefix" in attrs:
            value = self.expression(attrs["prefix"]) + value
        elif self.flavor.prefix:
            value = self.expression(self.flavor.prefix) + value
        if "suffix" in attrs:
            value += self.expression(attrs["suffix"])
        elif self.flavor.suffix:
            value += self.expression(self.flavor.suffix)
        return value


def _instant(text: str) -> dt.datetime:
    """BUILD_DATE: unix seconds or ISO 8601 (`2020-01-10T00:30:00Z`); now when empty."""
    if not text:
        return dt.datetime.now(dt.UTC)
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"BUILD_DATE {text!r}: expected unix seconds or ISO 8601") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def sanitize(value: str) -> str:
    return _UNSAFE.sub("-", value)


def evaluate(
    entries: Sequence[str | TagRuleSpec | Mapping[str, object]],
    values: Mapping[str, str],
    flavor: FlavorSpec | None = None,
) -> list[str]:
    """The tags of one target, in order. ValueError for a bad rule or an invalid tag."""
    from orchestrator import tags

    rules = [parse(entry) for entry in entries]
    if any(rule.typed for rule in rules):
        rules.sort(key=lambda rule: -rule.priority)  # stable: equal priorities keep their order
    ctx = _Context(values, flavor or FlavorSpec())
    result = _Result()
    for rule in rules:
        if not rule.typed:
            for value in tags.keyword_tags(rule.attrs["value"], values):
                tag = ctx.affix(value, {})
                _check(tag, rule)
                result.add(tag, None)
            continue
        enabled = ctx.expression(rule.attrs["enable"]).strip().lower()
        if enabled not in ("true", "false"):
            raise ValueError(f"{rule.source!r}: enable must be true or false, got {enabled!r}")
        if enabled == "false":
            continue
        for value, auto_latest in _produce(rule, ctx):
            tag = sanitize(ctx.affix(value, rule.attrs)) if value else ""
            if tag:
                _check(tag, rule)
                result.add(tag, ctx.latest(auto_latest))
    out = list(result.main)
    if out and (ctx.latest_mode == "true" or (ctx.latest_mode == "auto" and result.latest)):
        f = ctx.flavor
        latest = sanitize(
            (ctx.expression(f.prefix) if f.prefix_onlatest else "")
            + "latest"
            + (ctx.expression(f.suffix) if f.suffix_onlatest else "")
        )
        if latest not in out:
            out.append(latest)
    return out


def _check(tag: str, rule: Rule) -> None:
    if not refs.is_valid_tag(tag):
        raise ValueError(
            f"tag {tag!r} (from {rule.source!r}) is not a valid tag: "
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
        )


def _produce(rule: Rule, ctx: _Context) -> list[tuple[str, bool]]:
    """(value before prefix/suffix, would it be `latest` under auto) for one enabled rule."""
    a = rule.attrs
    kind = rule.kind
    if kind == "schedule":
        if "schedule" not in ctx.event:
            return []
        return [(ctx.expression(a["pattern"]), False)]
    if kind in ("semver", "pep440", "match"):
        raw = ctx.expression(a["value"]) if a.get("value") else ctx.tag()
        if not raw:
            return []
        if kind == "match":
            return _match(raw, a["pattern"], int(a["group"]), rule.source)
        if a.get("match"):
            found = _found(a["match"], raw, re.ASCII, rule.source, "match")
            if found and found[0].lastindex:
                raw = found[0].group(1)
        raw = raw.replace("/", "-")
        return _semver(raw, a["pattern"]) if kind == "semver" else _pep440(raw, a["pattern"])
    if kind == "ref":
        if a["event"] == "branch":
            return [(ctx.branch(), False)] if ctx.branch() else []
        if a["event"] == "tag":
            return [(ctx.tag(), True)] if ctx.tag() else []
        if ctx.ref.startswith("refs/pull/"):
            return [(ctx.ref.removeprefix("refs/pull/").removesuffix("/merge"), False)]
        return []
    if kind == "edge":
        wanted = a.get("branch") or ctx.default_branch
        return [("edge", False)] if ctx.branch() and ctx.branch() == wanted else []
    if kind == "raw":
        return [(ctx.expression(a["value"]), False)]
    # sha
    if not ctx.sha:
        return []
    return [(ctx.sha if a["format"] == "long" else ctx.sha[: int(a["length"])], False)]


def _compile(pattern: str, source: str, key: str) -> None:
    try:
        re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise ValueError(f"{source!r}: {key} is not a regular expression ({exc})") from None


def _js_literal(pattern: str) -> tuple[str, str]:
    """`/regex/flags` as in JavaScript -> (regex, flags); anything else is the regex itself."""
    literal = re.fullmatch(r"/(.+)/([a-z]*)", pattern)
    return (literal.group(1), literal.group(2)) if literal else (pattern, "")


# Seconds a rule's regex may take on one ref. Python's `re` has no limit: a pattern that
# backtracks catastrophically (`(a*)*b` on a long tag) held `plan` forever; the `regex`
# package runs the same syntax with a timeout.
MATCH_TIMEOUT = 2.0


def _found(
    pattern: str, raw: str, flags: int, source: str, key: str, *, every: bool = False
) -> list[regex.Match[str]]:
    """The first match of a rule's regex on `raw` (every match with `every`), each search
    under MATCH_TIMEOUT; a search that outlasts it is an error naming the rule."""
    import regex  # only for rules with a regex: most manifests have none

    try:
        if every:
            return list(regex.finditer(pattern, raw, flags, timeout=MATCH_TIMEOUT))
        first = regex.search(pattern, raw, flags, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        raise ValueError(
            f"{source!r}: {key} took more than {MATCH_TIMEOUT:g} s on {raw!r} (it backtracks "
            "without end: nested repeats like `(a*)*`); simplify it"
        ) from None
    return [first] if first else []


def _match(raw: str, pattern: str, group: int, source: str = "") -> list[tuple[str, bool]]:
    """A regex, or `/regex/flags` as in JavaScript (`i`; `g` lists every match, no groups)."""
    pattern, letters = _js_literal(pattern)
    flags = re.ASCII
    if letters:
        flags |= re.IGNORECASE if "i" in letters else 0
        if "g" in letters:
            every = [m.group(0) for m in _found(pattern, raw, flags, source, "pattern", every=True)]
            return [(every[group], True)] if group < len(every) else []
    first = _found(pattern, raw, flags, source, "pattern")
    if not first or group > (first[0].re.groups or 0) or first[0].group(group) is None:
        return []
    return [(first[0].group(group), True)]


def _semver(raw: str, pattern: str) -> list[tuple[str, bool]]:
    parsed = _SEMVER.match(raw)
    if not parsed:
        return []
    version = f"{parsed['major']}.{parsed['minor']}.{parsed['patch']}"
    if parsed["pre"]:
        version += f"-{parsed['pre']}"
    fields: dict[str, tagexpr.Helper | str] = {
        "raw": raw,
        "version": version,  # without build metadata, as node-semver's `version`
        "major": parsed["major"],
        "minor": parsed["minor"],
        "patch": parsed["patch"],
        "prerelease": parsed["pre"] or "",
        "build": parsed["build"] or "",
    }
    if parsed["pre"]:  # a prerelease gets its full version only (or exactly {{raw}})
        chosen = pattern if tagexpr.is_raw_statement(pattern) else "{{version}}"
        return [(tagexpr.render(chosen, fields), False)]
    return [(tagexpr.render(pattern, fields), True)]


def _pep440(raw: str, pattern: str) -> list[tuple[str, bool]]:
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(raw)
    except InvalidVersion:
        return []
    if parsed.is_prerelease or parsed.is_postrelease or parsed.is_devrelease:
        return [(raw if tagexpr.is_raw_statement(pattern) else str(parsed), False)]
    release = [*parsed.release, 0, 0]
    fields: dict[str, tagexpr.Helper | str] = {
        "raw": raw,
        "version": str(parsed),
        "major": str(release[0]),
        "minor": str(release[1]),
        "patch": str(release[2]),
    }
    return [(tagexpr.render(pattern, fields), True)]


def expression(text: str, values: Mapping[str, str]) -> str:
    """`{{...}}` in a short-form template, with the same helpers as the typed rules."""
    return tagexpr.render(text, _Context(values, FlavorSpec()).helpers())
