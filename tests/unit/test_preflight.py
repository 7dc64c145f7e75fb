"""Preflight against a simulated capability report: one line per shortfall, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import preflight
from orchestrator.errors import PreflightError
from orchestrator.executor import Engine, _parse_inspect

from .helpers import BASE, resolve, write_project

DOCKER_NO_CONTAINERD = Engine("26.1.5", "v0.13.1", "docker", False, ("linux/amd64",), "default")
DOCKER_CONTAINERD = Engine(
    "26.1.5", "v0.13.1", "docker", True, ("linux/amd64", "linux/arm64"), "default"
)

LOADED = BASE.replace(
    "    outputs: [push]\n", "    outputs: [load]\n    cache: {to: ['type=registry,ref=r/c']}\n"
)


def test_docker_driver_without_containerd_store_rejects_multiplatform_and_cache_export(
    tmp_path: Path,
) -> None:
    plan = resolve(write_project(tmp_path, LOADED))
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, DOCKER_NO_CONTAINERD)
    assert info.value.message == "2 preflight problem(s); nothing was started"
    fix = preflight.CONTAINERD_FIX
    assert info.value.problems == (
        f"production: multi-platform build needs more than the docker driver without the containerd image store: {fix}",
        f"production: cache export is not supported by the docker driver without the containerd image store: {fix}",
    )


def test_containerd_store_accepts_the_same_plan(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path, LOADED))
    preflight.check_engine(plan, DOCKER_CONTAINERD)


def test_platform_needing_emulation_is_rejected_only_when_run_steps_would_emulate(
    tmp_path: Path,
) -> None:
    dockerfile = "FROM busybox:1.35 AS production\nRUN echo hi\n"
    plan = resolve(
        write_project(
            tmp_path, LOADED.replace("cache: {to: ['type=registry,ref=r/c']}", ""), dockerfile
        )
    )
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(
            plan, Engine("26", "v0.13", "docker", True, ("linux/amd64",), "default")
        )
    assert info.value.problems == (
        "production: builder 'default' cannot run linux/arm64 steps (RUN at "
        f"{tmp_path / 'Dockerfile'}:2); it supports linux/amd64: enable QEMU binfmt (`make engine` does) or add a native node",
    )
    # The sample Dockerfile cross-compiles (--platform=$BUILDPLATFORM) and its final stage has no
    # RUN: arm64 needs no emulation at all, so the same builder is fine.
    plan = resolve(
        write_project(tmp_path, LOADED.replace("cache: {to: ['type=registry,ref=r/c']}", ""))
    )
    preflight.check_engine(plan, Engine("26", "v0.13", "docker", True, ("linux/amd64",), "default"))


def test_gha_cache_outside_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIONS_RUNTIME_TOKEN", raising=False)
    text = LOADED.replace("type=registry,ref=r/c", "type=gha")
    plan = resolve(write_project(tmp_path, text))
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, DOCKER_CONTAINERD)
    assert info.value.problems == (
        "production: type=gha cache needs GitHub Actions (ACTIONS_RUNTIME_TOKEN is not set); use type=registry or type=local",
    )


def test_registry_refusing_connections_is_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    problem = preflight.registry_problem(f"127.0.0.1:{port}/app")
    assert problem is not None
    assert problem.startswith(f"registry 127.0.0.1:{port} is not reachable (")


def test_parse_buildx_inspect_output() -> None:
    text = (
        "Name:          default\nDriver:        docker\nLast Activity: 2026-11-26 15:39:04 +0000 UTC\n\n"
        "Nodes:\nName:      default\nEndpoint:  default\nStatus:    running\n"
        "BuildKit:  v0.0.0+unknown\nPlatforms: linux/amd64, linux/amd64/v2, linux/arm64*, linux/386\n"
    )
    assert _parse_inspect(text) == (
        "default",
        "docker",
        ("linux/amd64", "linux/amd64/v2", "linux/arm64", "linux/386"),
    )


def test_old_buildx_and_engine_are_refused_with_the_fix(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path, LOADED))
    old = Engine("20.10.24", "v0.9.1", "docker", True, ("linux/amd64", "linux/arm64"), "default")
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, old)
    assert info.value.problems[:2] == (
        "buildx v0.9.1 is too old: need 0.11 or newer (attestations, rawjson progress); `make engine` installs 0.13",
        "Docker Engine 20.10.24 is too old for the docker driver: need 24.0 or newer, or a docker-container builder",
    )
    assert preflight.version_problems(DOCKER_CONTAINERD) == []
    assert (
        preflight.version_problems(Engine("26.1.5+dfsg1", "0.13.1+ds1", "docker", True, (), "d"))
        == []
    )


def _skopeo(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[int, str]]) -> list[list[str]]:
    """Patch the process seam for skopeo: each call takes the next (returncode, stderr)."""
    import subprocess
    import time

    calls: list[list[str]] = []

    def run(argv: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        code, err = answers[len(calls) - 1]
        return subprocess.CompletedProcess(argv, code, "", err)

    monkeypatch.setattr(subprocess, "run", run)  # the process seam executor calls through
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    return calls


def test_copy_archive_retries_5xx_then_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator import executor

    calls = _skopeo(monkeypatch, [(1, "reading blob: 503 Service Unavailable"), (0, "")])
    executor.copy_archive(["skopeo", "copy", "a", "b"], "pushing r/app")
    assert len(calls) == 2


def test_copy_archive_auth_failure_is_final_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator import executor
    from orchestrator.errors import UserError

    calls = _skopeo(monkeypatch, [(1, "writing manifest: 401 Unauthorized")])
    with pytest.raises(UserError, match=r"^pushing r/app: writing manifest: 401 Unauthorized$"):
        executor.copy_archive(["skopeo", "copy", "a", "b"], "pushing r/app")
    assert len(calls) == 1


def test_each_registry_host_is_probed_once_and_blamed_for_every_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monorepo pushes many targets to one registry: one /v2/ probe per host, not per
    target, and every target pushing there is named in the problems."""
    import socket
    from dataclasses import replace

    from orchestrator.plan import Plan

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    probes: list[str] = []
    real = preflight.registry_problem

    def counted(repository: str) -> str | None:
        probes.append(repository)
        return real(repository)

    monkeypatch.setattr(preflight, "registry_problem", counted)
    plan = resolve(write_project(tmp_path, BASE))
    production = plan.target("production")
    targets = tuple(
        replace(production, name=f"svc{i}", repository=f"127.0.0.1:{port}/svc{i}", push=True)
        for i in range(3)
    )
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(Plan(plan.manifest, plan.root, "p", {}, targets), DOCKER_CONTAINERD)
    assert len(probes) == 1
    assert [p.split(":")[0] for p in info.value.problems] == ["svc0", "svc1", "svc2"]
