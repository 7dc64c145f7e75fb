"""builds.lock: base images resolved to digests, stable and diff-friendly.

Keys are normalised references (`docker.io/library/golang:1.23-bookworm`), sorted, one block per
image, so a digest bump is a two-line diff. Writes are atomic and serialised with an flock, so two
runs in the same repository never leave a torn file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestrator import atomic, inputs, refs, scratch, textfile, yamlsrc
from orchestrator.errors import UserError
from orchestrator.plan import LockView, image_key

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
HEADER = "# Written by `orchestrator pin`; refresh with `orchestrator pin --update`.\n"
VERSION = 1


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
    inputs.note(path)
    if not path.exists():
        return None
    try:
        data = yamlsrc.safe_load(textfile.read(path, "lock file")) or {}
    except yaml.YAMLError as exc:
        raise UserError(
            f"{path}: not a valid lock file ({_first_line(exc)}); fix it (a merge conflict?), "
            "or delete it and run `orchestrator pin`"
        ) from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict):
        raise UserError(
            f"{path}: missing `images:`; fix it, or delete it and run `orchestrator pin`"
        )
    if data.get("version", VERSION) != VERSION:
        raise UserError(
            f"{path}: version {data.get('version')!r} is not supported (expected {VERSION}); "
            "delete it and run `orchestrator pin`"
        )
    out: dict[str, LockEntry] = {}
    for ref, entry in images.items():
        if not isinstance(entry, dict) or not DIGEST.fullmatch(str(entry.get("digest", ""))):
            raise UserError(f"{path}: images.{ref}: needs a sha256 digest (sha256:<64 hex>)")
        for what, text in (("", ref), (".source", entry.get("source", ref))):
            try:
                refs.parse_reference(str(text))
            except refs.InvalidReferenceError as exc:
                raise UserError(f"{path}: images.{ref}{what}: {exc}") from None
        if not isinstance(entry.get("platforms") or {}, dict):
            raise UserError(f"{path}: images.{ref}.platforms: expected a mapping os/arch: digest")
        out[image_key(str(ref))] = LockEntry(
            source=str(entry.get("source", ref)),
            digest=str(entry["digest"]),
            platforms={str(k): str(v) for k, v in (entry.get("platforms") or {}).items()},
            resolved=str(entry.get("resolved", "")),
        )
    return Lock(out)


def _first_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def render(lock: Lock) -> str:
    body = {
        "version": VERSION,
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
    # width: never fold a long reference onto two lines (one fact per line diffs cleanly).
    return HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=4096)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of `path` across processes.

    The flock is on a side file: `path` itself is replaced atomically (a new inode each write),
    so a lock on it would not be shared. The side file lives in the git-ignored `.orchestrator/`.
    """
    side = path.parent / ".orchestrator" / f"{path.name}.flock"
    scratch.mkdir(side.parent)
    with side.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_lock(path: Path, lock: Lock) -> None:
    # 0644: a lock file is committed and read by everyone.
    atomic.write_text(path, render(lock), mode=0o644, fsync=True)


def utc_now() -> str:
    """The `resolved` stamp: UTC, to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_view(lock: Lock) -> LockView:
    return LockView({ref: (e.source, e.digest) for ref, e in lock.images.items()})
