"""Issue 9: the benchmark runs end to end on a tiny case. No timing assertions, on purpose.

Cases 1 (plan vs bake --print, memo on and off) and 7 (build-context bytes) with one run and
--quick: no build of the sample, no `docker buildx prune`, a few seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, Engine


def test_bench_quick_run_writes_json_and_markdown(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "results" / "smoke.json"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench:begin -->\nold\n<!-- bench:end -->\ntail\n", "utf-8")
    argv = [sys.executable, "-m", "bench", "--only", "1,7", "--runs", "1", "--quick"]
    argv += ["--out", str(out), "--update-readme", str(readme), "--workdir", str(tmp_path)]
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"

    data = json.loads(out.read_text(encoding="utf-8"))
    assert {"schema", "date", "complete", "duration_s", "machine", "engine", "settings"} <= set(
        data
    )
    assert data["complete"] is True
    assert data["machine"]["nproc"] > 0
    assert data["machine"]["memory_bytes"] > 0
    assert data["engine"]["server"]
    assert data["engine"]["buildx"]
    figures = {f["id"]: f for f in data["figures"]}
    assert set(figures) == {"1", "1b", "7"}
    for figure in figures.values():
        assert figure["status"] in ("pass", "fail", "info")
        assert figure["error"] is None
        assert figure["pairs"] >= 1
        assert figure["ratio"] > 0
        for side in ("a", "b"):
            assert figure[side]["median"] > 0
            assert all(s > 0 for s in figure[side]["samples"])
    assert figures["1"]["goal"]["limit"] == 1.2
    assert figures["7"]["a"]["unit"] == "B"
    # Without .dockerignore the checkout's .git and build outputs go along: far more bytes.
    assert figures["7"]["b"]["median"] > figures["7"]["a"]["median"]

    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| # | Figure (A / B) |" in table
    assert "CPUs" in table
    updated = readme.read_text(encoding="utf-8")
    assert "old" not in updated
    assert table in updated
    assert updated.endswith("<!-- bench:end -->\ntail\n")
    # The temp copies were cleaned up; nothing was written into the repository's sample.
    assert not list(tmp_path.glob("orch-bench-*"))
