"""registry.py against the real local registry: tags put over HTTP resolve, in buildx's own
reading, to the image they were put on; read-backs equal buildx's; a tag in another repository
is copied by buildx; and an image tagged this way runs."""

from __future__ import annotations

import json

import pytest

from orchestrator import executor, registry
from tests.conftest import Engine


def _buildx_digest(engine: Engine, ref: str) -> str:
    out = engine.run(
        "docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"
    ).stdout
    return str(json.loads(out)["digest"])


def test_tags_and_read_backs_over_http_agree_with_buildx(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in engine.env.items():
        monkeypatch.setenv(key, value)
    repo = engine.unique_repo("tagged")
    base = engine.images["BUSYBOX_IMAGE"]
    engine.run("docker", "buildx", "imagetools", "create", "--tag", f"{repo}:src", base)
    digest = _buildx_digest(engine, f"{repo}:src")
    assert executor.index_digest(f"{repo}:src") == digest  # one HEAD

    source = f"{repo}@{digest}"
    elsewhere = engine.unique_repo("copied")
    executor.publish([f"{repo}:v1", f"{repo}:latest", f"{elsewhere}:v1"], source)
    for tag in (f"{repo}:v1", f"{repo}:latest", f"{elsewhere}:v1"):
        assert _buildx_digest(engine, tag) == digest

    over_http = executor.platform_digests(source)
    monkeypatch.setenv(registry.SWITCH, "0")
    assert executor.platform_digests(source) == over_http  # the buildx process's reading
    assert set(over_http) >= {"linux/amd64", "linux/arm64"}

    out = engine.run("docker", "run", "--rm", "--pull", "always", f"{repo}:v1", "echo", "ran")
    assert out.stdout.strip() == "ran"
