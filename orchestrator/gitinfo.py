"""Version and revision facts derived from git once per run, outside any CI vendor.

docker/metadata-action only knows GitHub's event payload; this reads the repository itself, so
`make release` on a laptop, GitLab, Jenkins and GitHub all derive the same VERSION.

VERSION rules (documented in the README):
* HEAD exactly at tag `v1.2.3` (or `1.2.3`, prereleases too)   -> `1.2.3`
* N commits after `v1.2.3`                                       -> `1.2.4-dev.N.gabc1234`
* no version tag at all                                          -> `0.0.0-dev.N.gabc1234`
* uncommitted changes                                            -> `...-dirty` / `.dirty` suffix
Anything that is not a plain release is a semver prerelease, so it never gets `latest`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import semver

_TAG_RE = re.compile(r"^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")


@dataclass(frozen=True)
class GitInfo:
    commit: str  # full sha, or "unknown" outside a repository
    short: str
    branch: str
    dirty: bool
    tag: str  # version tag at HEAD, "" when none
    commit_time: int  # committer time (unix seconds): SOURCE_DATE_EPOCH for reproducible builds
    version: str

    def variables(self) -> dict[str, str]:
        return {
            "VERSION": self.version,
            "GIT_COMMIT": self.short,
            "GIT_COMMIT_FULL": self.commit,
            "GIT_BRANCH": self.branch,
            "GIT_TAG": self.tag,
            "GIT_DIRTY": "true" if self.dirty else "false",
            "SOURCE_DATE_EPOCH": str(self.commit_time),
        }


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _release_tags_at_head(repo: Path) -> list[str]:
    out = _git(repo, "tag", "--points-at", "HEAD") or ""
    return [t for t in out.splitlines() if _TAG_RE.match(t)]


def derive_version(exact_tag: str, last_tag: str, distance: int, short: str, dirty: bool) -> str:
    """The pure part of the VERSION rules above (unit-tested without git)."""
    if exact_tag:
        base = _TAG_RE.match(exact_tag)
        version = base.group(1) if base else exact_tag
    else:
        match = _TAG_RE.match(last_tag) if last_tag else None
        if match:
            parsed = semver.Version.parse(match.group(1))
            nxt = parsed.bump_patch() if not parsed.prerelease else parsed.replace(build=None)
            core = f"{nxt.major}.{nxt.minor}.{nxt.patch}"
            pre = f"{parsed.prerelease}.dev" if parsed.prerelease else "dev"
        else:
            core, pre = "0.0.0", "dev"
        version = f"{core}-{pre}.{distance}.g{short}"
    if dirty:
        version += ".dirty" if "-" in version else "-dirty"
    return version


def read(repo: Path) -> GitInfo:
    """Facts about `repo`'s HEAD; stable placeholders outside a git checkout."""
    commit = _git(repo, "rev-parse", "HEAD")
    if commit is None:
        return GitInfo("unknown", "unknown", "", False, "", 0, "0.0.0-dev.0.gunknown")
    short = _git(repo, "rev-parse", "--short=7", "HEAD") or commit[:7]
    branch = _git(repo, "symbolic-ref", "--short", "-q", "HEAD") or ""
    # Untracked files count as dirty too: they can end up in the build context.
    dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=normal"))
    exact = sorted(_release_tags_at_head(repo), key=_tag_key)
    last = _git(repo, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*") or ""
    distance_text = _git(repo, "rev-list", "--count", f"{last}..HEAD" if last else "HEAD") or "0"
    time_text = _git(repo, "log", "-1", "--format=%ct", "HEAD") or "0"
    tag = exact[-1] if exact else ""
    return GitInfo(
        commit=commit,
        short=short,
        branch=branch,
        dirty=dirty,
        tag=tag,
        commit_time=int(time_text),
        version=derive_version(tag, last, int(distance_text), short, dirty),
    )


def _tag_key(tag: str) -> semver.Version:
    match = _TAG_RE.match(tag)
    return semver.Version.parse(match.group(1)) if match else semver.Version(0)
