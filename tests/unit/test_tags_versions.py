"""Tag expansion and git-derived versions (pure functions) plus a real git repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import gitinfo, tags, variables
from tests.unit.helpers import git


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
