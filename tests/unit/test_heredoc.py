"""Heredocs are a script's or a file's text: never instructions, never pinned, never drafted.

A `COPY <<EOT` whose body had a line starting with `FROM` stopped plan, check and build ("FROM
requires either one or three arguments"), a body line `FROM x AS evil` became a stage, `pin
--write` pinned an image named inside a file's text, and `init` drafted targets from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import dockerfile, heredoc, pinning, scaffold
from tests.unit import helpers

MOTD = """\
FROM busybox:1.35 AS app
COPY <<EOT /etc/motd
Welcome.
FROM here on, all sessions are logged.
FROM nothing:1 AS evil
EOT
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
USER 1000
CMD ["cat", "/etc/motd"]
"""


def test_a_heredoc_body_is_part_of_its_instruction_and_no_stage() -> None:
    parsed = dockerfile.parse(MOTD, Path("/p/Dockerfile"))
    assert [(s.name, s.base) for s in parsed.stages] == [("app", "busybox:1.35")]
    copy, run, user, cmd = parsed.stages[0].instructions
    assert (copy.keyword, copy.line, copy.end_line) == ("COPY", 2, 6)
    assert dockerfile.sources(copy) == []  # the text is written in the instruction
    assert (run.keyword, run.line, run.end_line) == ("RUN", 7, 10)
    assert "apt-get install -y curl" in run.args  # rules read the script that runs
    assert (user.line, cmd.line) == (11, 12)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("RUN <<EOF", [("EOF", False)]),
        ("RUN <<-'EOT' bash", [("EOT", True)]),
        ('COPY <<"a" <<b /dst/', [("a", False), ("b", False)]),
        ("RUN python3 2<<EOF", [("EOF", False)]),
        ("RUN cat <<< word", []),  # a here-string
        ("RUN cat<<EOF", []),  # BuildKit looks at words that start with <<
    ],
)
def test_heredoc_words(line: str, found: list[tuple[str, bool]]) -> None:
    assert heredoc.words(line) == found


def test_bodies_follow_continuations_tabs_and_the_escape_directive() -> None:
    text = (
        "# escape=`\n"
        "FROM a\n"
        "RUN echo `\n"
        "  <<-END\n"
        "\techo in\n"
        "\tEND\n"
        "COPY <<A <<B /x/\n"
        "a\n"
        "A\n"
        "b\n"
        "B\n"
        "RUN <<NEVER\n"
        "FROM b\n"
    )
    found = heredoc.bodies(text.split("\n"))
    assert [(b.head, b.opener, b.first, b.last, b.texts) for b in found] == [
        (2, 3, 4, 5, ("\techo in",)),  # the instruction starts a line before its `<<-END`
        (6, 6, 7, 10, ("a", "b")),
        (11, 11, 12, 13, ("FROM b\n",)),  # never closed: the body runs to the end, as BuildKit
    ]
    assert [b.keyword for b in found] == ["RUN", "COPY", "RUN"]
    assert [s.base for s in dockerfile.parse(text, Path("/p/Dockerfile")).stages] == ["a"]


def test_pin_leaves_a_heredoc_body_alone() -> None:
    digest = "sha256:" + "a" * 64
    new, changes = pinning.rewrite(MOTD, {"docker.io/library/busybox:1.35": digest})
    assert [c.line for c in changes] == [1]
    assert new.splitlines()[3:5] == MOTD.splitlines()[3:5]


def test_plan_and_init_read_the_heredoc_file(tmp_path: Path) -> None:
    text = "version: 1\nproject: {name: h, image: localhost:5000/h}\ntargets:\n  app: {}\n"
    path = helpers.write_project(tmp_path, text, MOTD)
    (target,) = helpers.resolve(path).targets
    assert target.stage == "app"
    drafts = scaffold.drafts(scaffold.parse_all(tmp_path, [Path("Dockerfile")]), "h")
    assert [d.name for d in drafts] == ["app"]


def test_a_byte_order_mark_is_dropped_as_buildkit_does(tmp_path: Path) -> None:
    parsed = dockerfile.parse('\ufeffFROM busybox:1.35 AS x\nCMD ["true"]\n', Path("/p/D"))
    assert [(s.name, s.base, s.line) for s in parsed.stages] == [("x", "busybox:1.35", 1)]
    digest = "sha256:" + "b" * 64
    new, _ = pinning.rewrite(
        "\ufeffFROM busybox:1.35\n", {"docker.io/library/busybox:1.35": digest}
    )
    assert new == f"\ufeffFROM busybox:1.35@{digest}\n"
