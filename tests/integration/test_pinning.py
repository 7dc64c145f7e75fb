"""Base-image pinning on the real engine and registry: a lock survives a moved tag.

A base image A is pushed under `<unique>/base:1`, builds.yaml mirrors `base:1` to it, and
`orchestrator pin` locks it. Then B is pushed under the same tag: `pin --check` must name the
image and both digests, and a build under the old lock must still be made of A's bytes, which
is proven from the built image itself (its layers and a file it copied), not from our logs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from orchestrator import refs
from tests.conftest import ROOT, Engine

PYTHON = ROOT / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)

DOCKERFILE = """\
ARG BASE=base:1
FROM ${BASE} AS app
RUN cat /marker > /copied
"""


def _raw(engine: Engine, ref: str) -> dict[str, Any]:
    proc = engine.run("docker", "buildx", "imagetools", "inspect", "--raw", ref)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _index_digest(engine: Engine, ref: str) -> str:
    proc = engine.run(
        "docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"
    )
    return str(json.loads(proc.stdout)["digest"])


def _layers(engine: Engine, ref: str) -> list[str]:
    """Layer digests of the linux/amd64 image `ref` names (an index or a manifest)."""
    data = _raw(engine, ref)
    if "manifests" in data:
        name = refs.parse_reference(ref).name
        amd64 = next(
            m["digest"]
            for m in data["manifests"]
            if m.get("platform", {}).get("architecture") == "amd64"
        )
        data = _raw(engine, f"{name}@{amd64}")
    return [layer["digest"] for layer in data["layers"]]


def _push_base(engine: Engine, tmp: Path, ref: str, marker: str) -> str:
    """Build busybox + /marker and push it under `ref`; return the index digest pushed."""
    context = tmp / f"base-{marker}"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM busybox:1.35\nRUN echo {marker} > /marker\n", encoding="utf-8"
    )
    engine.run(
        "docker",
        "buildx",
        "build",
        "--platform",
        "linux/amd64",
        "--build-context",
        f"busybox:1.35=docker-image://{engine.images['BUSYBOX_IMAGE']}",
        "--output",
        f"type=image,name={ref},push=true",
        str(context),
        timeout=300,
    )
    return _index_digest(engine, ref)


def test_lock_keeps_builds_on_the_locked_digest_after_the_tag_moves(
    engine: Engine, tmp_path: Path
) -> None:
    base_repo = engine.unique_repo("base")
    base = f"{base_repo}:1"
    app = base_repo.rsplit("/", 1)[0] + "/app"
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (project / "builds.yaml").write_text(
        "version: 1\n"
        "project:\n"
        "  name: pintest\n"
        f"  image: {app}\n"
        "mirrors:\n"
        f"  base:1: {base}\n"
        "targets:\n"
        "  app:\n"
        "    pin: digest\n"
        "    tags: [test]\n"
        "    outputs: [push]\n",
        encoding="utf-8",
    )
    # The venv was installed editable before the package had its __init__.py on some machines,
    # which makes `python -m orchestrator` outside the repo import a namespace package. Putting
    # the repo first on the path gives the same code either way.
    env = {**engine.env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}

    def orch(*argv: str) -> tuple[int, str]:
        runner = Engine(env=env, registry=engine.registry, images=engine.images)
        proc = runner.run(str(PYTHON), "-m", "orchestrator", *argv, cwd=project, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def copied(tag: str) -> str:
        proc = engine.run("docker", "run", "--rm", "--pull", "always", tag, "cat", "/copied")
        return proc.stdout.strip()

    digest_a = _push_base(engine, tmp_path, base, "A")
    layers_a = _layers(engine, f"{base}@{digest_a}")

    code, out = orch("pin")
    assert code == 0, out
    assert f"locked: base:1 {digest_a} ({base})" in out
    assert orch("pin", "--check") == (0, "builds.lock is up to date (1 image)\n")

    digest_b = _push_base(engine, tmp_path, base, "B")
    layers_b = _layers(engine, f"{base}@{digest_b}")
    assert digest_b != digest_a
    assert layers_b[-1] != layers_a[-1]  # the marker layers differ

    code, out = orch("pin", "--check")
    assert code == 1, out
    assert f"drift: base:1: locked {digest_a}, registry now {digest_b} ({base})" in out

    # Built under the old lock: the image is made of A, although base:1 is B now.
    code, out = orch("build", "--skip-checks")
    assert code == 0, out
    built = _layers(engine, f"{app}:test")
    assert built[: len(layers_a)] == layers_a
    assert layers_b[-1] not in built
    assert copied(f"{app}:test") == "A"
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    [used] = report["targets"][0]["base_images"]
    assert (used["ref"], used["source"], used["digest"], used["locked"]) == (
        "base:1",
        base,
        digest_a,
        True,
    )

    # `pin --update` takes B; the next build is made of B.
    code, out = orch("pin", "--update")
    assert code == 0, out
    assert f"updated: base:1 {digest_a} -> {digest_b} ({base})" in out
    assert orch("pin", "--check")[0] == 0
    code, out = orch("build", "--skip-checks")
    assert code == 0, out
    built = _layers(engine, f"{app}:test")
    assert built[: len(layers_b)] == layers_b
    assert layers_a[-1] not in built
    assert copied(f"{app}:test") == "B"
