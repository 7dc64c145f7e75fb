"""Two runs at once in the same repository corrupt nothing.

* two `orchestrator build` of the same target, sharing one local cache directory: both succeed,
  the shared report parses, each run has its own scratch directory, the cache's index.json parses
  and every blob it names is there, and a third build imports from that cache;
* two `orchestrator pin --update` at once: both succeed and builds.lock parses;
* the lock primitives themselves (`lockfile.locked` + `write_lock`) from two processes doing
  read-modify-write in a loop: no update is lost, no temporary file is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from orchestrator import lockfile
from tests.conftest import ROOT, Engine


def env_for(engine: Engine) -> dict[str, str]:
    return {**engine.env, "PYTHONPATH": str(ROOT), "CI": "true", "NO_COLOR": "1"}


def run_together(
    argvs: list[list[str]], cwd: Path, env: dict[str, str], timeout: float = 180
) -> list[subprocess.CompletedProcess[str]]:
    """Start every argv before waiting for any; bounded by `timeout` each."""
    procs = [
        subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for argv in argvs
    ]
    results = []
    for proc, argv in zip(procs, argvs, strict=True):
        with proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
        results.append(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr))
    return results


def write_project(root: Path, engine: Engine, cache: Path) -> None:
    token = uuid.uuid4().hex  # a fresh step, so both runs really build and export cache
    (root / "Dockerfile").write_text(
        f"FROM busybox:1.35 AS app\nRUN echo {token} > /token && sleep 2\nUSER 10001:10001\n",
        encoding="utf-8",
    )
    (root / ".dockerignore").write_text("*\n", encoding="utf-8")
    (root / "builds.yaml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            project: {{name: concurrent, image: '{engine.unique_repo("concurrent")}'}}
            mirrors: {{'busybox:1.35': '{engine.images["BUSYBOX_IMAGE"]}'}}
            targets:
              app:
                tags: [dev]
                outputs: [load]
                cache:
                  to: ['type=local,dest={cache},mode=max']
                  from: ['type=local,src={cache}']
            """
        ),
        encoding="utf-8",
    )


def test_two_builds_at_once_share_a_cache_dir(engine: Engine, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    cache = tmp_path / "cache"
    write_project(repo, engine, cache)
    build = [sys.executable, "-m", "orchestrator", "build", "app"]
    results = run_together([build, build], repo, env_for(engine))
    for out in results:
        assert out.returncode == 0, out.stderr[-3000:]
        assert "Traceback" not in out.stderr
    # They overlapped, and the second took its turn with the cache directory.
    assert sum("waiting for another run using cache" in out.stderr for out in results) == 1

    report = json.loads((repo / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "ok"
    assert [t["status"] for t in report["targets"]] == ["ok"]
    assert not list((repo / ".orchestrator").glob(".report.json.*"))  # no torn temp files
    runs = sorted((repo / ".orchestrator" / "runs").iterdir())
    assert len(runs) == 2  # one scratch directory per run
    for run in runs:
        json.loads((run / "metadata.json").read_text(encoding="utf-8"))
        json.loads((run / "bake.json").read_text(encoding="utf-8"))

    index = json.loads((cache / "index.json").read_text(encoding="utf-8"))
    assert index["manifests"]
    for desc in index["manifests"]:
        blob = cache / "blobs" / desc["digest"].replace(":", "/")
        assert blob.is_file(), desc
        for layer in json.loads(blob.read_bytes()).get("layers", []):
            assert (cache / "blobs" / layer["digest"].replace(":", "/")).is_file(), layer

    # The cache both runs wrote is usable: a third build imports its steps from it.
    engine.run("docker", "buildx", "prune", "-af")
    third = subprocess.run(
        [*build, "--ci"],
        cwd=repo,
        env=env_for(engine),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert third.returncode == 0, third.stderr[-3000:]
    assert "CACHED [1/2] RUN echo" in third.stderr or "CACHED [app 1/2] RUN" in third.stderr


def test_two_pins_at_once_leave_a_valid_lock(engine: Engine, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_project(repo, engine, tmp_path / "cache")
    pin = [sys.executable, "-m", "orchestrator", "pin", "--update"]
    for _ in range(2):
        results = run_together([pin, pin], repo, env_for(engine))
        for out in results:
            assert out.returncode == 0, out.stderr[-3000:]
        lock = lockfile.read_lock(repo / "builds.lock")
        assert lock is not None
        (key,) = lock.images
        assert key == "docker.io/library/busybox:1.35"
        assert lock.images[key].digest.startswith("sha256:")
    assert not list(repo.glob(".builds.lock.*"))


WORKER = """\
import sys
from pathlib import Path
from orchestrator import lockfile

path, me, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
digest = "sha256:" + "0" * 64
for i in range(rounds):
    with lockfile.locked(path):
        before = lockfile.read_lock(path)
        images = dict(before.images) if before else {}
        images[f"localhost:5000/{me}/image-{i}:1"] = lockfile.LockEntry(me, digest)
        lockfile.write_lock(path, lockfile.Lock(images))
"""


def test_lock_read_modify_write_from_two_processes_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "builds.lock"
    rounds = 40
    argvs = [[sys.executable, "-c", WORKER, str(path), name, str(rounds)] for name in ("a", "b")]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    for out in run_together(argvs, tmp_path, env, timeout=120):
        assert out.returncode == 0, out.stderr
    lock = lockfile.read_lock(path)
    assert lock is not None
    assert len(lock.images) == 2 * rounds  # every write of both processes survived
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".builds.lock.")]
