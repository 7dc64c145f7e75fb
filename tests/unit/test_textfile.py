"""textfile.read: the size limit, growth after fstat, and the one-line refusals."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from orchestrator import textfile
from orchestrator.errors import UserError


def test_reads_text_and_refuses_a_file_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\n" * 100)
    assert textfile.read(path, "Dockerfile") == "FROM scratch\n" * 100
    monkeypatch.setitem(textfile.LIMITS, "Dockerfile", 64)
    with pytest.raises(UserError, match=r"is 1300 bytes; the limit is 64"):
        textfile.read(path, "Dockerfile")


def _pipe_with(data: bytes) -> int:
    """A read end that delivers `data` in short pieces, then EOF."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as out:
            try:
                for start in range(0, len(data), 1000):
                    out.write(data[start : start + 1000])
            except BrokenPipeError:
                pass  # the reader stopped at its limit and closed its end

    threading.Thread(target=feed, daemon=True).start()
    return read_end


@pytest.mark.parametrize(
    ("size", "limit", "sent", "got"),
    [
        (5000, 10_000, 5000, 5000),  # short reads are joined up
        (10, 10_000, 9000, 9000),  # grew after fstat: still read to the end
        (10, 4000, 9000, 4001),  # grew past the limit: limit + 1 bytes, for the caller to refuse
        (0, 10_000, 0, 0),
    ],
)
def test_read_all_loops_on_short_reads_and_stops_past_the_limit(
    size: int, limit: int, sent: int, got: int
) -> None:
    data = bytes(range(256)) * (sent // 256 + 1)
    fd = _pipe_with(data[:sent])
    try:
        assert textfile.read_all(fd, size, limit) == data[:got]
    finally:
        os.close(fd)


def test_a_file_that_grew_past_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "builds.yaml"
    path.write_text("x" * 100)
    monkeypatch.setitem(textfile.LIMITS, "manifest", 50)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> os.stat_result:  # the size seen before the file grew
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 10, *info[7:]))

    monkeypatch.setattr(os, "fstat", stale_fstat)
    with pytest.raises(UserError, match="larger than the limit of 50 bytes"):
        textfile.read(path, "manifest")


def test_stray_bytes_of_the_files_buildkit_reads_as_bytes_are_kept(tmp_path: Path) -> None:
    """A Latin-1 comment in a Dockerfile or .dockerignore builds; YAML must be UTF-8."""
    data = b"# Fran\xe7ois\nFROM alpine:3.21\n"
    path = tmp_path / "Dockerfile"
    path.write_bytes(data)
    for what in ("Dockerfile", "ignore file"):
        text = textfile.read(path, what)
        assert text.startswith("# Fran\udce7ois\n")
        assert textfile.raw(text) == data
        assert textfile.lenient(text) == "# Fran\ufffdois\nFROM alpine:3.21\n"
    manifest = tmp_path / "builds.yaml"
    manifest.write_bytes(b"version: 1\n# Fran\xe7ois\n")
    with pytest.raises(UserError, match=r"builds\.yaml:2: the manifest is not UTF-8 text"):
        textfile.read(manifest, "manifest")


def test_hadolint_and_a_strict_terminal_get_valid_text(tmp_path: Path) -> None:
    """hadolint decodes a stray byte as U+FFFD; a terminal whose stream is strict (a non-C
    locale) is shown the same instead of a crash on the lone surrogate."""
    import io

    from orchestrator import dockerfile, masking
    from orchestrator.checks import hadolint

    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM alpine:3.21\nRUN echo caf\xe9\n")
    text, _ = hadolint._input(dockerfile.load(path), None)
    assert "caf\ufffd" in text
    text.encode("utf-8")  # the pipe and the memo key need valid text
    inner = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    stream = masking.MaskedStream(inner)
    stream.write("RUN echo caf\udce9\n")
    stream.flush()
    assert inner.buffer.getvalue() == "RUN echo caf\ufffd\n".encode()
