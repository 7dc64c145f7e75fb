"""Named build contexts (`contexts:`) and the build graph they make between targets.

A value means what it means to bake: a directory (relative to builds.yaml), `docker-image://REF`,
`oci-layout://PATH`, a git or https URL, or `target:OTHER` — OTHER's result, built in the same
bake session and fed in. `target:` edges make the plan a graph: `order` lists every selected
target after the targets it consumes (pulling those in, as bake needs them in its file),
refuses cycles by naming them and unknown targets at their line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator import yamlsrc
from orchestrator.errors import ManifestError
from orchestrator.manifest import Manifest

TARGET = "target:"
IMAGE = "docker-image://"
OCI_LAYOUT = "oci-layout://"
_REMOTE = ("https://", "http://", "git://", "ssh://", "git@")


def consumed(values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(context name, target name) of every `target:` context."""
    return [(k, v.removeprefix(TARGET)) for k, v in values.items() if v.startswith(TARGET)]


def is_remote(value: str) -> bool:
    return value.startswith(_REMOTE) or value.endswith(".git")


def local_value(root: Path, value: str) -> str:
    """A directory or OCI layout made absolute against builds.yaml's directory; the rest as is."""
    if value.startswith((TARGET, IMAGE)) or is_remote(value):
        return value
    if value.startswith(OCI_LAYOUT):
        rest = value.removeprefix(OCI_LAYOUT)
        path, at, digest = rest.partition("@")
        return f"{OCI_LAYOUT}{os.path.realpath(root / Path(path).expanduser())}{at}{digest}"
    return os.path.realpath(root / Path(value).expanduser())  # not resolve(): see plan._abs


def edges(man: Manifest, name: str) -> dict[str, str]:
    merged = {**(man.defaults.contexts or {}), **(man.targets[name].contexts or {})}
    return dict(consumed(merged))


def order(
    man: Manifest,
    selected: Sequence[str],
    located: yamlsrc.Located,
    origin: Mapping[str, str] | None = None,
) -> tuple[list[str], set[str]]:
    """Selected targets and their inputs, inputs first; and which of them were pulled in only
    as inputs (not selected)."""
    origin = origin or {}
    out: list[str] = []
    done: set[str] = set()

    def unknown(name: str, context: str, other: str) -> ManifestError:
        key = origin.get(name, name)
        line = located.line_of(("targets", key, "contexts", context))
        known = "a group" if other in man.groups else "no such target"
        return ManifestError(
            f"{located.path}:{line}: targets.{key}.contexts.{context}: "
            f"target:{other}: {known} (a context names one target)"
        )

    def visit(start: str) -> None:
        # Depth first with a stack of its own, not recursion: a chain of a thousand targets
        # went past Python's recursion limit (exit 3).
        if start in done:
            return
        trail = [start]
        stack = [iter(edges(man, start).items())]
        while stack:
            name = trail[-1]
            for context, other in stack[-1]:
                if other not in man.targets:
                    raise unknown(name, context, other)
                if other in trail:
                    cycle = (*trail[trail.index(other) :], other)
                    raise ManifestError(f"contexts cycle: {' -> '.join(cycle)}")
                if other not in done:
                    trail.append(other)
                    stack.append(iter(edges(man, other).items()))
                    break
            else:
                stack.pop()
                trail.pop()
                done.add(name)
                out.append(name)

    for name in selected:
        visit(name)
    return out, set(out) - set(selected)
