"""The rules for what an expert reviewer flags, and the calibrated severities: for each, what it
catches and what it must not. In-memory Dockerfiles (written for these tests), no daemon."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from orchestrator import dockerfile, pinning
from orchestrator.checks import run_checks
from tests.unit.test_checks_rules import PROD, check, lines, make_target

MULTI: dict[str, Any] = {"platforms": ("linux/amd64", "linux/arm64")}


# --- OR017: the shipped stage on the build platform -------------------------------------
def test_shipped_stage_on_build_platform_is_an_error_on_the_other_platforms() -> None:
    found = check(
        """\
        FROM --platform=$BUILDPLATFORM golang:1.23 AS production
        RUN GOARCH=$TARGETARCH go build -o /app .
        ENTRYPOINT ["/app"]
        """,
        "OR017",
        **MULTI,
    )
    assert lines(found) == [("OR017", 1, "error")]
    assert "the linux/arm64 image gets linux/amd64 content" in found[0].message
    assert found[0].platforms == ("linux/arm64",)


def test_build_platform_only_on_build_stages_is_fine() -> None:
    text = """\
        FROM --platform=$BUILDPLATFORM golang:1.23 AS build
        ARG TARGETARCH
        RUN GOARCH=$TARGETARCH go build -o /app .
        FROM --platform=$TARGETPLATFORM alpine:3.20 AS production
        COPY --from=build /app /app
        """
    assert check(text, "OR017", **MULTI) == []
    # One platform, the native one: BUILDPLATFORM is the target platform, nothing is wrong.
    assert check("FROM --platform=$BUILDPLATFORM alpine:3.20 AS production\n", "OR017") == []


def test_inherited_build_platform_in_the_final_chain_is_caught() -> None:
    found = check(
        """\
        FROM --platform=$BUILDPLATFORM alpine:3.20 AS base
        FROM base AS production
        """,
        "OR017",
        **MULTI,
    )
    assert lines(found) == [("OR017", 1, "error")]


# --- OR018: go build on the build platform without GOOS/GOARCH ----------------------------
def test_go_build_on_build_platform_without_goarch_is_an_error() -> None:
    found = check(
        """\
        FROM --platform=$BUILDPLATFORM golang:1.23 AS build
        RUN go build -o /app ./cmd/app
        FROM alpine:3.20 AS production
        COPY --from=build /app /app
        """,
        "OR018",
        **MULTI,
    )
    assert lines(found) == [("OR018", 2, "error")]
    assert "without GOARCH" in found[0].message
    assert "(on linux/arm64 only)" in found[0].message


def test_go_build_with_target_arch_from_env_run_or_xx_is_fine() -> None:
    for body in (
        "ARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /app .",
        "ARG TARGETARCH\nENV GOARCH=${TARGETARCH}\nRUN go build -o /app .",
        "RUN xx-go build -o /app .",
    ):
        text = f"FROM --platform=$BUILDPLATFORM golang:1.23 AS build\n{body}\n"
        text += "FROM alpine:3.20 AS production\nCOPY --from=build /app /app\n"
        assert check(text, "OR018", **MULTI) == [], body
    # Emulated (no --platform): the go toolchain runs as the target, its default is right.
    emulated = "FROM golang:1.23 AS build\nRUN go build -o /app .\nFROM build AS production\n"
    assert check(emulated, "OR018", **MULTI) == []


def test_target_arch_used_but_not_declared_in_the_stage_is_caught() -> None:
    found = check(
        """\
        FROM --platform=$BUILDPLATFORM golang:1.23 AS build
        RUN GOARCH=$TARGETARCH go build -o /app .
        FROM alpine:3.20 AS production
        COPY --from=build /app /app
        """,
        "OR018",
        **MULTI,
    )
    assert lines(found) == [("OR018", 2, "error")]
    assert "does not declare `ARG TARGETARCH`" in found[0].message


# --- OR005: a quoted URL ----------------------------------------------------------------------
def test_quoted_add_url_is_caught_like_an_unquoted_one() -> None:
    found = check(
        'FROM alpine:3.20 AS production\nADD "https://example.com/tool.tgz" /opt/\n', "OR005"
    )
    assert lines(found) == [("OR005", 2, "warning")]
    assert "https://example.com/tool.tgz" in found[0].message
    assert check('FROM alpine:3.20 AS production\nADD "tool.tgz" /opt/\n', "OR005") == []


# --- OR019: world-writable files in the image ----------------------------------------------
def test_world_writable_in_the_final_image() -> None:
    found = check(
        """\
        FROM alpine:3.20 AS production
        RUN mkdir /data && chmod -R 777 /data
        RUN chmod a+w /tmp/x
        COPY --chmod=0777 run.sh /run.sh
        """,
        "OR019",
    )
    assert lines(found) == [
        ("OR019", 2, "warning"),
        ("OR019", 3, "warning"),
        ("OR019", 4, "warning"),
    ]
    assert "recursively" in found[0].message


def test_world_writable_with_the_sticky_bit_is_worded_for_it_and_tmp_is_fine() -> None:
    text = """\
        FROM alpine:3.20 AS production
        RUN mkdir -p /var/www/html && chmod 1777 /var/www/html
        RUN chmod 1777 /tmp /var/tmp/ && chmod o+wt /dev/shm
        """
    found = check(text, "OR019")
    assert lines(found) == [("OR019", 2, "warning")]
    assert "can add files there" in found[0].message
    assert "replace them" not in found[0].message  # others' files cannot be replaced


def test_world_writable_points_at_the_chmod_line_of_a_long_run() -> None:
    text = """\
        FROM alpine:3.20 AS production
        RUN set -x \\
        # a comment line inside the RUN: not in its content
            && apk add --no-cache curl \\
            && mkdir /data \\
            && chmod 777 /data
        """
    assert lines(check(text, "OR019")) == [("OR019", 6, "warning")]


def test_owner_only_modes_and_build_stages_are_fine() -> None:
    text = """\
        FROM alpine:3.20 AS build
        RUN chmod -R 777 /scratch
        FROM alpine:3.20 AS production
        RUN chmod 755 /app && chmod +x /app && chmod u+w /app && chmod g+w /srv && chmod 1755 /t
        COPY --chmod=0755 run.sh /run.sh
        """
    assert check(text, "OR019") == []


# --- OR020: credentials copied -----------------------------------------------------------
def test_credentials_file_in_the_shipped_stage_is_an_error_for_production() -> None:
    found = check(
        """\
        FROM node:22.11-alpine AS production
        COPY package.json .npmrc ./
        RUN npm ci && rm .npmrc
        COPY config/.aws/credentials /root/.aws/credentials
        """,
        "OR020",
        **PROD,
    )
    assert lines(found) == [("OR020", 2, "error"), ("OR020", 4, "error")]
    assert "later `rm` does not remove it" in found[0].message


def test_credentials_in_a_build_stage_warn_and_ordinary_files_pass() -> None:
    found = check(
        """\
        FROM node:22.11-alpine AS deps
        COPY .npmrc package.json ./
        FROM node:22.11-alpine AS production
        COPY --from=deps /node_modules /node_modules
        COPY .env.example .npmrc.sample config.json ./
        """,
        "OR020",
        **PROD,
    )
    assert lines(found) == [("OR020", 2, "warning")]


# --- OR021: curl | sh of a moving script ----------------------------------------------------
def test_piping_a_moving_script_into_a_shell() -> None:
    found = check(
        """\
        FROM debian:12 AS production
        RUN curl -fsSL https://sh.rustup.rs | sh -s -- -y
        RUN wget -qO- https://get.example.com/install | sudo bash
        RUN sh -c "$(curl -fsSL https://example.com/setup.sh)"
        """,
        "OR021",
    )
    assert lines(found) == [
        ("OR021", 2, "warning"),
        ("OR021", 3, "warning"),
        ("OR021", 4, "warning"),
    ]


def test_versioned_scripts_and_plain_downloads_are_not_flagged() -> None:
    text = """\
        FROM debian:12 AS production
        RUN curl -fsSL https://raw.example.com/nvm/v0.40.1/install.sh | bash
        RUN curl -fsSLo /tmp/x.sh https://example.com/setup.sh && sha256sum -c sums
        RUN curl -fsSL https://example.com/data.json | jq .
        """
    assert check(text, "OR021") == []


# --- OR011 for dotnet / maven / cargo -----------------------------------------------------
def test_whole_tree_before_maven_cargo_dotnet_builds() -> None:
    for step in (
        "mvn -B package",
        "./mvnw -q verify",
        "cargo build --release",
        "dotnet publish -c Release",
    ):
        text = f"FROM debian:12 AS production\nCOPY . .\nRUN {step}\n"
        assert lines(check(text, "OR011")) == [("OR011", 2, "warning")], step


def test_dependencies_fetched_first_or_cached_are_fine() -> None:
    prefetched = """\
        FROM maven:3.9-eclipse-temurin-21 AS production
        COPY pom.xml .
        RUN mvn -B dependency:go-offline
        COPY . .
        RUN mvn -B -o package
        """
    assert check(prefetched, "OR011") == []
    cached = """\
        FROM rust:1.83 AS production
        COPY . .
        RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build --release
        """
    assert check(cached, "OR011") == []
    restored = """\
        FROM mcr.microsoft.com/dotnet/sdk:8.0 AS production
        COPY *.csproj ./
        RUN dotnet restore
        COPY . .
        RUN dotnet publish -c Release --no-restore
        """
    assert check(restored, "OR011") == []


# --- OR008: apt-get dist-clean ----------------------------------------------------------------
def test_apt_dist_clean_clears_the_lists() -> None:
    text = "FROM debian:13 AS production\nRUN apt-get update && apt-get install -y curl && apt-get dist-clean\n"
    assert check(text, "OR008") == []
    kept = "FROM debian:13 AS production\nRUN apt-get update && apt-get install -y curl && apt-get clean\n"
    assert lines(check(kept, "OR008")) == [("OR008", 2, "warning")]


# --- OR001: fixes and messages that fit the image ---------------------------------------------
def test_pin_fix_names_the_image_at_hand() -> None:
    found = check("FROM alpine:latest AS production\n", "OR001", pin="minor")
    assert "alpine:3.21" in found[0].fix
    assert "golang" not in found[0].fix
    other = check("FROM example.org/team/tool:stable AS production\n", "OR001", pin="minor")
    assert "example.org/team/tool:<major>.<minor>" in other[0].fix


def test_images_without_version_tags_are_told_to_pin_a_digest() -> None:
    found = check(
        "FROM gcr.io/distroless/static-debian12:nonroot AS production\n", "OR001", pin="minor"
    )
    assert lines(found) == [("OR001", 1, "error")]
    assert "publishes no version tags: pin a digest" in found[0].message
    assert "orchestrator pin" in found[0].fix


def test_codename_tags_satisfy_minor_as_a_major_release_pin_and_say_so() -> None:
    found = check("FROM debian:bookworm-slim AS production\n", "OR001", pin="minor")
    assert lines(found) == [("OR001", 1, "info")]
    assert "Debian 12" in found[0].message
    assert "major-release pin" in found[0].message
    assert pinning.violation("ubuntu:noble", "minor", None) is None
    assert pinning.violation("debian:bookworm", "patch", None) is not None
    assert pinning.violation("debian:sid", "minor", None) is not None  # rolling: floats
    # On another image the codename pins only the OS: Python itself floats.
    why = pinning.violation("python:bookworm", "minor", None)
    assert why is not None
    assert "pins only the OS release" in why


# --- OR013: calibrated ------------------------------------------------------------------------
def _root(
    text: str, context: Path | None = None, **target: Any
) -> list[tuple[str, int | None, str]]:
    body = textwrap.dedent(text)
    path = (context / "Dockerfile") if context else Path("/nonexistent/app/Dockerfile")
    parsed = dockerfile.parse(body, path)
    t = make_target(parsed, context=context, **target)
    return lines(run_checks(t, parsed, hadolint=False, codes=["OR013"]))


def test_root_without_any_step_down_is_an_error_for_shipped_images() -> None:
    assert _root('FROM debian:12 AS production\nCMD ["app"]\n', **PROD) == [("OR013", 1, "error")]
    assert _root('FROM debian:12 AS production\nCMD ["app"]\n') == [("OR013", 1, "info")]


def test_entrypoint_that_steps_down_lowers_root_to_info() -> None:
    for entry in (
        '["gosu", "app", "server"]',
        '["su-exec", "app", "server"]',
        '["setpriv", "--reuid=10001", "app"]',
        "chroot --userspec=10001 / app",
    ):
        found = _root(f"FROM debian:12 AS production\nENTRYPOINT {entry}\n", **PROD)
        assert found == [("OR013", 1, "info")], entry


def test_entrypoint_script_in_the_context_that_steps_down(tmp_path: Path) -> None:
    (tmp_path / "docker-entrypoint.sh").write_text(
        '#!/bin/sh\nchown app /data\nexec gosu app "$@"\n'
    )
    text = """\
        FROM debian:12 AS production
        COPY docker-entrypoint.sh /usr/local/bin/
        ENTRYPOINT ["docker-entrypoint.sh"]
        CMD ["server"]
        """
    assert _root(text, tmp_path, **PROD) == [("OR013", 1, "info")]
    (tmp_path / "docker-entrypoint.sh").write_text('#!/bin/sh\nexec "$@"\n')
    assert _root(text, tmp_path, **PROD) == [("OR013", 1, "error")]


def test_installing_a_step_down_tool_without_seeing_it_used_is_a_warning() -> None:
    text = """\
        FROM debian:12 AS production
        RUN apt-get update && apt-get install -y gosu && rm -rf /var/lib/apt/lists/*
        ENTRYPOINT ["/entrypoint.sh"]
        """
    assert _root(text, **PROD) == [("OR013", 1, "warning")]


def test_a_heredoc_entrypoint_script_is_read_and_is_no_install() -> None:
    script = "COPY --chmod=0755 <<'EOF' /usr/local/bin/entry\n#!/bin/sh\nexec setpriv --reuid=10001 \"$@\"\nEOF\n"
    # The script written in the Dockerfile is the entrypoint: seen in use, an info.
    text = f'FROM debian:12 AS production\n{script}ENTRYPOINT ["/usr/local/bin/entry"]\n'
    found = check(text, "OR013", **PROD)
    assert lines(found) == [("OR013", 1, "info")]
    assert "steps down with setpriv (in the heredoc at line 2)" in found[0].message
    # Another file's script: not seen in use, and nothing was installed.
    text = f'FROM debian:12 AS production\n{script}ENTRYPOINT ["/app"]\n'
    found = check(text, "OR013", **PROD)
    assert lines(found) == [("OR013", 1, "warning")]
    assert "a file it writes (line 2) uses setpriv" in found[0].message
    assert "installs" not in found[0].message


def test_a_base_image_without_a_process_of_its_own_only_warns() -> None:
    text = "FROM debian:12 AS production\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n"
    found = _root(text, **PROD)
    assert found == [("OR013", 1, "warning")]


def test_add_of_an_ssh_git_url_is_a_fetch_like_git_at() -> None:
    # BuildKit clones `ssh://git@host/repo.git` as it does `git@host:repo.git`.
    found = check(
        "FROM alpine:3.20 AS production\nADD ssh://git@github.com/o/r.git /src\n", "OR005"
    )
    assert lines(found) == [("OR005", 2, "warning")]
