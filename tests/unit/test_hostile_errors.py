"""Issue 16, errors that teach: a problem is reported at the key and line to edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ManifestError, UserError
from tests.unit import helpers

DOCKERFILE = "FROM busybox:1.35 AS app\n"


def project(tmp: Path, head: str, target: str = "    stage: app\n") -> Path:
    text = "version: 1\nproject:\n  name: e\n" + head + "targets:\n  app:\n" + target
    return helpers.write_project(tmp, text, DOCKERFILE)


def test_a_project_image_problem_is_reported_at_the_project_key(tmp_path: Path) -> None:
    path = project(tmp_path, "  image: localhost:5000/Bad\n")
    with pytest.raises(ManifestError, match=r"builds\.yaml:4: project\.image: "):
        helpers.resolve(path, ["app"])


def test_a_missing_project_dockerfile_is_reported_at_the_project_key(tmp_path: Path) -> None:
    path = project(tmp_path, "  image: localhost:5000/e\n  dockerfile: Nope\n")
    with pytest.raises(ManifestError, match=r"builds\.yaml:5: project\.dockerfile: .*not found"):
        helpers.resolve(path, ["app"])


def test_a_missing_default_dockerfile_is_reported_at_the_target(tmp_path: Path) -> None:
    """Nobody wrote `dockerfile:`: the error names the target (whose context has no
    Dockerfile), not a `project.dockerfile` key that is not in the file."""
    path = project(tmp_path, "  image: localhost:5000/e\n", "    context: sub\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert caught.value.message == f"{path}:6: targets.app: " + (
        "no Dockerfile at sub/Dockerfile (the default `Dockerfile` "
        "of its context); set `dockerfile:` in the target or `project.dockerfile`"
    )


@pytest.mark.parametrize(
    ("context", "what"), [("nonexist", "directory not found"), ("Dockerfile", "is not a directory")]
)
def test_a_context_that_is_no_directory_is_reported_at_the_context_key(
    tmp_path: Path, context: str, what: str
) -> None:
    """It was reported as a missing `project.dockerfile` (`nonexist/Dockerfile` not found)."""
    path = project(tmp_path, "  image: localhost:5000/e\n", f"    context: {context}\n")
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert caught.value.message == f"{path}:7: targets.app.context: {context}: {what}"


def test_an_arg_is_reported_at_its_own_line(tmp_path: Path) -> None:
    """It was reported at the target's line as `targets.app.args.A`."""
    target = "    stage: app\n    args:\n      OK: x\n      A: '${UNDEFINED}'\n"
    path = project(tmp_path, "  image: localhost:5000/e\n", target)
    with pytest.raises(ManifestError, match=r"builds\.yaml:10: targets\.app\.args\.A: unknown"):
        helpers.resolve(path, ["app"])
    with pytest.raises(ManifestError, match=r"^--set app\.args\.A=\$\{Z:\?gone\}: \$\{Z\}: gone"):
        helpers.resolve(path, ["app"], sets=["app.args.A=${Z:?gone}"])


def test_a_dockerfile_without_from_is_the_targets_problem(tmp_path: Path) -> None:
    """No `stage:` is written: the error named `targets.app.stage` all the same."""
    path = project(tmp_path, "  image: localhost:5000/e\n", "    tags: [a]\n")
    (tmp_path / "Dockerfile").write_text("# nothing yet\n")
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert caught.value.message.startswith(f"{path}:6: targets.app: ")
    assert caught.value.message.endswith("no FROM instruction")


def test_a_defaults_value_is_reported_at_defaults(tmp_path: Path) -> None:
    path = project(tmp_path, "  image: localhost:5000/e\ndefaults:\n  image: 'x:5000/${NOPE}'\n")
    with pytest.raises(ManifestError, match=r"builds\.yaml:6: defaults\.image: unknown variable"):
        helpers.resolve(path, ["app"])


def test_an_undeclared_name_set_in_the_environment_is_told_why_it_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment overrides declared names only; "define it in the environment" sent a
    user whose shell already had it in circles."""
    path = project(
        tmp_path, "  image: localhost:5000/e\n", "    stage: app\n    tags: ['${TAG}']\n"
    )
    monkeypatch.delenv("TAG", raising=False)
    with pytest.raises(ManifestError, match=r"define it under `variables:` .* --var TAG=VALUE"):
        helpers.resolve(path, ["app"])
    monkeypatch.setenv("TAG", "x")
    with pytest.raises(
        ManifestError, match=r"TAG is set in the environment, but .* declared under `variables:`"
    ):
        helpers.resolve(path, ["app"], env={"TAG": "x"})


def test_a_set_override_names_itself(tmp_path: Path) -> None:
    path = project(tmp_path, "  image: localhost:5000/e\n")
    with pytest.raises(ManifestError, match=r"^--set app\.image=localhost:5000/UP: "):
        helpers.resolve(path, ["app"], sets=["app.image=localhost:5000/UP"])


def test_problems_of_several_targets_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        "version: 1\nproject: {name: e, image: localhost:5000/e}\ntargets:\n"
        "  a: {stage: app, tags: ['${NOPE}']}\n"
        "  b: {stage: app, image: localhost:5000/Bad}\n"
    )
    path = helpers.write_project(tmp_path, text, DOCKERFILE)
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["a", "b"])
    lines = "\n".join(caught.value.lines())
    assert "2 problem(s)" in lines
    assert "targets.a.tags: unknown variable ${NOPE}" in lines
    assert "targets.b.image:" in lines


@pytest.mark.parametrize("digest", ["sha256:" + "A" * 64, "sha256:abc", "md5:" + "a" * 32])
def test_a_malformed_digest_in_from_is_refused_at_its_line(tmp_path: Path, digest: str) -> None:
    text = (
        "version: 1\nproject: {name: e, image: localhost:5000/e}\ntargets:\n  app: {pin: digest}\n"
    )
    path = helpers.write_project(
        tmp_path, text, f"FROM busybox:1.35 AS base\nFROM busybox@{digest} AS app\n"
    )
    with pytest.raises(UserError, match=r"Dockerfile:2: FROM busybox@"):
        helpers.resolve(path, ["app"])


def test_a_stage_set_on_the_command_line_names_the_set(tmp_path: Path) -> None:
    """It named `builds.yaml:5: targets.app.stage`, a key the file does not have."""
    path = project(tmp_path, "  image: localhost:5000/e\n", "    tags: [a]\n")
    with pytest.raises(ManifestError, match=r"^--set app\.stage=nosuch: .*no stage named 'nosuch'"):
        helpers.resolve(path, ["app"], sets=["app.stage=nosuch"])


@pytest.mark.parametrize(
    ("dockerfile", "says"),
    [
        (
            "ARG TAG=\nFROM busybox:${TAG} AS app\n",
            r"Dockerfile:2: FROM busybox:\$\{TAG\}: .*'busybox:'",
        ),
        ("FROM Alpine:3 AS app\n", r"Dockerfile:1: FROM Alpine:3: .*must be lowercase"),
        (
            "FROM busybox:1.35 AS app\nCOPY --from=alpin\u00e9:3 /x /x\n",
            r"Dockerfile:2: invalid image reference 'alpin\u00e9:3'",
        ),
    ],
)
def test_an_image_buildkit_cannot_parse_once_expanded_is_refused_at_its_line(
    tmp_path: Path, dockerfile: str, says: str
) -> None:
    """BuildKit fails such a build; the plan said `base: busybox:` and went on."""
    text = "version: 1\nproject: {name: e, image: localhost:5000/e}\ntargets:\n  app: {}\n"
    path = helpers.write_project(tmp_path, text, dockerfile)
    with pytest.raises(UserError, match=says):
        helpers.resolve(path, ["app"])


def test_a_pushed_target_whose_staging_tag_cannot_be_a_tag_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    """Pushes go to `orchestrator-staging-<target>` first: a target name of 108+ characters
    planned fine and would fail at the push, a tag being at most 128 characters."""
    long = "a" * 108
    text = (
        "version: 1\nproject: {name: e, image: localhost:5000/e}\ntargets:\n"
        f"  {long}: {{stage: app, outputs: [push]}}\n  {long[:-1]}: {{stage: app, outputs: [push]}}\n"
        f"  {long}b: {{stage: app, outputs: [load]}}\n"
    )
    path = helpers.write_project(tmp_path, text, DOCKERFILE)
    with pytest.raises(ManifestError, match=rf"builds\.yaml:4: targets\.{long}: .*at most 107"):
        helpers.resolve(path, [long])
    assert helpers.resolve(path, [long[:-1], f"{long}b"]).targets  # 107, or not pushed
