"""Signing, SBOMs and `verify` on the real engine, registry and cosign.

One multi-platform build (amd64 + arm64, no RUN step: nothing runs under QEMU) of a target that
signs with a throwaway key pair and asks for an SBOM from the offline scanner `make engine`
builds. Then: `verify` passes; it fails on an unsigned copy and on a tag moved to another
digest (naming both); a base image that must be signed stops `pin --check` and `build` when
its signature is missing or made with another key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, Engine
from tests.integration.orchestrate import run_cli

PASSWORD = "integration-test-key-password"  # noqa: S105 (a throwaway key made by this test)
DOCKERFILE = """\
FROM busybox:1.35 AS app
COPY hello.txt /hello.txt
USER 10001:10001
"""


def key_pair(engine: Engine, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    engine.run("cosign", "generate-key-pair", cwd=folder, timeout=60)
    return folder / "cosign.key", folder / "cosign.pub"


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, cwd, *args, timeout=600)


def git_project(engine: Engine, project: Path, yaml_text: str) -> None:
    project.mkdir()
    (project / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (project / "hello.txt").write_text("hello\n", encoding="utf-8")
    (project / ".dockerignore").write_text("*\n!hello.txt\n", encoding="utf-8")
    (project / ".gitignore").write_text(".orchestrator/\n", encoding="utf-8")
    (project / "builds.yaml").write_text(yaml_text, encoding="utf-8")
    who = ["-c", "user.name=t", "-c", "user.email=t@e"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*who, "commit", "-qm", "init"]):
        engine.run("git", "-C", str(project), *args)


@pytest.fixture(scope="module")
def signed(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The one signed multi-platform build every test here inspects."""
    if shutil.which("cosign") is None:
        pytest.fail("cosign is not installed (`make engine` installs it)")
    base = tmp_path_factory.mktemp("supply")
    env = {**engine.env, "COSIGN_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT), "CI": "true"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    keys = Engine(env, engine.registry, engine.images)
    key, pub = key_pair(keys, base / "keys")
    repo = engine.unique_repo("signed")
    project = base / "project"
    git_project(
        engine,
        project,
        "version: 1\n"
        f"project: {{name: signed, image: {repo}}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        f"signing: {{key: '{key}', password-env: TEST_KEY_PASSWORD}}\n"
        "targets:\n"
        "  app:\n"
        "    platforms: [linux/amd64, linux/arm64]\n"
        "    tags: [v1]\n"
        "    outputs: [push]\n"
        "    provenance: min\n"
        "    sign: true\n"
        "    sbom: true\n"
        f"    sbom-generator: {engine.images['SCANNER_IMAGE']}\n",
    )
    run_env = {**env, "TEST_KEY_PASSWORD": PASSWORD}
    run_env.pop("COSIGN_PASSWORD")  # the password reaches cosign only through password-env
    summary = base / "summary.md"
    run_env["GITHUB_STEP_SUMMARY"] = str(summary)
    build = cli(run_env, project, "build", "app")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    return {
        "env": run_env,
        "keys": keys,
        "project": project,
        "repo": repo,
        "report": report["targets"][0],
        "summary": summary.read_text(encoding="utf-8"),
        "log": build.stdout + build.stderr,
        "pub": pub,
        "base": base,
    }


def test_the_build_signs_by_digest_and_reports_signature_and_attestations(
    engine: Engine, signed: dict[str, object]
) -> None:
    result = signed["report"]
    assert isinstance(result, dict)
    digest = result["digest"]
    repo = signed["repo"]
    assert result["signature"] == f"{repo}:{digest.replace(':', '-')}.sig"
    assert result["attestations"] == {
        "linux/amd64": ["provenance", "sbom"],
        "linux/arm64": ["provenance", "sbom"],
    }
    log = str(signed["log"])
    # Signed before tagged: no moment where v1 names an unsigned image.
    assert log.index(f"app: signing {repo}@{digest}") < log.index("app: tagging")
    assert PASSWORD not in log
    assert f"`{result['signature']}`" in str(signed["summary"])
    assert "linux/arm64: provenance, sbom" in str(signed["summary"])
    # cosign itself agrees, by digest.
    engine.run(
        "cosign", "verify", "--key", str(signed["pub"]), "--insecure-ignore-tlog",
        "--allow-insecure-registry", f"{repo}@{digest}",
    )  # fmt: skip


def test_verify_passes_with_an_sbom_for_both_platforms(signed: dict[str, object]) -> None:
    env, project = signed["env"], signed["project"]
    assert isinstance(env, dict)
    assert isinstance(project, Path)
    out = cli(env, project, "verify", "--format", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["check"]: c for c in json.loads(out.stdout)}
    assert set(checks) == {
        "digest",
        "signature",
        "provenance linux/amd64",
        "provenance linux/arm64",
        "sbom linux/amd64",
        "sbom linux/arm64",
    }
    assert all(c["ok"] for c in checks.values()), checks
    # The SBOM lists what syft found in the image: busybox, on arm64 too (scanned on amd64).
    assert "busybox" in checks["sbom linux/arm64"]["detail"]
    text = cli(env, project, "verify")
    assert text.returncode == 0
    assert len(text.stdout.splitlines()) == 6


def test_verify_fails_on_an_unsigned_copy_and_on_a_moved_tag(
    engine: Engine, signed: dict[str, object]
) -> None:
    env, project, repo = signed["env"], signed["project"], str(signed["repo"])
    assert isinstance(env, dict)
    assert isinstance(project, Path)
    result = signed["report"]
    assert isinstance(result, dict)
    # The same digest in another repository: the signature lives beside the original only.
    unsigned = engine.unique_repo("copy") + ":v1"
    engine.run(
        "docker", "buildx", "imagetools", "create", "-t", unsigned, f"{repo}@{result['digest']}"
    )
    out = cli(env, project, "verify", unsigned)
    assert out.returncode == 1
    assert f"FAIL {unsigned} signature: " in out.stdout
    assert "no signatures found" in out.stdout
    # v1 moved to another image: verify names both digests and finds no signature.
    moved = engine.unique_repo("moved")
    engine.run(
        "docker",
        "buildx",
        "imagetools",
        "create",
        "-t",
        f"{moved}:v1",
        f"{repo}@{result['digest']}",
    )
    other = engine.run(
        "docker", "buildx", "imagetools", "inspect", engine.images["BUSYBOX_IMAGE"],
        "--format", "{{json .Manifest}}",
    )  # fmt: skip
    other_digest = json.loads(other.stdout)["digest"]
    engine.run(
        "docker", "buildx", "imagetools", "create", "-t", f"{repo}:v1",
        f"{engine.images['BUSYBOX_IMAGE']}@{other_digest}",
    )  # fmt: skip
    try:
        out = cli(env, project, "verify", f"{repo}:v1")
        assert out.returncode == 1, out.stdout
        assert (
            f"FAIL {repo}:v1 digest: the tag points at {other_digest}, but "
            f"{project / '.orchestrator' / 'report.json'} recorded {result['digest']}"
        ) in out.stdout
        assert f"FAIL {repo}:v1 signature" in out.stdout
    finally:  # put v1 back for the other tests
        engine.run(
            "docker", "buildx", "imagetools", "create", "-t", f"{repo}:v1",
            f"{moved}@{result['digest']}",
        )  # fmt: skip


def test_a_base_image_that_must_be_signed(engine: Engine, signed: dict[str, object]) -> None:
    """verify: on a base: unsigned and signed-with-another-key both stop pin --check and build."""
    keys, base = signed["keys"], signed["base"]
    assert isinstance(keys, Engine)
    assert isinstance(base, Path)
    key_a, pub_a = key_pair(keys, base / "base-a")
    _, pub_b = key_pair(keys, base / "base-b")
    mirror = engine.unique_repo("busybox") + ":1.35"
    engine.run(
        "docker", "buildx", "imagetools", "create", "-t", mirror, engine.images["BUSYBOX_IMAGE"]
    )
    project = base / "bases"

    def manifest(pub: Path) -> str:
        return (
            "version: 1\n"
            f"project: {{name: bases, image: {engine.unique_repo('bases')}}}\n"
            f"mirrors: {{'busybox:1.35': '{mirror}'}}\n"
            f"verify: {{'busybox:1.35': {{key: '{pub}'}}}}\n"
            "targets:\n  app: {outputs: [load], pin: digest}\n"
        )

    git_project(engine, project, manifest(pub_a))
    env = {**engine.env, "PYTHONPATH": str(ROOT), "CI": "true"}
    assert cli(env, project, "pin").returncode == 0
    locked = yaml.safe_load((project / "builds.lock").read_text(encoding="utf-8"))
    digest = next(iter(locked["images"].values()))["digest"]
    # Unsigned: both refuse, naming the base.
    for args in (("pin", "--check"), ("build", "app")):
        out = cli(env, project, *args)
        assert out.returncode in (1, 2), out.stderr
        assert f"base busybox:1.35 ({mirror.rsplit(':', 1)[0]}@{digest}): no signature valid" in (
            out.stderr
        ), out.stderr
    # Signed with key A (by digest): passes with A, refused when the manifest expects key B.
    keys.run(
        "cosign", "sign", "--yes", "--key", str(key_a), "--tlog-upload=false",
        "--allow-insecure-registry", f"{mirror.rsplit(':', 1)[0]}@{digest}",
    )  # fmt: skip
    assert cli(env, project, "pin", "--check").returncode == 0
    (project / "builds.yaml").write_text(manifest(pub_b), encoding="utf-8")
    out = cli(env, project, "pin", "--check")
    assert out.returncode == 1
    assert f"no signature valid for {pub_b}" in out.stderr
