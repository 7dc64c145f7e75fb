"""Dockerfile graph answers are kept per file (issue 21): asked again, they must not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import dockerfile, wordexpand

TEXT = """\
ARG VARIANT=alpine
ARG BASE=busybox:1.36
FROM ${BASE} AS base-alpine
FROM debian:12 AS base-debian
FROM base-${VARIANT} AS build
COPY --from=golang:1.23 /usr/local/go /go
RUN --mount=from=base-debian,target=/d true
FROM build AS final
"""


def _parsed() -> dockerfile.Dockerfile:
    return dockerfile.parse(TEXT, Path("/x/Dockerfile"))


def test_answers_depend_on_the_build_args_the_global_args_read() -> None:
    parsed = _parsed()
    alpine = [s.label for s in parsed.stages_for("final", {})]
    debian = [s.label for s in parsed.stages_for("final", {"VARIANT": "debian"})]
    assert alpine == ["base-alpine", "base-debian", "build", "final"]
    assert debian == ["base-debian", "build", "final"]
    # An arg no global ARG reads changes nothing, and the first answer is still the same.
    assert [s.label for s in parsed.stages_for("final", {"OTHER": "1"})] == alpine
    assert [s.label for s in parsed.stages_for("final", {})] == alpine
    base = parsed.stages[0]
    assert parsed.external_images(base, {}) == [("busybox:1.36", 3)]
    assert parsed.external_images(base, {"BASE": "alpine:3"}) == [("alpine:3", 3)]


def test_a_caller_changing_an_answer_does_not_change_the_next_one() -> None:
    parsed = _parsed()
    first = parsed.stages_for("final", {})
    first.clear()
    scope = parsed.scope({}, "linux/arm64")
    scope["BASE"] = "changed"
    assert len(parsed.stages_for("final", {})) == 4
    assert parsed.scope({}, "linux/arm64")["BASE"] == "busybox:1.36"
    assert parsed.scope({}, "linux/arm64")["TARGETARCH"] == "arm64"


def test_the_native_platform_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _parsed()
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    assert parsed.scope({})["TARGETARCH"] == "amd64"
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert parsed.scope({})["TARGETARCH"] == "arm64"


def test_a_stage_of_another_file_is_answered_not_kept() -> None:
    parsed = _parsed()
    other = dockerfile.parse("FROM scratch\nFROM alpine:3 AS x\n", Path("/y/Dockerfile"))
    assert parsed.external_images(other.stages[1], {}) == [("alpine:3", 2)]
    assert parsed.external_images(parsed.stages[1], {}) == [("debian:12", 4)]


def test_equality_ignores_what_was_asked() -> None:
    asked, fresh = _parsed(), _parsed()
    asked.stages_for("final", {})
    assert asked == fresh


@pytest.mark.parametrize("word", ["busybox:1.36", "golang:1.23-bookworm", "a b", ""])
def test_words_without_quotes_escapes_or_dollars_expand_to_themselves(word: str) -> None:
    assert wordexpand.expand(word, {}) == word
    assert wordexpand.expand(word, {}, "`") == word
