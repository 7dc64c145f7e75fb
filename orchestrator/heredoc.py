"""Where a Dockerfile's heredocs are: the lines that are a script's or a file's text, not
instructions.

BuildKit's default frontend (dockerfile 1.4+) reads `RUN <<EOF`, `COPY <<EOF /dst` and
`ADD <<EOF /dst`: the lines after the instruction, up to a line that is the delimiter, are its
body. dockerfile-parse does not know heredocs, and a body line such as `FROM here on, ...` would
be read as an instruction; so the parser, the pin writer and hadolint's copy all ask this module
which lines to leave alone.

BuildKit finds a heredoc in a word of the instruction that starts with `<<` (after an optional
file descriptor number: `2<<EOF`), `<<-` strips leading tabs from the body and from the
delimiter's line, and the delimiter may be quoted (`<<"EOF"`, `<<'EOF'`). Several heredocs of
one instruction follow each other. `<<<` (a shell here-string) is not a heredoc.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
WORD = re.compile(r"(?<!\S)\d*<<(?P<dash>-?)(?P<q>[\"']?)(?P<word>[^\s<\"']+)(?P=q)(?!\S)")
_KEYWORD = re.compile(r"^\s*(?P<keyword>[A-Za-z]+)(?:\s|$)")
_ESCAPE = re.compile(r"^#\s*escape\s*=\s*(?P<char>\S)\s*$", re.IGNORECASE)
# A parser directive line (`# syntax=...`, `# escape=...`), honoured only at the very top.
DIRECTIVE = re.compile(r"^#\s*[A-Za-z][A-Za-z0-9]*\s*=\s*\S")


@dataclass(frozen=True)
class Body:
    """One instruction's heredocs: the instruction (`keyword`, upper case) runs from line `head`
    to `opener` (0-based; more than one line when continued, and any of them may hold a `<<`
    word), its bodies from `first` to `last` (the last delimiter's line, inclusive)."""

    opener: int
    first: int
    last: int
    texts: tuple[str, ...]  # each heredoc's body, delimiter lines left out, in order
    head: int
    keyword: str


def escape_char(lines: Sequence[str]) -> str:
    """The escape character the file declares in its parser directives (`\\` by default)."""
    for line in lines:
        body = line.strip()
        match = _ESCAPE.match(body)
        if match and match.group("char") in "\\`":
            return match.group("char")
        if not DIRECTIVE.match(body):
            break  # directives are only read at the very top
    return "\\"


def words(line: str) -> list[tuple[str, bool]]:
    """The heredocs a line of an instruction opens: (delimiter, whether `<<-` strips tabs)."""
    return [(m.group("word"), bool(m.group("dash"))) for m in WORD.finditer(line)]


def bodies(lines: Sequence[str]) -> list[Body]:
    """Every heredoc body of the file whose lines (without their line endings) are `lines`.
    A body that never meets its delimiter runs to the end of the file, as BuildKit reads it."""
    if not any("<<" in line for line in lines):
        return []  # most files: no heredoc to look for
    escape = escape_char(lines)
    found: list[Body] = []
    keyword: str | None = None  # the instruction being read (continued lines), else None
    pending: list[tuple[str, bool]] = []
    head = index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        stripped = line.strip()
        if keyword is None:
            if not stripped or stripped.startswith("#"):
                index += 1
                continue
            match = _KEYWORD.match(line)
            keyword = match.group("keyword").upper() if match else ""
            pending = []
            head = index
        elif stripped.startswith("#"):  # a comment inside a continued instruction
            index += 1
            continue
        if keyword in KEYWORDS:
            pending += words(line)
        if stripped.endswith(escape):
            index += 1
            continue
        opened, keyword = keyword or "", None  # (never None here)
        if not pending:
            index += 1
            continue
        texts, next_index = _read(lines, index + 1, pending)
        found.append(Body(index, index + 1, next_index - 1, texts, head, opened))
        index = next_index
    return found


def _read(
    lines: Sequence[str], start: int, pending: list[tuple[str, bool]]
) -> tuple[tuple[str, ...], int]:
    """The bodies of `pending` read from line `start`: (their texts, the next line to read)."""
    texts: list[str] = []
    at = start
    for word, dash in pending:
        part: list[str] = []
        while at < len(lines):
            line = lines[at].rstrip("\r")
            at += 1
            if (line.lstrip("\t") if dash else line) == word:
                break
            part.append(line)
        texts.append("\n".join(part))
    return tuple(texts), at


def masked(lines: Sequence[str], found: Sequence[Body]) -> list[str]:
    """`lines` with every body line emptied: the same line numbers, no body left to misread."""
    out = list(lines)
    for body in found:
        for n in range(body.first, body.last + 1):
            out[n] = "\r" if out[n].endswith("\r") else ""
    return out


def inside(found: Sequence[Body]) -> set[int]:
    """The (0-based) numbers of the body lines, delimiters included."""
    return {n for body in found for n in range(body.first, body.last + 1)}
