"""The plan memo: a replay prints exactly what a fresh plan would, and anything a plan depends
on makes it plan afresh. Real git repositories and files; nothing here talks to docker."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator import inputs, planmemo
from orchestrator.main import main
from tests.unit import helpers

MANIFEST = """\
version: 1
project: {name: memo, image: localhost:5000/memo}
targets:
  app:
    stage: production
    tags: [sha]
    secrets: [{id: netrc, file: netrc.txt, required: false}]
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed project, the working directory, with the racy-file rule off (files written
    by a test are always seconds old; the rule has its own test)."""
    helpers.write_project(tmp_path, MANIFEST)
    (tmp_path / ".gitignore").write_text("netrc.txt\n")
    helpers.git(tmp_path, "init", "-q", "-b", "main")
    helpers.git(tmp_path, "add", "-A")
    helpers.git(tmp_path, "commit", "-qm", "one")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(planmemo, "RACY_SECONDS", 0.0)
    return tmp_path


def plan(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[bool, str]:
    """(replayed?, stdout) of `orchestrator plan app *extra`."""
    words = ["plan", "app", *extra]
    replayed = planmemo.replay(words)
    if not replayed:
        assert main(words) == 0
    return replayed, capsys.readouterr().out


def test_second_plan_is_replayed_with_identical_output(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = plan(capsys)
    second = plan(capsys)
    assert first[0] is False
    assert second == (True, first[1])
    assert "target app" in first[1]
    assert plan(capsys, "--format", "json")[0] is False  # another command line, another entry


def _edit(path: str, text: str) -> Callable[[Path], object]:
    return lambda repo: (repo / path).write_text(text)


def _append(path: str, text: str) -> Callable[[Path], object]:
    return lambda repo: (repo / path).write_text((repo / path).read_text() + text)


def _commit(repo: Path) -> None:
    _append("Dockerfile", "# comment\n")(repo)
    helpers.git(repo, "commit", "-qam", "two")


# change -> what it makes the fresh plan say (None: nothing printed depends on it, for example
# the branch only names cache refs and this manifest has no cache)
CHANGES: dict[str, tuple[Callable[[Path], object], str | None]] = {
    "manifest edited": (_append("builds.yaml", "    labels: {team: core}\n"), "team=core"),
    "Dockerfile edited": (_append("Dockerfile", "FROM scratch AS extra\n"), None),
    "lock file appears": (_edit("builds.lock", "version: 1\nimages: {}\n"), None),
    "secret file appears": (_edit("netrc.txt", "machine example.com\n"), "id=netrc,src="),
    "untracked file (dirty)": (_edit("new.txt", "x"), ".dirty"),
    "new commit": (_commit, "dev.2.g"),
    "version tag": (lambda repo: helpers.git(repo, "tag", "v2.0.0"), "VERSION=2.0.0 "),
    "new branch": (lambda repo: helpers.git(repo, "checkout", "-qb", "feature"), None),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_input_change_plans_afresh(
    repo: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    before = plan(capsys)[1]
    assert plan(capsys)[0] is True
    action, shows = CHANGES[change]
    action(repo)
    replayed, after = plan(capsys)
    assert replayed is False
    if shows is not None:
        assert shows in after
        assert shows not in before
    assert plan(capsys) == (True, after)  # and the new plan is what is replayed from now on


def test_environment_is_part_of_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan(capsys)
    monkeypatch.setenv("VERSION", "9.9.9")
    replayed, out = plan(capsys)
    assert replayed is False
    assert "VERSION=9.9.9" in out


def test_recent_files_are_not_memoized(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planmemo, "RACY_SECONDS", 2.0)
    (repo / "Dockerfile").write_text((repo / "Dockerfile").read_text())  # changed just now
    plan(capsys)
    assert plan(capsys)[0] is False
    assert list(planmemo.directory().glob("*.json")) == []


def test_switched_off_and_broken_entries(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(planmemo.SWITCH, "0")
    plan(capsys)
    assert not planmemo.directory().exists()
    monkeypatch.delenv(planmemo.SWITCH)
    plan(capsys)
    (entry,) = planmemo.directory().glob("*.json")
    entry.write_text("{not json")
    replayed, out = plan(capsys)
    assert replayed is False
    assert "target app" in out


@pytest.mark.parametrize("which", ["key", "entry"])
@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_memo_file_that_is_not_one_of_ours_is_ignored_at_once(
    repo: Path, capsys: pytest.CaptureFixture[str], which: str, kind: str
) -> None:
    # The memo is best effort: whatever sits in the cache under a memo's name (a FIFO blocks
    # an open for reading until a writer comes, forever) never holds a plan up.
    plan(capsys)
    (entry,) = planmemo.directory().glob("*.json")
    path = planmemo.directory() / "key" if which == "key" else entry
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        with path.open("wb") as handle:
            handle.truncate(1 << 40)  # a sparse terabyte: reading it would take forever too
    answer: list[bool] = []
    worker = threading.Thread(target=lambda: answer.append(planmemo.replay(["plan", "app"])))
    worker.daemon = True
    worker.start()
    worker.join(timeout=10)
    done = list(answer)
    if worker.is_alive() and kind == "fifo":
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # let the stuck reader go
        worker.join(timeout=10)
    assert done == [False]
    assert main(["plan", "app"]) == 0
    assert "target app" in capsys.readouterr().out


def test_plans_with_warnings_are_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    helpers.write_project(tmp_path)  # production needs env TOKEN, which is not set
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKEN", raising=False)
    monkeypatch.setattr(planmemo, "RACY_SECONDS", 0.0)
    assert main(["plan", "production"]) == 0
    assert "warning:" in capsys.readouterr().err
    assert planmemo.replay(["plan", "production"]) is False


def test_entries_are_private_and_hold_no_environment_values(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "memo-canary-5f1e"
    monkeypatch.setenv("SOME_TOKEN", canary)
    plan(capsys)
    where = planmemo.directory()
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    for path in where.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert canary.encode() not in path.read_bytes()
        assert canary not in path.name


def test_old_entries_are_pruned(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planmemo, "KEEP", 2)
    for form in ("text", "json", "bake"):
        plan(capsys, "--format", form)
    assert len(list(planmemo.directory().glob("*.json"))) == 2


def test_our_own_source_is_part_of_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = repo.parent / "code"
    code.mkdir()
    (code / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(planmemo, "_PACKAGE", code)
    plan(capsys)
    assert plan(capsys)[0] is True
    (code / "m.py").write_text("x = 2\n")
    assert plan(capsys)[0] is False


def test_every_file_a_plan_opens_is_noted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inputs.note() sits next to each read; this catches a read added without one."""
    (repo / "netrc.txt").write_text("machine example.com\n")
    (repo / "builds.lock").write_text("version: 1\nimages: {}\n")
    with helpers.paths_opened() as opened, inputs.recording() as noted:
        assert main(["plan", "app", "--format", "json"]) == 0
    capsys.readouterr()
    ours = {p for p in opened if p.startswith(str(repo)) and "/.git/" not in p}
    assert ours, "the audit hook saw no project file: the test would prove nothing"
    assert ours <= set(noted)
    data = json.loads(next(planmemo.directory().glob("*.json")).read_text())
    assert ours <= set(data["files"])


def test_replay_skips_the_heavy_imports(repo: Path) -> None:
    """The point of the memo: a replay never imports pydantic or PyYAML. Real processes, the
    racy-file rule on: the files must be older than its 2 seconds first."""
    time.sleep(planmemo.RACY_SECONDS_DEFAULT + 0.1)
    env = {**os.environ, planmemo.SWITCH: "1"}
    argv = [sys.executable, "-X", "importtime", "-m", "orchestrator", "plan", "app"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    second = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert second.stdout == first.stdout
    assert "pydantic" in first.stderr  # -X importtime lists every import
    assert " pydantic\n" not in second.stderr
    assert " yaml\n" not in second.stderr


@pytest.mark.parametrize("memo", ["0", "1"])
def test_a_reader_that_goes_away_is_not_an_error(repo: Path, memo: str) -> None:
    """`orchestrator plan | head -1`: a closed pipe ends the command quietly, computed or
    replayed (the first run stores the plan the second replays)."""
    env = {**os.environ, planmemo.SWITCH: memo}
    argv = [sys.executable, "-m", "orchestrator", "plan", "app", "--format", "json"]
    time.sleep(planmemo.RACY_SECONDS_DEFAULT + 0.1)
    for _ in range(2):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will ever read: the first write fails with EPIPE
        try:
            proc = subprocess.run(
                argv, check=False, stdout=write_end, stderr=subprocess.PIPE, env=env
            )
        finally:
            os.close(write_end)
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stderr == b""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_replayed_plan_that_cannot_be_written_is_an_error(repo: Path) -> None:
    """The replay path writes before the parser is even imported; it reports like the rest."""
    env = {**os.environ, planmemo.SWITCH: "1"}
    argv = [sys.executable, "-X", "importtime", "-m", "orchestrator", "plan", "app"]
    time.sleep(planmemo.RACY_SECONDS_DEFAULT + 0.1)
    subprocess.run(argv, capture_output=True, env=env, check=True)  # stores the plan
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            argv, check=False, stdout=full, stderr=subprocess.PIPE, text=True, env=env
        )
    assert " pydantic\n" not in done.stderr  # replayed, not computed
    assert done.returncode == 1
    assert done.stderr.endswith("error: cannot write to standard output: No space left on device\n")


def test_plans_that_read_the_clock_are_not_stored(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `{{date}}` tag says today's date: a replay tomorrow would print yesterday's tag."""
    (repo / "builds.yaml").write_text(
        MANIFEST.replace("tags: [sha]", "tags: [\"nightly-{{date 'YYYYMMDD'}}\"]")
    )
    assert plan(capsys)[0] is False
    assert plan(capsys)[0] is False  # planned afresh again
    pinned = ("--var", "BUILD_DATE=2020-01-10T00:30:00Z")  # a fixed date may be memoized
    assert plan(capsys, *pinned)[0] is False
    replayed, out = plan(capsys, *pinned)
    assert replayed
    assert "nightly-20200110" in out
