"""atomic.write_text: the one way files others may read are replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from orchestrator import atomic


def test_replaces_with_private_or_given_permissions(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    atomic.write_text(path, "new\r\n", newline="")
    assert path.read_bytes() == b"new\r\n"  # line endings kept as given
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic.write_text(path, "shared\n", mode=0o644, fsync=True)
    assert (path.read_text(), stat.S_IMODE(path.stat().st_mode)) == ("shared\n", 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "builds.lock"
    path.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic.write_text(path, "half \ud800 written")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds.lock"]
