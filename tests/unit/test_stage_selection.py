"""Stage selection as BuildKit does it: FROM lines expanded by its shell lexer, with its automatic
platform ARGs, per platform of the target; and the bases `plan` prints from the same view."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator import dockerfile, platformargs, wordexpand
from orchestrator.checks import run_checks
from orchestrator.errors import UserError
from tests.unit import helpers
from tests.unit.test_checks_rules import make_target

VALUES = {"SET": "x", "EMPTY": "", "V": "1.2.3-alpine"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$SET", "x"),
        ("${SET}", "x"),
        ("pre-${SET}-post", "pre-x-post"),
        ("$UNSET", ""),
        ("${UNSET:-w}", "w"),
        ("${EMPTY:-w}", "w"),
        ("${EMPTY-w}", ""),  # without ':' only unset takes the word
        ("${UNSET-w}", "w"),
        ("${SET:+y}", "y"),
        ("${EMPTY:+y}", ""),
        ("${EMPTY+y}", "y"),
        ("${UNSET+y}", ""),
        ("${SET:?must}", "x"),
        ("${UNSET:-${SET}z}", "xz"),  # the word is expanded itself
        ("'$SET'", "$SET"),  # single quotes: literal
        ('"$SET"', "x"),
        ("a\\$SET", "a$SET"),  # the escape character protects the '$'
        ("${V#*.}", "2.3-alpine"),
        ("${V##*.}", "3-alpine"),
        ("${V%-*}", "1.2.3"),
        ("${V%%.*}", "1"),
        ("${V/./_}", "1_2.3-alpine"),
        ("${V//./_}", "1_2_3-alpine"),
        ("cost$", "cost$"),
        ("x$-y", "x$-y"),
    ],
)
def test_word_expansion_forms(word: str, expected: str) -> None:
    assert wordexpand.expand(word, VALUES) == expected


def test_required_variable_unset_is_a_user_error_with_its_message() -> None:
    with pytest.raises(UserError, match=r"UNSET: set it in builds\.yaml"):
        wordexpand.expand("${UNSET:?set it in builds.yaml}", VALUES)
    with pytest.raises(UserError, match="EMPTY"):
        wordexpand.expand("${EMPTY:?}", VALUES)
    assert wordexpand.expand("${EMPTY?}", VALUES) == ""  # set, so fine without ':'


def test_platform_args_are_normalised_like_containerd() -> None:
    arm = platformargs.values("linux/arm", "linux/amd64")
    assert (arm["TARGETPLATFORM"], arm["TARGETVARIANT"]) == ("linux/arm/v7", "v7")
    arm64 = platformargs.values("linux/arm64/v8", "linux/amd64")
    assert (arm64["TARGETPLATFORM"], arm64["TARGETARCH"], arm64["TARGETVARIANT"]) == (
        "linux/arm64",
        "arm64",
        "",
    )
    assert arm64["BUILDPLATFORM"] == "linux/amd64"
    assert platformargs.values("wasi/wasm")["TARGETOS"] == "wasi"


PER_ARCH = """\
FROM golang:1.23 AS build-amd64
RUN echo amd64
FROM golang:1.23 AS build-arm64
RUN echo arm64
FROM build-$TARGETARCH AS build
FROM scratch AS production
COPY --from=build /out /app
"""


def _parse(text: str) -> dockerfile.Dockerfile:
    return dockerfile.parse(textwrap.dedent(text), Path("/nonexistent/Dockerfile"))


def _labels(stages: list[dockerfile.Stage]) -> list[str]:
    return [s.label for s in stages]


def test_stages_are_selected_per_platform_through_automatic_args() -> None:
    parsed = _parse(PER_ARCH)
    amd = parsed.stages_for("production", {}, "linux/amd64")
    arm = parsed.stages_for("production", {}, "linux/arm64")
    assert _labels(amd) == ["build-amd64", "build", "production"]
    assert _labels(arm) == ["build-arm64", "build", "production"]
    both = parsed.built_stages("production", {}, ["linux/amd64", "linux/arm64"])
    assert _labels(both) == ["build-amd64", "build-arm64", "build", "production"]


def test_without_platforms_the_engine_platform_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    parsed = _parse(PER_ARCH)
    assert _labels(parsed.stages_for("production", {})) == ["build-amd64", "build", "production"]
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert _labels(parsed.stages_for("production", {})) == ["build-arm64", "build", "production"]


def test_stage_chosen_by_a_build_arg_with_alternate_and_default_forms() -> None:
    parsed = _parse(
        """\
        ARG SRC
        ARG FLAVOUR=
        FROM alpine:3.20 AS git-install
        RUN echo git
        FROM alpine:3.20 AS release-install
        RUN echo release
        FROM alpine:3.20 AS debug-tools
        FROM ${SRC:-release}-install${FLAVOUR:+-with-$FLAVOUR} AS production
        """
    )
    assert _labels(parsed.stages_for("production", {})) == ["release-install", "production"]
    assert _labels(parsed.stages_for("production", {"SRC": "git"})) == [
        "git-install",
        "production",
    ]
    # An undeclared build arg does not reach FROM (BuildKit only passes declared global ARGs).
    assert parsed.expand("${OTHER:-none}", {"OTHER": "x"}) == "none"


def test_global_arg_defaults_expand_earlier_args_and_build_args_win() -> None:
    parsed = _parse(
        """\
        ARG GO_VERSION=1.23
        ARG GO_IMAGE=golang:${GO_VERSION}-bookworm
        FROM ${GO_IMAGE} AS production
        """
    )
    stage = parsed.stages[0]
    assert parsed.external_images(stage, {}) == [("golang:1.23-bookworm", 3)]
    assert parsed.external_images(stage, {"GO_VERSION": "1.24"}) == [("golang:1.24-bookworm", 3)]
    assert parsed.external_images(stage, {"GO_IMAGE": "golang:1.22"}) == [("golang:1.22", 3)]


def test_escape_directive_changes_the_escape_character() -> None:
    parsed = _parse("# escape=`\nARG A=x\nFROM img-`$A-$A AS production\n")
    assert parsed.expand(parsed.stages[0].base, {}) == "img-$A-x"


def test_declared_platform_arg_without_default_keeps_the_automatic_value() -> None:
    parsed = _parse("ARG TARGETOS\nFROM bin-$TARGETOS AS production\n")
    assert parsed.expand(parsed.stages[0].base, {}, "windows/amd64") == "bin-windows"


def test_checks_report_findings_of_one_platform_only_with_that_platform() -> None:
    parsed = _parse(
        """\
        FROM debian:12 AS build-amd64
        RUN apt-get update
        FROM debian:12 AS build-arm64
        RUN echo fine
        FROM build-$TARGETARCH AS production
        """
    )
    target = make_target(parsed, platforms=("linux/amd64", "linux/arm64"))
    found = run_checks(target, parsed, hadolint=False, codes=["OR007"])
    assert [(f.code, f.line, f.platforms) for f in found] == [("OR007", 2, ("linux/amd64",))]
    assert found[0].message.endswith("(on linux/amd64 only)")
    # The same finding on every platform is reported once, with no platform note.
    single = run_checks(target, parsed, hadolint=False, codes=["OR013"])
    assert len(single) == 1
    assert single[0].platforms == ()
    assert "only)" not in single[0].message


def test_plan_prints_the_bases_of_every_platform(tmp_path: Path) -> None:
    text = """\
    FROM alpine:3.20 AS fetch-amd64
    FROM busybox:1.36 AS fetch-arm64
    FROM fetch-${TARGETARCH} AS fetch
    FROM scratch AS production
    COPY --from=fetch /bin/sh /sh
    """
    yaml_text = helpers.BASE.replace("secrets: [{id: token, env: TOKEN}]", "")
    path = helpers.write_project(tmp_path, yaml_text, textwrap.dedent(text))
    plan = helpers.resolve(path, ["production"])
    production = next(t for t in plan.targets if t.name == "production")
    assert [(b.ref, b.stage, b.line) for b in production.base_images] == [
        ("alpine:3.20", "fetch-amd64", 1),
        ("busybox:1.36", "fetch-arm64", 2),
    ]
