"""The event of a run on each CI (cievent.py) and the typed tag rules' edges (tagrules.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orchestrator import cievent, tagrules, tags
from orchestrator.errors import ManifestError
from tests.unit.helpers import GIT, resolve, write_project

DETACHED = GIT.__class__(**{**GIT.__dict__, "branch": "", "tag": "", "default_branch": "trunk"})


def _event(env: dict[str, str]) -> dict[str, str]:
    return cievent.detect(env, DETACHED).variables()


def test_github_pull_request_target_gets_the_pull_request_ref(tmp_path: Path) -> None:
    payload = {
        "number": 15,
        "repository": {"default_branch": "master"},
        "pull_request": {"number": 15, "base": {"ref": "master"}, "head": {"sha": "f" * 40}},
    }
    (tmp_path / "event.json").write_text(json.dumps(payload))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_REF": "refs/heads/master",
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
    }
    got = _event(env)
    assert (got["GIT_REF"], got["PR_NUMBER"], got["PR_BASE_BRANCH"], got["DEFAULT_BRANCH"]) == (
        "refs/pull/15/merge",
        "15",
        "master",
        "master",
    )
    assert got["TAG_SHA"] == GIT.commit  # the commit built, unless asked for the PR's head
    assert _event({**env, "DOCKER_METADATA_PR_HEAD_SHA": "true"})["TAG_SHA"] == "f" * 40


def test_github_without_a_readable_payload(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/tags/v1.0.0",
        "GITHUB_EVENT_PATH": str(tmp_path / "missing.json"),
    }
    got = _event(env)
    assert (got["EVENT"], got["GIT_REF"], got["DEFAULT_BRANCH"]) == (
        "push",
        "refs/tags/v1.0.0",
        "trunk",  # from git (origin/HEAD) when the payload cannot say
    )


@pytest.mark.parametrize(
    ("env", "event", "ref", "default", "number", "base"),
    [
        (
            {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feat/x",
             "CI_DEFAULT_BRANCH": "main"},
            "push", "refs/heads/feat/x", "main", "", "",
        ),
        (
            {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v2.0.0"},
            "push", "refs/tags/v2.0.0", "trunk", "", "",
        ),
        (
            {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event",
             "CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"},
            "pull_request", "refs/pull/7/merge", "trunk", "7", "main",
        ),
        (
            {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"},
            "schedule", "refs/heads/main", "trunk", "", "",
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_BRANCH": "dev", "BUILDKITE_PULL_REQUEST": "false",
             "BUILDKITE_PIPELINE_DEFAULT_BRANCH": "main", "BUILDKITE_SOURCE": "webhook"},
            "push", "refs/heads/dev", "main", "", "",
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_BRANCH": "dev", "BUILDKITE_PULL_REQUEST": "42",
             "BUILDKITE_PULL_REQUEST_BASE_BRANCH": "main"},
            "pull_request", "refs/pull/42/merge", "trunk", "42", "main",
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_TAG": "v1.0.0", "BUILDKITE_SOURCE": "schedule"},
            "schedule", "refs/tags/v1.0.0", "trunk", "", "",
        ),
        (
            {"JENKINS_URL": "http://ci", "CHANGE_ID": "3", "CHANGE_TARGET": "main"},
            "pull_request", "refs/pull/3/merge", "trunk", "3", "main",
        ),
        (
            {"JENKINS_URL": "http://ci", "BRANCH_NAME": "main", "BRANCH_IS_PRIMARY": "true"},
            "push", "refs/heads/main", "main", "", "",
        ),
        (
            {"JENKINS_URL": "http://ci", "TAG_NAME": "v3.0.0"},
            "push", "refs/tags/v3.0.0", "trunk", "", "",
        ),
    ],
)  # fmt: skip
def test_other_ci_systems(
    env: dict[str, str], event: str, ref: str, default: str, number: str, base: str
) -> None:
    got = _event(env)
    assert (got["EVENT"], got["GIT_REF"], got["DEFAULT_BRANCH"]) == (event, ref, default)
    assert (got["PR_NUMBER"], got["PR_BASE_BRANCH"]) == (number, base)


def test_plain_checkout() -> None:
    on_branch = cievent.detect({}, GIT.__class__(**{**GIT.__dict__, "default_branch": ""}))
    assert (on_branch.system, on_branch.ref, on_branch.default_branch) == (
        "git",
        "refs/heads/main",
        "main",  # no origin/HEAD, no init.defaultBranch
    )
    at_tag = cievent.detect({}, GIT.__class__(**{**GIT.__dict__, "branch": ""}))
    assert at_tag.ref == "refs/tags/v1.2.3"
    assert cievent.detect({}, DETACHED).ref == ""


RELEASE = {
    "GIT_REF": "refs/tags/v1.4.0",
    "EVENT": "push",
    "VERSION": "1.4.0",
    "GIT_COMMIT": "abc1234",
    "TAG_SHA": "abc1234" + "0" * 33,
    "DEFAULT_BRANCH": "main",
    "SOURCE_DATE_EPOCH": "1700000000",
}


def test_mapping_and_line_forms_agree() -> None:
    line = ["type=semver,pattern={{major}}.{{minor}},prefix=v", "type=sha,length=10"]
    mapping = [
        tagrules.TagRuleSpec(type="semver", pattern="{{major}}.{{minor}}", prefix="v"),
        tagrules.TagRuleSpec(type="sha", length=10),
    ]
    assert (
        tags.expand(line, RELEASE)
        == tags.expand(mapping, RELEASE)
        == [
            "v1.4",
            "sha-abc1234000",
            "latest",
        ]
    )


def test_keywords_keep_their_order_and_sort_as_their_twins_among_rules() -> None:
    assert tags.expand(["sha", "semver", "latest"], RELEASE) == [
        "sha-abc1234",
        "1.4.0",
        "1.4",
        "1",
        "latest",
    ]
    mixed = tags.expand(["sha", "type=edge", "branch", "type=ref,event=tag"], RELEASE)
    assert mixed == ["v1.4.0", "sha-abc1234", "latest"]  # ref 600 > sha 100; no branch: a tag


def test_flavor_latest_and_prefix_onlatest() -> None:
    flavor = tagrules.FlavorSpec(latest="false", prefix="x-")
    assert tags.expand(["type=ref,event=tag"], RELEASE, flavor) == ["x-v1.4.0"]
    flavor = tagrules.FlavorSpec(prefix="x-", prefix_onlatest=True, suffix="-a")
    assert tags.expand(["type=ref,event=tag"], RELEASE, flavor) == ["x-v1.4.0-a", "x-latest"]
    on_branch = {**RELEASE, "GIT_REF": "refs/heads/main"}
    flavor = tagrules.FlavorSpec(latest=True)
    assert tags.expand(["type=edge"], on_branch, flavor) == ["edge", "latest"]


def test_date_expressions_use_build_date() -> None:
    values = {**RELEASE, "EVENT": "schedule", "BUILD_DATE": "1578616200"}
    assert tags.expand(
        ["type=schedule,pattern={{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}"], values
    ) == ["20200110-0930"]
    assert tags.expand(["c-{{commit_date 'YYYY.MM.DD'}}"], values) == ["c-2023.11.14"]


def one_rule_project(tmp_path: Path, entry: object) -> Path:
    """A project whose one target has the one tag rule `entry` (on builds.yaml's line 5)."""
    text = f"""\
        version: 1
        project: {{name: app, image: localhost:5000/app}}
        targets:
          production:
            tags:
              - {json.dumps(entry)}
        """
    return write_project(tmp_path, text)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("type=nope", "unknown type 'nope'"),
        ("type=semver", "semver needs a pattern"),
        ("type=ref", "ref needs event=branch, tag or pr"),
        ("type=raw,value=x,colour=red", "unknown attribute 'colour'"),
        ("type=raw,value=x,enable=maybe", "enable must be true or false"),
        ("type=raw,value={{nope}}", "unknown expression {{nope}}"),
        ("type=raw,value=x{{date 'YYYY' tz='Mars/Base'}}", "unknown time zone 'Mars/Base'"),
        ("type=sha,format=medium", "format must be short or long"),
        # An invalid regex ended in exit 3, and only where it runs: on a tag, at release time.
        ("type=match,pattern=(", "pattern is not a regular expression"),
        ("type=match,pattern=/(/g", "pattern is not a regular expression"),
        ("type=semver,pattern={{version}},match=(", "match is not a regular expression"),
    ],
)
def test_bad_rules_are_user_errors(tmp_path: Path, entry: str, message: str) -> None:
    path = one_rule_project(tmp_path, entry)
    with pytest.raises(ManifestError) as info:
        resolve(path)
    assert f"{path}:5: targets.production.tags: " in str(info.value)
    assert message in str(info.value)


def test_event_variables_can_be_overridden_with_var(tmp_path: Path) -> None:
    text = """\
        version: 1
        project: {name: app, image: localhost:5000/app}
        targets:
          production:
            tags: [{type: semver, pattern: "{{version}}"}, {type: ref, event: pr}]
            flavor: {latest: "false"}
        """
    path = write_project(tmp_path, text)
    on_branch = GIT.__class__(**{**GIT.__dict__, "tag": ""})
    assert resolve(path, git=on_branch).targets[0].tags == ()
    tagged = resolve(path, git=on_branch, cli={"GIT_REF": "refs/tags/v9.1.0"})
    assert tagged.targets[0].tags == ("localhost:5000/app:9.1.0",)
    pr = resolve(path, git=on_branch, cli={"GIT_REF": "refs/pull/4/merge"})
    assert pr.targets[0].tags == ("localhost:5000/app:pr-4",)


def test_the_readme_tags_example_plans(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```yaml\n")[1:] if b.startswith("tags:\n"))
    example = block.split("```")[0]
    indented = "\n".join("    " + line for line in example.splitlines())
    text = f"version: 1\nproject: {{name: app, image: localhost:5000/app}}\ntargets:\n  production:\n{indented}\n"
    path = write_project(tmp_path, text)
    got = [t.rsplit(":", 1)[1] for t in resolve(path, cli={"BUILD_DATE": "0"}).targets[0].tags]
    # GIT is HEAD at v1.2.3 on main, a plain checkout: the branch is the ref (as
    # metadata-action's git context), so the typed semver/pep440/match rules give nothing and
    # the keywords say the version. Sorted: 900 semver, 700 edge, 600 ref, 200 latest and
    # the rest in the order written, 100 the sha rules.
    assert got == [
        "1.2.3",
        "1.2",
        "1",
        "edge",
        "main",
        "latest",
        "dev-0123456",
        "stable",
        "sha-0123456",
        "git-0123456789abcdef0123456789abcdef01234567",
    ]
    tagged = resolve(path, cli={"BUILD_DATE": "0", "GIT_REF": "refs/tags/v1.2.3"})
    got = [t.rsplit(":", 1)[1] for t in tagged.targets[0].tags]
    assert got[:3] == ["1.2.3", "1.2", "1"]
    assert "edge" not in got  # not on a branch now
    assert "v1.2.3" not in got  # no `ref, event: tag` rule in the example


def test_schema_has_the_rules_and_the_flavor() -> None:
    from orchestrator import manifest

    schema = json.dumps(manifest.json_schema())
    assert '"flavor"' in schema
    assert '"suffix-onlatest"' in schema
    assert '"pep440"' in schema


def test_labels_as_annotations_when_asked(tmp_path: Path) -> None:
    from orchestrator import argv

    text = """\
        version: 1
        project: {name: app, image: localhost:5000/app, licenses: MIT}
        targets:
          production:
            tags: [semver]
            annotations: ["index:org.opencontainers.image.title=Mine", "index:team=core"]
            label-annotations: [manifest, index]
            platforms: [linux/amd64, linux/arm64]
        """
    target = resolve(write_project(tmp_path, text)).targets[0]
    oci = "org.opencontainers.image"
    assert target.annotations[:2] == (
        "index:org.opencontainers.image.title=Mine",
        "index:team=core",
    )
    generated = dict(a.split("=", 1) for a in target.annotations[2:])
    want = {
        f"{oci}.created": "2023-11-14T22:13:20Z",
        f"{oci}.licenses": "MIT",
        f"{oci}.revision": GIT.commit,
        f"{oci}.version": "1.2.3",
    }  # title: the target's own annotation wins
    assert generated == {
        f"{level}:{k}": v for level in ("manifest", "index") for k, v in want.items()
    }
    assert argv.bake_target(target)["annotations"] == list(target.annotations)
    single = resolve(write_project(tmp_path, text.replace(", linux/arm64", ""))).targets[0]
    assert [a for a in single.annotations[2:] if a.startswith("index:")] == []  # BuildKit refuses
    assert len(single.annotations) == 2 + len(want)


def test_no_label_annotations_unless_asked(tmp_path: Path) -> None:
    text = """\
        version: 1
        project: {name: app, image: localhost:5000/app}
        targets:
          production: {tags: [semver]}
        """
    assert resolve(write_project(tmp_path, text)).targets[0].annotations == ()


def test_jenkins_git_plugin_variables_are_read_in_its_format(tmp_path: Path) -> None:
    """Jenkins's git plugin sets GIT_BRANCH=origin/<branch> and GIT_COMMIT=<full sha> on every
    job; they override the built-ins (often the only branch a detached Jenkins checkout has)
    as the branch and the commit, not as `origin/...` and a 40-character "short" sha."""
    path = write_project(tmp_path, JENKINS_YAML, "FROM busybox:1.35 AS app\n")
    full = "89abcdef0123456789abcdef0123456789abcdef"
    env = {"JENKINS_URL": "http://ci", "GIT_BRANCH": "origin/feature/login", "GIT_COMMIT": full}
    plan = resolve(path, env=env, git=DETACHED)
    values = plan.variables
    assert (values["GIT_BRANCH"], values["GIT_BRANCH_SLUG"]) == ("feature/login", "feature-login")
    assert (values["GIT_COMMIT"], values["GIT_COMMIT_FULL"]) == ("89abcde", full)
    (target,) = plan.targets
    assert list(target.tags) == ["localhost:5000/j:b-feature-login", "localhost:5000/j:c-89abcde"]
    # Outside Jenkins an `origin/` prefix is the user's own value: kept as given.
    values = resolve(path, env={"GIT_BRANCH": "origin/x"}).variables
    assert (values["GIT_BRANCH"], values["GIT_BRANCH_SLUG"]) == ("origin/x", "origin-x")


def test_an_overridden_git_fact_keeps_its_other_form_in_step() -> None:
    from orchestrator import gitinfo

    builtins = GIT.variables()
    values = {**builtins, "GIT_BRANCH": "release/2.0"}
    gitinfo.settle(values, builtins)
    assert values["GIT_BRANCH_SLUG"] == "release-2.0"
    # Each form given on its own is as given: a short commit, a slug of the user's choice.
    values = {**builtins, "GIT_COMMIT": "abc", "GIT_BRANCH": "x/y", "GIT_BRANCH_SLUG": "mine"}
    gitinfo.settle(values, builtins)
    assert (values["GIT_COMMIT"], values["GIT_COMMIT_FULL"]) == ("abc", GIT.commit)
    assert values["GIT_BRANCH_SLUG"] == "mine"
    upper = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
    values = {**builtins, "GIT_COMMIT": upper, "GIT_COMMIT_FULL": "given"}
    gitinfo.settle(values, builtins)
    assert (values["GIT_COMMIT"], values["GIT_COMMIT_FULL"]) == (upper, "given")


JENKINS_YAML = """\
version: 1
project: {name: j, image: "localhost:5000/j"}
targets:
  app:
    stage: app
    tags: ["b-${GIT_BRANCH_SLUG}", "c-${GIT_COMMIT}"]
"""


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "match", "pattern": "(.*){1,32000}[bc]", "group": 1},
        {"type": "match", "pattern": "/(.*){1,32000}[bc]/g"},
        {"type": "semver", "pattern": "{{version}}", "match": "(.*){1,32000}[bc](\\d+)"},
    ],
)
def test_a_regex_that_backtracks_without_end_is_one_line_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict[str, str]
) -> None:
    """Python's re has no timeout: a rule's regex that backtracks without end on a long tag
    (`(.*){1,32000}[bc]`; in re also `((a*)*)*b`) held `plan` forever."""
    monkeypatch.setattr(tagrules, "MATCH_TIMEOUT", 0.2)
    path = one_rule_project(tmp_path, entry)
    started = time.monotonic()
    with pytest.raises(ManifestError) as info:
        resolve(path, cli={"GIT_REF": "refs/tags/" + "a" * 40})
    assert time.monotonic() - started < 30
    assert f"{path}:5: targets.production.tags: " in str(info.value)
    assert "took more than 0.2 s" in str(info.value)
