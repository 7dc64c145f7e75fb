"""Issue 16, injection, on the real buildx: an output path with a comma stays one field.

`outputs: ['local:out,type=image,name=…,push=true']` once gave buildx a second `type=`
(it takes the last, so it would push). specs.py quotes the field as Go's encoding/csv reads
it; this checks that real buildx reads it back as one local destination and pushes nothing.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, Engine
from tests.integration.orchestrate import run_cli


def test_an_output_path_with_a_comma_is_one_local_destination(
    engine: Engine, tmp_path: Path
) -> None:
    repo = engine.unique_repo("specs")
    (tmp_path / "f").write_text("hi\n", encoding="utf-8")
    (tmp_path / ".dockerignore").write_text("*\n!f\n", encoding="utf-8")
    (tmp_path / "Dockerfile").write_text("FROM scratch AS app\nCOPY f /f\n", encoding="utf-8")
    evil = f"local:out,type=image,name={repo}:x,push=true"
    (tmp_path / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: specs, image: '{repo}'}}\n"
        "targets:\n"
        f"  app: {{outputs: ['{evil}']}}\n",
        encoding="utf-8",
    )
    env = {**engine.env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "ORCH_PLAN_MEMO": "0"}
    env.pop("CI", None)
    proc = run_cli(env, tmp_path, "build", "--skip-checks", "app", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / f"out,type=image,name={repo}:x,push=true"
    assert (out / "f").read_text(encoding="utf-8") == "hi\n"
    top = out.relative_to(tmp_path).parts[0]  # the repository's `/` made it nested
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".dockerignore", ".orchestrator", "Dockerfile", "builds.yaml", "f", top]
    )
