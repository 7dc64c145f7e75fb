"""Version and revision facts derived from git once per run, outside any CI vendor.

docker/metadata-action only knows GitHub's event payload; this reads the repository itself, so
`make release` on a laptop, GitLab, Jenkins and GitHub all derive the same VERSION.

VERSION rules (documented in the README):
* HEAD exactly at tag `v1.2.3` (or `1.2.3`, prereleases too)   -> `1.2.3`
* `v1.2` (two parts) counts as `1.2.0`; build metadata is kept:  `v1.2.3+b.5` -> `1.2.3+b.5`
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    import semver


_TAG_RE = re.compile(
    r"^v?(?P<core>\d+\.\d+)(?P<patch>\.\d+)?(?P<rest>(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$"
)


def tag_version(tag: str) -> str | None:
    """The semver a version tag names (`v1.2` -> `1.2.0`), None for other tags (`release1`)."""
    match = _TAG_RE.match(tag)
    if not match:
        return None
    return f"{match['core']}{match['patch'] or '.0'}{match['rest']}"


@dataclass(frozen=True)
class GitInfo:
    commit: str  # full sha, or "unknown" outside a repository
    short: str
    branch: str
    dirty: bool
    tag: str  # tag at HEAD (the highest version tag, else any), "" when none
    commit_time: int  # committer time (unix seconds): SOURCE_DATE_EPOCH for reproducible builds
    version: str
    origin_url: str = ""  # `git config remote.origin.url` as written (may hold credentials)
    default_branch: str = ""  # from origin/HEAD, else init.defaultBranch; "" when neither
    shallow: bool = False  # a shallow clone: the history (and tags) may stop short

    def shallow_warning(self, version: str) -> str | None:
        """Why `version` (git's, not one given) may be wrong here, or None: in a shallow clone
        only a version tag at HEAD is certain to be seen (CI checkouts are often one commit)."""
        if not self.shallow or version != self.version or tag_version(self.tag):
            return None
        return (
            f"shallow clone: VERSION {version} is counted from the commits and tags fetched, "
            "not the whole history; fetch them (`git fetch --unshallow --tags`, or "
            "actions/checkout with `fetch-depth: 0`) or give VERSION"
        )

    @property
    def any_tag(self) -> str:
        return self.tag

    @property
    def commit_or_empty(self) -> str:
        return "" if self.commit == "unknown" else self.commit

    def variables(self) -> dict[str, str]:
        return {
            "VERSION": self.version,
            "GIT_COMMIT": self.short,
            "GIT_COMMIT_FULL": self.commit,
            "GIT_BRANCH": self.branch,
            # Templates need the branch tag-safe: `mytag-${GIT_BRANCH_SLUG}` on `feature/login`.
            "GIT_BRANCH_SLUG": _slug(self.branch),
            "GIT_TAG": self.tag,
            "GIT_DIRTY": "true" if self.dirty else "false",
            "SOURCE_DATE_EPOCH": str(self.commit_time),
            "GIT_REMOTE_URL": _source_url(self.origin_url),
        }


_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories


def settle(values: dict[str, str], builtins: Mapping[str, str]) -> None:
    """Keep the git facts that are one fact in two forms agreeing after the environment or
    --var overrode one of them: a new GIT_BRANCH gets its GIT_BRANCH_SLUG, and a full commit
    given as GIT_COMMIT (Jenkins's own GIT_COMMIT is one) becomes GIT_COMMIT_FULL, with
    GIT_COMMIT its short form. A form overridden on its own is left as given."""
    branch = values.get("GIT_BRANCH", "")
    if branch != builtins.get("GIT_BRANCH") and values.get("GIT_BRANCH_SLUG") == builtins.get(
        "GIT_BRANCH_SLUG"
    ):
        values["GIT_BRANCH_SLUG"] = _slug(branch)
    commit = values.get("GIT_COMMIT", "")
    if (
        commit != builtins.get("GIT_COMMIT")
        and _FULL_SHA.fullmatch(commit.lower())
        and values.get("GIT_COMMIT_FULL") == builtins.get("GIT_COMMIT_FULL")
    ):
        short = builtins.get("GIT_COMMIT", "")
        values["GIT_COMMIT_FULL"] = commit.lower()
        values["GIT_COMMIT"] = commit.lower()[: len(short) if _hex(short) else 7]


def _hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


def _slug(branch: str) -> str:
    from orchestrator import refs

    return refs.sanitize_tag(branch) if branch else ""


def _source_url(remote: str) -> str:
    from orchestrator import ocilabels

    return ocilabels.source_url(remote) if remote else ""


def _git(repo: Path, *args: str) -> str | None:
    return _git_all(repo, [list(args)])[0]


def tracked(repo: Path, rel: str) -> bool:
    """Whether `rel` (relative to `repo`) is in git's index: shipped by the repository."""
    return bool((_git(repo, "ls-files", "--", rel) or "").strip())


def _git_all(repo: Path, commands: list[list[str]]) -> list[str | None]:
    """Run independent git queries side by side; each answer is its stdout, or None on failure.

    Every `build` and `plan` pays for these, and each is a process start: concurrent, the lot
    costs about one.
    """
    return _collect(_start(repo, commands))


_Running = list[subprocess.Popen[str] | None]  # one per query; None: no git to run


def _start(repo: Path, commands: list[list[str]]) -> _Running:
    procs: _Running = []
    for args in commands:
        try:
            procs.append(
                subprocess.Popen(
                    ["git", "-C", str(repo), *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    errors="replace",  # a ref name may hold any byte (`feat-\xff`)
                )
            )
        except FileNotFoundError:
            procs.append(None)
    return procs


def _collect(procs: _Running) -> list[str | None]:
    out: list[str | None] = []
    for proc in procs:
        if proc is None:
            out.append(None)
            continue
        stdout, _ = proc.communicate()
        out.append(stdout.strip() if proc.returncode == 0 else None)
    return out


def derive_version(exact_tag: str, last_tag: str, distance: int, short: str, dirty: bool) -> str:
    """The pure part of the VERSION rules above (unit-tested without git)."""
    if exact_tag:
        version = tag_version(exact_tag) or exact_tag
    else:
        last = tag_version(last_tag) if last_tag else None
        if last:
            import semver  # only here: the plan memo imports this module and must stay light

            parsed = semver.Version.parse(last)
            nxt = parsed.bump_patch() if not parsed.prerelease else parsed.replace(build=None)
            core = f"{nxt.major}.{nxt.minor}.{nxt.patch}"
            pre = f"{parsed.prerelease}.dev" if parsed.prerelease else "dev"
        else:
            core, pre = "0.0.0", "dev"
        version = f"{core}-{pre}.{distance}.g{short}"
    if dirty:
        # Before any build metadata: `+...` alone would not make it a prerelease.
        core, plus, build = version.partition("+")
        version = core + (".dirty" if "-" in core else "-dirty") + plus + build
    return version


# The questions every run asks git, side by side (see _git_all).
QUERIES = (
    ("log", "-1", "--abbrev=7", "--format=%H%n%h%n%ct", "HEAD"),
    ("symbolic-ref", "--short", "-q", "HEAD"),
    # Untracked files count as dirty too: they can end up in the build context.
    ("status", "--porcelain", "--untracked-files=normal"),
    ("tag", "--points-at", "HEAD"),
    # `<tag>-<distance>-g<sha>`: the last version tag and how far HEAD is past it. Tags
    # without `v` count too (`1.2.3`); the dot keeps date tags like `20200110-RC2` out.
    ("describe", "--tags", "--long", "--match", "v[0-9]*.[0-9]*", "--match", "[0-9]*.[0-9]*"),
    # The source label's URL and the default branch when no CI names it.
    ("config", "--get-regexp", r"^(remote\.origin\.url|init\.defaultbranch)$"),
    ("symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"),
    # A shallow clone (CI checkouts often are) may lack the tag VERSION counts from.
    ("rev-parse", "--is-shallow-repository"),
)


def ask(repo: Path) -> tuple[str | None, ...]:
    """git's answers to QUERIES, the dirty state reduced to "dirty"/"" (which files does not
    matter to any fact derived here). Equal answers mean equal GitInfo: the plan memo relies
    on that to tell whether git moved."""
    return _reduced(_git_all(repo, [list(q) for q in QUERIES]))


def _reduced(answers: list[str | None]) -> tuple[str | None, ...]:
    head, branch, status, at_head, described, config, origin_head, shallow = answers
    dirty = "dirty" if status else ""
    return head, branch, dirty, at_head, described, config, origin_head, shallow


# QUERIES started by prefetch(), by the `git -C` directory they run in; taken by read().
_PREFETCHED: dict[str, _Running] = {}


def prefetch(repo: Path) -> None:
    """Start QUERIES in `repo` now, for a read() of the same directory later in this run.

    `plan` and `build` ask git only after importing pydantic and loading the manifest
    (~0.25 s of CPU); started first, the git processes run meanwhile on another core instead
    of being waited for. Only read() takes them: the memos' own ask() calls must see git as
    it is when they ask (see replaymemo).
    """
    _PREFETCHED.setdefault(str(repo), _start(repo, [list(q) for q in QUERIES]))


def discard_prefetched() -> None:
    """Wait for queries prefetch() started that no read() took (the run stopped before it,
    or read another directory): no git process outlives the command, none is killed midway
    (`git status` may be refreshing the index under its lock)."""
    while _PREFETCHED:
        _collect(_PREFETCHED.popitem()[1])


def read(repo: Path) -> GitInfo:
    """Facts about `repo`'s HEAD; stable placeholders outside a git checkout."""
    started = _PREFETCHED.pop(str(repo), None)
    if started is None:
        return from_answers(repo, ask(repo))
    return from_answers(repo, _reduced(_collect(started)))


def from_answers(repo: Path, answers: tuple[str | None, ...]) -> GitInfo:
    head, branch, dirty_text, at_head, described, config, origin_head, shallow = answers
    fields = (head or "").splitlines()
    if len(fields) != 3:
        return GitInfo("unknown", "unknown", "", False, "", 0, "0.0.0-dev.0.gunknown")
    commit, short, time_text = fields
    dirty = bool(dirty_text)
    tags_here = sorted((at_head or "").splitlines())
    exact = sorted((t for t in tags_here if _TAG_RE.match(t)), key=_tag_key)
    settings = dict(line.partition(" ")[::2] for line in (config or "").splitlines() if " " in line)
    if described and described.count("-") >= 2:
        last, distance_text, _ = described.rsplit("-", 2)
    else:  # no version tag yet: the distance is the whole history
        last, distance_text = "", _git(repo, "rev-list", "--count", "HEAD") or "0"
    version_tag = exact[-1] if exact else ""
    return GitInfo(
        commit=commit,
        short=short,
        branch=branch or "",
        dirty=dirty,
        # A tag that is no version (`release1`) is still the tag at HEAD for ${GIT_TAG}.
        tag=version_tag or (tags_here[-1] if tags_here else ""),
        commit_time=int(time_text),
        version=derive_version(version_tag, last, int(distance_text), short, dirty),
        origin_url=settings.get("remote.origin.url", ""),
        default_branch=(origin_head or "").removeprefix("origin/")
        or settings.get("init.defaultbranch", ""),
        shallow=(shallow or "").strip() == "true",
    )


def _tag_key(tag: str) -> semver.Version:
    import semver

    version = tag_version(tag)
    return semver.Version.parse(version) if version else semver.Version(0)
