"""A copy of a Dockerfile that hadolint can parse, for files BuildKit accepts and hadolint not.

hadolint 2.15's parser rejects some valid Dockerfiles with DL1000 and then reports nothing else:
a registry host without a dot but with a port (`FROM localhost:5000/library/golang:1.23`),
heredocs followed by a comment or written `<<"EOF"`, and `RUN --mount=from=...` without a
target. We lint a copy where those constructs are neutralised instead: every line keeps its
number, so hadolint's findings still point at the user's lines. What was changed is returned
so the report can say which parts hadolint did not see.

`quiet_comments` is applied to every file before it is linted (and before its answer is looked
up in the memo): a plain comment's words never change a finding, so two Dockerfiles that differ
only in comments are one lint, and editing a comment keeps the remembered answer.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from orchestrator import heredoc

if TYPE_CHECKING:
    from orchestrator.dockerfile import Dockerfile

# `host:port/` at the start of an image reference, the host without a dot (localhost:5000/).
_DOTLESS_HOST = re.compile(r"(?P<host>(?<![\w.-])[A-Za-z0-9-]+):(?P<port>\d+)/")
_FROM = re.compile(r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>\S+)", re.IGNORECASE)
_COPY_FROM = re.compile(r"(?P<head>--from=)(?P<image>[^\s,]+)", re.IGNORECASE)
_INSTRUCTION = re.compile(r"^\s*(?P<keyword>[A-Za-z]+)\b")
_MOUNT = re.compile(r"--mount=(?P<opts>\S+)")
# Comments whose words hadolint or ShellCheck read: `# hadolint ignore=DL3008`,
# `# hadolint global ...`, `# shellcheck disable=SC2086` (inside a RUN script).
_READ_COMMENT = re.compile(r"hadolint|shellcheck", re.IGNORECASE)


def _dotted(image: str) -> str:
    return _DOTLESS_HOST.sub(lambda m: f"{m.group('host')}.invalid:{m.group('port')}/", image, 1)


def _mount(match: re.Match[str]) -> str:
    opts = match.group("opts")
    keys = {part.partition("=")[0].lower() for part in opts.split(",")}
    kind = next(
        (p.partition("=")[2] for p in opts.split(",") if p.lower().startswith("type=")), "bind"
    )
    if kind in ("secret", "ssh", "tmpfs") or keys & {"target", "dst", "destination"}:
        return match.group(0)
    return f"--mount={opts},target=/hadolint-neutralised"


def neutralise(text: str) -> tuple[str, list[str]]:
    """(copy for hadolint, what was neutralised); the copy has exactly the same lines."""
    lines = text.split("\n")
    changed: set[str] = set()
    found = heredoc.bodies(lines)
    bodies = heredoc.inside(found)
    # Every line of an instruction that opens a heredoc may hold its `<<` word, not only the
    # first: `RUN --mount=... \` then `  --mount=... <<EOT`. A word left in place, its body
    # blanked, is an unterminated heredoc to ShellCheck (a false SC1072 error).
    opening = {n: body for body in found for n in range(body.head, body.opener + 1)}
    escape = heredoc.escape_char(lines)
    for n, line in enumerate(lines):
        if n in bodies:
            lines[n] = ""  # the heredoc's body: hadolint does not see it
            continue
        new = line
        if match := _FROM.match(new):
            image = _dotted(match.group("image"))
            new = f"{match.group('head')}{image}{new[match.end() :]}"
        new = _COPY_FROM.sub(lambda m: f"{m.group('head')}{_dotted(m.group('image'))}", new)
        if new != line:
            changed.add("a registry host without a dot")
        mounted = _MOUNT.sub(_mount, new)
        if mounted != new:
            changed.add("a mount without a target")
            new = mounted
        body = opening.get(n)
        if body and heredoc.WORD.search(new):
            changed.add("heredocs")
            new = heredoc.WORD.sub("" if body.keyword == "RUN" else "heredoc", new).rstrip()
        lines[n] = new
        if body and n == body.opener and body.keyword == "RUN" and _no_command(lines, body, escape):
            lines[n] += " true"  # the script was all in the heredoc
    return "\n".join(lines), sorted(changed)


def _no_command(lines: list[str], body: heredoc.Body, escape: str) -> bool:
    """Whether the RUN opening `body` is only its keyword and flags, once its words are gone."""
    parts = (lines[n].strip() for n in range(body.head, body.opener + 1))
    joined = " ".join(p.removesuffix(escape) for p in parts if not p.startswith("#"))
    return re.fullmatch(r"\s*RUN(?:\s+--\S+)*\s*", joined, re.IGNORECASE) is not None


def blank_instruction(text: str, line: int, dockerfile: Dockerfile) -> str | None:
    """`text` without the instruction at `line` (its lines emptied, numbers kept), for a
    construct hadolint rejects that `neutralise` does not know; None if there is none there.
    A FROM keeps its stage: its image becomes a placeholder hadolint parses."""
    lines = text.split("\n")
    for stage in dockerfile.stages:
        if stage.line == line and 0 < line <= len(lines):
            alias = f" AS {stage.name}" if stage.name else ""
            lines[line - 1] = f"FROM hadolint-placeholder{alias}"
            return "\n".join(lines)
        for ins in stage.instructions:
            if ins.line <= line <= ins.end_line:
                for n in range(ins.line - 1, min(ins.end_line, len(lines))):
                    lines[n] = ""
                return "\n".join(lines)
    return None


@functools.lru_cache(maxsize=256)  # asked per target and platform, for a few distinct files
def quiet_comments(text: str) -> str:
    """`text` with the words of its plain comments dropped: each such line stays, as a bare `#`
    with its indentation, so line numbers and the Dockerfile's meaning are the same. Kept as
    written: parser directives at the top, comments hadolint or ShellCheck read (pragmas,
    directives), `#!` lines, a comment line ending in a continuation character (which parser
    treats it as part of the instruction is not ours to guess) and heredoc bodies (a script's or
    a file's own text)."""
    lines = text.split("\n")
    bodies = heredoc.inside(heredoc.bodies(lines))
    top = True  # still in the parser directives: BuildKit reads them only before anything else
    for n, line in enumerate(lines):
        if n in bodies:
            continue
        body = line.strip()
        if top and heredoc.DIRECTIVE.match(body):
            continue
        top = False
        if body.startswith("#") and not (
            body == "#"
            or body.startswith("#!")
            or _READ_COMMENT.search(body)
            or body.endswith(("\\", "`"))
        ):
            cr = "\r" if line.endswith("\r") else ""
            lines[n] = f"{line[: len(line) - len(line.lstrip())]}#{cr}"
    return "\n".join(lines)
