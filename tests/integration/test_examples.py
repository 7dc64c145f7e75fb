"""The projects in examples/, each built by the orchestrator on the real engine, pushed, and run.

Each example is copied to its own git repository in tmp (a project of its own, as a user has it:
clean tree, one commit), built with `--var REGISTRY=<a private test repository>` and a release
VERSION, and its image started with `docker run`: the test asserts what the image really does
(an HTTP answer from inside the container, a file the build wrote), not that a build exited 0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Engine

from .orchestrate import orchestrator, registry_platforms

EXAMPLES = ROOT / "examples"
VERSION = "1.4.2"


def project(tmp_path: Path, name: str) -> Path:
    """examples/NAME copied into a fresh git repository with one commit."""
    dest = tmp_path / name
    shutil.copytree(EXAMPLES / name, dest)
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"],
    ):
        subprocess.run(argv, cwd=dest, check=True, capture_output=True, timeout=60)
    return dest


def build(engine: Engine, path: Path, *targets: str) -> str:
    """Builds TARGETS of the project at PATH into a private registry namespace; returns it."""
    registry = engine.unique_repo("x").rsplit("/", 1)[0]
    orchestrator(
        engine,
        "build",
        *targets,
        "--var",
        f"REGISTRY={registry}",
        "--var",
        f"VERSION={VERSION}",
        cwd=path,
    )
    return registry


@pytest.fixture
def container(engine: Engine) -> Iterator[list[str]]:
    """Names of containers a test started; removed afterwards whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        engine.run("docker", "rm", "-f", name, check=False)


def start(engine: Engine, names: list[str], image: str, platform: str = "linux/amd64") -> str:
    name = f"orch-example-{uuid.uuid4().hex[:8]}"
    names.append(name)
    engine.run(
        "docker", "run", "-d", "--pull", "always", "--platform", platform, "--name", name, image
    )
    return name


def answer(engine: Engine, name: str, *probe: str, attempts: int = 60) -> str:
    """PROBE's output run inside the container, once the server answers (bounded: ~30 s)."""
    last = None
    for _ in range(attempts):
        last = engine.run("docker", "exec", name, *probe, check=False)
        if last.returncode == 0:
            return last.stdout
        time.sleep(0.5)
    logs = engine.run("docker", "logs", name, check=False)
    raise AssertionError(f"{' '.join(probe)} never answered: {last}\n{logs.stdout}{logs.stderr}")


def health(engine: Engine, name: str, attempts: int = 120) -> str:
    """The container's HEALTHCHECK verdict once it is no longer `starting` (bounded: ~60 s)."""
    status = "starting"
    for _ in range(attempts):
        status = engine.run(
            "docker", "inspect", "--format", "{{.State.Health.Status}}", name
        ).stdout.strip()
        if status != "starting":
            return status
        time.sleep(0.5)
    return status


@pytest.fixture(scope="module")
def static_site(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    registry = build(engine, project(tmp_path_factory.mktemp("ex"), "static-site"), "production")
    return f"{registry}/examples/static-site"


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_static_site_serves_its_pages_on_both_platforms(
    engine: Engine, static_site: str, container: list[str], platform: str
) -> None:
    image = f"{static_site}:{VERSION}"
    for tag in (VERSION, "1.4", "1"):
        assert set(registry_platforms(engine, f"{static_site}:{tag}")) == {
            "linux/amd64",
            "linux/arm64",
        }
    name = start(engine, container, image, platform)
    page = answer(engine, name, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
    assert f"<p>Version {VERSION}</p>" in page
    version = answer(engine, name, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/version.json")
    assert json.loads(version) == {"version": VERSION}
    assert engine.run("docker", "exec", name, "id", "-u").stdout.strip() == "65534"


def _built(engine: Engine, factory: pytest.TempPathFactory, name: str, *targets: str) -> str:
    return build(engine, project(factory.mktemp("ex"), name), *targets)


@pytest.fixture(scope="module")
def single_stage(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _built(engine, tmp_path_factory, "single-stage", "app") + "/examples/single-stage"


@pytest.mark.parametrize(
    ("platform", "machine"), [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")]
)
def test_single_unnamed_stage_builds_and_runs(
    engine: Engine, single_stage: str, platform: str, machine: str
) -> None:
    out = engine.run(
        "docker",
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        platform,
        f"{single_stage}:{VERSION}",
    )
    assert out.stdout == f"hello from a single-stage Dockerfile on {machine}\n"


def test_heredoc_files_and_script_are_built_as_written(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`COPY <<EOF` and `RUN <<EOF`: a body line starting with FROM is the file's text (the
    plan used to stop on it as a broken FROM instruction)."""
    image = _built(engine, tmp_path_factory, "heredoc", "app") + "/examples/heredoc"
    out = engine.run("docker", "run", "--rm", "--pull", "always", f"{image}:{VERSION}")
    assert out.stdout == "Welcome.\nFROM here on, all sessions are logged.\nbuilt on x86_64\n"
    user = engine.run("docker", "run", "--rm", "--entrypoint", "id", f"{image}:{VERSION}", "-u")
    assert user.stdout.strip() == "65534"


def test_python_web_app_answers_over_http(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, container: list[str]
) -> None:
    registry = _built(engine, tmp_path_factory, "python-web", "production")
    name = start(engine, container, f"{registry}/examples/python-web:{VERSION}")
    probe = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/').read().decode())"
    assert json.loads(answer(engine, name, "python3", "-c", probe)) == {
        "app": "python-web",
        "version": VERSION,
    }
    assert health(engine, name) == "healthy"
    assert engine.run("docker", "exec", name, "id", "-u").stdout.strip() == "10001"
    # Its SBOM (the offline syft scanner) lists the Debian packages apt installed, by name.
    sbom = json.loads(
        engine.run(
            "docker", "buildx", "imagetools", "inspect",
            f"{registry}/examples/python-web:{VERSION}", "--format", "{{json .SBOM}}",
        ).stdout
    )  # fmt: skip
    # imagetools keys the SBOM by platform for an index of several, not for a single platform
    docs = [sbom] if "SPDX" in sbom else list(sbom.values())
    packages = {
        p["name"]
        for doc in docs
        for p in doc["SPDX"]["packages"]
        if any(
            "pkg:deb/debian/" in r.get("referenceLocator", "") for r in p.get("externalRefs", [])
        )
    }
    assert {"python3", "libc6", "ca-certificates"} <= packages


def test_node_app_answers_over_http(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, container: list[str]
) -> None:
    registry = _built(engine, tmp_path_factory, "node-app", "production")
    name = start(engine, container, f"{registry}/examples/node-app:{VERSION}")
    probe = (
        "require('http').get('http://127.0.0.1:3000/', r => r.pipe(process.stdout))"
        ".on('error', () => process.exit(1))"
    )
    body = json.loads(answer(engine, name, "node", "-e", probe))
    assert (body["app"], body["version"]) == ("node-app", VERSION)
    assert body["uptime"].endswith("s")  # formatted by `ms`, the dependency npm installed
    assert health(engine, name) == "healthy"
    # npm built node_modules; npm itself stayed in the build stage
    assert engine.run("docker", "exec", name, "ls", "/app/node_modules").stdout.split() == ["ms"]
    assert engine.run("docker", "exec", name, "test", "-e", "/opt/npm", check=False).returncode


def test_monorepo_services_build_from_the_shared_base_target(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, container: list[str]
) -> None:
    registry = _built(engine, tmp_path_factory, "monorepo")
    for service in ("api", "web", "docs"):
        image = f"{registry}/examples/monorepo-{service}:{VERSION}"
        assert set(registry_platforms(engine, image)) == {"linux/amd64", "linux/arm64"}
        name = start(engine, container, image)
        page = answer(engine, name, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
        assert json.loads(page) == {"service": service}
        # the entrypoint comes from the base target
        assert engine.run("docker", "exec", name, "cat", "/usr/local/bin/serve").stdout.startswith(
            "#!/bin/sh"
        )
        # so do the user and the health check: the service's Dockerfile sets neither (the
        # checks accept that: they follow `target:base` into base/Dockerfile)
        assert engine.run("docker", "exec", name, "id", "-u").stdout.strip() == "65534"
        config = engine.run(
            "docker", "image", "inspect", image, "--format", "{{json .Config.Healthcheck}}"
        ).stdout
        assert "http://127.0.0.1:8080/" in json.loads(config)["Test"]
    # base is only an input: built in the same bake, never pushed
    missing = engine.run(
        "docker",
        "buildx",
        "imagetools",
        "inspect",
        f"{registry}/examples/monorepo-base:{VERSION}",
        check=False,
    )
    assert missing.returncode != 0


def test_matrix_builds_each_variant(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    registry = _built(engine, tmp_path_factory, "matrix", "app")
    outputs = {}
    for variant in ("slim", "full"):
        image = f"{registry}/examples/matrix:{VERSION}-{variant}"
        assert set(registry_platforms(engine, image)) == {"linux/amd64", "linux/arm64"}
        run = engine.run("docker", "run", "--rm", "--pull", "always", image)
        outputs[variant] = run.stdout.split("\n")
    assert outputs["slim"] == ["hello (slim)", ""]
    assert outputs["full"] == ["hello (full)", "hallo", "bonjour", ""]
