"""Labels and label-annotations from git on the real engine: a pushed image carries the
org.opencontainers.image.* labels in its config and, asked with `label-annotations`, the same
keys as annotations on the index and the manifest in the registry."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from tests.conftest import Engine

from .orchestrate import orchestrator

BASE_IMAGE = "localhost:5000/library/busybox:1.35"
OCI = "org.opencontainers.image"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *args],
        check=True,
        capture_output=True,
    )


def test_pushed_image_has_labels_and_annotations_from_git(engine: Engine, tmp_path: Path) -> None:
    repo = engine.unique_repo("labels")
    (tmp_path / "builds.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        project: {{name: labels, image: {repo}, licenses: MIT, description: tiny}}
        targets:
          app:
            tags: [{{type: ref, event: tag}}, sha]
            flavor: {{latest: "false"}}
            outputs: [push]
            provenance: false
            label-annotations: [manifest, index]
        """),
        encoding="utf-8",
    )
    (tmp_path / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nUSER 10001:10001\nHEALTHCHECK NONE\nCMD ["true"]\n',
        encoding="utf-8",
    )
    (tmp_path / ".dockerignore").write_text("*\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text(".orchestrator/\n", encoding="utf-8")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    _git(tmp_path, "remote", "add", "origin", "https://ci:t0ken@git.example.com/team/labels.git")
    _git(tmp_path, "tag", "v0.3.0")
    _git(tmp_path, "checkout", "-q", "--detach")

    orchestrator(engine, "build", "app", cwd=tmp_path)

    raw = engine.run("docker", "buildx", "imagetools", "inspect", "--raw", f"{repo}:v0.3.0")
    top = json.loads(raw.stdout)
    source = "https://git.example.com/team/labels"
    # The docker driver pushes one platform as a plain manifest; the release tag is a list
    # made by digest around it (index annotations need a built index: multi-platform).
    digest = top["manifests"][0]["digest"] if "manifests" in top else None
    image = top
    if digest:
        image = json.loads(
            engine.run(
                "docker", "buildx", "imagetools", "inspect", "--raw", f"{repo}@{digest}"
            ).stdout
        )
    assert image["annotations"][f"{OCI}.source"] == source
    assert image["annotations"][f"{OCI}.licenses"] == "MIT"
    assert image["annotations"][f"{OCI}.version"] == "0.3.0"
    config = engine.run(
        "docker", "buildx", "imagetools", "inspect", f"{repo}:v0.3.0", "--format", "{{json .Image}}"
    )
    labels = json.loads(config.stdout)["config"]["Labels"]
    assert labels[f"{OCI}.source"] == source
    assert labels[f"{OCI}.description"] == "tiny"
    assert labels[f"{OCI}.version"] == "0.3.0"
    assert "t0ken" not in raw.stdout + config.stdout
