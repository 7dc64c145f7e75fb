"""The one masking seam: every character we write passes the mask of the run's secret values.

main() puts `MaskedStream` in front of stdout and stderr for the whole run, so rich's consoles,
error lines, progress and `--explain` output are all masked at the last step, whatever printed
them. Files that people or CI read (the report, `check/schema --output`, the step summary, the
crash log) go through `mask()` too. The values are registered as soon as the manifest is read
(`register_manifest`), before any interpolation can put one into an error message. Each value
is masked in the forms it can take in our output: as is, base64 (standard and URL-safe, with
and without padding) and JSON-escaped.

Standard library only: main() installs this before anything heavy is imported.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from orchestrator import textfile

MASK = "***"
MASK_MIN = 4  # shorter values would mask ordinary words; no real secret is that short
SECRET_FILE_LIMIT = 1 << 20  # a secret file is read for masking only up to this size

_values: list[str] = []


def _forms(value: str) -> set[str]:
    raw = value.encode("utf-8", "surrogateescape")
    b64 = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return {value, b64, b64.rstrip("="), url, url.rstrip("="), json.dumps(value)[1:-1]}


def register(values: Iterable[str]) -> None:
    """Mask these values (and their encoded forms) from now on; short ones are left alone."""
    found = set(_values)
    for value in values:
        if value and len(value) >= MASK_MIN:
            found |= {f for f in _forms(value) if len(f) >= MASK_MIN}
    # Longest first, so a value that contains another is masked whole.
    _values[:] = sorted(found, key=len, reverse=True)


def clear() -> None:
    _values.clear()


def mask(text: str) -> str:
    for value in _values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def read_secret_file(path: Path) -> str | None:
    """A file secret's value for masking: regular files only (a FIFO would block), bounded."""
    try:
        fd, _ = textfile.open_regular(path)  # a FIFO's read would wait for a writer
    except (OSError, ValueError):
        return None
    try:
        data = os.read(fd, SECRET_FILE_LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip() or None


def register_manifest(
    secrets: Iterable[tuple[str, str | None, str | None]],
    root: Path,
    environ: Mapping[str, str],
    variables: Mapping[str, str],
) -> dict[str, str]:
    """Register the values of every declared secret, given as (id, env name, file) triples.

    An env secret's value is the variable's, and a `variables:`/`--var` entry of the same name
    holds it too (interpolation reads it from there). Returns value -> secret id.
    """
    found: dict[str, str] = {}
    for ident, env_name, file in secrets:
        if env_name is not None:
            for source in (environ, variables):
                if source.get(env_name):
                    found[source[env_name]] = ident
        if file is not None:
            with contextlib.suppress(OSError, ValueError):  # a NUL in the path, a loop...
                # realpath, not resolve(): see plan._abs (a loop then fails to open: no value)
                value = read_secret_file(Path(os.path.realpath(root / Path(file).expanduser())))
                if value:
                    found[value] = ident
    found = {value: ident for value, ident in found.items() if len(value) >= MASK_MIN}
    register(found)
    return found


class MaskedStream:
    """A text stream that masks what it is given, then hands it to the real stream.

    `diagnostics` (stderr): progress and messages are not the command's result, so a stream
    that cannot take them any more -- its reader left (`build 2>&1 | head`), a full disk --
    must not stop a build half way (an exception there abandoned the bake or the tagging):
    what follows is dropped, and `lost` says whether anything but a departed reader was the
    cause (main() then exits 1 if nothing else failed)."""

    def __init__(self, inner: TextIO, diagnostics: bool = False) -> None:
        self._inner = inner
        self._diagnostics = diagnostics
        self._dead = False
        self.lost = False

    def write(self, text: str) -> int:
        if self._dead:
            return len(text)
        try:
            masked = mask(text)
            try:
                self._inner.write(masked)
            except UnicodeEncodeError:
                # A stream with errors="strict" (a non-C locale) and text quoting a Dockerfile's
                # stray non-UTF-8 byte, which textfile.read keeps as a lone surrogate: shown as
                # U+FFFD (or `?` where the encoding has none) instead of a crash.
                encoding = getattr(self._inner, "encoding", None) or "utf-8"
                shown = masked.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                self._inner.write(shown.encode(encoding, "replace").decode(encoding))
        except OSError as exc:
            self._give_up(exc)
        return len(text)

    def flush(self) -> None:
        if not self._dead:
            try:
                self._inner.flush()
            except OSError as exc:
                self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        if not self._diagnostics:
            raise exc
        self._dead = True
        self.lost = self.lost or not isinstance(exc, BrokenPipeError)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # The buffered text would fail again at exit: the descriptor now goes nowhere.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer...
        return getattr(self._inner, name)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """stdout and stderr masked for the duration (restored after: tests run main() in-process)."""
    saved = sys.stdout, sys.stderr
    if sys.stdout is not None and not isinstance(sys.stdout, MaskedStream):
        sys.stdout = MaskedStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, MaskedStream):
        sys.stderr = MaskedStream(sys.stderr, diagnostics=True)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        clear()
