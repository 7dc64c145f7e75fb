"""Word expansion as BuildKit's Dockerfile shell lexer does it (frontend/dockerfile/shell/lex.go).

FROM lines, `COPY --from` and the defaults of global ARGs are expanded by that lexer before
BuildKit looks a stage up, so `FROM binaries-$TARGETOS` or `FROM ${SRC:-src}-install` select a
stage only once expanded exactly the same way. Unset and empty differ (`${X-w}` vs `${X:-w}`),
words after an operator are expanded themselves, quotes are removed, and the escape character
protects the next one. `values` maps a name to its value; a name that is absent is unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.errors import UserError

_NAME_START = re.compile(r"[A-Za-z_]")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")


class _Lexer:
    def __init__(self, text: str, values: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.values = values
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def word(self, stop: str = "") -> str:
        """Expand until `stop` (not consumed) or the end."""
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if stop and ch == stop:
                break
            if ch == "'":
                self.take()
                end = self.text.find("'", self.pos)
                end = len(self.text) if end < 0 else end
                out.append(self.text[self.pos : end])
                self.pos = end + 1
            elif ch == '"':
                self.take()
                out.append(self.double_quoted())
            elif ch == self.escape:
                self.take()
                out.append(self.take() if self.pos < len(self.text) else ch)
            elif ch == "$":
                out.append(self.dollar())
            else:
                out.append(self.take())
        return "".join(out)

    def double_quoted(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == '"':
                self.take()
                break
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.escape and self.text[self.pos + 1 : self.pos + 2] in ('"', "$", ch):
                self.take()
                out.append(self.take())
            else:
                out.append(self.take())
        return "".join(out)

    def name(self) -> str:
        start = self.pos
        if _NAME_START.match(self.peek()):
            while _NAME_CHAR.match(self.peek()):
                self.pos += 1
        elif self.peek().isdigit():
            self.pos += 1  # a positional parameter: one digit, as in lex.go
        return self.text[start : self.pos]

    def dollar(self) -> str:
        self.take()  # the '$'
        if self.peek() != "{":
            name = self.name()
            return self.values.get(name, "") if name else "$"
        self.take()  # the '{'
        name = self.name()
        if not name:
            raise UserError(f"bad substitution in {self.text!r}")
        value = self.values.get(name)
        ch = self.take()
        if ch == "}":
            return value or ""
        colon = ch == ":"
        if colon:
            ch = self.take()
        if ch in "-+?":
            word = self.word("}")
            self.take()
            present = value is not None and (value != "" or not colon)
            if ch == "-":
                return value if present and value is not None else word
            if ch == "+":
                return word if present else ""
            if not present:
                raise UserError(f"{name}: {word or 'is not allowed to be unset'}")
            return value or ""
        if colon:
            raise UserError(f"unsupported modifier ':{ch}' in {self.text!r}")
        if ch in "#%":
            longest = self.peek() == ch
            if longest:
                self.take()
            pattern = self.word("}")
            self.take()
            return _trim(value or "", pattern, prefix=ch == "#", longest=longest)
        if ch == "/":
            every = self.peek() == "/"
            if every:
                self.take()
            pattern = self._until_slash()
            replacement = ""
            if self.peek() == "/":
                self.take()
                replacement = self.word("}")
            self.take()
            return _replace(value or "", pattern, replacement, every=every)
        raise UserError(f"unsupported modifier {ch!r} in {self.text!r}")

    def _until_slash(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text) and self.peek() not in "/}":
            if self.peek() == "$":
                out.append(self.dollar())
            elif self.peek() == self.escape:
                self.take()
                out.append(self.take())
            else:
                out.append(self.take())
        return "".join(out)


def _glob(pattern: str) -> str:
    """A shell pattern (`*`, `?`, `[...]`) as a regular expression, non-greedy by default."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and (end := pattern.find("]", i + 1)) > i:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append(f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    regex = re.compile(_glob(pattern), re.DOTALL)
    # Candidate cut points, tried shortest first (or longest first for ## and %%).
    cuts = range(len(value) + 1)
    order = reversed(cuts) if longest else iter(cuts)
    for n in order:
        part = value[:n] if prefix else value[len(value) - n :]
        if regex.fullmatch(part):
            return value[n:] if prefix else value[: len(value) - n]
    return value


def _replace(value: str, pattern: str, replacement: str, *, every: bool) -> str:
    if not pattern:
        return value
    greedy = re.compile(_glob(pattern).replace(".*?", ".*"), re.DOTALL)
    return greedy.sub(lambda _m: replacement, value, count=0 if every else 1)


def expand(text: str, values: Mapping[str, str], escape: str = "\\") -> str:
    """`text` with every `$NAME` / `${...}` form replaced, quotes removed, as BuildKit does."""
    if "$" not in text and "'" not in text and '"' not in text and escape not in text:
        return text  # nothing to expand (most FROM and --from words): the lexer copies it
    return _Lexer(text, values, escape).word()
