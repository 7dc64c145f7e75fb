"""Property tests: bad input at scale gives a clean refusal, never a traceback.

* Image references are generated from the pieces of the distribution/reference grammar and must
  be accepted; targeted mutations must be rejected; and on arbitrary or near-valid text
  `refs.parse_reference` must agree with `oracle_reference`, a hand-written parser (no regex)
  written here from the grammar text, so the two implementations share no code.
* Platform strings: the same, against the os/arch[/variant] rule.
* Manifests: arbitrary text, YAML-ish text, arbitrary nested data and near-valid manifests go
  through `yamlsrc.loads` + `manifest.validate` (+ `plan.resolve`) and may only fail with
  `UserError` (ManifestError is one).

Reproducible in CI: no example database, derandomized. Budgets are in EXAMPLES (>= 2,000).
"""

from __future__ import annotations

import string
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from orchestrator import manifest, plan, refs, yamlsrc
from orchestrator.errors import UserError
from tests.unit import helpers

EXAMPLES = {
    "valid_references": 400,
    "reference_mutations": 400,
    "reference_text": 500,
    "reference_edits": 500,
    "tags": 200,
    "valid_platforms": 100,
    "platform_text": 300,
    "manifest_text": 250,
    "manifest_yamlish": 300,
    "manifest_data": 250,
    "manifest_near_valid": 250,
}
RAN: Counter[str] = Counter()


def budget(name: str) -> Callable[[Any], Any]:
    return settings(
        max_examples=EXAMPLES[name],
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# --- the oracle: distribution/reference grammar, parsed by hand -----------------------------
#   reference        := name [ ":" tag ] [ "@" digest ]
#   name             := [domain '/'] remote-name ; total length <= 255
#   domain           := host [ ":" port-number ]
#   host             := domain-name | "[" ipv6 "]"
#   domain-name      := domain-component ['.' domain-component]*
#   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
#   remote-name      := path-component ['/' path-component]*
#   path-component   := alpha-numeric [separator alpha-numeric]*
#   alpha-numeric    := /[a-z0-9]+/
#   separator        := /[_.]|__|[-]+/
#   tag              := /[\w][\w.-]{0,127}/            (Go's \w: ASCII)
#   digest           := algorithm ":" encoded           (go-digest: sha256/384/512, lower hex)
LOWER_ALNUM = frozenset(string.ascii_lowercase + string.digits)
ALNUM = frozenset(string.ascii_letters + string.digits)
WORD = ALNUM | {"_"}
HEX = frozenset("0123456789abcdef")
DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}


def _runs(text: str, alphabet: frozenset[str]) -> list[tuple[bool, str]]:
    """Split text into maximal runs of (in alphabet, run)."""
    out: list[tuple[bool, str]] = []
    for ch in text:
        inside = ch in alphabet
        if out and out[-1][0] == inside:
            out[-1] = (inside, out[-1][1] + ch)
        else:
            out.append((inside, ch))
    return out


def oracle_path_component(text: str) -> bool:
    runs = _runs(text, LOWER_ALNUM)
    if not runs or not runs[0][0] or not runs[-1][0]:
        return False
    return all(inside or run in (".", "_", "__") or set(run) == {"-"} for inside, run in runs)


def oracle_domain(text: str) -> bool:
    host, colon, port = text, "", ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return False
        host, rest = text[: end + 1], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return False
            colon, port = ":", rest[1:]
        inner = host[1:-1]
        host_ok = bool(inner) and all(c in "0123456789abcdefABCDEF:" for c in inner)
    else:
        host, colon, port = text.partition(":")
        host_ok = all(
            part
            and all(c in ALNUM or c == "-" for c in part)
            and part[0] != "-"
            and part[-1] != "-"
            for part in host.split(".")
        )
    port_ok = not colon or (bool(port) and all(c in string.digits for c in port))
    return host_ok and port_ok


def oracle_tag(text: str) -> bool:
    return 0 < len(text) <= 128 and text[0] in WORD and all(c in WORD or c in ".-" for c in text)


def oracle_digest(text: str) -> bool:
    algorithm, colon, encoded = text.partition(":")
    size = DIGEST_SIZES.get(algorithm)
    return bool(colon) and size == len(encoded) and set(encoded) <= HEX


def oracle_grammar(text: str) -> bool:
    """distribution's `reference.Parse`: the grammar above plus the length and digest rules."""
    rest, at, digest = text.partition("@")  # no other part may contain '@'
    if at and not oracle_digest(digest):
        return False
    colon = rest.rfind(":")
    name = rest
    if colon > rest.rfind("/"):  # a ':' before the last '/' can only be a domain's port
        name, tag = rest[:colon], rest[colon + 1 :]
        if not oracle_tag(tag):
            return False
    if not name or len(name) > 255:
        return False
    parts = name.split("/")
    if all(oracle_path_component(p) for p in parts):
        return True
    return len(parts) > 1 and oracle_domain(parts[0]) and all(map(oracle_path_component, parts[1:]))


def oracle_reference(text: str) -> bool:
    """docker's `ParseNormalizedNamed`, which buildx applies to every image name."""
    if len(text) == 64 and set(text) <= HEX:
        return False  # an image ID, not a name
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, remainder = first, rest
    else:
        domain, remainder = "docker.io", text
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    return oracle_grammar(f"{domain}/{remainder}")


def test_oracle_agrees_with_known_cases() -> None:
    """The oracle itself, on the examples of distribution's reference_test.go."""
    good = [
        "test_com",
        "test.com:tag",
        "test.com:5000",
        "test.com/repo:tag",
        "test:5000/repo",
        "test:5000/repo:tag",
        "test:5000/repo@sha256:" + "f" * 64,
        "lowercase:Uppercase",
        "sub-dom1.foo.com/bar/baz/quux",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "xn--n3h.com/myimage:xn--n3h.com",
        "foo_bar.com:8080",
        "foo/foo_bar.com:8080",
        "[2001:db8::1]:5000/repo",
        "Uppercase/lowercase:tag",
        "a" * 237,  # docker.io/library/ + 237 = 255
        "localhost/" + "a" * 245,
        "a/a---b",
    ]
    bad = [
        "",
        ":justtag",
        "@sha256:" + "f" * 64,
        "repo@sha256:" + "f" * 63,
        "repo@sha256:" + "F" * 64,
        "repo@md5:" + "f" * 32,
        "validname@invaliddigest:" + "f" * 64,
        "Uppercase:tag",
        "aa/asdf$$^/aa",
        "test:5000/Uppercase/lowercase:tag",
        "a" * 238,
        "localhost/" + "a" * 246,
        "[0]/x",  # no '.' or ':': not a domain, so docker.io/[0]/x
        "f" * 64,  # an image ID
        "a/-b",
        "a-/b",
        "a//b",
        "a:" + "t" * 129,
        "busybox\n",
        "busybox:é",
    ]
    assert [t for t in good if not oracle_reference(t)] == []
    assert [t for t in bad if oracle_reference(t)] == []
    for text in good + bad:
        assert refs.is_valid_reference(text) == oracle_reference(text), text


# --- strategies from the grammar pieces ----------------------------------------------------
alpha_numeric = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=6)
separator = st.sampled_from([".", "_", "__"]) | st.integers(1, 3).map(lambda n: "-" * n)


@st.composite
def path_components(draw: st.DrawFn) -> str:
    text = draw(alpha_numeric)
    for sep, more in draw(st.lists(st.tuples(separator, alpha_numeric), max_size=3)):
        text += sep + more
    return text


domain_component = st.from_regex(
    r"[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,8}[a-zA-Z0-9]", fullmatch=True
).filter(lambda s: s.isascii())
# An IPv6 host always has a ':' (and docker only reads a first component with '.', ':' or
# upper case as a domain).
ipv6 = st.builds(
    lambda a, b: f"[{a}:{b}]",
    st.text(alphabet="0123456789abcdefABCDEF:", max_size=8),
    st.text(alphabet="0123456789abcdefABCDEF:", max_size=8),
)
ports = st.integers(0, 65535).map(str)


@st.composite
def domains(draw: st.DrawFn) -> str:
    host = draw(ipv6) if draw(st.booleans()) and draw(st.booleans()) else ""
    if not host:
        host = ".".join(draw(st.lists(domain_component, min_size=1, max_size=3)))
    port = draw(st.none() | ports)
    return host if port is None else f"{host}:{port}"


tags = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(sorted(WORD)),
    st.text(alphabet=sorted(WORD | {".", "-"}), max_size=127),
)


@st.composite
def digests(draw: st.DrawFn) -> str:
    algorithm = draw(st.sampled_from(sorted(DIGEST_SIZES)))
    size = DIGEST_SIZES[algorithm]
    return f"{algorithm}:" + draw(
        st.text(alphabet="0123456789abcdef", min_size=size, max_size=size)
    )


@st.composite
def names(draw: st.DrawFn) -> str:
    path = "/".join(draw(st.lists(path_components(), min_size=1, max_size=3)))
    domain = draw(st.none() | domains())
    name = path if domain is None else f"{domain}/{path}"
    assume(len(name) <= 200)
    return name


@st.composite
def references(draw: st.DrawFn) -> str:
    text = draw(names())
    if draw(st.booleans()):
        text += ":" + draw(tags)
    if draw(st.booleans()):
        text += "@" + draw(digests())
    return text


# --- references ------------------------------------------------------------------------------
@budget("valid_references")
@given(references())
def test_generated_references_are_accepted_and_round_trip(text: str) -> None:
    RAN["valid_references"] += 1
    parsed = refs.parse_reference(text)
    assert str(parsed) == text
    assert oracle_reference(text)
    normalized = parsed.normalized()
    assert refs.parse_reference(str(normalized)) == normalized


BAD_TAG_CHARS = [*"!#$%^&*()+=,;<>?{}|~ \t\n'\"\\", "é", "ß", "\u00a0", "٣"]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    """A reference broken by one rule of the grammar, and the rule's name."""
    name = draw(names())
    tag = draw(tags)
    digest = draw(digests())
    kind = draw(
        st.sampled_from(
            [
                "uppercase in path",
                "bad tag char",
                "tag too long",
                "tag starts with separator",
                "digest too short",
                "digest uppercase hex",
                "digest unknown algorithm",
                "digest not hex",
                "empty component",
                "leading separator",
                "trailing separator",
                "empty tag",
                "empty digest",
                "name too long",
                "trailing newline",
            ]
        )
    )
    head, slash, last = name.rpartition("/")
    if kind == "uppercase in path":
        # The last component can never be read as a domain, so an upper-case letter breaks it.
        i = draw(st.integers(0, len(last)))
        text = head + slash + last[:i] + draw(st.sampled_from("ABCXYZ")) + last[i:]
    elif kind == "bad tag char":
        i = draw(st.integers(0, len(tag)))
        text = f"{name}:{tag[:i]}{draw(st.sampled_from(BAD_TAG_CHARS))}{tag[i:]}"[: 128 + len(name)]
    elif kind == "tag too long":
        text = f"{name}:{(tag * 129)[:129]}"
    elif kind == "tag starts with separator":
        text = f"{name}:{draw(st.sampled_from('.-'))}{tag}"[: len(name) + 129]
    elif kind == "digest too short":
        text = f"{name}@{digest[: draw(st.integers(0, len(digest) - 1))]}"
    elif kind == "digest uppercase hex":
        algorithm, _, hexpart = digest.partition(":")
        i = draw(st.integers(0, len(hexpart) - 1))
        text = f"{name}@{algorithm}:{hexpart[:i]}F{hexpart[i + 1 :]}"
    elif kind == "digest unknown algorithm":
        algorithm = draw(st.sampled_from(["md5", "sha1", "sha256+b64u", "blake3", "SHA256"]))
        text = f"{name}@{algorithm}:" + "a" * 64
    elif kind == "digest not hex":
        algorithm, _, hexpart = digest.partition(":")
        i = draw(st.integers(0, len(hexpart) - 1))
        text = f"{name}@{algorithm}:{hexpart[:i]}{draw(st.sampled_from('gxz-_'))}{hexpart[i + 1 :]}"
    elif kind == "empty component":
        parts = name.split("/")
        i = draw(st.integers(0, len(parts)))
        text = "/".join([*parts[:i], "", *parts[i:]])
    elif kind == "leading separator":
        text = head + slash + draw(st.sampled_from([".", "_", "-", "__"])) + last
    elif kind == "trailing separator":
        text = name + draw(st.sampled_from([".", "_", "-", "__", "/"]))
    elif kind == "empty tag":
        text = name + ":"
    elif kind == "empty digest":
        text = name + "@"
    elif kind == "name too long":
        text = name + "/" + "a" * (refs.NAME_MAX - len(name))
    else:
        text = name + "\n"
    return kind, text


@budget("reference_mutations")
@given(mutations())
def test_mutated_references_are_rejected(case: tuple[str, str]) -> None:
    RAN["reference_mutations"] += 1
    kind, text = case
    assert not oracle_reference(text), (kind, text)
    with pytest.raises(refs.InvalidReferenceError) as info:
        refs.parse_reference(text)
    assert "invalid image reference" in str(info.value) or "empty" in str(info.value)


REFERENCE_ALPHABET = string.ascii_lowercase[:6] + "AZ09" + "._-:/@[]" + "é\n "


@budget("reference_text")
@given(st.text(alphabet=REFERENCE_ALPHABET, max_size=24) | st.text(max_size=24))
def test_validator_agrees_with_oracle_on_arbitrary_text(text: str) -> None:
    RAN["reference_text"] += 1
    try:
        refs.parse_reference(text)
        accepted = True
    except refs.InvalidReferenceError:
        accepted = False
    assert accepted == oracle_reference(text), text


@st.composite
def edited_references(draw: st.DrawFn) -> str:
    """A valid reference with a few single-character edits: text right at the boundary."""
    text = draw(references())
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = draw(st.sampled_from(REFERENCE_ALPHABET))
        if op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + ch + text[i + 1 :]
    return text


@budget("reference_edits")
@given(edited_references())
def test_validator_agrees_with_oracle_near_the_boundary(text: str) -> None:
    RAN["reference_edits"] += 1
    assert refs.is_valid_reference(text) == oracle_reference(text), text


@budget("tags")
@given(st.text(max_size=140), tags)
def test_tags_and_sanitized_branches(text: str, tag: str) -> None:
    RAN["tags"] += 1
    assert refs.is_valid_tag(tag)
    assert refs.is_valid_tag(text) == oracle_tag(text)
    # Any git branch name becomes a valid tag (non-ASCII letters included).
    assert oracle_tag(refs.sanitize_tag(text))


# --- platforms ---------------------------------------------------------------------------------
VARIANTS = {"arm": ["v5", "v6", "v7"], "arm64": ["v8"], "amd64": ["v1", "v2", "v3", "v4"]}


def oracle_platform(text: str) -> bool:
    parts = text.split("/")
    if len(parts) not in (2, 3) or parts[0] not in refs.KNOWN_OS:
        return False
    if parts[1] not in refs.KNOWN_ARCH:
        return False
    return len(parts) == 2 or parts[2] in VARIANTS.get(parts[1], [])


@st.composite
def platforms(draw: st.DrawFn) -> str:
    os_ = draw(st.sampled_from(sorted(refs.KNOWN_OS)))
    arch = draw(st.sampled_from(sorted(refs.KNOWN_ARCH)))
    variant = draw(st.none() | st.sampled_from(VARIANTS.get(arch, ["v1"])))
    return f"{os_}/{arch}" if variant is None or arch not in VARIANTS else f"{os_}/{arch}/{variant}"


@budget("valid_platforms")
@given(platforms())
def test_generated_platforms_are_accepted(text: str) -> None:
    RAN["valid_platforms"] += 1
    assert refs.parse_platform(text) == text


@st.composite
def platform_text(draw: st.DrawFn) -> str:
    text = draw(platforms())
    edit = draw(st.sampled_from(["upper", "extra", "empty", "newline", "char", "none", "spaces"]))
    if edit == "upper":
        return text.upper()
    if edit == "extra":
        return text + "/v" + draw(st.sampled_from("123456789"))
    if edit == "empty":
        return text.replace("/", "//", 1)
    if edit == "newline":
        return text + "\n"
    if edit == "spaces":
        return f" {text}"
    if edit == "char":
        i = draw(st.integers(0, len(text)))
        return text[:i] + draw(st.sampled_from(string.printable + "é")) + text[i:]
    return draw(st.text(max_size=20))


@budget("platform_text")
@given(platform_text())
def test_platform_validator_agrees_with_oracle(text: str) -> None:
    RAN["platform_text"] += 1
    error: ValueError | None = None
    try:
        refs.parse_platform(text)
    except ValueError as exc:
        error = exc
    assert (error is None) == oracle_platform(text), text
    assert error is None or str(error).startswith(f"invalid platform {text!r}")


# --- manifests -----------------------------------------------------------------------------------
PATH = Path("builds.yaml")


def refusal(action: Callable[[], object]) -> UserError | None:
    """Run `action`; a UserError is a clean refusal, any other exception fails the test."""
    try:
        action()
    except UserError as exc:
        return exc
    return None


def load_and_validate(text: str) -> None:
    """Only a UserError (ManifestError) may come out; its first line names the file."""
    error = refusal(lambda: manifest.validate(yamlsrc.loads(text, PATH)))
    if error is not None:
        assert error.lines()
        assert error.message.startswith(str(PATH)), error.message


@budget("manifest_text")
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_loading(text: str) -> None:
    RAN["manifest_text"] += 1
    load_and_validate(text)


KEYS = [
    "version",
    "project",
    "name",
    "image",
    "targets",
    "app",
    "defaults",
    "tags",
    "platforms",
    "secrets",
    "id",
    "env",
    "file",
    "args",
    "labels",
    "outputs",
    "cache",
    "from",
    "to",
    "groups",
    "mirrors",
    "variables",
    "provenance",
    "ssh",
    "paths",
    "stage",
    "<<",
    "? x",
]
SCALARS = [
    "1",
    "app",
    "localhost:5000/app",
    "linux/amd64",
    "linux/s390x/v9",
    "[push]",
    "{a: 1}",
    "&a x",
    "*a",
    "&b [*b]",
    "!foo x",
    "!!binary zz",
    "!!python/object:os.system x",
    "2001-02-30",
    "0x_",
    "1e400",
    ".nan",
    "~",
    "yes",
    "'quoted'",
    '"\\x00"',
    "|",
    ">-",
    "- a",
    "[",
    "{",
    "}",
    ":",
    "%YAML 1.1",
    "---",
    "...",
    "${VERSION}",
    "${UNSET}",
    "max",
    "type=local,dest=x",
    "\t",
]


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        indent = " " * draw(st.sampled_from([0, 0, 2, 4, 6, 1, 3]))
        key = draw(st.sampled_from(KEYS))
        shape = draw(st.sampled_from(["key: value", "key:", "- value", "- key: value", "value"]))
        value = draw(st.sampled_from(SCALARS))
        lines.append(indent + shape.replace("key", key).replace("value", value))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@budget("manifest_yamlish")
@given(yamlish())
def test_yamlish_text_never_crashes_loading(text: str) -> None:
    RAN["manifest_yamlish"] += 1
    load_and_validate(text)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(SCALARS)
)
nested = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@budget("manifest_data")
@given(nested)
def test_arbitrary_nested_data_never_crashes_validation(data: Any) -> None:
    RAN["manifest_data"] += 1
    # Straight into the validator (no line info at all) ...
    refusal(lambda: manifest.validate(yamlsrc.Located(data=data, path=PATH)))
    # ... and through YAML text, the way a file arrives.
    load_and_validate(yaml.safe_dump(data, allow_unicode=True))


VALID: dict[str, Any] = {
    "version": 1,
    "project": {"name": "app", "image": "localhost:5000/app"},
    "variables": {"REGISTRY": "localhost:5000"},
    "mirrors": {"golang:1.23-bookworm": "localhost:5000/library/golang:1.23-bookworm"},
    "defaults": {"platforms": ["linux/amd64"], "args": {"VERSION": "${VERSION}"}},
    "targets": {
        "development": {"stage": "development", "tags": ["dev"], "outputs": ["load"]},
        "production": {
            "stage": "production",
            "tags": ["semver", "latest", "sha"],
            "outputs": ["push"],
            "secrets": [{"id": "token", "env": "TOKEN"}],
            "cache": {"to": ["type=local,dest=cache"], "from": ["type=local,src=cache"]},
        },
    },
    "groups": {"default": ["production"]},
}


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


VALID_PATHS = [p for p in _paths(VALID) if p]


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    if not isinstance(data, dict | list):
        return data  # an earlier edit replaced this subtree with a scalar: nothing to reach
    if isinstance(data, dict):
        return {k: _replace(v, tuple(rest), value) if k == head else v for k, v in data.items()}
    return [_replace(v, tuple(rest), value) if i == head else v for i, v in enumerate(data)]


@pytest.fixture(scope="module")
def project_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        helpers.write_project(Path(tmp))
        yield Path(tmp)


@budget("manifest_near_valid")
@given(st.lists(st.tuples(st.sampled_from(VALID_PATHS), nested), min_size=1, max_size=3))
def test_near_valid_manifests_fail_cleanly_through_plan(
    project_dir: Path, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """A valid manifest with a few subtrees replaced: validation and plan resolution only ever
    fail with a UserError (resolve also reads the Dockerfile and interpolates variables)."""
    RAN["manifest_near_valid"] += 1
    data: Any = VALID
    for path, value in edits:
        data = _replace(data, path, value)
    located = yamlsrc.loads(yaml.safe_dump(data, allow_unicode=True), project_dir / "builds.yaml")
    error = refusal(
        lambda: plan.resolve(
            manifest.validate(located), located, helpers.GIT, environ={"TOKEN": "x"}
        )
    )
    assert error is None or error.lines()


def test_budget_is_at_least_2000_examples() -> None:
    """Declared budgets add up; when the whole module ran, the examples really ran too."""
    assert sum(EXAMPLES.values()) >= 2000
    if set(RAN) == set(EXAMPLES):
        assert sum(RAN.values()) >= 2000, RAN
