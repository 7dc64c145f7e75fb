"""docker/metadata-action's own test cases (tests/data/metadata_action_cases.yaml) run here.

Each case is an event (GitHub's variables and the payload fields metadata-action reads), tag
rules, a flavor and the tags metadata-action's suite expects. For every event this builds a
real git repository in that state (branch checked out, tag at a detached HEAD, a merge commit
for a pull request, or no repository at all), writes a builds.yaml and plans it in-process.

The commit is ours, not the fixture's: the expected `sha-860c190` becomes `sha-<our HEAD>` (the
`sha` tag names the commit built; the fixture's GITHUB_SHA exists in no repository). A case
with `ours:` is a deliberate difference: that list is what we give, the reason is `why:` and
docs/tags.md lists the case by name (checked below).

Each case runs three ways where it can: GitHub's variables with the rules in metadata-action's
line form; the same with the rules as YAML mappings; and, for push events, no CI at all (the
checkout answers the same questions).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import gitinfo, manifest, plan

DATA = Path(__file__).resolve().parents[1] / "data" / "metadata_action_cases.yaml"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tags.md"
SUITE: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
NOW = "2020-01-10T00:30:00Z"  # metadata-action's suite pins the clock (and commit date) here
STAMP = "1578616200 +0000"
ORIGIN = "https://github.com/octocat/Hello-World.git"
DOCKERFILE = "FROM scratch AS app\nCOPY a /a\n"


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "GIT_COMMITTER_DATE": STAMP,
        "GIT_AUTHOR_DATE": STAMP,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def _commit(repo: Path, text: str) -> None:
    (repo / "a").write_text(text)
    _git(repo, "add", "a", "Dockerfile")
    _git(repo, "commit", "-qm", text)


def _build_repo(repo: Path, ref: str) -> None:
    """The checkout a CI job would have for `ref` ("" = no repository at all)."""
    repo.mkdir()
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "a").write_text("0")
    if not ref:
        return
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "master"
    _git(repo, "init", "-q", "-b", branch)
    _commit(repo, "one")
    _git(repo, "remote", "add", "origin", ORIGIN)
    _git(repo, "update-ref", "refs/remotes/origin/master", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master")
    if ref.startswith("refs/tags/"):
        _git(repo, "tag", ref.removeprefix("refs/tags/"))
        _git(repo, "checkout", "-q", "--detach")
    elif ref.startswith("refs/pull/"):
        _git(repo, "checkout", "-q", "-b", "test-pr")
        _commit(repo, "two")
        _git(repo, "checkout", "-q", "master")
        _git(repo, "merge", "-q", "--no-ff", "-m", "merge", "test-pr")
        _git(repo, "checkout", "-q", "--detach")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One repository per event, shared by every case of that event (built on first use)."""
    base = tmp_path_factory.mktemp("events")
    built: dict[str, Path] = {}
    for name, event in SUITE["events"].items():
        repo = base / name.replace("/", "_")
        _build_repo(repo, event["env"].get("GITHUB_REF", ""))
        if event.get("payload") is not None:
            (base / f"{name}.json").write_text(json.dumps(event["payload"]))
        built[name] = repo
    return built


def _attrs(line: str) -> dict[str, Any]:
    """metadata-action's `type=x,key=value` line as the YAML mapping a user would write."""
    out: dict[str, Any] = {}
    for item in next(csv.reader([line])):
        key, eq, value = item.partition("=")
        if not eq:
            out["value"] = item
        elif key in ("group", "priority", "length"):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _flavor(lines: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in lines:
        last = ""
        for item in next(csv.reader([line])):
            key, _, value = item.partition("=")
            if key == "onlatest":
                out[f"{last}-onlatest"] = value == "true"
            else:
                out[key], last = value, key
    return out


def _plan(repo: Path, case: dict[str, Any], env: dict[str, str], *, mapping: bool) -> Any:
    target: dict[str, Any] = {
        "tags": [_attrs(t) for t in case["tags"]] if mapping else case["tags"],
    }
    if case.get("flavor"):
        target["flavor"] = _flavor(case["flavor"])
    doc = {
        "project": {
            "name": "Hello-World",
            "image": "user/app",
            "description": "This your first repo!",
            "licenses": "MIT",
        },
        "targets": {"app": target},
    }
    path = repo / "builds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    man, located = manifest.load(path)
    return plan.resolve(
        man, located, gitinfo.read(repo), environ=env, cli_vars={"BUILD_DATE": NOW}
    ).targets[0]


def _github_env(name: str, case: dict[str, Any], repo: Path) -> dict[str, str]:
    event = SUITE["events"][name]
    env = {"GITHUB_ACTIONS": "true", **event["env"]}
    if event.get("payload") is not None:
        env["GITHUB_EVENT_PATH"] = str(repo.parent / f"{name}.json")
    if case.get("pr_head_sha"):
        env["DOCKER_METADATA_PR_HEAD_SHA"] = "true"
    return env


def _wanted(case: dict[str, Any], repo: Path, key: str) -> list[str]:
    """The case's tags with the fixture's commit replaced by the one we built."""
    tags = list(case[key])
    fixture = SUITE["events"][case["event"]]["env"].get("GITHUB_SHA", "")
    if not fixture or not (repo / ".git").exists():
        return tags
    head = _git(repo, "rev-parse", "HEAD")
    return [t.replace(fixture, head).replace(fixture[:7], head[:7]) for t in tags]


def _names(target: Any) -> list[str]:
    return [t.rsplit(":", 1)[1] for t in target.tags]


CASES = SUITE["cases"]
IDS = [case["names"][0] for case in CASES]


@pytest.fixture(autouse=True)
def _hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    # gitinfo asks git for init.defaultBranch: the developer's own config must not answer.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def test_enough_cases_are_expressible() -> None:
    names = [n for case in CASES for n in case["names"]]
    assert len(CASES) >= 100, "distinct cases (event, rules, flavor) of meta.test.ts"
    assert len(names) == len(set(names))
    differing = [case for case in CASES if "ours" in case]
    assert all(case.get("why") for case in differing)
    assert len(differing) <= 12


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_metadata_action_case(case: dict[str, Any], repos: dict[str, Path]) -> None:
    repo = repos[case["event"]]
    wanted = _wanted(case, repo, "ours" if "ours" in case else "expected")
    if "ours" in case:  # a documented, deliberate difference: still a real one, still listed
        assert wanted != _wanted(case, repo, "expected")
        assert f"`{case['names'][0]}`" in DOCS.read_text(encoding="utf-8")
    env = _github_env(case["event"], case, repo)
    line_form = _plan(repo, case, env, mapping=False)
    assert _names(line_form) == wanted
    assert _names(_plan(repo, case, env, mapping=True)) == wanted
    event = SUITE["events"][case["event"]]["env"]
    uses_payload = any("base_ref" in t for t in case["tags"])
    if event.get("GITHUB_EVENT_NAME") == "push" and not uses_payload:
        assert _names(_plan(repo, case, {}, mapping=False)) == wanted, "plain git checkout"
    if case.get("labels") and (repo / ".git").exists():
        _check_labels(case, repo, line_form.labels)


def _check_labels(case: dict[str, Any], repo: Path, labels: dict[str, str]) -> None:
    """The labels metadata-action takes from GitHub's API, ours from builds.yaml and origin.
    `version` (ours is VERSION) and `created` (ours has no milliseconds) differ by design."""
    expected = case["labels"]
    keys = ["title", "description", "url", "source", "licenses"]
    if not case.get("pr_head_sha"):  # revision is the commit built, never the PR's head
        keys.append("revision")
    oci = "org.opencontainers.image."
    head = _git(repo, "rev-parse", "HEAD")
    fixture = SUITE["events"][case["event"]]["env"].get("GITHUB_SHA", "")
    want = {k: expected[oci + k].replace(fixture, head) if fixture else "" for k in keys}
    assert {k: labels.get(oci + k, "") for k in keys} == want
    assert labels[oci + "created"] == expected[oci + "created"].replace(".000Z", "Z")
