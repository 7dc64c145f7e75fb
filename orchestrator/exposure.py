"""A secret's value where it would leave the machine in clear is refused, naming the secret.

Tags and repositories are sent to the registry, cache refs and output paths name places other
tools read, a context path is recorded in provenance. Masking our own output (masking.py) does
not help there, so a plan that puts a declared secret's value into one of these is refused
before anything runs (exit 2). Build args and labels are judged by guards.py (with its
`--allow-secret-args` escape hatch), because a false alarm there is common.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from orchestrator.destinations import Where
from orchestrator.errors import ManifestError
from orchestrator.plan import Plan, TargetPlan


def _places(t: TargetPlan) -> Iterator[tuple[str, str | None, str, str]]:
    """(key, mapping entry, a note after the key, text) of every place that leaves."""
    yield "image", None, "", t.repository
    for tag in t.tags:
        yield "tags", None, "", tag
    yield "context", None, "", t.context
    yield "dockerfile", None, "", t.dockerfile
    for spec in t.cache_from:
        yield "cache", None, " (from)", spec
    for spec in t.cache_to:
        yield "cache", None, " (to)", spec
    for spec in t.outputs:
        yield "outputs", None, "", spec
    for name, value in t.build_contexts.items():
        yield "contexts", name, "", value


def problems(plan: Plan, secrets: Mapping[str, str], where: Where | None = None) -> list[str]:
    """One line per (target, place, secret); `secrets` maps value -> secret id. With `where`
    (plan.key_origin), a line starts with the file and line, or the --set, that wrote it."""
    out: list[str] = []
    for t in plan.targets:
        for key, entry, note, text in _places(t):
            for value, ident in secrets.items():
                if value not in text:
                    continue
                at = (
                    f"targets.{t.name}.{key}" + (f".{entry}" if entry else "")
                    if where is None
                    else _origin(where, t.name, key, entry)
                )
                line = (
                    f"{at}{note}: carries the value of secret {ident!r}, "
                    "which would leave this machine in clear; use another variable"
                )
                if line not in out:
                    out.append(line)
    return out


def _origin(where: Where, name: str, key: str, entry: str | None) -> str:
    if key == "image":  # the first of `images:` when the target lists several
        images = where(name, "images", None)
        if not images.endswith("project.images"):
            return images
    return where(name, key, entry)


def refuse(plan: Plan, secrets: Mapping[str, str], where: Where | None = None) -> None:
    found = problems(plan, secrets, where)
    if len(found) == 1:
        raise ManifestError(found[0])
    if found:
        raise ManifestError(f"{plan.manifest}: {len(found)} problem(s)", problems=found)
