"""`orchestrator import` with real buildx reading an HCL bake file and a compose file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import Engine

from .orchestrate import orchestrator

DOCKERFILE = """\
FROM busybox:1.35 AS base
FROM base AS production
USER 65534
HEALTHCHECK CMD ["true"]
ENTRYPOINT ["sh", "-c", "echo hi"]
"""

HCL = """\
variable "TAG" { default = "1.0" }
group "default" { targets = ["api", "web"] }
target "common" {
  args = { MODE = "prod" }
}
target "api" {
  inherits = ["common"]
  target = "production"
  tags = ["localhost:5000/acme/api:${TAG}", "localhost:5000/acme/api:latest"]
  platforms = ["linux/amd64", "linux/arm64"]
  cache-from = ["type=registry,ref=localhost:5000/acme/api:cache"]
  secret = ["id=token,env=TOKEN"]
  output = ["type=registry"]
  dockerfile-inline = "FROM busybox:1.35 AS production\\n"
  shm-size = "128m"
}
target "web" {
  context = "web"
  tags = ["localhost:5000/acme/web:${TAG}"]
}
"""

COMPOSE = """\
services:
  app:
    build:
      context: .
      target: production
      args:
        MODE: compose
    image: localhost:5000/acme/app:2.0
  worker:
    build:
      context: ./web
  db:
    image: postgres:16
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "web").mkdir()
    for folder in (tmp_path, tmp_path / "web"):
        (folder / "Dockerfile").write_text(DOCKERFILE)
    return tmp_path


def _plan(engine: Engine, cwd: Path) -> dict[str, object]:
    proc = orchestrator(engine, "plan", "--format", "json", "default", cwd=cwd)
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_import_hcl_through_buildx(engine: Engine, tmp_path: Path) -> None:
    path = _project(tmp_path)
    (path / "docker-bake.hcl").write_text(HCL)
    proc = orchestrator(engine, "import", "docker-bake.hcl", "--name", "shop", cwd=path)
    written = yaml.safe_load((path / "builds.yaml").read_text())
    api = written["targets"]["api"]
    # inherits and variables were applied by buildx, not by us
    assert api["args"] == {"MODE": "prod"}
    # bake's `latest` is a literal tag: carried as one, not as the builds.yaml `latest` rule
    assert api["tags"] == ["1.0", {"type": "raw", "value": "latest"}]
    assert api["stage"] == "production"
    assert api["outputs"] == ["push"]
    assert api["secrets"] == [{"id": "token", "env": "TOKEN"}]
    assert written["targets"]["web"]["image"] == "localhost:5000/acme/web"
    assert written["project"]["image"] == "localhost:5000/acme/api"
    assert written["groups"]["default"] == ["api", "web"]
    assert api["shm-size"] == "128m"  # spelled as bake spells it, carried unchanged
    assert "not carried over: target api: dockerfile-inline: write the Dockerfile to a file" in (
        proc.stderr
    )
    plan = _plan(engine, path)
    assert "localhost:5000/acme/api:1.0" in json.dumps(plan)
    assert "localhost:5000/acme/api:latest" in json.dumps(plan)  # on any commit, as in bake
    # a second import does not overwrite; --force does
    again = orchestrator(engine, "import", "docker-bake.hcl", cwd=path, check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_import_compose_through_buildx(engine: Engine, tmp_path: Path) -> None:
    path = _project(tmp_path)
    (path / "compose.yaml").write_text(COMPOSE)
    orchestrator(engine, "import", "compose.yaml", cwd=path)
    written = yaml.safe_load((path / "builds.yaml").read_text())
    assert set(written["targets"]) == {"app", "worker"}  # db has no build: not a target
    assert written["targets"]["app"]["args"] == {"MODE": "compose"}
    assert written["targets"]["app"]["tags"] == ["2.0"]
    assert written["targets"]["worker"]["context"] == "web"
    _plan(engine, path)


def test_import_of_a_broken_file_is_one_line(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "x" {\n  tags = [\n')
    proc = orchestrator(engine, "import", "docker-bake.hcl", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: docker-bake.hcl: docker buildx bake --print: ")
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "builds.yaml").exists()
