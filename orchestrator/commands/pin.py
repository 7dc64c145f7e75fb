"""`orchestrator pin`: lock the base images the targets use to the digests their registry serves.

The user-facing summary (and `pin --help`) is options.PIN_DESCRIPTION.
"""

from __future__ import annotations

import argparse
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator import (
    atomic,
    console,
    executor,
    lockfile,
    manifest,
    pinning,
    refs,
    signing,
    textfile,
)
from orchestrator.commands.common import load
from orchestrator.errors import EXIT_BUILD_FAILED, UserError
from orchestrator.lockfile import Lock, LockEntry
from orchestrator.plan import Plan, image_key, select

if TYPE_CHECKING:
    from orchestrator.commands.common import Loaded

CHECK_FIX = (
    "`orchestrator pin` adds missing and drops unused images; "
    "`orchestrator pin --update [IMAGE...]` takes what the registry serves now"
)


class LockOutOfDate(UserError):
    """`pin --check` found drift: exit 1, like a failed check."""

    exit_code = EXIT_BUILD_FAILED


@dataclass
class Use:
    """One base image (by lock key) and everywhere the targets use it."""

    key: str
    name: str  # familiar form for messages: golang:1.23-bookworm
    source: str  # what the plan pulls: the mirror copy or the reference itself
    places: list[str] = field(default_factory=list)  # "target (Dockerfile:line)"
    dockerfiles: set[str] = field(default_factory=set)
    floating: bool = False  # some FROM has no digest of its own, so the lock decides
    written: dict[str, str] = field(default_factory=dict)  # place -> digest written in the file


def run(args: argparse.Namespace) -> int:
    if args.check and args.write:
        raise UserError("--check changes nothing; --write rewrites Dockerfiles: pick one")
    man, _ = manifest.load(args.file)
    plan = load(args, names=list(man.targets)).plan
    chosen = set(select(man, args.targets)) if args.targets else set(man.targets)
    used = uses(plan, chosen)
    used_anywhere = uses(plan, set(man.targets))
    path = Path(plan.root) / "builds.lock"
    if args.check:
        # A base that must be signed (`verify:`) is checked at the digest the lock pins.
        unsigned = signing.base_problems(plan)
        if unsigned:
            raise LockOutOfDate(f"{len(unsigned)} base signature problem(s)", problems=unsigned)
        return check(path, used, used_anywhere)
    with lockfile.locked(path):  # two `pin` runs never interleave their read-modify-write
        before = lockfile.read_lock(path)
        after = pin(before, used, used_anywhere, args.update)
        if before is None or lockfile.render(after) != lockfile.render(before):
            lockfile.write_lock(path, after)
            _say(f"wrote {path.name} ({_count(after)})")
        else:
            _say(f"{path.name} unchanged ({_count(after)})")
        if args.write:
            write_dockerfiles(used, after)
    return 0


def _count(lock: Lock) -> str:
    return f"{len(lock.images)} image{'' if len(lock.images) == 1 else 's'}"


def _say(line: str) -> None:
    console.out.print(line, markup=False, highlight=False, soft_wrap=True)


# --- what the targets use --------------------------------------------------------------------
def uses(plan: Plan, targets: set[str]) -> dict[str, Use]:
    """Base images of `targets` by lock key, sorted. `name@digest` without a tag is skipped:
    it is immutable already and has no tag to resolve."""
    found: dict[str, Use] = {}
    for t in plan.targets:
        if t.name not in targets:
            continue
        for base in t.base_images:
            place = f"{t.name} ({base.file or t.dockerfile}:{base.line})"
            try:
                parsed = refs.parse_reference(base.ref)
            except refs.InvalidReferenceError as exc:
                raise UserError(
                    f"{base.file or t.dockerfile}:{base.line}: {t.name}: {exc}"
                ) from None
            if parsed.digest and not parsed.tag:
                continue
            key = image_key(base.ref)
            source = base.source
            if source == base.ref and parsed.digest:
                source = str(refs.Reference(parsed.domain, parsed.path, parsed.tag, None))
            use = found.setdefault(key, Use(key, refs.parse_reference(key).familiar(), source))
            use.places.append(place)
            use.dockerfiles.add(t.dockerfile)
            if parsed.digest:
                use.written[place] = parsed.digest
            else:
                use.floating = True
    return dict(sorted(found.items()))


def _same_source(entry: LockEntry, use: Use) -> bool:
    return image_key(entry.source) == image_key(use.source)


def _resolve(use: Use, now: str) -> LockEntry:
    digest = executor.index_digest(use.source)
    # Platforms of exactly that digest: the tag may move between the two questions.
    at = refs.parse_reference(use.source).with_digest(digest)
    return LockEntry(use.source, digest, executor.platform_digests(str(at)), now)


def _update_keys(names: Sequence[str] | None, used: Mapping[str, Use]) -> set[str]:
    if names is None:
        return set()
    if not names:
        return set(used)
    keys: set[str] = set()
    for name in names:
        key = image_key(name)
        if key not in used:
            known = ", ".join(u.name for u in used.values()) or "none"
            raise UserError(f"--update {name}: no selected target uses it (images: {known})")
        keys.add(key)
    return keys


# --- pin / --update --------------------------------------------------------------------------
def pin(
    before: Lock | None,
    used: Mapping[str, Use],
    used_anywhere: Mapping[str, Use],
    update: Sequence[str] | None,
) -> Lock:
    """The new lock: entries of other targets kept, unused ones dropped, missing ones resolved,
    and existing ones moved only when `--update` names them (or names nothing: all)."""
    # Said once every image is resolved: a registry failure half way must not leave "locked:"
    # lines for a builds.lock that was never written.
    said: list[str] = []
    refresh = _update_keys(update, used)
    images = dict(before.images) if before else {}
    now = lockfile.utc_now()
    for key in list(images):
        if key not in used_anywhere:
            said.append(f"removed: {refs.parse_reference(key).familiar()} (no target uses it)")
            del images[key]
    for key, use in used.items():
        entry = images.get(key)
        moved = entry is not None and not _same_source(entry, use)
        if entry is None and not use.floating and not (update and key in refresh):
            continue  # every FROM carries its own digest: the file pins it (unless named)
        if entry is not None and not moved and key not in refresh:
            continue  # plain `pin` never moves a pin
        new = _resolve(use, now)
        if entry is None:
            said.append(f"locked: {use.name} {new.digest} ({use.source})")
        elif moved:
            said.append(f"locked: {use.name} {new.digest} ({use.source}; was {entry.source})")
        elif entry.digest == new.digest and dict(entry.platforms) == dict(new.platforms):
            said.append(f"unchanged: {use.name} {entry.digest}")
            continue  # keep the old `resolved` stamp: no diff when nothing changed
        else:
            said.append(f"updated: {use.name} {entry.digest} -> {new.digest} ({use.source})")
        images[key] = new
    for line in said:
        _say(line)
    return Lock(images)


# --- --check ---------------------------------------------------------------------------------
def problems(
    path: Path, used: Mapping[str, Use], used_anywhere: Mapping[str, Use] | None
) -> list[str]:
    """One line per way builds.lock differs from the targets and the registry. Asks the
    registry for the current digest of every locked image `used` names. `used_anywhere=None`
    skips the unused-entry check (when only some targets were resolved)."""
    lock = lockfile.read_lock(path) or Lock({})
    out: list[str] = []
    for key, use in used.items():
        entry = lock.images.get(key)
        if entry is None:
            if use.floating:
                out.append(f"missing: {use.name}: used by {', '.join(use.places)}")
            continue
        if not _same_source(entry, use):
            out.append(
                f"moved: {use.name}: locked from {entry.source}, "
                f"builds.yaml now pulls it from {use.source}"
            )
            continue
        for place, digest in use.written.items():
            if digest != entry.digest:
                out.append(
                    f"stale pin: {use.name}: {place} pins {digest}, {path.name} has "
                    f"{entry.digest} (`orchestrator pin --write` rewrites it)"
                )
        now = executor.index_digest(use.source)
        if now != entry.digest:
            out.append(
                f"drift: {use.name}: locked {entry.digest}, registry now {now} ({use.source})"
            )
    for key in lock.images:
        if used_anywhere is not None and key not in used_anywhere:
            name = refs.parse_reference(key).familiar()
            out.append(f"unused: {name}: in {path.name}, but no target uses it")
    return out


def check(path: Path, used: Mapping[str, Use], used_anywhere: Mapping[str, Use]) -> int:
    found = problems(path, used, used_anywhere)
    if found:
        what = "does not exist" if not path.is_file() else "is out of date"
        raise LockOutOfDate(f"{path.name} {what}; {CHECK_FIX}", problems=found)
    _say(f"{path.name} is up to date ({_count(lockfile.read_lock(path) or Lock({}))})")
    return 0


def drift(loaded: Loaded) -> list[str]:
    """`pin --check` for the targets of an already resolved plan (what `release` gates on)."""
    plan = loaded.plan
    every = {t.name for t in plan.targets} >= set(loaded.manifest.targets)
    used = uses(plan, {t.name for t in plan.targets})
    return problems(Path(plan.root) / "builds.lock", used, used if every else None)


# --- --write ---------------------------------------------------------------------------------
def write_dockerfiles(used: Mapping[str, Use], lock: Lock) -> None:
    """Rewrite the Dockerfiles the chosen targets use to name each locked image by digest."""
    by_file: dict[str, dict[str, str]] = {}
    for key, use in used.items():
        entry = lock.images.get(key)
        if entry is None:
            continue
        for dockerfile in use.dockerfiles:
            by_file.setdefault(dockerfile, {})[key] = entry.digest
    for dockerfile, digests in sorted(by_file.items()):
        path = Path(dockerfile)
        # textfile.read, not read_text(): \r\n endings and non-UTF-8 bytes (a Latin-1 comment)
        # are kept as they are, and written back so by _replace.
        text = textfile.read(path, "Dockerfile")
        new_text, changes = pinning.rewrite(text, digests)
        for change in changes:
            _say(f"{dockerfile}:{change.line}: {change.old} -> {change.new}")
        if changes:
            _replace(path, new_text)
        written = _keys_in(new_text)
        for key in sorted(set(digests) - written):
            name = used[key].name
            _say(
                f"{dockerfile}: {name} is not written literally there (a build arg from "
                "builds.yaml?); the lock still applies to it at build time"
            )


def _keys_in(text: str) -> set[str]:
    """Keys of every `tag@digest` token now in `text` (to find images --write could not pin)."""
    out: set[str] = set()
    for token in text.replace('"', " ").replace("'", " ").replace("=", " ").split():
        if "@sha256:" in token and refs.is_valid_reference(token):
            out.add(image_key(token))
    return out


def _replace(path: Path, text: str) -> None:
    atomic.write_text(
        path, text, mode=stat.S_IMODE(path.stat().st_mode), newline="", errors="surrogateescape"
    )
