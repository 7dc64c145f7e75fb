"""`${NAME}` interpolation for manifest values, bake-style.

Precedence, lowest first: built-ins from git -> the manifest's `variables:` -> the environment
(same name, only for declared names) -> `--var NAME=VALUE` on the command line.
The forms are compose's: `${NAME}`; `${NAME:-word}` / `${NAME-word}` (word when NAME is unset
or empty / unset); `${NAME:+word}` / `${NAME+word}` (word when NAME is set and not empty / set);
`${NAME:?message}` / `${NAME?message}` (an error with the message); `$$` is a literal dollar.
Words may hold further `${...}`. A `$` not followed by `{` or `$` is kept as written (shell
lines in args). An unterminated `${`, an empty or invalid name is an error, never text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnknownVariableError(KeyError):
    """A `${NAME}` that no built-in, manifest entry, env var or --var defines."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


def unknown_hint(name: str) -> str:
    """What to do about an unknown `${name}`, for the error line. The environment only overrides
    names `variables:` declares (a stray env var must not change a build unseen), so a name
    that is set there and still unknown gets told exactly that."""
    if name in os.environ:
        return (
            f"{name} is set in the environment, but the environment only overrides names "
            f"declared under `variables:`: declare it there (`{name}: <default>`) or pass "
            f"--var {name}=VALUE"
        )
    return (
        "define it under `variables:` (the environment can then override it) or pass "
        f"--var {name}=VALUE"
    )


class InterpolationError(ValueError):
    """A `${` that cannot be read, or a `${NAME:?message}` whose condition holds."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", ":+", ":?", "-", "+", "?")


def interpolate(text: str, values: Mapping[str, str]) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            value, i = _braced(text, dollar + 2, values)
            out.append(value)
        else:
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _braced(text: str, start: int, values: Mapping[str, str]) -> tuple[str, int]:
    """`${...}` whose body starts at `start`: its value and the index after its `}`."""
    name_match = _NAME.match(text, start)
    if name_match is None:
        raise InterpolationError(f"invalid variable reference ${{{text[start : start + 20]}")
    name = name_match.group()
    i = name_match.end()
    op = next((o for o in _OPS if text.startswith(o, i)), "")
    i += len(op)
    depth, j = 1, i
    while j < len(text):  # the matching `}`: nested `${...}` in the word count
        if text.startswith("${", j):
            depth, j = depth + 1, j + 2
            continue
        if text[j] == "}":
            depth -= 1
            if depth == 0:
                break
        j += 1
    else:
        raise InterpolationError(f"unterminated ${{{name}: a `}}` is missing")
    if not op and j != i:
        raise InterpolationError(f"invalid variable reference ${{{text[start:j]}}}")
    word = text[i:j]
    value = values.get(name)
    is_set, non_empty = value is not None, bool(value)
    if not op:
        if value is None:
            raise UnknownVariableError(name, tuple(sorted(values)))
        return value, j + 1
    present = non_empty if op.startswith(":") else is_set
    if op.endswith("-"):
        return (value or "" if present else interpolate(word, values)), j + 1
    if op.endswith("+"):
        return (interpolate(word, values) if present else ""), j + 1
    if not present:  # ? and :?
        detail = interpolate(word, values) or ("is empty" if is_set else "is not set")
        raise InterpolationError(f"${{{name}}}: {detail}")
    return value or "", j + 1


def resolve(
    builtins: Mapping[str, str],
    declared: Mapping[str, str],
    environ: Mapping[str, str],
    cli: Mapping[str, str],
) -> dict[str, str]:
    """Merge the four layers; manifest values may refer to built-ins (`${GIT_BRANCH}`)."""
    values = dict(builtins)
    for name, raw in declared.items():
        values[name] = interpolate(raw, values)
    for name in list(values):
        if name in environ:
            values[name] = environ[name]
    values.update(cli)
    return values
