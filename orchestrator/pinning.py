"""Pin policies, and rewriting Dockerfiles to `tag@digest` for `pin --write`.

The guide's strategy as levels: `minor` (golang:1.25-alpine: patch updates float in), `patch`
(golang:1.25.3-alpine3.21), `digest` (immutable bytes). A lock entry pins a digest at build time,
so it satisfies every level while the Dockerfile keeps its readable tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator import heredoc, refs
from orchestrator.plan import image_key

LEVELS = ("none", "minor", "patch", "digest")
# The image's own version leads the tag (`1.25-alpine3.21`); a version further in is the OS's
# (`alpine3.21`), which says nothing about the Go/Node/... version inside.
_MINOR = re.compile(r"^v?\d+\.\d+(?![0-9])")
_PATCH = re.compile(r"^v?\d+\.\d+\.\d+(?![0-9])")


# Release codenames pin a distribution's major release (`debian:bookworm-slim` is Debian 12):
# for the distribution's own image that is what `minor` asks of it. Rolling names (sid,
# testing, devel, edge) are not in the list.
CODENAMES = {
    "buster": "Debian 10",
    "bullseye": "Debian 11",
    "bookworm": "Debian 12",
    "trixie": "Debian 13",
    "forky": "Debian 14",
    "focal": "Ubuntu 20.04",
    "jammy": "Ubuntu 22.04",
    "noble": "Ubuntu 24.04",
    "oracular": "Ubuntu 24.10",
    "plucky": "Ubuntu 25.04",
}
_DISTRIBUTIONS = {"debian", "ubuntu", "buildpack-deps", "alpine"}
_ALPINE_RELEASE = re.compile(r"^alpine(\d+\.\d+)")
# Images that publish no version tags at all, only variants (`:nonroot`, `:debug`): a digest is
# the only pin they have.
DIGEST_ONLY = ("gcr.io/distroless/", "cgr.dev/chainguard/")


def digest_only(ref: str) -> bool:
    """The image has no version tags (distroless, chainguard): pin it by digest."""
    try:
        name = refs.parse_reference(ref).name
    except refs.InvalidReferenceError:
        return False
    return name.startswith(DIGEST_ONLY)


def codename(ref: str) -> str | None:
    """The release a codename tag pins (`debian:bookworm-slim` -> Debian 12), for the
    distribution's own images only: `python:bookworm` pins Debian but floats Python."""
    try:
        parsed = refs.parse_reference(ref)
    except refs.InvalidReferenceError:
        return None
    if parsed.path.rsplit("/", 1)[-1] not in _DISTRIBUTIONS or not parsed.tag:
        return None
    word = re.split(r"[-_.]", parsed.tag, maxsplit=1)[0]
    if word in CODENAMES:
        return CODENAMES[word]
    if match := _ALPINE_RELEASE.match(parsed.tag):
        return f"Alpine {match.group(1)}"
    return None


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
    if digest_only(ref):
        return f"{ref} floats (tag {tag!r}) and the image publishes no version tags: pin a digest"
    if release := codename(ref):
        if policy == "minor":
            return None
        return f"{ref} pins {release} by its codename; `pin: patch` needs a point-release tag"
    if not _MINOR.match(tag):
        if parsed.tag and re.split(r"[-_.]", tag, maxsplit=1)[0] in CODENAMES:
            return (
                f"{ref} floats (tag {tag!r} pins only the OS release, not the image's own "
                "version); pin at least major.minor"
            )
        return f"{ref} floats (tag {tag!r}); pin at least major.minor"
    if policy == "patch" and not _PATCH.match(tag):
        return f"{ref} pins only the minor version; pin the patch (and OS) version"
    return None


# Tags that exist for common images, to show the form a pin takes for the image at hand.
_EXAMPLES = {
    "golang": ("1.25-alpine", "1.25.3-alpine3.21"),
    "node": ("22.11-bookworm-slim", "22.11.0-bookworm-slim"),
    "python": ("3.12-slim-bookworm", "3.12.7-slim-bookworm"),
    "alpine": ("3.21", "3.21.2"),
    "debian": ("bookworm-slim", "12.8-slim"),
    "ubuntu": ("24.04", "noble-20241118.1"),
    "rust": ("1.83-slim-bookworm", "1.83.0-slim-bookworm"),
    "maven": ("3.9-eclipse-temurin-21", "3.9.9-eclipse-temurin-21"),
    "eclipse-temurin": ("21-jre", "21.0.5_11-jre"),
    "nginx": ("1.27-alpine", "1.27.3-alpine3.20"),
    "busybox": ("1.37", "1.37.0"),
}


def fix_for(ref: str, policy: str) -> str | None:
    """The fix for a violation of `policy` by `ref`, with a tag of the form that image uses."""
    if policy == "digest" or digest_only(ref):
        return FIXES["digest"]
    try:
        parsed = refs.parse_reference(ref)
    except refs.InvalidReferenceError:
        return FIXES.get(policy)
    name = parsed.name
    short = parsed.path.rsplit("/", 1)[-1]
    example = _EXAMPLES.get(short)
    level = 1 if policy == "patch" else 0
    tag = example[level] if example else ("<major>.<minor>.<patch>" if level else "<major>.<minor>")
    what = "a full version tag" if level else "a version tag"
    return f"use {what} such as {name}:{tag}, or lock it with `orchestrator pin`"


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
    # A heredoc's lines are a script's or a file's text (a `FROM ...` line there is not ours).
    text_lines = heredoc.inside(heredoc.bodies([raw.rstrip("\r\n") for raw in lines]))
    for index, raw in enumerate(lines):
        if index in text_lines:
            continue
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        mark = "\ufeff" if index == 0 and body.startswith("\ufeff") else ""  # a BOM stays
        body = body[len(mark) :]
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
            lines[index] = mark + new_body + ending
    return "".join(lines), changes
