"""A secret's value where it would leave the machine in clear is refused, naming the secret.

Tags and repositories are sent to the registry, cache refs and output paths name places other
tools read, a context path is recorded in provenance. Masking our own output (masking.py) does
not help there, so a plan that puts a declared secret's value into one of these is refused
before anything runs (exit 2). Build args and labels are judged by guards.py (with its
`--allow-secret-args` escape hatch), because a false alarm there is common.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from orchestrator.errors import ManifestError
from orchestrator.plan import Plan, TargetPlan


def _places(t: TargetPlan) -> Iterator[tuple[str, str]]:
    yield "image", t.repository
    for tag in t.tags:
        yield "tags", tag
    yield "context", t.context
    yield "dockerfile", t.dockerfile
    for spec in t.cache_from:
        yield "cache (from)", spec
    for spec in t.cache_to:
        yield "cache (to)", spec
    for spec in t.outputs:
        yield "outputs", spec
    for name, value in t.build_contexts.items():
        yield f"contexts.{name}", value


def problems(plan: Plan, secrets: Mapping[str, str]) -> list[str]:
    """One line per (target, place, secret); `secrets` maps value -> secret id."""
    out: list[str] = []
    for t in plan.targets:
        for place, text in _places(t):
            for value, ident in secrets.items():
                if value in text:
                    line = (
                        f"targets.{t.name}.{place}: carries the value of secret {ident!r}, "
                        "which would leave this machine in clear; use another variable"
                    )
                    if line not in out:
                        out.append(line)
    return out


def refuse(plan: Plan, secrets: Mapping[str, str]) -> None:
    found = problems(plan, secrets)
    if found:
        raise ManifestError(f"{plan.manifest}: {len(found)} problem(s)", problems=found)
