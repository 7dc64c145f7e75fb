"""Test harness: unit tests need nothing; integration tests need the real engine.

The `engine` session fixture uses the engine `. .engine/env` points at, or starts one with
`engine/up.sh`. Under CI=true an engine that cannot be reached FAILS the run: a skipped
integration suite must never look green.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The benchmark reads the engine's env files the same way; one parser serves both.
from bench.workspace import read_env_file

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Engine:
    env: dict[str, str]  # full environment for subprocesses (DOCKER_HOST set)
    registry: str  # host:port of the local registry
    images: dict[str, str]  # engine/images.env

    def run(
        self, *argv: str, check: bool = True, cwd: Path | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        for attempt in range(1, REGISTRY_ATTEMPTS + 1):
            proc = subprocess.run(
                list(argv),
                env=self.env,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode == 0 or not _registry_race(argv, proc.stderr):
                break
            if attempt < REGISTRY_ATTEMPTS:
                time.sleep(attempt)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def unique_repo(self, name: str) -> str:
        prefix = f"{self.registry}/test-{uuid.uuid4().hex[:8]}/"
        _HANDED_OUT.append(prefix)
        return prefix + name


# The local registry (distribution 2.8, filesystem driver) writes a tag's link file in place:
# a HEAD of the tag while BuildKit pushes it can read it half-written and answer 500 ("invalid
# checksum digest format" in its log; 85 times on 2026-12-01, once failing a raw `buildx
# build` of the suite). The orchestrator retries 5xx itself (executor.bake_with_retry); a raw
# buildx command run by a test gets the same bounded retry here, and nothing else does.
REGISTRY_ATTEMPTS = 3


def _registry_race(argv: tuple[str, ...], stderr: str) -> bool:
    return argv[:2] == ("docker", "buildx") and "500 Internal Server Error" in stderr


# Repository prefixes this session's tests pushed and built under (Engine.unique_repo).
_HANDED_OUT: list[str] = []


def _remove_session_images(engine: Engine) -> None:
    """Remove this session's images from the engine's store. With the containerd image store
    the docker driver keeps every image it builds, pushed ones too: left there, each run of the
    suite added ~100, and an engine holding a thousand spent minutes on one `image rm` and kept
    build cache that prune could not free. Only this session's prefixes: a concurrent run's
    images are left alone. Best effort: a failure here fails no test."""
    if not _HANDED_OUT:
        return
    ls = ("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    try:
        listed = engine.run(*ls, check=False, timeout=120)
        prefixes = tuple(_HANDED_OUT)
        refs = [line for line in listed.stdout.splitlines() if line.startswith(prefixes)]
        for start in range(0, len(refs), 100):
            rm = ("docker", "image", "rm", *refs[start : start + 100])
            engine.run(*rm, check=False, timeout=600)
    except subprocess.TimeoutExpired:
        pass  # a slow engine: the images stay, as they did before this clean-up existed


def _reachable(env: dict[str, str]) -> bool:
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _engine_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(read_env_file(ROOT / ".engine" / "env"))
    env.setdefault("NO_COLOR", "1")
    return env


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    env = _engine_env()
    if not _reachable(env):
        # Bring it up ourselves (idempotent); this is what `make engine` runs.
        proc = subprocess.run(
            ["bash", str(ROOT / "engine" / "up.sh")],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        env = _engine_env()
        if proc.returncode != 0 or not _reachable(env):
            message = (
                "docker engine not reachable and engine/up.sh could not start it:\n"
                f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            )
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)  # under CI a missing engine is a failure, never a skip
            pytest.skip(message)
    images = read_env_file(ROOT / "engine" / "images.env")
    found = Engine(
        env=env,
        registry=env.get("ORCH_REGISTRY", images.get("REGISTRY", "localhost:5000")),
        images=images,
    )
    yield found
    _remove_session_images(found)


@pytest.fixture(autouse=True)
def _own_plan_memo(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets an empty plan memo: a plan replayed from another test (or from the user's
    own ~/.cache) would bypass what that test patched or set up."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
