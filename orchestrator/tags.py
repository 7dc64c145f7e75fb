"""Tag templates -> concrete tags, the metadata-action way but from our own VERSION.

A tag entry is either a template (`${GIT_BRANCH}-${GIT_COMMIT}`) or one of these keywords:
* `semver`  -> `1.2.3`, `1.2`, `1`; only `1.2.3-rc.1` for prereleases; no bare `0` for 0.x
* `latest`  -> `latest`, only for a plain release version (never for prereleases or dirty trees)
* `sha`     -> `sha-abc1234`
* `branch`  -> the branch name made tag-safe (`feature/x` -> `feature-x`); nothing when detached
A template that comes out empty gives no tag. Typed rules (`{type: semver, ...}`) are tagrules.py.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from orchestrator import refs, tagrules, variables

if TYPE_CHECKING:
    import semver

KEYWORDS = ("semver", "latest", "sha", "branch")


# Cached: every target of a plan asks for the same VERSION's tags (semver.Version is immutable).
@functools.lru_cache(maxsize=64)
def parse_version(version: str) -> semver.Version | None:
    import semver  # here: only a version tag needs it, and every plan imports this module

    try:
        return semver.Version.parse(version)
    except ValueError:
        return None


def is_release(version: str) -> bool:
    parsed = parse_version(version)
    return parsed is not None and not parsed.prerelease


def semver_tags(version: str) -> list[str]:
    parsed = parse_version(version)
    if parsed is None:
        return [version]
    if parsed.prerelease:  # build metadata cannot be in a tag (`+`) and does not order versions
        return [str(parsed.replace(build=None))]
    tags = [f"{parsed.major}.{parsed.minor}.{parsed.patch}", f"{parsed.major}.{parsed.minor}"]
    if parsed.major > 0:  # `0` would float across breaking 0.x releases
        tags.append(str(parsed.major))
    return tags


def keyword_tags(spec: str, values: Mapping[str, str]) -> list[str]:
    """What one short keyword or template gives; an empty template gives nothing."""
    version = values.get("VERSION", "")
    if spec == "semver":
        return semver_tags(version)
    if spec == "latest":
        return ["latest"] if is_release(version) else []
    if spec == "sha":
        # Outside a repository (or before its first commit) there is no commit to name: no
        # tag, as `{type: sha}` gives none (`sha-unknown` would be one image for every build).
        commit = values.get("GIT_COMMIT", "")
        return [f"sha-{commit}"] if commit and commit != "unknown" else []
    if spec == "branch":
        branch = values.get("GIT_BRANCH", "")
        return [refs.sanitize_tag(branch)] if branch else []
    text = variables.interpolate(spec, values)
    if "{{" in text:  # metadata-action's expressions ({{branch}}, {{date 'YYYYMMDD'}}) work too
        text = tagrules.expression(text, values)
    return [text] if text else []  # `${PR_NUMBER}` outside a pull request: no tag, no error


def expand(
    specs: Sequence[str | tagrules.TagRuleSpec],
    values: Mapping[str, str],
    flavor: tagrules.FlavorSpec | None = None,
) -> list[str]:
    """Concrete tags in order, duplicates removed. Raises ValueError for an invalid result."""
    return tagrules.evaluate(specs, values, flavor)
