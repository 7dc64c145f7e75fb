"""Tag expansion and git-derived versions (pure functions) plus a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator import gitinfo, ocilabels, tags, variables
from tests.unit.helpers import git, resolve, write_project


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.2.3", ["1.2.3", "1.2", "1", "latest"]),
        ("0.4.1", ["0.4.1", "0.4", "latest"]),  # no bare "0": it would float across 0.x breaks
        ("2.0.0-rc.1", ["2.0.0-rc.1"]),
        ("1.2.4-dev.3.gabc1234", ["1.2.4-dev.3.gabc1234"]),
        ("1.2.3-dirty", ["1.2.3-dirty"]),
    ],
)
def test_semver_and_latest(version: str, expected: list[str]) -> None:
    assert tags.expand(["semver", "latest"], {"VERSION": version}) == expected


def test_sha_branch_and_templates() -> None:
    values = {"VERSION": "1.0.0", "GIT_COMMIT": "abc1234", "GIT_BRANCH": "feature/Login_2"}
    assert tags.expand(["sha", "branch", "v${VERSION}", "sha"], values) == [
        "sha-abc1234",
        "feature-Login_2",
        "v1.0.0",
    ]
    assert tags.expand(["branch"], {"GIT_BRANCH": ""}) == []  # detached HEAD: no branch tag


def test_invalid_tag_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a valid tag"):
        tags.expand(["-bad"], {})


@pytest.mark.parametrize(
    ("exact", "last", "distance", "dirty", "expected"),
    [
        ("v1.2.3", "v1.2.3", 0, False, "1.2.3"),
        ("1.2.3", "", 0, False, "1.2.3"),
        ("", "v1.2.3", 4, False, "1.2.4-dev.4.gabc1234"),
        ("", "v2.0.0-rc.1", 2, False, "2.0.0-rc.1.dev.2.gabc1234"),
        ("", "", 7, False, "0.0.0-dev.7.gabc1234"),
        ("v1.2.3", "v1.2.3", 0, True, "1.2.3-dirty"),
        ("", "v1.2.3", 1, True, "1.2.4-dev.1.gabc1234.dirty"),
    ],
)
def test_derive_version(exact: str, last: str, distance: int, dirty: bool, expected: str) -> None:
    assert gitinfo.derive_version(exact, last, distance, "abc1234", dirty) == expected


def test_read_real_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a").write_text("1")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-qm", "one")
    git(tmp_path, "tag", "v1.4.0")
    info = gitinfo.read(tmp_path)
    assert (info.version, info.branch, info.dirty, info.commit_time) == (
        "1.4.0",
        "main",
        False,
        1700000000,
    )
    assert info.short == git(tmp_path, "rev-parse", "--short=7", "HEAD")
    (tmp_path / "a").write_text("2")
    git(tmp_path, "commit", "-qam", "two")
    info = gitinfo.read(tmp_path)
    assert info.version == f"1.4.1-dev.1.g{info.short}"
    (tmp_path / "untracked").write_text("x")
    assert gitinfo.read(tmp_path).dirty


def test_a_branch_name_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    """git allows any bytes but a few in a ref name: `git checkout -b $'feat-\\xff'` made every
    command end in exit 3 (UnicodeDecodeError reading git's answer)."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a").write_text("1")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-qm", "one")
    subprocess.run([b"git", b"-C", bytes(tmp_path), b"checkout", b"-qb", b"feat-\xff"], check=True)
    info = gitinfo.read(tmp_path)
    assert info.branch == "feat-\ufffd"
    assert tags.expand(["branch"], info.variables()) == ["feat--"]  # a tag, as sanitised


def test_prefetched_answers_are_read_once_and_only_for_their_directory(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a").write_text("1")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-qm", "one")
    fresh = gitinfo.read(tmp_path)
    gitinfo.prefetch(tmp_path)
    # The queries have answered before the file appears (under load, a `git status` started
    # by the prefetch could otherwise still be scanning the tree and see it).
    for proc in gitinfo._PREFETCHED[str(tmp_path)]:
        if proc is not None:
            proc.wait()
    (tmp_path / "untracked").write_text("x")  # after the prefetch: its answers predate this
    assert gitinfo.read(tmp_path) == fresh  # the prefetched answers, not git's present ones
    assert gitinfo.read(tmp_path).dirty  # taken once: the next read asks git again
    other = tmp_path / "elsewhere"
    other.mkdir()
    gitinfo.prefetch(other)
    assert gitinfo.read(tmp_path).dirty  # another directory's prefetch is not used here
    gitinfo.discard_prefetched()
    assert gitinfo._PREFETCHED == {}


def test_discarding_prefetched_queries_waits_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[str]] = []
    real = subprocess.Popen

    def spy(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spy)
    gitinfo.prefetch(tmp_path)
    gitinfo.discard_prefetched()
    assert len(started) == len(gitinfo.QUERIES)
    assert all(proc.returncode is not None for proc in started)  # none left running


def test_plan_and_build_leave_no_prefetched_queries(tmp_path: Path) -> None:
    from orchestrator.main import main

    assert main(["plan", "-f", str(tmp_path / "builds.yaml")]) == 2  # no manifest: stops early
    assert main(["build", "-f", str(tmp_path / "builds.yaml")]) == 2
    assert gitinfo._PREFETCHED == {}


def test_outside_git_gives_stable_placeholders(tmp_path: Path) -> None:
    info = gitinfo.read(tmp_path)
    assert (info.commit, info.version) == ("unknown", "0.0.0-dev.0.gunknown")


def test_interpolation_defaults_and_escapes() -> None:
    values = {"A": "1", "E": ""}
    assert variables.interpolate("${A}-${E:-x}-$${A}-${B:-d}", values) == "1-x-${A}-d"
    with pytest.raises(variables.UnknownVariableError):
        variables.interpolate("${B}", values)


def test_read_without_tags_and_past_a_prerelease_tag(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    for n in range(3):
        (tmp_path / "a").write_text(str(n))
        git(tmp_path, "add", "a")
        git(tmp_path, "commit", "-qm", f"c{n}")
    info = gitinfo.read(tmp_path)
    assert info.version == f"0.0.0-dev.3.g{info.short}"
    git(tmp_path, "tag", "v2.0.0-rc.1", "HEAD~1")
    info = gitinfo.read(tmp_path)
    # The tag's own hyphen must not be mistaken for describe's separators.
    assert info.version == f"2.0.0-rc.1.dev.1.g{info.short}"
    assert (info.tag, info.commit, info.dirty) == ("", git(tmp_path, "rev-parse", "HEAD"), False)


# --- issue 19: the bugs, each with a test -------------------------------------------------
def _repo_at_tag(tmp_path: Path, tag: str, *, after: int = 0) -> gitinfo.GitInfo:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a").write_text("0")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-qm", "c0")
    git(tmp_path, "tag", tag)
    for n in range(after):
        (tmp_path / "a").write_text(str(n + 1))
        git(tmp_path, "commit", "-qam", f"c{n + 1}")
    return gitinfo.read(tmp_path)


@pytest.mark.parametrize(
    ("tag", "version", "expected"),
    [
        ("v1.2.3+build.5", "1.2.3+build.5", ["1.2.3", "1.2", "1", "latest"]),
        ("v1.2", "1.2.0", ["1.2.0", "1.2", "1", "latest"]),
        ("1.2.3", "1.2.3", ["1.2.3", "1.2", "1", "latest"]),
    ],
)
def test_version_tags_with_build_metadata_two_parts_or_no_v(
    tmp_path: Path, tag: str, version: str, expected: list[str]
) -> None:
    info = _repo_at_tag(tmp_path, tag)
    assert (info.version, info.tag) == (version, tag)
    assert tags.expand(["semver", "latest"], info.variables()) == expected


def test_tag_without_v_still_counts_one_commit_later(tmp_path: Path) -> None:
    info = _repo_at_tag(tmp_path, "1.2.3", after=1)
    assert info.version == f"1.2.4-dev.1.g{info.short}"  # was 0.0.0-dev: describe wanted a v


def test_version_variable_with_build_metadata() -> None:
    assert tags.expand(["semver", "latest"], {"VERSION": "1.2.3+build.5"}) == [
        "1.2.3",
        "1.2",
        "1",
        "latest",
    ]
    assert gitinfo.derive_version("v1.2.3+b.5", "", 0, "abc1234", True) == "1.2.3-dirty+b.5"


@pytest.mark.parametrize("tag", ["release1", "20200110-RC2"])
def test_git_tag_for_a_tag_that_is_not_a_version(tmp_path: Path, tag: str) -> None:
    info = _repo_at_tag(tmp_path, tag)
    assert info.tag == tag
    assert info.version == f"0.0.0-dev.1.g{info.short}"  # no version tag: VERSION unchanged
    assert tags.expand(["${GIT_TAG}"], info.variables()) == [tag]


def test_branch_with_a_run_of_unsafe_characters() -> None:
    assert tags.expand(["branch"], {"GIT_BRANCH": "fix/#12"}) == ["fix-12"]


def test_sanitised_branch_variable_for_templates(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "feature/login")
    (tmp_path / "a").write_text("0")
    git(tmp_path, "add", "a")
    git(tmp_path, "commit", "-qm", "c0")
    values = gitinfo.read(tmp_path).variables()
    assert values["GIT_BRANCH_SLUG"] == "feature-login"
    assert tags.expand(["mytag-${GIT_BRANCH_SLUG}"], values) == ["mytag-feature-login"]
    with pytest.raises(ValueError, match="not a valid tag"):  # the raw branch still is refused
        tags.expand(["mytag-${GIT_BRANCH}"], values)


def test_empty_template_is_dropped() -> None:
    values = {"PR_NUMBER": "", "GIT_COMMIT": "abc1234"}
    assert tags.expand(["${PR_NUMBER}", "sha", "${PR_NUMBER:-}"], values) == ["sha-abc1234"]


@pytest.mark.parametrize(
    ("remote", "source"),
    [
        ("https://user:s3cret@github.com/octo/app.git", "https://github.com/octo/app"),
        ("git@github.com:octo/app.git", "https://github.com/octo/app"),
        (
            "ssh://git@gitlab.example.com:2222/group/sub/app.git",
            "https://gitlab.example.com/group/sub/app",
        ),
        ("https://gitlab.example.com/group/app/", "https://gitlab.example.com/group/app"),
        ("/srv/git/app.git", ""),
        ("../app", ""),
    ],
)
def test_source_url_from_a_remote(remote: str, source: str) -> None:
    assert ocilabels.source_url(remote) == source


def test_source_label_from_the_origin_remote(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    path = write_project(tmp_path)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "c0")
    git(tmp_path, "remote", "add", "origin", "https://ci:t0ken@github.com/octo/app.git")
    result = resolve(path, git=gitinfo.read(tmp_path))
    labels = result.targets[0].labels
    assert labels["org.opencontainers.image.source"] == "https://github.com/octo/app"
    assert labels["org.opencontainers.image.url"] == "https://github.com/octo/app"
    assert "t0ken" not in json.dumps(result.to_dict())  # the remote's credentials never show


def test_a_shallow_clone_says_its_version_may_be_short(tmp_path: Path) -> None:
    """A CI checkout of one commit has no tag to count from: VERSION came out
    `0.0.0-dev.1.g...` (where the full clone says `1.0.1-dev.2.g...`) without a word."""
    from tests.unit.helpers import git

    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "-q", "-b", "main")
    for n in range(3):
        (source / f"f{n}").write_text(str(n))
        git(source, "add", "-A")
        git(source, "commit", "-qm", str(n))
        if n == 0:
            git(source, "tag", "v1.0.0")
    full = gitinfo.read(source)
    assert (full.version.split(".g")[0], full.shallow) == ("1.0.1-dev.2", False)
    assert full.shallow_warning(full.version) is None
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{source}", str(clone))
    shallow = gitinfo.read(clone)
    assert shallow.shallow
    assert shallow.version.startswith("0.0.0-dev.1.g")
    warning = shallow.shallow_warning(shallow.version)
    assert warning is not None
    assert "git fetch --unshallow --tags" in warning
    assert shallow.shallow_warning("2.0.0") is None  # a given VERSION is not git's guess
    git(source, "tag", "v1.1.0")  # HEAD at a version tag: a one-commit clone sees it
    tagged = tmp_path / "tagged"
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "v1.1.0",
        f"file://{source}",
        str(tagged),
    )
    at_tag = gitinfo.read(tagged)
    assert (at_tag.version, at_tag.shallow_warning(at_tag.version)) == ("1.1.0", None)
