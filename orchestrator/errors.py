"""The two kinds of failure, kept apart as pre-commit does.

* `UserError` and its children are expected: bad input, a missing engine, a failed build.
  They print one clear line (or one line per problem) and exit with their code, no traceback.
* Anything else is our bug: exit 3, "unexpected error", traceback kept for the bug report.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_BUILD_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A failure the user can fix; never shows a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)

    def lines(self) -> list[str]:
        return [self.message, *self.problems] if self.problems else [self.message]


class ManifestError(UserError):
    """builds.yaml (or an override) is invalid: one line per problem, file:line: key: cause."""


class PreflightError(UserError):
    """The engine or builder cannot do what the plan needs; nothing was started."""


class BuildFailed(UserError):
    """buildx ran and failed (exit 1)."""

    exit_code = EXIT_BUILD_FAILED


class OutputError(UserError):
    """The command's result could not be written to stdout (closed, disk full): exit 1.

    Not a usage error (the input was fine) and not a bug: the work may be done, its answer lost.
    """

    exit_code = EXIT_BUILD_FAILED


class Interrupted(UserError):
    """SIGINT/SIGTERM during a run (exit 130)."""

    exit_code = EXIT_INTERRUPTED


# Set by on_interrupt(), the SIGINT handler entry() installs. A library interrupted inside its
# native code does not always let the KeyboardInterrupt through: pydantic-core, stopped while
# it builds a model at import, raises a SchemaError or pyo3's PanicException (a BaseException)
# instead, seen with Ctrl-C in the first 0.3 s of a run. After a SIGINT, whatever stops the
# run is the interrupt (exit 130), not a bug of ours.
# A list appended to rather than a flag rebound with `global`; the handler takes no lock.
_SIGINTS: list[int] = []


def on_interrupt(signum: int, _frame: object) -> None:
    """Python's own SIGINT behaviour (raise KeyboardInterrupt), noting that it happened."""
    _SIGINTS.append(signum)
    raise KeyboardInterrupt


def interrupted() -> bool:
    return bool(_SIGINTS)


def report_interrupt() -> int:
    _write(["error: interrupted"])
    return EXIT_INTERRUPTED


def _write(lines: Sequence[str]) -> None:
    if sys.stderr is None:  # started with fd 2 closed (`2>&-`): only the exit code can tell
        return
    with contextlib.suppress(OSError):  # nowhere left to report a failing stderr
        for line in lines:
            sys.stderr.write(f"{line}\n")
        sys.stderr.flush()


@contextlib.contextmanager
def stdout_guard() -> Iterator[None]:
    """Around writing a command's result (plan, schema, check, --help) to stdout.

    A reader that went away (`| head`) had what it wanted: not an error, and stdout is pointed
    at /dev/null so the flush at exit does not fail again. Any other failure -- stdout closed
    (`>&-`), a full disk -- loses the result: one line and exit 1, not "a bug" with a traceback.
    Checked up front when fd 1 was closed at start-up: rich would silently print to nowhere.
    """
    if sys.stdout is None:
        raise OutputError("cannot write to standard output: it is closed")
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None


@contextlib.contextmanager
def error_handler(log_dir: Path | None = None) -> Iterator[list[int]]:
    """Turn exceptions into exit codes; the caller reads the code from the yielded cell."""
    cell = [EXIT_OK]
    try:
        yield cell
    except UserError as exc:
        _write([f"error: {line}" if i == 0 else f"  {line}" for i, line in enumerate(exc.lines())])
        cell[0] = exc.exit_code
    except KeyboardInterrupt:
        cell[0] = report_interrupt()
    except BaseException as exc:
        if isinstance(exc, SystemExit | GeneratorExit):
            raise  # argparse's exits, a generator closed: not failures
        if _SIGINTS:
            cell[0] = report_interrupt()
            return
        # Not only Exception: pyo3's PanicException (a panic in a native library) is a
        # BaseException, and it is a bug to report like any other, not a bare traceback.
        import traceback  # only on this path: two milliseconds off every start-up

        detail = traceback.format_exc()
        where = _save_crash(detail, log_dir)
        _write(
            [
                f"error: unexpected error ({type(exc).__name__}: {exc})",
                f"  this is a bug in orchestrator; details saved to {where}" if where else detail,
            ]
        )
        if os.environ.get("ORCH_DEBUG"):
            _write([detail])
        cell[0] = EXIT_BUG


def _save_crash(detail: str, log_dir: Path | None) -> Path | None:
    if log_dir is None:
        return None
    from orchestrator import atomic, masking  # stdlib only, and only on this path

    try:
        from orchestrator import scratch  # stdlib only

        scratch.mkdir(log_dir)
        path = log_dir / "orchestrator-crash.log"
        # Atomic: a symlink planted at the path is replaced, never written through. Masked:
        # a traceback's message can quote a secret value as any other output can.
        atomic.write_text(path, masking.mask(detail))
    except OSError:
        return None
    return path
