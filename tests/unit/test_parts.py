"""Issue 17 without an engine: parts of a target, the merge rules, fan-out splitting, and the
one-line refusals of `publish` for reports that cannot be merged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from orchestrator import executor, fanout, gitinfo, manifest, parts, refs, yamlsrc
from orchestrator.errors import UserError
from orchestrator.main import main
from tests.unit.helpers import GIT, resolve, write_project


def _part(**kw: object) -> parts.Part:
    base: dict[str, object] = {
        "project": "app",
        "target": "production",
        "repository": "localhost:5000/app",
        "commit": GIT.commit,
        "version": "1.2.3",
        "fingerprint": "sha256:" + "f" * 64,
        "declared": ("linux/amd64", "linux/arm64"),
        "digest": "sha256:" + "a" * 64,
        "platforms": {"linux/amd64": "sha256:" + "1" * 64},
        "source": "amd64.json",
    }
    base.update(kw)
    return parts.Part(**base)  # type: ignore[arg-type]


ARM = {"platforms": {"linux/arm64": "sha256:" + "2" * 64}, "source": "arm64.json"}


def test_restrict_narrows_platforms_and_pushes_under_a_part_tag(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path), ["production"])
    narrowed, wholes = parts.restrict(plan, ["linux/arm64"])
    t = narrowed.target("production")
    assert t.platforms == ("linux/arm64",)
    assert t.outputs == (
        "type=image,name=localhost:5000/app:orchestrator-staging-production-linux-arm64,push=true",
    )
    assert wholes["production"].declared == ("linux/amd64", "linux/arm64")
    # Every part of a target carries the same fingerprint: that of the whole target.
    other, _ = parts.restrict(plan, ["linux/amd64"])
    assert wholes["production"].fingerprint == parts.fingerprint(plan.target("production"))
    assert parts.fingerprint(other.target("production")) != wholes["production"].fingerprint


def test_a_platform_is_asked_for_as_buildkit_names_it(tmp_path: Path) -> None:
    """`--platform linux/arm64/v8` for a target of `linux/arm64` was "not one of its
    platforms"; BuildKit builds the same image for both spellings."""
    plan = resolve(write_project(tmp_path), ["production"])
    narrowed, _ = parts.restrict(plan, ["linux/arm64/v8"])
    assert narrowed.target("production").platforms == ("linux/arm64",)
    again, _ = parts.restrict(plan, ["linux/amd64/v1"])
    assert again.target("production").platforms == ("linux/amd64",)


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        (["linux/s390x"], "production: linux/s390x is not one of its platforms"),
        (["linux/arm64", "linux/arm64"], "--platform linux/arm64: given twice"),
        (["linux/arm64", "linux/arm64/v8"], "--platform linux/arm64/v8: given twice"),
        (["linux"], "--platform 'linux': invalid platform"),
    ],
)
def test_restrict_refuses_platforms_a_target_does_not_build(
    tmp_path: Path, asked: list[str], message: str
) -> None:
    plan = resolve(write_project(tmp_path), ["production"])
    with pytest.raises(UserError) as caught:
        parts.restrict(plan, asked)
    assert message in "\n".join(caught.value.lines())


def test_restrict_refuses_a_target_without_platforms(tmp_path: Path) -> None:
    text = (tmp_path / "x").parent / "builds.yaml"
    path = write_project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("  platforms: [linux/amd64]\n", ""))
    plan = resolve(text, ["development"])
    with pytest.raises(UserError) as caught:
        parts.restrict(plan, ["linux/amd64"])
    assert "development: declares no platforms" in "\n".join(caught.value.lines())


def test_mergeable_parts_are_sorted_by_platform() -> None:
    arm, amd = _part(**ARM), _part()
    assert parts.mergeable([arm, amd], "production") == [amd, arm]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"commit": "f" * 40}, "production: parts differ in commit"),
        ({"version": "1.2.4"}, "production: parts differ in version: 1.2.3 (amd64.json) vs 1.2.4"),
        ({"fingerprint": "sha256:" + "e" * 64}, "production: parts differ in fingerprint"),
        ({"platforms": {"linux/amd64": "sha256:" + "3" * 64}}, "linux/amd64 is in two parts"),
    ],
)
def test_parts_that_do_not_form_one_image_are_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError) as caught:
        parts.mergeable([_part(), _part(**{**ARM, **change})], "production")
    assert message in caught.value.message
    assert caught.value.message.endswith("nothing was tagged")


def test_a_missing_platform_is_refused() -> None:
    with pytest.raises(UserError) as caught:
        parts.mergeable([_part()], "production")
    assert caught.value.message == (
        "production: no part for linux/arm64 (have linux/amd64); nothing was tagged"
    )


def _report(path: Path, **kw: object) -> Path:
    data: dict[str, object] = {
        "format": "orchestrator-report/1",
        "project": "app",
        "targets": [{"name": "production", "part": _part().to_dict()}],
    }
    data.update(kw)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not an orchestrator report"),
        (json.dumps({"targets": []}), "not an orchestrator report (expected format"),
        (None, "a report of project 'other', not 'app'"),
        (json.dumps({"format": "orchestrator-report/1", "project": "app", "targets": [{}]}),
         "holds no part (was it written by `orchestrator build --platform`?)"),
    ],
)  # fmt: skip
def test_publish_refuses_reports_that_are_not_parts_of_this_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = write_project(tmp_path)
    report = tmp_path / "r.json"
    if content is None:
        _report(report, project="other")
    else:
        report.write_text(content, encoding="utf-8")
    assert main(["publish", "-f", str(path), "--from", str(report)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize("kind", ["fifo", "directory", "missing"])
def test_publish_names_what_a_report_path_is_when_it_is_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = write_project(tmp_path)
    report = tmp_path / "r.json"
    if kind == "fifo":
        os.mkfifo(report)  # refused at once: never opened, so never a hang
    elif kind == "directory":
        report.mkdir()
    assert main(["publish", "-f", str(path), "--from", str(report)]) == 2
    err = capsys.readouterr().err
    want = "no such report file" if kind == "missing" else "not a regular file"
    assert f"{report}: {want}" in err
    assert err.count("\n") == 1


def test_publish_refuses_parts_of_another_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_project(tmp_path)
    arm = _part(**ARM).to_dict()
    data = {"format": "orchestrator-report/1", "project": "app"}
    a = _report(tmp_path / "a.json")
    b = tmp_path / "b.json"
    b.write_text(json.dumps({**data, "targets": [{"part": arm}]}), encoding="utf-8")
    assert main(["publish", "-f", str(path), "--from", str(a), "--from", str(b)]) == 2
    assert "production: the parts were built from another plan" in capsys.readouterr().err


FANOUT = """\
builder:
  name: farm
  driver: fan-out
  nodes:
    - {name: one, endpoint: "unix:///a.sock", platforms: [linux/amd64]}
    - {name: two, endpoint: "ssh://arm-host", platforms: [linux/arm64]}
"""


def test_fan_out_splits_pushed_targets_by_node_and_builds_the_rest_on_the_first(
    tmp_path: Path,
) -> None:
    path = write_project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + FANOUT, encoding="utf-8")
    located = yamlsrc.load(path)
    man = manifest.validate(located)
    assert man.builder is not None
    plan = resolve(path, ["all"])
    work, wholes = fanout.split(plan, list(man.builder.nodes))
    by_node = {w.node.name: w for w in work}
    assert by_node["one"].engine == {"DOCKER_HOST": "unix:///a.sock"}
    assert [(t.name, t.platforms) for t in by_node["one"].plan.targets] == [
        ("development", ("linux/amd64",)),
        ("production", ("linux/amd64",)),
    ]
    assert [(t.name, t.platforms) for t in by_node["two"].plan.targets] == [
        ("production", ("linux/arm64",)),
    ]
    assert set(wholes) == {"production"}
    assert fanout.endpoint_env("arm-ctx") == {"DOCKER_CONTEXT": "arm-ctx"}


def test_fan_out_refuses_a_platform_no_node_builds(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8") + FANOUT.split("    - {name: two", maxsplit=1)[0],
        encoding="utf-8",
    )
    man = manifest.validate(yamlsrc.load(path))
    assert man.builder is not None
    with pytest.raises(UserError) as caught:
        fanout.split(resolve(path, ["production"]), list(man.builder.nodes))
    assert "production: no node of the fan-out builder builds linux/arm64" in "\n".join(
        caught.value.lines()
    )


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ("  nodes: []\n", "a fan-out builder needs nodes"),
        (
            "  nodes:\n    - {name: one, platforms: [linux/amd64]}\n",
            "needs an endpoint and platforms",
        ),
        (
            "  nodes:\n    - {name: a, endpoint: x, platforms: [linux/amd64]}\n"
            "    - {name: b, endpoint: y, platforms: [linux/amd64]}\n",
            "linux/amd64 is on nodes 'a' and 'b'",
        ),
    ],
)
def test_fan_out_builder_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nodes: str, message: str
) -> None:
    path = write_project(tmp_path)
    text = path.read_text(encoding="utf-8") + "builder:\n  name: farm\n  driver: fan-out\n" + nodes
    path.write_text(text, encoding="utf-8")
    assert main(["plan", "-f", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_part_tags_of_a_long_target_name_stay_apart_and_valid() -> None:
    """A tag is at most 128 characters; cutting there made amd64's and arm64's part tags of a
    ~100-character target name the same tag (each part's push replaced the other's)."""
    name = "t" * 100
    amd64 = parts.part_tag(name, ["linux/amd64"])
    arm64 = parts.part_tag(name, ["linux/arm64"])
    assert amd64 != arm64
    for tag in (amd64, arm64, parts.part_tag("x" * 107, ["linux/amd64", "linux/arm64"])):
        assert len(tag) <= 128
        assert refs.is_valid_tag(tag)
    # the same input gives the same tag (CI runners of one build must agree on it)
    assert parts.part_tag(name, ["linux/amd64"]) == amd64
    # short names are unchanged
    assert parts.part_tag("app", ["linux/amd64"]) == "orchestrator-staging-app-linux-amd64"


def _parts_of_this_plan(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    """builds.yaml and a part per platform that `publish` would merge as they are."""
    path = write_project(tmp_path)
    here = resolve(path, ["production"], git=gitinfo.read(tmp_path))
    t = here.target("production")
    found = []
    for n, platform in enumerate(t.platforms, 1):
        part = parts.record(
            here,
            t,
            parts.Whole(parts.fingerprint(t), t.platforms),
            "sha256:" + str(n) * 64,
            {platform: "sha256:" + str(n + 4) * 64},
        )
        found.append(part.to_dict())
    return path, found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"digest": "sha256:abc"}, "digest: 'sha256:abc' is not a sha256 digest"),
        ({"digest": "sha256:" + "A" * 64}, "is not a sha256 digest"),
        ({"platforms": {"linux/amd64": "sha256:../../x"}}, "platforms.linux/amd64: 'sha256:../"),
        ({"platforms": {"LINUX!!": "sha256:" + "1" * 64}}, "platforms: invalid platform 'LINUX!!'"),
        ({"declared": ["not a platform"]}, "declared: invalid platform 'not a platform'"),
        ({"declared": "linux/amd64"}, "a part record without the fields a merge needs"),
        ({"commit": None}, "a part record without the fields a merge needs"),
        ({"version": 1}, "a part record without the fields a merge needs"),
        ({"repository": "evil.example/app"}, "the parts push to evil.example/app, not"),
    ],
)
def test_publish_refuses_a_tampered_part_before_any_registry_call(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, object],
    message: str,
) -> None:
    # A part is read from another machine's artifact: what it says is merged by digest from
    # the repository it names, so every field that reaches the registry is checked first.
    def no_registry(*_: object, **__: object) -> None:
        raise AssertionError("the registry was asked")

    for name in ("merge", "index_digest", "platform_digests", "publish"):
        monkeypatch.setattr(executor, name, no_registry)
    path, found = _parts_of_this_plan(tmp_path)
    data = {"format": "orchestrator-report/1", "project": "app"}
    argv = ["publish", "-f", str(path)]
    for n, part in enumerate(found):
        changed = {**part, **change} if n == 0 or "repository" in change else part
        report = tmp_path / f"r{n}.json"
        report.write_text(json.dumps({**data, "targets": [{"part": changed}]}), encoding="utf-8")
        argv += ["--from", str(report)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "[" + "1" * 5000 + "]"],
    ids=["nested too deeply", "an integer of 5000 digits"],
)
def test_publish_refuses_a_report_json_cannot_hold_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = write_project(tmp_path)
    report = tmp_path / "r.json"
    report.write_text(text, encoding="utf-8")
    assert main(["publish", "-f", str(path), "--from", str(report)]) == 2
    err = capsys.readouterr().err
    assert f"{report}: not an orchestrator report" in err
    assert err.count("\n") == 1
