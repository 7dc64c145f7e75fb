"""Reading the text files we parse (manifest, lock, Dockerfile, ignore file), defensively.

Only a regular file is read: a FIFO or a device named as a Dockerfile would block the run or
never end, so the file is opened non-blocking and refused unless fstat says it is regular. A
size limit keeps a mistaken `-f /var/log/huge` from eating the memory, and a NUL byte is
refused with one line: a UTF-16 file or a binary one, which BuildKit would misread, and parsing
it anyway only gives confusing errors (`no stage named 'final' (stages: final)`).

Bytes that are not UTF-8 are another matter in the files BuildKit reads. Its parser works on
bytes: a Latin-1 comment (`# Maintainer: Fran\xe7ois`) in a Dockerfile or .dockerignore builds
fine, so such a file is read with errors="surrogateescape": each stray byte becomes one lone
surrogate, the rest of the text is unchanged, and `raw()` gives the exact bytes back for every
copy we write (the build-time Dockerfile, `pin --write`). Text for other programs and for the
terminal goes through `lenient()` (U+FFFD for each such byte, as hadolint reads it). The
manifest, lock file and report are YAML/JSON and stay strict UTF-8.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from orchestrator.errors import UserError

MiB = 1 << 20
LIMITS = {
    "manifest": 16 * MiB,
    "lock file": 256 * MiB,
    "Dockerfile": 16 * MiB,
    "ignore file": 16 * MiB,
    "report": 256 * MiB,
    "check baseline": 256 * MiB,
    "build record": 16 * MiB,
}
# What BuildKit reads as bytes: stray non-UTF-8 bytes are kept (see the module's docstring).
BYTES_KEPT = frozenset({"Dockerfile", "ignore file"})


def is_regular(path: Path) -> bool:
    """Like Path.is_file(), but False instead of an exception for any unreadable path."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


class NotRegular(OSError):
    """A directory, FIFO, socket or device where a file is to be read."""


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """(descriptor, fstat) of `path` opened for reading, or OSError: NotRegular for anything
    but a regular file. Opened non-blocking and fstat-ed before any read: a directory's
    descriptor fails read() with IsADirectoryError, a FIFO's would wait for a writer, a
    device's never ends. The caller closes the descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegular(f"{path}: not a regular file")
    return fd, info


def read(path: Path, what: str) -> str:
    """The text of `path`; FileNotFoundError passes through, every other problem is one line."""
    limit = LIMITS[what]
    try:
        fd, info = open_regular(path)
    except FileNotFoundError:
        raise
    except NotRegular:
        raise UserError(
            f"{path}: the {what} is not a regular file (a directory, FIFO or device "
            "cannot be read as one)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{path}: cannot read the {what}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        if info.st_size > limit:
            raise UserError(f"{path}: the {what} is {info.st_size} bytes; the limit is {limit}")
        data = read_all(fd, info.st_size, limit)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UserError(f"{path}: the {what} is larger than the limit of {limit} bytes")
    nul = data.find(b"\0")
    if nul >= 0:
        raise UserError(f"{path}: the {what} is binary (a NUL byte at offset {nul}), not text")
    if what in BYTES_KEPT:
        return data.decode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}:{line}: the {what} is not UTF-8 text (byte {exc.start})") from None


def raw(text: str) -> bytes:
    """The bytes `read` decoded `text` from: stray non-UTF-8 bytes as they were."""
    return text.encode("utf-8", "surrogateescape")


def lenient(text: str) -> str:
    """`text` as valid Unicode: each stray byte `read` kept becomes U+FFFD, the rest unchanged
    (what hadolint's decoder does with such a file; what a terminal or a JSON file can take)."""
    if text.isascii():
        return text
    return raw(text).decode("utf-8", "replace")


def read_all(fd: int, size: int, limit: int) -> bytes:
    """Up to limit + 1 bytes of `fd`: reads sized by fstat's size, not by the limit (a buffered
    read(limit + 1) allocates the whole 16 MiB for a 2 KB Dockerfile: 5x slower per file,
    measured), looping on short reads and past `size` in case the file grew meanwhile."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = os.read(fd, min(max(size + 1 - total, 1 << 16), limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
