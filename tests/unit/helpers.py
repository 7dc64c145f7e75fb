"""In-memory manifests for plan tests: a temp dir with builds.yaml + Dockerfile, no daemon."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator import manifest, plan, yamlsrc
from orchestrator.checks import hadolint
from orchestrator.gitinfo import GitInfo
from orchestrator.overrides import parse as parse_override

GIT = GitInfo(
    commit="0123456789abcdef0123456789abcdef01234567",
    short="0123456",
    branch="main",
    dirty=False,
    tag="v1.2.3",
    commit_time=1700000000,
    version="1.2.3",
)

DOCKERFILE = """\
ARG GO_IMAGE=golang:1.23-bookworm
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS builder
RUN --mount=type=secret,id=token,required=false echo build
FROM ${GO_IMAGE} AS development
CMD ["sh"]
FROM scratch AS production
COPY --from=builder /out/app /app
USER 10001:10001
ENTRYPOINT ["/app"]
"""

BASE = """\
version: 1
project:
  name: app
  image: localhost:5000/app
defaults:
  args: {VERSION: "${VERSION}", GIT_COMMIT: "${GIT_COMMIT}"}
  labels: {team: core}
  platforms: [linux/amd64]
targets:
  development:
    stage: development
    tags: [dev]
    outputs: [load]
  production:
    stage: production
    platforms: [linux/amd64, linux/arm64]
    tags: [semver, latest, sha]
    outputs: [push]
    args: {EXTRA: "1"}
    secrets: [{id: token, env: TOKEN}]
groups:
  default: [production]
  all: [development, production]
"""


def write_project(tmp: Path, yaml_text: str = BASE, dockerfile: str = DOCKERFILE) -> Path:
    (tmp / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    path = tmp / "builds.yaml"
    path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return path


def resolve(
    path: Path,
    names: list[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    cli: dict[str, str] | None = None,
    sets: list[str] | None = None,
    git: GitInfo = GIT,
    lock: plan.LockView | None = None,
) -> plan.Plan:
    located = yamlsrc.load(path)
    man = manifest.validate(located)
    return plan.resolve(
        man,
        located,
        git,
        names=names or [],
        environ={"TOKEN": "x"} if env is None else env,
        cli_vars=cli or {},
        overrides=[parse_override(s) for s in sets or []],
        lock=lock,
    )


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and date (commit time 1700000000); its stdout."""
    stamp = "1700000000 +0000"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "GIT_COMMITTER_DATE": stamp,
        "GIT_AUTHOR_DATE": stamp,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def count_hadolint_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap hadolint's process seam: the real hadolint still runs; each run's Dockerfile text
    is appended to the returned list."""
    seen: list[str] = []
    real = hadolint.invoke

    def counting(argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        seen.append(text)
        return real(argv, text, cwd)

    monkeypatch.setattr(hadolint, "invoke", counting)
    return seen


_seen: list[str] | None = None
_events: tuple[str, ...] = ()


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _seen is not None and event in _events and args and isinstance(args[0], str | Path):
        _seen.append(str(Path(str(args[0])).absolute()))


@contextlib.contextmanager
def paths_opened(events: tuple[str, ...] = ("open",)) -> Iterator[list[str]]:
    """Every path given to one of the audit `events` inside the block ("open": files read or
    written; "os.scandir", "os.listdir": directories listed). One audit hook per process (they
    cannot be removed), switched on by this."""
    global _seen, _events
    if not getattr(sys, "_orchestrator_paths_hook", False):
        sys.addaudithook(_audit)
        sys._orchestrator_paths_hook = True  # type: ignore[attr-defined]
    _seen, _events = [], events
    try:
        yield _seen
    finally:
        _seen, _events = None, ()
