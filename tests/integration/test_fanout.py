"""Issue 17: each platform built on an engine of its own, merged into one index.

Two independent engines (`make engine` and `make engine-b`: own dockerd, containerd, socket and
bridge, one registry) build amd64 on one and arm64 on the other, as two CI runners would
(`build --platform` + `publish`) or as one fan-out build. Each case checks what users get: one
index with both platforms, each platform exactly the manifest its part pushed, each platform's
provenance attestation kept, both runnable, and no tag at all when a part is missing or fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.workspace import read_env_file
from tests.conftest import ROOT, Engine, _reachable
from tests.unit.helpers import git

from .orchestrate import orchestrator, raw_manifest, registry_platforms

DOCKERFILE = """\
FROM busybox:1.35 AS app
# Fails only where FAIL_ON names this machine: a node failure on demand.
ARG FAIL_ON=none
RUN uname -m > /arch && [ "$(uname -m)" != "$FAIL_ON" ]
USER 1000
HEALTHCHECK CMD ["true"]
CMD ["cat", "/arch"]
"""

MANIFEST = """\
version: 1
project: {{name: fan, image: "{repo}"}}
mirrors: {{"{upstream}": "{local}"}}
defaults:
  provenance: min
targets:
  app:
    platforms: [linux/amd64, linux/arm64]
    tags: [semver, latest]
    outputs: [push]
    args: {{FAIL_ON: "${{FAIL_ON:-none}}"}}
{builder}"""


@pytest.fixture(scope="module")
def engine_b(engine: Engine) -> dict[str, str]:
    """The second engine's environment; brought up like the first when it is not running."""
    env_file = ROOT / ".engine" / "env-b"
    env = {**engine.env, **read_env_file(env_file)} if env_file.is_file() else {}
    if not env or not _reachable(env):
        proc = subprocess.run(
            ["bash", str(ROOT / "engine" / "up.sh")],
            env={**os.environ, "ORCH_ENGINE_NAME": "b"},
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        env = {**engine.env, **read_env_file(env_file)}
        if proc.returncode != 0 or not _reachable(env):
            pytest.fail(f"the second engine did not start:\n{proc.stdout[-2000:]}{proc.stderr}")
    assert env["DOCKER_HOST"] != engine.env["DOCKER_HOST"]
    return env


def _project(tmp: Path, engine: Engine, builder: str = "", tag: str = "v2.3.4") -> tuple[Path, str]:
    repo = engine.unique_repo("fan")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (tmp / ".dockerignore").write_text("*\n!Dockerfile\n", encoding="utf-8")
    (tmp / "builds.yaml").write_text(
        MANIFEST.format(
            repo=repo,
            upstream=engine.images["BUSYBOX_UPSTREAM"],
            local=engine.images["BUSYBOX_IMAGE"],
            builder=builder,
        ),
        encoding="utf-8",
    )
    git(tmp, "init", "-q")
    git(tmp, "add", "-A")
    git(tmp, "commit", "-q", "-m", "fan")
    git(tmp, "tag", tag)
    return tmp, repo


def _attested(index: dict[str, object]) -> set[str]:
    """Platform manifest digests that have an attestation manifest in `index`."""
    manifests = index["manifests"]
    assert isinstance(manifests, list)
    return {
        m["annotations"]["vnd.docker.reference.digest"]
        for m in manifests
        if m.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"
    }


def _index_digest(engine: Engine, ref: str) -> str:
    out = engine.run(
        "docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"
    )
    return str(json.loads(out.stdout)["digest"])


def _missing(engine: Engine, ref: str) -> bool:
    proc = engine.run("docker", "buildx", "imagetools", "inspect", ref, check=False)
    return proc.returncode != 0


def _run_both(engine: Engine, ref: str) -> None:
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        out = engine.run("docker", "run", "--rm", "--pull", "always", "--platform", platform, ref)
        assert out.stdout.strip() == machine


def test_ci_split_two_runners_then_publish(
    engine: Engine, engine_b: dict[str, str], tmp_path: Path
) -> None:
    project, repo = _project(tmp_path / "p", engine)
    reports = tmp_path / "reports"
    amd = orchestrator(
        engine, "build", "app", "--platform", "linux/amd64",
        "--report", str(reports / "amd64.json"), cwd=project,
    )  # fmt: skip
    orchestrator(
        engine, "build", "app", "--platform", "linux/arm64",
        "--report", str(reports / "arm64.json"), cwd=project, env=engine_b,
    )  # fmt: skip
    assert "tagging" not in amd.stderr  # a part gets no release tag
    assert _missing(engine, f"{repo}:2.3.4")
    parts = {
        name: json.loads((reports / f"{name}.json").read_text(encoding="utf-8"))["targets"][0]
        for name in ("amd64", "arm64")
    }
    assert parts["amd64"]["part"]["platforms"].keys() == {"linux/amd64"}
    assert parts["amd64"]["part"]["fingerprint"] == parts["arm64"]["part"]["fingerprint"]

    # An incomplete set is refused, in one line, with nothing tagged.
    half = orchestrator(
        engine, "publish", "app", "--from", str(reports / "amd64.json"), cwd=project, check=False
    )
    assert half.returncode == 2
    assert "app: no part for linux/arm64 (have linux/amd64); nothing was tagged" in half.stderr
    assert _missing(engine, f"{repo}:2.3.4")

    both = ["--from", str(reports / "amd64.json"), "--from", str(reports / "arm64.json")]
    orchestrator(engine, "publish", "app", *both, cwd=project)
    index = raw_manifest(engine, f"{repo}:2.3.4")
    merged = registry_platforms(engine, f"{repo}:2.3.4")
    assert merged == {
        "linux/amd64": parts["amd64"]["part"]["platforms"]["linux/amd64"],
        "linux/arm64": parts["arm64"]["part"]["platforms"]["linux/arm64"],
    }
    assert _attested(index) == set(merged.values())  # each platform keeps its provenance
    first = registry_platforms(engine, f"{repo}:latest")
    assert first == merged
    digest = _index_digest(engine, f"{repo}:2.3.4")
    # Publishing the same parts again gives the same index.
    orchestrator(engine, "publish", "app", *both, cwd=project)
    assert _index_digest(engine, f"{repo}:2.3.4") == digest
    _run_both(engine, f"{repo}:2.3.4")

    # A part of another commit is refused before anything moves.
    (project / "README").write_text("next\n", encoding="utf-8")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "next")
    git(project, "tag", "v2.3.5")
    orchestrator(
        engine, "build", "app", "--platform", "linux/arm64",
        "--report", str(reports / "arm64-next.json"), cwd=project, env=engine_b,
    )  # fmt: skip
    mixed = orchestrator(
        engine, "publish", "app", "--from", str(reports / "amd64.json"),
        "--from", str(reports / "arm64-next.json"), cwd=project, check=False,
    )  # fmt: skip
    assert mixed.returncode == 2
    assert "parts differ in commit" in mixed.stderr
    assert _missing(engine, f"{repo}:2.3.5")


def test_fan_out_builder_builds_each_platform_on_its_engine(
    engine: Engine, engine_b: dict[str, str], tmp_path: Path
) -> None:
    builder = (
        "builder:\n  name: farm\n  driver: fan-out\n  nodes:\n"
        f'    - {{name: one, endpoint: "{engine.env["DOCKER_HOST"]}", platforms: [linux/amd64]}}\n'
        f'    - {{name: two, endpoint: "{engine_b["DOCKER_HOST"]}", platforms: [linux/arm64]}}\n'
    )
    # The merged index is signed (by digest, with the engine's dev key) before any tag.
    key = engine.env["ORCH_COSIGN_KEY"]
    builder += f"signing: {{key: '{key}', password-env: ORCH_COSIGN_PASSWORD}}\n"
    project, repo = _project(tmp_path, engine, builder)
    done = orchestrator(engine, "build", "app", "--ci", "--set", "app.sign=true", cwd=project)
    merged = registry_platforms(engine, f"{repo}:2.3.4")
    # Each platform is exactly what its node pushed under its part tag.
    for platform in ("linux/amd64", "linux/arm64"):
        part = registry_platforms(
            engine, f"{repo}:orchestrator-staging-app-{platform.replace('/', '-')}"
        )
        assert part == {platform: merged[platform]}
    assert _attested(raw_manifest(engine, f"{repo}:2.3.4")) == set(merged.values())
    _run_both(engine, f"{repo}:latest")
    digest = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))[
        "targets"
    ][0]["digest"]
    assert done.stderr.index(f"app: signing {repo}@{digest}") < done.stderr.index("app: tagging")
    engine.run(
        "cosign", "verify", "--key", engine.env["ORCH_COSIGN_PUB"], "--insecure-ignore-tlog",
        "--allow-insecure-registry", f"{repo}:2.3.4",
    )  # fmt: skip
    # Each node pushed its own platform's part (lines come from that node's own bake).
    lines = done.stderr.splitlines()
    assert any(x.startswith("[one/app]") and "staging-app-linux-amd64" in x for x in lines)
    assert any(x.startswith("[two/app]") and "staging-app-linux-arm64" in x for x in lines)

    # One failing node: nothing is tagged, the report says which node and why.
    (project / "README").write_text("next\n", encoding="utf-8")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "next")
    git(project, "tag", "v2.4.0")
    failed = orchestrator(
        engine, "build", "app", "--ci", "--var", "FAIL_ON=aarch64", cwd=project, check=False
    )
    assert failed.returncode == 1
    assert "fan-out: node two failed; nothing was tagged" in failed.stderr
    assert _missing(engine, f"{repo}:2.4.0")
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed"
    by_node = {t["node"]: t for t in report["targets"]}
    assert by_node["two"]["status"] == "failed"
    assert by_node["two"]["error"].startswith("node two:")
    assert by_node["one"]["status"] == "built"
