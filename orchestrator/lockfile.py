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
from typing import Any

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
        text = textfile.read(path, "lock file")
        data = _fast_load(text)
        if data is None:
            # unique: an image written twice (both sides of a merge conflict kept) is refused,
            # never silently the last one.
            data = yamlsrc.safe_load(text, unique=True) or {}
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
    version = data.get("version", VERSION)
    # `type(...) is not int`: `version: true` is a bool, and True == 1 in Python.
    if type(version) is not int or version != VERSION:
        raise UserError(
            f"{path}: version {data.get('version')!r} is not supported (expected {VERSION}); "
            "delete it and run `orchestrator pin`"
        )
    out: dict[str, LockEntry] = {}
    for ref, entry in images.items():
        if not isinstance(entry, dict) or not DIGEST.fullmatch(str(entry.get("digest", ""))):
            raise UserError(f"{path}: images.{ref}: needs a sha256 digest (sha256:<64 hex>)")
        source = str(entry.get("source", ref))
        for what, written in (("", str(ref)), (".source", source)):
            if what and source == str(ref):
                continue  # the same text: checked once (a lock may hold 200,000 images)
            try:
                refs.parse_reference(written)
            except refs.InvalidReferenceError as exc:
                raise UserError(f"{path}: images.{ref}{what}: {exc}") from None
        if not isinstance(entry.get("platforms") or {}, dict):
            raise UserError(f"{path}: images.{ref}.platforms: expected a mapping os/arch: digest")
        key = image_key(str(ref))
        if key in out:  # `golang:1.23` and `docker.io/library/golang:1.23` are one image
            at = _line_of_key(text, str(ref))
            raise UserError(
                f"{path}{f':{at}' if at else ''}: images.{ref}: {key} is locked twice "
                "(under another spelling above); keep one entry, or delete the file and run "
                "`orchestrator pin`"
            )
        out[key] = LockEntry(
            source=str(entry.get("source", ref)),
            digest=str(entry["digest"]),
            platforms={str(k): str(v) for k, v in (entry.get("platforms") or {}).items()},
            resolved=str(entry.get("resolved", "")),
        )
    return Lock(out)


_PLAIN = r"(?:'([^']*)'|([^\s'\"#&*!|>%@`{}\[\],][^\s#]*))"
_LINE = re.compile(rf"^( *)(?:{_PLAIN}):(?: (?:{_PLAIN}|(\{{\}})))?$")


def _fast_load(text: str) -> dict[str, Any] | None:
    """The lock as `render` writes it, read line by line: YAML parsing of a 200,000-image lock
    took most of a minute. Anything this does not recognise (hand edits, flow style, comments
    after the header, merge conflicts) returns None and is read by the YAML parser instead."""
    images: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    entry: dict[str, Any] | None = None
    platforms: dict[str, str] | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line and (data or images):
                return None
            continue
        match = _LINE.match(line)
        if match is None:
            return None
        indent, key = len(match.group(1)), match.group(2) or match.group(3)
        value = match.group(4) if match.group(4) is not None else match.group(5)
        empty_map = match.group(6) is not None
        if ":" in key and match.group(2) is None and indent != 2:
            return None  # a plain key with ':' is only ever an image reference
        if indent == 0:
            if key == "version" and value == "1":
                data["version"] = 1
            elif key == "images" and value is None and not empty_map:
                data["images"] = images
            else:
                return None
        elif indent == 2 and "images" in data and value is None and not empty_map:
            if key in images:
                return None  # a duplicate: let the YAML path report it as it does
            entry = images[key] = {}
            platforms = None
        elif indent == 4 and entry is not None:
            if key == "platforms":
                platforms = entry["platforms"] = {}
                if not empty_map and value is not None:
                    return None
            elif value is not None and key in ("source", "digest", "resolved"):
                entry[key] = value
                platforms = None
            else:
                return None
        elif indent == 6 and platforms is not None and value is not None:
            platforms[key] = value
        else:
            return None
    return data if "images" in data else None


def _line_of_key(text: str, key: str) -> int | None:
    """The last line holding `key` as a mapping key (plain or quoted), for an error message."""
    pattern = re.compile(rf"^\s*(['\"]?){re.escape(key)}\1\s*:")
    found = [n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)]
    return found[-1] if found else None


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
