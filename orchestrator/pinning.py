"""Pin policies: how tightly a target's base images must be pinned.

The guide's strategy as levels: `minor` (golang:1.25-alpine: patch updates float in), `patch`
(golang:1.25.3-alpine3.21), `digest` (immutable bytes). A lock entry pins a digest at build time,
so it satisfies every level while the Dockerfile keeps its readable tag.
"""

from __future__ import annotations

import re

from orchestrator import refs

LEVELS = ("none", "minor", "patch", "digest")
_MINOR = re.compile(r"(?:^|[^0-9.])\d+\.\d+(?:$|[^0-9])|^\d+\.\d+")
_PATCH = re.compile(r"\d+\.\d+\.\d+")


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
    if tag == "latest" or not re.search(r"\d+\.\d+", tag):
        return f"{ref} floats (tag {tag!r}); pin at least major.minor"
    if policy == "patch" and not _PATCH.search(tag):
        return f"{ref} pins only the minor version; pin the patch (and OS) version"
    return None


FIXES = {
    "digest": "run `orchestrator pin` to lock it (builds use the locked digest), "
    "or write the digest in the FROM line",
    "patch": "use a full version tag such as golang:1.25.3-alpine3.21, or lock it with "
    "`orchestrator pin`",
    "minor": "use a version tag such as golang:1.25-alpine, or lock it with `orchestrator pin`",
}
