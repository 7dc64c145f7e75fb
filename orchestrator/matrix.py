"""`matrix:` targets, with bake's meaning: one target per combination of the matrix values.

`matrix: {variant: [slim, full], mode: [x]}` with `name: "app-${variant}"` makes `app-slim` and
`app-full`; without `name` an expansion is called the target's name and its values joined with
`-` (characters a name cannot hold become `_`). Every string of the target (and of what it takes
from `defaults:`) sees `${variant}` first: matrix values shadow variables. The original name
becomes a group of its expansions, so `build app` builds them all and `build app-slim` one.

Expansion happens before anything else reads the manifest: selection, groups and contexts see
only plain targets. `Expanded.origin` maps each expansion back to the key written in the file,
for error lines.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator import yamlsrc
from orchestrator.errors import ManifestError
from orchestrator.manifest import NAME_PATTERN, ArgValue, Manifest, TargetSpec

MAX_EXPANSIONS = 256  # a matrix multiplies: ten keys of ten values would be 10^10 targets
_REF = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>:-[^}]*)?\})")


@dataclass(frozen=True)
class Expanded:
    manifest: Manifest
    origin: Mapping[str, str] = field(default_factory=dict)  # expansion -> key in the file
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # its matrix values


def _text(value: ArgValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(data: Any, values: Mapping[str, str]) -> Any:
    """`${KEY}` of a matrix key replaced in every string of `data`; other references (and
    `$$`) are left for the variable pass, which runs later with the rest of the variables."""

    def repl(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None or name not in values:
            return match.group(0)
        return values[name] or (match.group("rest") or ":-")[2:]

    if isinstance(data, str):
        return _REF.sub(repl, data)
    if isinstance(data, dict):
        return {substitute(k, values): substitute(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute(v, values) for v in data]
    return data


def _default_name(name: str, combo: Mapping[str, str]) -> str:
    joined = "-".join([name, *combo.values()])
    return re.sub(r"[^A-Za-z0-9_-]", "_", joined)


def expand(man: Manifest, located: yamlsrc.Located) -> Expanded:
    if not any(spec.matrix for spec in man.targets.values()):
        return Expanded(man)
    targets: dict[str, TargetSpec] = {}
    groups = dict(man.groups)
    origin: dict[str, str] = {}
    matrix_values: dict[str, dict[str, str]] = {}
    defaults = man.defaults.model_dump(by_alias=True, exclude_none=True)
    for key, spec in man.targets.items():
        if not spec.matrix:
            targets[key] = spec
            origin[key] = key
            continue
        where = f"{located.path}:{located.line_of(('targets', key, 'matrix'))}: targets.{key}"
        if key in groups:
            raise ManifestError(f"{where}: a group is named {key!r} too; a matrix target names one")
        raw = spec.model_dump(by_alias=True, exclude_none=True)
        template = raw.pop("name", None)
        axes = raw.pop("matrix")
        count = 1
        for items in axes.values():
            count *= len(items)
        if count > MAX_EXPANSIONS:
            raise ManifestError(
                f"{where}.matrix: {count} combinations; at most {MAX_EXPANSIONS} per target"
            )
        names: list[str] = []
        for picked in itertools.product(*axes.values()):
            combo = {axis: _text(v) for axis, v in zip(axes, picked, strict=True)}
            name = substitute(template, combo) if template else _default_name(key, combo)
            if not re.fullmatch(NAME_PATTERN, name):
                raise ManifestError(
                    f"{where}.name: {name!r} (for {combo}) is not a valid target name: "
                    "letters, digits, '-' and '_'"
                )
            if name in targets or name in names or name in man.targets or name in groups:
                raise ManifestError(
                    f"{where}.name: the matrix makes {name!r} twice (or a target or group has "
                    "that name): put every matrix key in the name template"
                )
            # A default that names a matrix key is taken in with the value substituted; the
            # rest stay defaults, merged by plan as for any target.
            merged = {
                k: v for k, v in defaults.items() if k not in raw and substitute(v, combo) != v
            }
            body = substitute({**merged, **raw}, combo)
            targets[name] = TargetSpec.model_validate(body)
            origin[name] = key
            matrix_values[name] = combo
            names.append(name)
        groups[key] = names
    expanded = man.model_copy(update={"targets": targets, "groups": groups})
    return Expanded(expanded, origin, matrix_values)
