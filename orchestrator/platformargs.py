"""BuildKit's automatic platform ARGs, as a build for one target platform sees them.

BuildKit defines TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT and the BUILD* four in the
global scope of every Dockerfile, so a FROM line can use them undeclared (`FROM bin-$TARGETOS`).
Platforms are normalised first as containerd does: `linux/arm` is `arm/v7`, `arm64/v8` and
`amd64/v1` drop their variant.
"""

from __future__ import annotations

import functools
import platform as host

NAMES = (
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
)
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def native() -> str:
    """The platform the engine builds for when a target names none: the engine runs Linux on
    this machine's CPU (Docker Desktop too), and linux/amd64 where the CPU is not known."""
    return f"linux/{_MACHINES.get(host.machine().lower(), 'amd64')}"


def split(text: str) -> tuple[str, str, str]:
    """(os, arch, variant), normalised."""
    os_, _, rest = text.partition("/")
    arch, _, variant = rest.partition("/")
    if arch == "arm" and not variant:
        variant = "v7"
    if (arch, variant) in (("arm64", "v8"), ("amd64", "v1")):
        variant = ""
    return os_, arch, variant


def values(target: str | None, build: str | None = None) -> dict[str, str]:
    """The eight ARGs for a build of `target` (default: native) on `build` (default: native).
    A new dict each time: callers add to it."""
    return dict(_values(target or native(), build or native()))


# Cached: every rule asks again for each stage and platform of every target (a check of 200
# targets asked 1,300 times for a handful of platforms).
@functools.lru_cache(maxsize=64)
def _values(target: str, build: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for prefix, text in (("TARGET", target), ("BUILD", build)):
        os_, arch, variant = split(text)
        out[f"{prefix}PLATFORM"] = "/".join(p for p in (os_, arch, variant) if p)
        out[f"{prefix}OS"] = os_
        out[f"{prefix}ARCH"] = arch
        out[f"{prefix}VARIANT"] = variant
    return out
