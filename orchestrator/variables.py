"""`${NAME}` interpolation for manifest values, bake-style.

Precedence, lowest first: built-ins from git -> the manifest's `variables:` -> the environment
(same name, only for declared names) -> `--var NAME=VALUE` on the command line.
`${NAME:-fallback}` gives a fallback for empty values; `$$` is a literal dollar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REF = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnknownVariableError(KeyError):
    """A `${NAME}` that no built-in, manifest entry, env var or --var defines."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


def interpolate(text: str, values: Mapping[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return "$"
        value = values.get(name)
        default = match.group("default")
        if value is None and default is None:
            raise UnknownVariableError(name, tuple(sorted(values)))
        if not value and default is not None:
            return interpolate(default, values)
        return value or ""

    return _REF.sub(repl, text)


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
