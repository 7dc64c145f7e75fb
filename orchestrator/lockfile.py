"""builds.lock: base images resolved to digests, stable and diff-friendly.

Keys are normalised references (`docker.io/library/golang:1.23-bookworm`), sorted, one block per
image, so a digest bump is a two-line diff. Writes are atomic and serialised with an flock, so two
runs in the same repository never leave a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestrator.errors import UserError
from orchestrator.plan import LockView

HEADER = "# Written by `orchestrator pin`; refresh with `orchestrator pin --update`.\n"


@dataclass(frozen=True)
class LockEntry:
    source: str  # what was resolved (the mirror copy, or the reference itself)
    digest: str  # index (or manifest) digest
    platforms: Mapping[str, str] = field(default_factory=dict)
    resolved: str = ""  # UTC time of resolution


@dataclass(frozen=True)
class Lock:
    images: Mapping[str, LockEntry]


def read_lock(path: Path) -> Lock | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(
            f"{path}: not a valid lock file ({exc}); re-create it with `orchestrator pin`"
        ) from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict):
        raise UserError(f"{path}: missing `images:`; re-create it with `orchestrator pin`")
    out: dict[str, LockEntry] = {}
    for ref, entry in images.items():
        if not isinstance(entry, dict) or not str(entry.get("digest", "")).startswith("sha256:"):
            raise UserError(f"{path}: images.{ref}: needs a sha256 digest")
        out[str(ref)] = LockEntry(
            source=str(entry.get("source", ref)),
            digest=str(entry["digest"]),
            platforms={str(k): str(v) for k, v in (entry.get("platforms") or {}).items()},
            resolved=str(entry.get("resolved", "")),
        )
    return Lock(out)


def render(lock: Lock) -> str:
    body = {
        "version": 1,
        "images": {
            ref: {
                "source": e.source,
                "digest": e.digest,
                "platforms": dict(sorted(e.platforms.items())),
                "resolved": e.resolved,
            }
            for ref, e in sorted(lock.images.items())
        },
    }
    return HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of `path` across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.flock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_lock(path: Path, lock: Lock) -> None:
    text = render(lock)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(path)


def lock_view(lock: Lock) -> LockView:
    return LockView({ref: (e.source, e.digest) for ref, e in lock.images.items()})
