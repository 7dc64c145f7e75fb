"""Tag templates -> concrete tags, the metadata-action way but from our own VERSION.

A tag entry is either a template (`${GIT_BRANCH}-${GIT_COMMIT}`) or one of these keywords:
* `semver`  -> `1.2.3`, `1.2`, `1`; only `1.2.3-rc.1` for prereleases; no bare `0` for 0.x
* `latest`  -> `latest`, only for a plain release version (never for prereleases or dirty trees)
* `sha`     -> `sha-abc1234`
* `branch`  -> the branch name made tag-safe (`feature/x` -> `feature-x`); nothing when detached
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import semver

from orchestrator import refs, variables

KEYWORDS = ("semver", "latest", "sha", "branch")


def parse_version(version: str) -> semver.Version | None:
    try:
        return semver.Version.parse(version)
    except ValueError:
        return None


def is_release(version: str) -> bool:
    parsed = parse_version(version)
    return parsed is not None and not parsed.prerelease and not parsed.build


def semver_tags(version: str) -> list[str]:
    parsed = parse_version(version)
    if parsed is None:
        return [version]
    if parsed.prerelease or parsed.build:
        return [str(parsed).replace("+", "-")]
    tags = [f"{parsed.major}.{parsed.minor}.{parsed.patch}", f"{parsed.major}.{parsed.minor}"]
    if parsed.major > 0:  # `0` would float across breaking 0.x releases
        tags.append(str(parsed.major))
    return tags


def expand(specs: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Concrete tags in order, duplicates removed. Raises ValueError for an invalid result."""
    version = values.get("VERSION", "")
    out: list[str] = []
    for spec in specs:
        if spec == "semver":
            produced = semver_tags(version)
        elif spec == "latest":
            produced = ["latest"] if is_release(version) else []
        elif spec == "sha":
            produced = [f"sha-{values.get('GIT_COMMIT', 'unknown')}"]
        elif spec == "branch":
            branch = values.get("GIT_BRANCH", "")
            produced = [refs.sanitize_tag(branch)] if branch else []
        else:
            produced = [variables.interpolate(spec, values)]
        for tag in produced:
            if not refs.is_valid_tag(tag):
                raise ValueError(
                    f"tag {tag!r} (from {spec!r}) is not a valid tag: "
                    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
                )
            if tag not in out:
                out.append(tag)
    return out
