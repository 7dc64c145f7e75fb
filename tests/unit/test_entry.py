"""The `orchestrator` command's exit (main.entry): output complete, exit codes kept, no
interpreter teardown, and a normal exit for profilers and coverage that write at exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import errors

REPO = Path(__file__).resolve().parents[2]


def orch(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_piped_output_is_complete() -> None:
    done = orch("plan", "all", "--format", "bake")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["target"]) == {"development", "production"}


def test_exit_codes_survive_the_fast_exit(tmp_path: Path) -> None:
    missing = orch("plan", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr
    usage = orch("plan", "--no-such-flag")
    assert usage.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in usage.stderr
    helped = orch("--help")
    assert helped.returncode == 0
    assert "usage: orchestrator" in helped.stdout


def test_a_reader_that_left_is_not_an_error() -> None:
    """`orchestrator plan | head -0`: the pipe is closed before anything is written."""
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "plan", "all", "--format", "bake"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.close()
        stderr = proc.stderr.read() if proc.stderr else ""
        code = proc.wait(timeout=60)
    assert code == 0, stderr
    assert stderr == ""


def test_profilers_get_their_normal_exit(tmp_path: Path) -> None:
    stats = tmp_path / "profile.out"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "orchestrator", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert stats.stat().st_size > 0  # cProfile writes it after the module returns


def test_no_interpreter_teardown_after_the_flush() -> None:
    """atexit handlers are part of the teardown entry() skips: this one must never print."""
    script = (
        "import atexit, sys\n"
        "from orchestrator import main\n"
        "atexit.register(lambda: print('teardown ran'))\n"
        "sys.argv = ['orchestrator', '--help']\n"
        "main.entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage: orchestrator" in done.stdout  # flushed before leaving
    assert "teardown ran" not in done.stdout


# Where the command's result cannot be written. Each command that prints a result: plan
# (computed here; replayed from the memo in test_planmemo), check (rendered by rich, written in one
# piece), schema, and argparse's own
# --help and --version, which argparse would otherwise report as written.
RESULTS = [
    ["plan", "production", "--format", "bake"],
    ["check", "production", "--no-hadolint"],
    ["schema"],
    ["--help"],
    ["plan", "--help"],
    ["--version"],
]


def _with_stdout(redirect: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with the shell redirection `redirect` applied to its fd 1 or 2."""
    return subprocess.run(
        ["bash", "-c", f'exec "$@" {redirect}', "-", sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        capture_output="2>" not in redirect,
        stdout=subprocess.PIPE if "2>" in redirect else None,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", RESULTS, ids=" ".join)
def test_a_full_disk_is_one_line_and_exit_1(args: list[str]) -> None:
    done = _with_stdout(">/dev/full", *args)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("args", RESULTS, ids=" ".join)
def test_a_closed_stdout_is_one_line_and_exit_1(args: list[str]) -> None:
    done = _with_stdout(">&-", *args)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write to standard output: it is closed\n"


def test_check_output_to_a_reader_that_left_is_not_an_error() -> None:
    """rich's own broken-pipe handling would exit 1; the result guard makes it plan's 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "check", "production", "--no-hadolint"],
            cwd=REPO,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_closed_stderr_keeps_the_exit_code() -> None:
    """Nowhere to say why, but no crash: a usage error still exits 2, a plan still prints."""
    usage = _with_stdout("2>&-", "plan", "--no-such-flag")
    assert usage.returncode == 2
    planned = _with_stdout("2>&-", "plan", "production", "--format", "bake")
    assert planned.returncode == 0
    assert "production" in json.loads(planned.stdout)["target"]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


# A fresh plan validates the manifest; these print whether pydantic's plugin loader (and the
# importlib.metadata it imports) came in, and whether the models still validate.
_MODELS = (
    "import sys\n"
    "from orchestrator import main\n"
    "{setup}\n"
    "from orchestrator.manifest import Manifest\n"
    "Manifest.model_validate({{'version': 1, 'project': {{'name': 'p', 'image': 'r/p'}}, 'targets': {{'t': {{}}}}}})\n"
    "print('importlib.metadata' in sys.modules)\n"
)


def test_plugins_disabled_skip_pydantics_plugin_loader() -> None:
    done = _python(_MODELS.format(setup="main._without_plugin_loader()"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
    # Without the stand-in, the same models bring the loader and importlib.metadata in.
    plain = _python(_MODELS.format(setup=""))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split() == ["True"]


def test_the_stand_in_hands_over_to_the_real_loader_for_anything_else() -> None:
    code = (
        "import sys\n"
        "from orchestrator import main\n"
        "main._without_plugin_loader()\n"
        "stand_in = sys.modules['pydantic.plugin._loader']\n"
        "print(list(stand_in.get_plugins()))\n"
        "print(stand_in.PYDANTIC_ENTRY_POINT_GROUP)\n"
        "print(sys.modules['pydantic.plugin._loader'] is stand_in)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "pydantic", "False"]


def test_a_user_who_enables_plugins_gets_the_real_loader(tmp_path: Path) -> None:
    """PYDANTIC_DISABLE_PLUGINS set to anything but "all" keeps pydantic's own loader."""
    code = (
        "import os, sys\n"
        "from orchestrator import main\n"
        "main.gc.set_threshold = lambda *a: None\n"
        "main.main = lambda early=False: 0\n"
        "main.os._exit = lambda code: print(sys.modules.get('pydantic.plugin._loader'))\n"
        "main.entry()\n"
    )
    enabled = _python(code, PYDANTIC_DISABLE_PLUGINS="some-plugin")
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout.strip() == "None"
    disabled = _python(code, PYDANTIC_DISABLE_PLUGINS="__all__")
    assert "pydantic.plugin._loader" in disabled.stdout


# What pydantic-core does when Ctrl-C reaches it while it builds a model: the KeyboardInterrupt
# comes out as another exception (a SchemaError, or pyo3's PanicException, a BaseException).
_NATIVE_INTERRUPT = """
import os, signal, sys
from orchestrator import main as entry_module

class PanicException(BaseException):
    pass

def interrupted_in_native_code(argv=None, early=False):
    try:
        os.kill(os.getpid(), signal.SIGINT)
        signal.pthread_kill(signal.pthread_self(), 0)  # the handler runs before this returns
    except KeyboardInterrupt:
        raise PanicException("failed to import `datetime` C API") from None
    return 0

entry_module.main = interrupted_in_native_code
entry_module.entry()
"""


def python(program: str, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **options,
    )


def test_ctrl_c_turned_into_another_exception_by_a_library_is_still_an_interrupt() -> None:
    done = python(_NATIVE_INTERRUPT)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")


def test_an_ignored_sigint_stays_ignored() -> None:
    """`nohup orchestrator build` / a script's `orchestrator build &`: SIGINT was ignored by
    whoever started us, and entry() must not install a handler that takes it back."""
    program = (
        "import signal\n"
        "from orchestrator import main as m\n"
        "m.main = lambda argv=None, early=False: 0 if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else 5\n"
        "m.entry()\n"
    )
    done = python(program, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert done.returncode == 0, done.stderr


def test_any_failure_after_a_sigint_is_the_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(errors, "_SIGINTS", [signal.SIGINT])
    with errors.error_handler(tmp_path) as cell:
        raise RuntimeError("Error building `model` serializer")  # pydantic-core, interrupted
    assert cell == [errors.EXIT_INTERRUPTED]
    assert capsys.readouterr().err == "error: interrupted\n"
    assert not (tmp_path / "orchestrator-crash.log").exists()


def test_a_native_panic_without_a_sigint_is_a_bug_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class PanicException(BaseException):  # pyo3's: not an Exception
        pass

    with errors.error_handler(tmp_path) as cell:
        raise PanicException("called `Option::unwrap()` on a `None` value")
    assert cell == [errors.EXIT_BUG]
    assert "error: unexpected error (PanicException:" in capsys.readouterr().err
    assert "Option::unwrap" in (tmp_path / "orchestrator-crash.log").read_text()
