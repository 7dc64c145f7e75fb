"""The build graph: optional stages, named contexts and target: edges, matrix, new bake keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import argv, dockerfile, manifest
from orchestrator.errors import ManifestError
from orchestrator.plan import LockView

from .helpers import resolve, write_project

DIGEST = "sha256:" + "b" * 64
HEAD = """\
version: 1
project: {name: app, image: localhost:5000/app}
"""
SINGLE = "FROM python:3.12\nRUN echo hi\n"


def project(tmp: Path, targets: str, dockerfile_text: str = SINGLE) -> Path:
    return write_project(tmp, HEAD + targets, dockerfile_text)


# --- 1. stages as BuildKit sees them -------------------------------------------------------
def test_unnamed_single_stage_builds_without_target(tmp_path: Path) -> None:
    path = project(tmp_path, "targets:\n  app: {}\n")
    t = resolve(path).target("app")
    assert t.stage is None
    assert "--target" not in argv.build_argv(t)
    assert "target" not in argv.bake_definition(resolve(path))["target"]["app"]
    assert [b.ref for b in t.base_images] == ["python:3.12"]


def test_last_stage_is_built_and_analysed_when_the_name_is_no_stage(tmp_path: Path) -> None:
    text = "FROM golang:1.23 AS build\nRUN go build\nFROM debian:12\nCOPY --from=build /x /x\n"
    path = project(tmp_path, "targets:\n  app: {}\n  build: {}\n", text)
    plan = resolve(path)
    app = plan.target("app")
    assert app.stage is None
    # the stages BuildKit builds for the last stage: both, so both bases are analysed
    assert [b.ref for b in app.base_images] == ["golang:1.23", "debian:12"]
    assert plan.target("build").stage == "build"  # a stage of the target's name still wins


def test_unnamed_middle_stage_cannot_be_targeted(tmp_path: Path) -> None:
    text = "FROM golang:1.23\nRUN go build\nFROM debian:12 AS final\n"
    path = project(tmp_path, "targets:\n  app: {stage: '0'}\n", text)
    with pytest.raises(ManifestError) as info:
        resolve(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: targets.app.stage: ")
    assert "stage 0 has no name" in message
    assert "`FROM golang:1.23 AS NAME`" in message


def test_parsed_dockerfile_travels_with_the_plan_and_is_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project(tmp_path, "targets:\n  a: {}\n  b: {}\n")
    calls: list[Path] = []
    real = dockerfile.parse

    def counting(text: str, where: Path) -> dockerfile.Dockerfile:
        calls.append(where)
        return real(text, where)

    monkeypatch.setattr(dockerfile, "parse", counting)
    dockerfile._MEMO.clear()
    plan = resolve(path)
    assert len(calls) == 1  # two targets, one Dockerfile, one parse
    assert plan.target("a").model() is plan.target("b").model()
    assert "parsed" not in plan.target("a").to_dict()
    json.dumps(plan.to_dict())  # still printable data
    (tmp_path / "Dockerfile").write_text("FROM python:3.13\n", encoding="utf-8")
    assert [b.ref for b in resolve(path).target("a").base_images] == ["python:3.13"]


# --- 2. contexts and the graph -------------------------------------------------------------
GRAPH = f"""\
targets:
  base: {{dockerfile: base.Dockerfile}}
  app:
    contexts: {{base: "target:base", assets: ./assets, tools: "docker-image://busybox:1.36",
      layout: "oci-layout://./layout@{DIGEST}", repo: "https://example.com/x.git#main"}}
    tags: [v1]
    outputs: [push]
"""


def graph(tmp: Path, targets: str = GRAPH) -> Path:
    path = project(tmp, targets, "FROM base\nCOPY --from=tools /bin/sh /sh\n")
    (tmp / "base.Dockerfile").write_text("FROM debian:12\n", encoding="utf-8")
    return path


def test_target_context_pulls_its_input_in_first_as_cache_only(tmp_path: Path) -> None:
    path = graph(tmp_path)
    plan = resolve(path, ["app"])
    assert [t.name for t in plan.targets] == ["base", "app"]
    base, app = plan.targets
    assert base.input_only
    assert base.outputs == ("type=cacheonly",)
    assert not base.push
    assert base.tags == ()
    assert app.depends_on == ("base",)
    assert app.build_contexts["base"] == "target:base"
    assert app.build_contexts["assets"] == str(tmp_path / "assets")
    assert app.build_contexts["layout"] == f"oci-layout://{tmp_path / 'layout'}@{DIGEST}"
    assert app.build_contexts["repo"] == "https://example.com/x.git#main"
    # `FROM base` is the context, not a registry image; `tools` is a docker-image context
    assert [b.ref for b in app.base_images] == ["busybox:1.36"]
    bake = argv.bake_definition(plan)
    assert bake["group"]["default"]["targets"] == ["base", "app"]
    assert bake["target"]["base"]["output"] == ["type=cacheonly"]
    assert bake["target"]["app"]["contexts"]["base"] == "target:base"


def test_selected_input_keeps_its_outputs(tmp_path: Path) -> None:
    path = graph(tmp_path)
    base = resolve(path, ["base", "app"]).target("base")
    assert not base.input_only
    assert base.outputs == ("type=docker",)
    own = graph(
        tmp_path,
        GRAPH.replace(
            "dockerfile: base.Dockerfile", "outputs: [push], dockerfile: base.Dockerfile"
        ),
    )
    base = resolve(own, ["app"]).target("base")
    assert base.push
    assert not base.input_only


def test_docker_image_context_gets_mirror_and_locked_digest(tmp_path: Path) -> None:
    path = graph(tmp_path, "mirrors: {busybox:1.36: localhost:5000/busybox:1.36}\n" + GRAPH)
    lock = LockView({"docker.io/library/busybox:1.36": ("localhost:5000/busybox:1.36", DIGEST)})
    app = resolve(path, ["app"], lock=lock).target("app")
    expected = f"docker-image://localhost:5000/busybox:1.36@{DIGEST}"
    assert app.build_contexts["tools"] == expected
    (tools,) = app.base_images
    assert tools.digest == DIGEST
    assert tools.where == f"{path}:7"


def test_contexts_cycle_is_named(tmp_path: Path) -> None:
    path = graph(
        tmp_path,
        "targets:\n  a: {contexts: {x: 'target:b'}}\n  b: {contexts: {y: 'target:c'}}\n"
        "  c: {contexts: {z: 'target:a'}}\n",
    )
    with pytest.raises(ManifestError, match=r"^contexts cycle: a -> b -> c -> a$"):
        resolve(path, ["a"])
    self_loop = graph(tmp_path, "targets:\n  a: {contexts: {x: 'target:a'}}\n")
    with pytest.raises(ManifestError, match=r"^contexts cycle: a -> a$"):
        resolve(self_loop)


def test_unknown_context_target_is_refused_at_its_line(tmp_path: Path) -> None:
    path = graph(tmp_path, "targets:\n  a:\n    contexts:\n      x: 'target:nope'\n")
    with pytest.raises(ManifestError) as info:
        resolve(path)
    assert (
        str(info.value)
        == f"{path}:6: targets.a.contexts.x: target:nope: no such target (a context names one target)"
    )


# --- 3. matrix ------------------------------------------------------------------------------
MATRIX = """\
variables: {variant: shadowed}
targets:
  app:
    name: "app-${variant}-${mode}"
    matrix: {variant: [slim, full], mode: [x]}
    args: {VARIANT: "${variant}"}
    tags: ["${variant}"]
"""


def test_matrix_expands_named_targets_and_a_group(tmp_path: Path) -> None:
    path = project(tmp_path, MATRIX)
    plan = resolve(path, ["app"])
    assert [t.name for t in plan.targets] == ["app-slim-x", "app-full-x"]
    slim = plan.target("app-slim-x")
    assert slim.args["VARIANT"] == "slim"  # the matrix value shadows the variable
    assert slim.tags == ("localhost:5000/app:slim",)
    assert [t.name for t in resolve(path, ["app-full-x"]).targets] == ["app-full-x"]
    over = resolve(path, ["app"], sets=["app.args.VARIANT=z"])
    assert {t.args["VARIANT"] for t in over.targets} == {"z"}


def test_matrix_default_name_and_duplicates(tmp_path: Path) -> None:
    path = project(tmp_path, "targets:\n  app:\n    matrix: {v: [a.1, b]}\n")
    assert [t.name for t in resolve(path).targets] == ["app-a_1", "app-b"]
    dup = project(tmp_path, "targets:\n  app:\n    name: app\n    matrix: {v: [a, b]}\n")
    with pytest.raises(ManifestError, match="the matrix makes 'app' twice"):
        resolve(dup)


# --- 4. bake attributes ---------------------------------------------------------------------
KEYS = """\
targets:
  app:
    network: host
    extra-hosts: {db: 10.0.0.2}
    shm-size: 128m
    ulimits: [nofile=1024:2048]
    entitlements: [network.host]
    annotations: ["index:org.opencontainers.image.title=app"]
    no-cache-filter: [app]
    pull: true
    images: [localhost:5000/app, localhost:5000/mirror/app]
    tags: [v1]
    outputs: [push]
"""


def test_new_keys_reach_argv_bake_and_schema(tmp_path: Path) -> None:
    path = project(tmp_path, KEYS)
    plan = resolve(path)
    t = plan.target("app")
    assert t.tags == ("localhost:5000/app:v1", "localhost:5000/mirror/app:v1")
    assert t.repository == "localhost:5000/app"
    line = argv.build_argv(t)
    for flag, value in [
        ("--network", "host"),
        ("--add-host", "db:10.0.0.2"),
        ("--shm-size", "128m"),
        ("--ulimit", "nofile=1024:2048"),
        ("--allow", "network.host"),
        ("--annotation", "index:org.opencontainers.image.title=app"),
        ("--no-cache-filter", "app"),
    ]:
        assert line[line.index(flag) + 1] == value
    assert "--pull" in line
    publish = argv.publish_argv(t, DIGEST)
    assert "localhost:5000/mirror/app:v1" in publish
    bake = argv.bake_definition(plan)["target"]["app"]
    assert bake["network"] == "host"
    assert bake["extra-hosts"] == {"db": "10.0.0.2"}
    assert bake["shm-size"] == "128m"
    assert bake["ulimits"] == ["nofile=1024:2048"]
    assert bake["entitlements"] == ["network.host"]
    assert bake["pull"] is True
    assert bake["no-cache-filter"] == ["app"]
    assert argv.needs_buildx_build(t) == ["network", "entitlements", "extra-hosts"]
    props = manifest.json_schema()["$defs"]["TargetSpec"]["properties"]
    for key in (
        "network",
        "extra-hosts",
        "shm-size",
        "ulimits",
        "entitlements",
        "annotations",
        "no-cache-filter",
        "pull",
        "images",
        "contexts",
        "matrix",
        "name",
    ):
        assert key in props, key


def test_new_keys_take_set_overrides(tmp_path: Path) -> None:
    path = project(tmp_path, KEYS)
    t = resolve(
        path,
        sets=["app.network=none", "app.shm-size=1g", "app.pull=false", "app.extra-hosts.x=1.2.3.4"],
    ).target("app")
    assert (t.network, t.shm_size, t.pull) == ("none", "1g", False)
    assert t.extra_hosts == {"db": "10.0.0.2", "x": "1.2.3.4"}


def test_bad_values_of_new_keys_are_one_line_each(tmp_path: Path) -> None:
    path = project(
        tmp_path, "targets:\n  app: {ulimits: [nofile], shm-size: big, network: bridge}\n"
    )
    with pytest.raises(ManifestError) as info:
        resolve(path)
    assert len(info.value.problems) == 3
    assert all(p.startswith(f"{path}:4: targets.app.") for p in info.value.problems)
