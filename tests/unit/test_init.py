"""`orchestrator init`: a builds.yaml that plans and checks, drafted from the Dockerfiles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator import dockerfile, scaffold
from orchestrator.errors import UserError
from orchestrator.main import main
from tests.conftest import ROOT
from tests.unit.helpers import resolve

EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/builds.yaml"))

CROSS = """\
FROM --platform=$BUILDPLATFORM golang:1.23 AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /app .
FROM scratch AS production
COPY --from=build /app /app
USER 10001
ENTRYPOINT ["/app"]
FROM golang:1.23 AS development
CMD ["go", "run", "."]
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=path, check=True, capture_output=True, timeout=30)


def _init_plan_check(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.chdir(path)
    assert main(["init"]) == 0
    assert main(["plan", "all" if "all" in (path / "builds.yaml").read_text() else "default"]) == 0
    assert main(["check", "--no-hadolint"]) == 0
    data: dict[str, object] = yaml.safe_load((path / "builds.yaml").read_text())
    return data


def test_there_are_examples_to_try() -> None:
    assert len(EXAMPLES) >= 1


@pytest.mark.parametrize("example", EXAMPLES)
def test_init_on_each_example_plans_and_checks(
    example: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, dest)
    (dest / "builds.yaml").unlink()
    _git_init(dest)
    data = _init_plan_check(dest, monkeypatch)
    targets = data["targets"]
    assert isinstance(targets, dict)
    assert targets, "no target drafted"
    for spec in targets.values():
        assert spec["tags"] in (["semver", "sha"], ["dev"])
    assert "wrote builds.yaml" in capsys.readouterr().err


def test_init_in_a_fresh_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _git_init(tmp_path)
    (tmp_path / "Dockerfile").write_text(CROSS)
    (tmp_path / ".dockerignore").write_text("*\n!main.go\n")
    data = _init_plan_check(tmp_path, monkeypatch)
    targets = data["targets"]
    assert isinstance(targets, dict)
    assert set(targets) == {"production", "development"}
    assert targets["production"]["platforms"] == ["linux/amd64", "linux/arm64"]
    assert targets["production"]["outputs"] == ["push"]
    assert "platforms" not in targets["development"]
    assert targets["development"]["outputs"] == ["load"]
    assert data["groups"] == {"default": ["production"], "all": ["production", "development"]}


def test_init_never_overwrites_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(CROSS)
    (tmp_path / "builds.yaml").write_text("mine\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 2
    assert capsys.readouterr().err == (
        "error: builds.yaml: already exists; `orchestrator init --force` replaces it\n"
    )
    assert (tmp_path / "builds.yaml").read_text() == "mine\n"
    assert main(["init", "--force"]) == 0
    assert "production:" in (tmp_path / "builds.yaml").read_text()


def test_init_without_a_dockerfile_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: .: no Dockerfile found")
    assert not (tmp_path / "builds.yaml").exists()


def test_several_dockerfiles_get_their_own_targets_and_images(tmp_path: Path) -> None:
    for sub in ("api", "web"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "Dockerfile").write_text(f"FROM busybox:1.35 AS {sub}\nUSER 1\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "Dockerfile").write_text("FROM busybox\n")
    found = scaffold.find(tmp_path)
    assert found == [Path("api/Dockerfile"), Path("web/Dockerfile")]
    drafts = scaffold.drafts(scaffold.parse_all(tmp_path, found), "shop")
    assert [(d.name, d.stage, d.context, d.image) for d in drafts] == [
        ("api", None, "api", "${REGISTRY}/shop-api"),
        ("web", None, "web", "${REGISTRY}/shop-web"),
    ]


def test_last_stage_named_otherwise_is_named_by_stage() -> None:
    parsed = dockerfile.parse("FROM busybox:1.35 AS base\nFROM base AS runtime\n", Path("D"))
    (draft,) = scaffold.drafts([(Path("Dockerfile"), parsed)], "proj")
    assert (draft.name, draft.stage, draft.platforms) == ("runtime", None, ())


def test_cross_compiling_needs_a_target_arg_in_a_build_platform_stage() -> None:
    emulated = dockerfile.parse(
        "FROM --platform=$BUILDPLATFORM busybox AS a\nRUN true\n", Path("D")
    )
    assert not scaffold.cross_compiles(emulated)
    assert scaffold.cross_compiles(dockerfile.parse(CROSS, Path("D")))


def _write_tree(root: Path, files: dict[str, str]) -> list[scaffold.Draft]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return scaffold.drafts(scaffold.parse_all(root, scaffold.find(root)), "shop")


def _contexts(drafts: list[scaffold.Draft]) -> dict[str, dict[str, str]]:
    return {d.name: dict(d.contexts) for d in drafts if d.contexts}


def test_a_from_naming_another_drafted_target_becomes_a_target_context(tmp_path: Path) -> None:
    drafts = _write_tree(
        tmp_path,
        {
            "images/base/Dockerfile": "FROM busybox:1.35\nUSER 65534\n",
            "api/Dockerfile": "FROM base\nCOPY x /x\n",  # the folder of one Dockerfile
            "web/Dockerfile": "FROM busybox:1.35 AS b\nCOPY --from=api /x /x\n",  # a draft name
            "tagged/Dockerfile": "FROM base:1.0\n",  # a tag: a registry image, not linked
            "remote/Dockerfile": "FROM example.com/base\n",  # a registry: not linked
        },
    )
    assert _contexts(drafts) == {
        "api": {"base": "target:images-base"},
        "web": {"api": "target:api"},
    }


def test_links_never_close_a_cycle_nor_point_at_a_development_stage(tmp_path: Path) -> None:
    drafts = _write_tree(
        tmp_path,
        {
            "a/Dockerfile": "FROM b\n",
            "b/Dockerfile": "FROM a\n",  # a -> b is linked first; b -> a would be a cycle
            "tools/Dockerfile": (
                "FROM busybox:1.35 AS production\nUSER 1\nFROM busybox:1.35 AS development\n"
            ),
            "c/Dockerfile": "FROM tools\n",
        },
    )
    assert _contexts(drafts) == {
        "a": {"b": "target:b"},
        "c": {"tools": "target:tools-production"},
    }


def test_init_writes_contexts_that_plan_and_check_accept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared base of a monorepo, drafted: without the link `check` called `FROM base` an
    untagged image (an error on a production target) and `build` would pull base:latest."""
    _write_tree(
        tmp_path,
        {
            "base/Dockerfile": 'FROM busybox:1.35\nUSER 65534\nENTRYPOINT ["/bin/sh"]\n',
            "svc/Dockerfile": "FROM base\nCOPY x /x\n",
            "svc/x": "x\n",
        },
    )
    _git_init(tmp_path)
    data = _init_plan_check(tmp_path, monkeypatch)
    targets = data["targets"]
    assert isinstance(targets, dict)
    assert targets["svc"]["contexts"] == {"base": "target:base"}
    assert "base" not in targets["base"].get("contexts", {})


def test_a_dockerfile_buildkit_would_refuse_is_passed_over_with_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repository's broken-on-purpose fixture does not stop init from drafting the rest."""
    drafts = _write_tree(
        tmp_path,
        {
            "api/Dockerfile": "FROM busybox:1.35\nUSER 65534\n",
            "tests/bad/Dockerfile": "FROM busybox:1.35 AS one\nFROM busybox:1.35 AS one\n",
        },
    )
    assert [d.context for d in drafts] == ["api"]
    err = capsys.readouterr().err
    assert "init: passed over" in err
    assert "tests/bad/Dockerfile:2: duplicate stage name 'one'" in err


GO_BUILDER = """\
FROM golang:1.23-bookworm AS Builder
RUN go build -o /app .
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /app /app
"""
TREES = {
    # The folder names the target, and `builder` is the first stage's name (matched case-
    # insensitively, as BuildKit does): the target must still build the last stage.
    "builder": {"Dockerfile": GO_BUILDER},
    "mono": {
        "builder/Dockerfile": GO_BUILDER,  # prefix `builder`, like a stage of its file
        "app/Dockerfile": "FROM busybox:1.35 AS app\nFROM busybox:1.35 AS runtime\n",
        "base/Dockerfile": "FROM busybox:1.35 AS base\nFROM base AS production\n",
        "a/b/Dockerfile": "FROM busybox:1.35 AS b\nFROM busybox:1.35\n",
        "a/Dockerfile.b": "FROM busybox:1.35 AS a-b\nFROM busybox:1.35\n",  # prefix a-b too
        "default/Dockerfile": "FROM busybox:1.35\n",  # a group init writes
        "all/Dockerfile": "FROM busybox:1.35 AS all\n",
    },
}


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_drafted_target_builds_the_stage_init_says_it_does(
    tree: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan builds the stage of a target's own name: a draft named like another stage of its
    file (the folder `builder` of a Go build) would build and push that stage instead."""
    root = tmp_path / tree
    root.mkdir()
    _write_tree(root, TREES[tree])
    monkeypatch.chdir(root)
    assert main(["init"]) == 0
    data = yaml.safe_load((root / "builds.yaml").read_text())
    planned = {
        t.name: t
        for t in resolve(root / "builds.yaml", ["all"] if len(data["targets"]) > 1 else []).targets
    }
    assert set(planned) == set(data["targets"])
    for name, spec in data["targets"].items():
        what, _, source = spec["description"].partition(" of ")
        parsed = dockerfile.load(root / source)
        meant = (
            parsed.stages[-1]
            if what == "the last stage"
            else parsed.find_stage(what.removeprefix("stage "))
        )
        stage = planned[name].stage
        built = parsed.stages[-1] if stage is None else parsed.find_stage(stage)
        assert built == meant, f"target {name} builds stage {built and built.label}"


def test_a_from_arg_without_a_default_is_drafted_as_an_arg_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`FROM ${BASE_IMAGE}` with no default is blank for BuildKit: the draft asks for it by name
    (plan refuses it until given) instead of drafting a target whose build fails."""
    _write_tree(
        tmp_path,
        {
            "Dockerfile": "ARG BASE_IMAGE\nFROM busybox:1.36 AS deps\n"
            "FROM ${BASE_IMAGE} AS production\nFROM busybox:1.36 AS development\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    err = capsys.readouterr().err
    assert "init: target production needs BASE_IMAGE: Dockerfile:3: FROM ${BASE_IMAGE}" in err
    targets = yaml.safe_load((tmp_path / "builds.yaml").read_text())["targets"]
    for name in ("production", "development"):  # BuildKit expands every stage's FROM
        assert targets[name]["args"] == {"BASE_IMAGE": "${BASE_IMAGE}"}
    with pytest.raises(UserError, match=r"args\.BASE_IMAGE: unknown variable \$\{BASE_IMAGE\}"):
        resolve(tmp_path / "builds.yaml", ["development"])
    given = resolve(tmp_path / "builds.yaml", ["all"], cli={"BASE_IMAGE": "alpine:3.21"})
    assert given.targets[0].args["BASE_IMAGE"] == "alpine:3.21"


def test_a_latin1_comment_is_drafted_like_any_dockerfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was passed over as not UTF-8, then init said the folder had no FROM at all."""
    (tmp_path / "Dockerfile").write_bytes(
        b"# Maintainer: Fran\xe7ois\nFROM busybox:1.36\nUSER 65534\n"
    )
    (tmp_path / ".dockerignore").write_bytes(b"# r\xe9sum\xe9\n.git\n")
    _git_init(tmp_path)
    _init_plan_check(tmp_path, monkeypatch)
    assert "passed over" not in capsys.readouterr().err


def test_when_every_dockerfile_is_passed_over_init_does_not_say_no_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36 AS a\nFROM busybox:1.36 AS a\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert "Dockerfile:2: duplicate stage name 'a'" in err
    assert "no Dockerfile init could draft from (1 found, each passed over above)" in err
    assert "no Dockerfile with a FROM" not in err
