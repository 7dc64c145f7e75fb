"""Platform strings compared as BuildKit compares them (containerd's platforms.Normalize).

`linux/arm64/v8` and `linux/arm64` are one platform, as are `linux/amd64/v1` and
`linux/amd64`, `linux/arm` and `linux/arm/v7`: listing both would build the same image twice
and publish an index with two entries for it, so duplicates after normalising are refused.
refs.parse_platform says which strings are valid; this only says which are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

_DEFAULT_VARIANT = {"arm64": "v8", "amd64": "v1", "arm": "v7"}


def normalize(text: str) -> str:
    """`os/arch` without the architecture's default variant (`linux/arm/v7` -> `linux/arm`)."""
    parts = text.lower().split("/")
    if len(parts) == 3 and _DEFAULT_VARIANT.get(parts[1]) == parts[2]:
        parts = parts[:2]
    return "/".join(parts)


def duplicates(values: Sequence[str]) -> list[str]:
    """The values that name a platform already listed before them."""
    seen: dict[str, str] = {}
    out: list[str] = []
    for value in values:
        key = normalize(value)
        if key in seen:
            out.append(f"{value!r} is the same platform as {seen[key]!r}")
        else:
            seen[key] = value
    return out
