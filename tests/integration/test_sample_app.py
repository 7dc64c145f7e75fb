"""Issue 3: sample-go-app built by the orchestrator for amd64+arm64, pushed, run, probed."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator import gitinfo
from tests.conftest import ROOT, Engine

from .orchestrate import (
    image_version,
    orchestrator,
    raw_manifest,
    registry_platforms,
    run_published,
)

VERSION = "4.5.6"


@pytest.fixture(scope="module")
def released(engine: Engine) -> dict[str, object]:
    """One release of the production target to a private repository, shared by the tests."""
    registry = engine.unique_repo("rel").rsplit("/", 1)[0]
    report = ROOT / ".orchestrator" / f"test-sample-{registry.rsplit('/', 1)[-1]}.json"
    orchestrator(
        engine,
        "build",
        "production",
        "--var",
        f"VERSION={VERSION}",
        "--var",
        f"REGISTRY={registry}",
        "--report",
        str(report),
    )
    data = json.loads(report.read_text())
    return {"repo": f"{registry}/sample-go-app", "report": data}


def test_release_is_signed_and_verifies_with_an_sbom_per_platform(
    engine: Engine, released: dict[str, object]
) -> None:
    """The sample's production target signs with the dev key and lists Go's stdlib per platform."""
    report = released["report"]
    assert isinstance(report, dict)
    prod = next(t for t in report["targets"] if t["name"] == "production")
    assert prod["signature"].endswith(f"{prod['digest'].replace(':', '-')}.sig")
    registry = str(released["repo"]).rsplit("/", 1)[0]
    out = orchestrator(
        engine,
        "verify",
        f"{released['repo']}:{VERSION}",
        "--var",
        f"REGISTRY={registry}",
        "--format",
        "json",
    )
    checks = {c["check"]: c for c in json.loads(out.stdout)}
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["signature"]["detail"].endswith("dev.pub")
    for platform in ("linux/amd64", "linux/arm64"):
        assert "stdlib go1.23" in checks[f"sbom {platform}"]["detail"]
        assert checks[f"provenance {platform}"]["ok"]


def test_release_tags_and_both_platforms(engine: Engine, released: dict[str, object]) -> None:
    repo = released["repo"]
    for tag in (VERSION, "4.5", "4", "latest"):
        assert set(registry_platforms(engine, f"{repo}:{tag}")) == {"linux/amd64", "linux/arm64"}


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_image_prints_release_version_and_git_commit(
    engine: Engine, released: dict[str, object], platform: str
) -> None:
    commit = gitinfo.read(ROOT).short
    out = image_version(engine, f"{released['repo']}:{VERSION}", platform)
    assert out == f"sample-go-app {VERSION} (commit {commit})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, attempts: int = 50) -> str:
    last: Exception | None = None
    for _ in range(attempts):  # bounded: ~10 s
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - 127.0.0.1 only
                return str(resp.read().decode())
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered: {last}")


def test_production_container_health_user_and_graceful_stop(
    engine: Engine, released: dict[str, object]
) -> None:
    port = _free_port()
    name = f"sample-{port}"
    run_published(engine, name, port, f"{released['repo']}:{VERSION}")
    try:
        body = json.loads(_get(f"http://127.0.0.1:{port}/health"))
        assert body["status"] == "ok"
        assert body["version"] == VERSION
        user = engine.run("docker", "inspect", "--format", "{{.Config.User}}", name).stdout.strip()
        assert user == "10001:10001"
        status = ""
        for _ in range(60):  # bounded: HEALTHCHECK interval is 5 s
            status = engine.run(
                "docker", "inspect", "--format", "{{.State.Health.Status}}", name
            ).stdout.strip()
            if status == "healthy":
                break
            time.sleep(0.5)
        assert status == "healthy"
        # -t 2: docker sends SIGKILL after 2 s; exit code 0 proves a graceful SIGTERM exit in time.
        engine.run("docker", "stop", "-t", "2", name)
        code = engine.run(
            "docker", "inspect", "--format", "{{.State.ExitCode}}", name
        ).stdout.strip()
        assert code == "0"
    finally:
        engine.run("docker", "rm", "-f", name, check=False)


def test_production_image_is_small(engine: Engine, released: dict[str, object]) -> None:
    report = released["report"]
    assert isinstance(report, dict)
    amd64 = next(t for t in report["targets"] if t["name"] == "production")["platforms"][
        "linux/amd64"
    ]
    raw = raw_manifest(engine, f"{released['repo']}@{amd64}")
    size = sum(layer["size"] for layer in raw["layers"])
    assert size < 10 * 1024 * 1024, size  # scratch + static Go binary: a few MB compressed


def test_development_target_picks_up_a_source_change_without_rebuild(
    engine: Engine, tmp_path: Path
) -> None:
    tag = engine.unique_repo("dev") + ":dev"
    orchestrator(
        engine, "build", "development", "--set", f"development.image={tag.rsplit(':', 1)[0]}"
    )
    src = tmp_path / "src"
    shutil.copytree(ROOT / "sample-go-app", src)
    port = _free_port()
    name = f"dev-{port}"
    run_published(engine, name, port, tag, "-v", f"{src}:/src")
    try:
        assert "hello from sample-go-app" in _get(f"http://127.0.0.1:{port}/", attempts=300)
        greeting = src / "cmd" / "server" / "greeting.go"
        greeting.write_text(
            greeting.read_text().replace("hello from sample-go-app", "hello, live reload")
        )
        text = ""
        for _ in range(150):  # bounded: ~60 s for a rebuild inside the container
            try:
                text = _get(f"http://127.0.0.1:{port}/", attempts=1)
            except AssertionError:
                text = ""
            if "hello, live reload" in text:
                break
            time.sleep(0.4)
        assert "hello, live reload" in text
    finally:
        logs = subprocess.run(
            ["docker", "logs", name], env=engine.env, capture_output=True, text=True, check=False
        )
        engine.run("docker", "rm", "-f", name, check=False)
        print(logs.stdout[-2000:], logs.stderr[-2000:])
