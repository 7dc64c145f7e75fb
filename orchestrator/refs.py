"""Image references and platform strings, validated by the grammars buildx itself uses.

The reference grammar is transcribed from distribution/reference (grammar in its `reference.go`
docs): there is no maintained Python port (docker-image-py last shipped years ago), and the
grammar is short enough that a transcription plus property tests is the safer dependency.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# --- distribution/reference grammar -------------------------------------------------------
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
TAG_PATTERN = r"[\w][\w.-]{0,127}"
DIGEST_PATTERN = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# re.ASCII: Go's \w is [A-Za-z0-9_], Python's would take any Unicode letter.
REFERENCE_RE = re.compile(
    rf"^(?P<name>{_NAME})(?::(?P<tag>{TAG_PATTERN}))?(?:@(?P<digest>{DIGEST_PATTERN}))?$", re.ASCII
)
TAG_RE = re.compile(rf"^{TAG_PATTERN}$", re.ASCII)
# go-digest accepts these algorithms only, each with exactly this many lower-case hex digits.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_MAX = 255
DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True)
class Reference:
    """A parsed image reference. `domain` and `path` are as written (not normalised)."""

    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def familiar(self) -> str:
        """`golang:1.23` for `docker.io/library/golang:1.23` (how people write it)."""
        domain, path = self.domain, self.path
        if domain in (None, DEFAULT_DOMAIN, "index.docker.io"):
            domain = None
            path = path.removeprefix("library/")
        return str(Reference(domain, path, self.tag, self.digest))

    def normalized(self) -> Reference:
        """`docker.io/library/golang:1.23` for `golang:1.23`: the key lock files and mirrors use."""
        domain = self.domain or DEFAULT_DOMAIN
        path = self.path
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = f"library/{path}"
        return Reference(domain, path, self.tag, self.digest)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)


class InvalidReferenceError(ValueError):
    """An invalid image reference; the message says which rule it broke."""


def _split_domain(name: str) -> tuple[str | None, str]:
    # The same rule as distribution: the first component is a registry host when it contains
    # a '.' or a ':', or is 'localhost', or has upper-case letters (paths are lower-case only).
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


# Cached (a Reference is immutable; an invalid one raises again): planning and checking a
# monorepo parse the same few base images and repositories for every target.
@functools.lru_cache(maxsize=1024)
def parse_reference(text: str) -> Reference:
    """Parse `text` or raise InvalidReferenceError naming the broken rule."""
    if not text:
        raise InvalidReferenceError("empty image reference")
    if re.fullmatch("[a-f0-9]{64}", text):
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: a 64-hex-digit name is an image ID, not a reference"
        )
    match = REFERENCE_RE.fullmatch(text)  # fullmatch: `$` alone would accept a trailing newline
    if match is None:
        raise InvalidReferenceError(f"invalid image reference {text!r}: {_why(text)}")
    name = match.group("name")
    domain, path = _split_domain(name)
    # Like docker's ParseNormalizedNamed, the limit applies to the name as docker.io/library/x.
    full_domain = DEFAULT_DOMAIN if domain in (None, "index.docker.io") else domain
    full_path = f"library/{path}" if full_domain == DEFAULT_DOMAIN and "/" not in path else path
    if len(full_domain) + 1 + len(full_path) > NAME_MAX:
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: name longer than {NAME_MAX} "
            f"(as {full_domain}/{full_path[:20]}...)"
        )
    if domain is None and name != name.lower():
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: repository must be lowercase"
        )
    # Without a domain the whole name must be a path ("[0]/x" is docker.io/[0]/x: invalid).
    if not re.fullmatch(_PATH_COMPONENT + rf"(?:/{_PATH_COMPONENT})*", path):
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: bad repository path {path!r}"
        )
    digest = match.group("digest")
    if digest is not None:
        algorithm, _, hex_part = digest.partition(":")
        size = DIGEST_HEX_LENGTHS.get(algorithm)
        if size is None or len(hex_part) != size or not re.fullmatch("[a-f0-9]+", hex_part):
            raise InvalidReferenceError(
                f"invalid image reference {text!r}: digest must look like sha256:<64 hex digits>"
            )
    return Reference(domain, path, match.group("tag"), digest)


def _why(text: str) -> str:
    name = text.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if "@" in text and not re.fullmatch(DIGEST_PATTERN, text.split("@", 1)[1]):
        return "digest must look like sha256:<64 hex digits>"
    if ":" in last and not TAG_RE.fullmatch(last.split(":", 1)[1]):
        return "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
    if name != name.lower() and "/" not in name:
        return "repository must be lowercase"
    return "repository must be lowercase letters, digits and separators (., _, __, -)"


def is_valid_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except InvalidReferenceError:
        return False
    return True


def is_valid_tag(tag: str) -> bool:
    return bool(TAG_RE.fullmatch(tag))


def sanitize_tag(text: str) -> str:
    """Make a git branch usable as a tag the way metadata-action does: `feat/x` -> `feat-x`."""
    # A run of unsafe characters is one `-`: `fix/#12` -> `fix-12`, not `fix--12`.
    cleaned = re.sub(r"[^\w.-]+", "-", text, flags=re.ASCII).lstrip(".-") or "unknown"
    return cleaned[:128]


# --- platforms ----------------------------------------------------------------------------
# The GOOS/GOARCH values containerd's platform parser (and so BuildKit) knows, Docker's Wasm
# platforms (`wasi/wasm`, `wasip1/wasm`) included; a name outside them is most likely a typo.
KNOWN_OS = frozenset(
    {
        "linux",
        "windows",
        "darwin",
        "freebsd",
        "netbsd",
        "openbsd",
        "dragonfly",
        "solaris",
        "illumos",
        "aix",
        "android",
        "ios",
        "plan9",
        "wasi",
        "wasip1",
        "js",
    }
)
KNOWN_ARCH = frozenset(
    {
        "amd64",
        "arm64",
        "arm",
        "386",
        "ppc64le",
        "ppc64",
        "s390x",
        "riscv64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "loong64",
        "wasm",
        "sparc64",
    }
)
_VARIANTS = {"arm": {"v5", "v6", "v7"}, "arm64": {"v8"}, "amd64": {"v1", "v2", "v3", "v4"}}
PLATFORM_RE = re.compile(r"^(?P<os>[a-z0-9]+)/(?P<arch>[a-z0-9]+)(?:/(?P<variant>[a-z0-9]+))?$")


def parse_platform(text: str) -> str:
    """Return the canonical `os/arch[/variant]` string or raise ValueError with the reason."""
    match = PLATFORM_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64")
    os_, arch, variant = match.group("os"), match.group("arch"), match.group("variant")
    if os_ not in KNOWN_OS:
        raise ValueError(f"invalid platform {text!r}: unknown OS {os_!r}")
    if arch not in KNOWN_ARCH:
        raise ValueError(f"invalid platform {text!r}: unknown architecture {arch!r}")
    if variant is not None and variant not in _VARIANTS.get(arch, set()):
        raise ValueError(f"invalid platform {text!r}: unknown variant {variant!r} for {arch}")
    return text
