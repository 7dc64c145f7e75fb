"""The build graph: optional stages, named contexts and target: edges, matrix, new bake keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import argv, dockerfile, executor, manifest, preflight, sources, uptodate
from orchestrator.commands import check
from orchestrator.errors import ManifestError, PreflightError
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
    assert (tools.file, tools.line) == (str(path), 7)


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


def test_platforms_are_interpolated_from_the_matrix_and_variables(tmp_path: Path) -> None:
    """`platforms: ["linux/${arch}"]` was refused as an invalid platform before the matrix
    value or the variable was put in; the result is judged as written platforms are."""
    targets = (
        "variables: {EXTRA: linux/arm64}\n"
        "targets:\n"
        "  app:\n"
        "    matrix: {arch: [amd64, arm64]}\n"
        "    platforms: ['linux/${arch}']\n"
        "  both:\n"
        "    platforms: ['${EXTRA}', linux/amd64]\n"
    )
    plan = resolve(project(tmp_path, targets))
    assert {t.name: t.platforms for t in plan.targets} == {
        "app-amd64": ("linux/amd64",),
        "app-arm64": ("linux/arm64",),
        "both": ("linux/arm64", "linux/amd64"),
    }
    twice = project(tmp_path, "targets:\n  app:\n    platforms: ['${P}', linux/arm64/v8]\n")
    with pytest.raises(ManifestError, match=r"builds\.yaml:5: targets\.app\.platforms: .*twice"):
        resolve(twice, env={"P": "linux/arm64"}, cli={"P": "linux/arm64"})
    bad = project(tmp_path, "targets:\n  app:\n    platforms: ['${P:-linux/x86}']\n")
    with pytest.raises(ManifestError, match=r"targets\.app\.platforms: .*linux/x86"):
        resolve(bad)


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


# --- graph and the rest of the pipeline -----------------------------------------------------
def test_a_docker_image_context_breaking_the_pin_policy_is_reported_in_builds_yaml(
    tmp_path: Path,
) -> None:
    path = graph(tmp_path, GRAPH.replace("    tags: [v1]\n", "    tags: [v1]\n    pin: digest\n"))
    plan = resolve(path, ["app"])
    problems = preflight.pin_problems(plan)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:6: app (pin: digest): busybox:1.36 ")
    findings = [f for f in check.collect(plan, use_hadolint=False) if f.code == "OR001"]
    assert [(f.file, f.line) for f in findings if f.target == "app"] == [(str(path), 6)]


def test_bake_lacks_keys_by_buildx_version(tmp_path: Path) -> None:
    t = resolve(project(tmp_path, KEYS)).target("app")
    assert argv.bake_lacks(t, "0.13.1+ds1") == ["network", "entitlements", "extra-hosts"]
    assert argv.bake_lacks(t, "v0.18.0") == ["extra-hosts"]
    assert argv.bake_lacks(t, "v0.25.1") == []
    assert argv.bake_lacks(t, "") == ["network", "entitlements", "extra-hosts"]


def test_a_buildx_build_target_cannot_be_in_a_target_edge(tmp_path: Path) -> None:
    path = graph(
        tmp_path,
        GRAPH.replace(
            "  base: {dockerfile: base.Dockerfile}",
            "  base: {dockerfile: base.Dockerfile, network: host}",
        ),
    )
    plan = resolve(path, ["app"])
    engine = executor.Engine("26.1.5", "0.13.1", "docker", True, ("linux/amd64",), "default")
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, engine)
    assert any(
        p.startswith("base: network needs `docker buildx build`") for p in info.value.problems
    )


def test_a_consumer_is_keyed_on_what_it_consumes(tmp_path: Path) -> None:
    digest_from = f"FROM debian:12@{DIGEST}\n"
    path = graph(tmp_path)
    (tmp_path / "base.Dockerfile").write_text(digest_from, encoding="utf-8")
    (tmp_path / "Dockerfile").write_text("FROM base\n", encoding="utf-8")
    text = GRAPH.replace('assets: ./assets, tools: "docker-image://busybox:1.36",', "")
    text = text.replace(
        f'\n      layout: "oci-layout://./layout@{DIGEST}", repo: "https://example.com/x.git#main"',
        "",
    )
    path.write_text(HEAD + text, encoding="utf-8")
    identity = ("default", "docker", "", "")
    first = uptodate.fingerprints(resolve(path, ["app"]).targets, identity)
    assert first["base"].key is not None
    assert first["app"].key is not None
    (tmp_path / "base.Dockerfile").write_text(digest_from + "RUN true\n", encoding="utf-8")
    second = uptodate.fingerprints(resolve(path, ["app"]).targets, identity)
    assert second["app"].key != first["app"].key  # only base changed
    (tmp_path / "base.Dockerfile").write_text("FROM debian:12\n", encoding="utf-8")
    third = uptodate.fingerprints(resolve(path, ["app"]).targets, identity)
    assert third["app"].key is None
    assert third["app"].why.startswith("it consumes base, which is always built: debian:12")


def test_matrix_size_is_bounded_and_defaults_see_the_values(tmp_path: Path) -> None:
    axes = ", ".join(f"k{i}: [a, b, c, d]" for i in range(5))  # 4^5 = 1024 combinations
    big = project(tmp_path, f"targets:\n  app:\n    matrix: {{{axes}}}\n")
    with pytest.raises(ManifestError, match="1024 combinations; at most 256 per target"):
        resolve(big)
    text = (
        "defaults: {tags: ['${v}'], outputs: [push]}\n"
        "targets:\n  app: {matrix: {v: [a, b]}}\n  other: {tags: [x]}\n"
    )
    plan = resolve(project(tmp_path, text), ["app", "other"])
    assert plan.target("app-a").tags == ("localhost:5000/app:a",)
    assert plan.target("other").outputs[0].startswith("type=image,")  # defaults as usual


def test_a_long_chain_of_target_contexts_is_ordered_without_recursion(tmp_path: Path) -> None:
    """3,000 targets each consuming the one before went past Python's recursion limit in the
    depth-first walk (exit 3); the walk is a loop and the order stays inputs first."""
    chain = "".join(f"  t{i}: {{contexts: {{x: 'target:t{i - 1}'}}}}\n" for i in range(1, 3000))
    path = project(tmp_path, "targets:\n  t0: {}\n" + chain)
    planned = resolve(path, ["t2999"])
    assert [t.name for t in planned.targets] == [f"t{i}" for i in range(3000)]
    identity = ("default", "docker", "", "")
    assert uptodate.fingerprints(planned.targets, identity)["t2999"].key is None  # python:3.12
    cycle = chain + "  t0: {contexts: {x: 'target:t2999'}}\n"
    path = project(tmp_path, "targets:\n" + cycle)
    with pytest.raises(ManifestError, match=r"^contexts cycle: t2999 -> t2998 -> .* -> t2999$"):
        resolve(path, ["t2999"])


@pytest.mark.parametrize("names", [["a"], ["a", "b"]])
def test_a_target_edge_given_only_with_set_is_refused(tmp_path: Path, names: list[str]) -> None:
    """The graph is read from builds.yaml: `--set a.contexts.x=target:a` (a cycle) or
    `target:b` with b selected too went through, ordered as if the edge were not there."""
    path = project(tmp_path, "targets:\n  a: {}\n  b: {}\n")
    for edge in ("a", "b"):
        with pytest.raises(Exception, match=rf"contexts target:{edge} set with --set"):
            resolve(path, names, sets=[f"a.contexts.x=target:{edge}"])
    written = project(tmp_path, "targets:\n  a: {contexts: {x: 'target:b'}}\n  b: {}\n")
    assert resolve(written, names, sets=["a.contexts.x=target:b"]).target("a").depends_on == ("b",)


def test_a_named_context_directory_that_is_missing_is_a_problem_before_building(
    tmp_path: Path,
) -> None:
    """A target's own `context:` that is missing is refused, but a named context's directory
    (or OCI layout) that is missing or a file planned and built on, for buildx to fail in the
    bake. Now it is one of the problems `build` stops on and `plan` warns about."""
    path = graph(tmp_path)
    (tmp_path / "layout").write_text("not a directory", encoding="utf-8")
    found = sources.problems(resolve(path, ["app"]))
    assert found == [
        f"app: context 'assets' reads directory {tmp_path / 'assets'}, which does not exist",
        f"app: context 'layout' reads directory {tmp_path / 'layout'}, which is not a directory",
    ]
    (tmp_path / "layout").unlink()
    (tmp_path / "layout").mkdir()
    (tmp_path / "assets").mkdir()
    assert sources.problems(resolve(path, ["app"])) == []
