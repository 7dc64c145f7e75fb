"""Pin policies, and rewriting Dockerfiles to `tag@digest` for `pin --write`.

The guide's strategy as levels: `minor` (golang:1.25-alpine: patch updates float in), `patch`
(golang:1.25.3-alpine3.21), `digest` (immutable bytes). A lock entry pins a digest at build time,
so it satisfies every level while the Dockerfile keeps its readable tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator import refs
from orchestrator.plan import image_key

LEVELS = ("none", "minor", "patch", "digest")
# The image's own version leads the tag (`1.25-alpine3.21`); a version further in is the OS's
# (`alpine3.21`), which says nothing about the Go/Node/... version inside.
_MINOR = re.compile(r"^v?\d+\.\d+(?![0-9])")
_PATCH = re.compile(r"^v?\d+\.\d+\.\d+(?![0-9])")


def violation(ref: str, policy: str, locked_digest: str | None) -> str | None:
    """Why `ref` breaks `policy`, or None. `scratch` has no bytes to pin."""
    if policy == "none" or ref == "scratch":
        return None
    try:
        parsed = refs.parse_reference(ref)
    except refs.InvalidReferenceError as exc:
        return str(exc)
    if parsed.digest or locked_digest:
        return None
    tag = parsed.tag or "latest"
    if policy == "digest":
        return f"{ref} is not pinned to a digest and has no lock entry"
    if not _MINOR.match(tag):
        return f"{ref} floats (tag {tag!r}); pin at least major.minor"
    if policy == "patch" and not _PATCH.match(tag):
        return f"{ref} pins only the minor version; pin the patch (and OS) version"
    return None


FIXES = {
    "digest": "run `orchestrator pin` to lock it (builds use the locked digest), "
    "or write the digest in the FROM line",
    "patch": "use a full version tag such as golang:1.25.3-alpine3.21, or lock it with "
    "`orchestrator pin`",
    "minor": "use a version tag such as golang:1.25-alpine, or lock it with `orchestrator pin`",
}


# --- pin --write ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rewrite:
    line: int  # 1-based
    old: str
    new: str


_FROM = re.compile(r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>\S+)(?P<tail>.*)$", re.I)
_ARG = re.compile(r"^(?P<head>\s*ARG\s+)(?P<decls>.*)$", re.I)
_COPY_FROM = re.compile(r"(?P<head>^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*?--from=)(?P<image>\S+)", re.I)


def _pinned(token: str, digests: Mapping[str, str]) -> str | None:
    """`token` with the locked digest appended (or replacing a stale one); None to keep it."""
    if "$" in token:
        return None  # expanded from an ARG: the ARG's default is rewritten instead
    try:
        parsed = refs.parse_reference(token)
    except refs.InvalidReferenceError:
        return None
    if parsed.digest and not parsed.tag:
        return None  # name@digest only: nothing readable to keep, nothing to resolve
    digest = digests.get(image_key(token))
    if digest is None or parsed.digest == digest:
        return None
    # `busybox` alone means busybox:latest; keep that visible next to the digest.
    return str(refs.Reference(parsed.domain, parsed.path, parsed.tag or "latest", digest))


def _rewrite_args(decls: str, digests: Mapping[str, str]) -> str:
    """`ARG A=x B="y"`: rewrite each default that names a locked image, quotes kept."""

    def one(match: re.Match[str]) -> str:
        quote = match.group("q") or ""
        new = _pinned(match.group("value"), digests)
        return f"{match.group('name')}={quote}{new}{quote}" if new else match.group(0)

    pattern = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<q>[\"']?)(?P<value>[^\s\"']+)(?P=q)"
    return re.sub(pattern, one, decls)


def rewrite(text: str, digests: Mapping[str, str]) -> tuple[str, list[Rewrite]]:
    """Pin `FROM image`, global `ARG NAME=image` and `COPY --from=image` to `image@digest`.

    `digests` maps `plan.image_key()` keys to the locked digest. Only single-line instructions
    are touched, and only the one token; every other byte (comments, spacing, line endings)
    stays as it was, so the diff shows exactly the pins.
    """
    lines = text.splitlines(keepends=True)
    changes: list[Rewrite] = []
    seen_from = False
    stages: set[str] = set()  # `FROM builder` / `COPY --from=builder` name a stage, not an image
    for index, raw in enumerate(lines):
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        if body.rstrip().endswith("\\"):
            if _FROM.match(body):
                seen_from = True
            continue  # continued instructions are left alone: too easy to get wrong
        new_body = body
        if match := _FROM.match(body):
            seen_from = True
            image = match.group("image")
            new = None if image.lower() in stages else _pinned(image, digests)
            if new:
                new_body = f"{match.group('head')}{new}{match.group('tail')}"
            alias = match.group("tail").split()
            if len(alias) == 2 and alias[0].lower() == "as":
                stages.add(alias[1].lower())
        elif not seen_from and (match := _ARG.match(body)):
            # Only ARGs before the first FROM can feed a FROM line.
            new_body = match.group("head") + _rewrite_args(match.group("decls"), digests)
        elif (match := _COPY_FROM.match(body)) and match.group("image").lower() not in stages:
            new = _pinned(match.group("image"), digests)
            if new:
                new_body = f"{match.group('head')}{new}{body[match.end() :]}"
        if new_body != body:
            changes.append(Rewrite(index + 1, body.strip(), new_body.strip()))
            lines[index] = new_body + ending
    return "".join(lines), changes
