"""`orchestrator import FILE`: builds.yaml from a docker-bake.hcl/.json or compose file."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from orchestrator import (
    atomic,
    bakeimport,
    bakenames,
    console,
    dockerfile,
    executor,
    manifest,
    scaffold,
    yamlsrc,
)
from orchestrator.errors import ManifestError, UserError

HEADER = """\
# Written by `orchestrator import {source}` from what `docker buildx bake --print` resolved
# (variables and inherits are applied: their current values are written out).
# `orchestrator plan` shows what this resolves to; edit freely.
"""


def _last_stage(context: Path, name: str) -> str | None:
    path = context / name
    if not path.is_file():
        return None  # the plan will say so, naming the file
    stages = dockerfile.load(path).stages
    return stages[-1].name if stages else None


# `builds.yaml:15: ` at the start of a problem line, whatever directory the name carries;
# then, when it is about a target, the target and the key under it.
_GENERATED = re.compile(r"^\S*?builds\.yaml:(\d+): ")
_TARGET_KEY = re.compile(r"targets\.([^.\s\[:]+)(?:\.([^.\s\[:]+))?[^\s:]*: ")


def _definition(source: Path, declared: bakenames.Declared, names: list[str]) -> dict[str, Any]:
    """What buildx prints for NAMES (all the file declares when none are given).

    Asked for names, buildx prints as `default` the list of those names, not the file's
    group; the file's `default` is then asked for on its own (with no name, buildx prints it
    as it is)."""
    if not names and declared.kind != "compose":
        # Every target and group the file declares; a compose file's default group already
        # holds every service that builds, and names nothing else.
        names = list(declared.names)
    definition = executor.bake_definition(source, names)
    if names and names != ["default"]:
        groups = definition.setdefault("group", {})
        groups.pop("default", None)
        # (A matrix block labelled `default` is printed as the group of its expansions too.)
        if "default" in names:
            alone = executor.bake_definition(source, ["default"]).get("group") or {}
            if "default" in alone:
                groups["default"] = alone["default"]
    return definition


def _problem(
    line: str, source: Path, imported: bakeimport.Imported, declared: bakenames.Declared, text: str
) -> str:
    """A problem of the generated builds.yaml, in the source file's words where it can be.

    `builds.yaml:16: targets.binaries.platforms: ...` names a file the user never sees: it
    becomes `docker-bake.hcl:147: target binaries: platforms: ...`, the bake block's line and
    the attribute as bake spells it; else the generated line is shown with its number."""
    found = _GENERATED.match(line)
    if not found:
        return line
    rest = line[found.end() :]
    about = _TARGET_KEY.match(rest)
    block = imported.origin.get(about.group(1)) if about else None
    if about and block:
        target, key = about.group(1), about.group(2)
        name = block if block == target else f"{block} ({target})"
        ours = bakeimport.BAKE_KEY.get(key or "", key)
        where = f"{source}:{declared.names[block][1]}" if declared.kind == "hcl" else str(source)
        return f"{where}: target {name}: {ours + ': ' if ours else ''}{rest[about.end() :]}"
    number = int(found.group(1))
    lines = text.splitlines()
    shown = f" ({lines[number - 1].strip()})" if 0 < number <= len(lines) else ""
    return f"the generated builds.yaml, line {number}{shown}: {rest}"


def run(args: argparse.Namespace) -> int:
    source = args.source
    to_stdout = str(args.output) == "-"
    if not source.is_file():
        what = "not a regular file" if source.exists() else "no such file"
        raise UserError(f"{source}: {what}")
    if not to_stdout and args.output.exists() and not args.force:
        raise UserError(f"{args.output}: already exists; `orchestrator import --force` replaces it")
    out_dir = (source.parent if to_stdout else args.output.parent).resolve()
    declared = bakenames.read(source, source.read_text(encoding="utf-8", errors="replace"))
    definition = _definition(source, declared, list(args.targets))
    if not definition.get("target"):
        raise UserError(f"{source}: buildx found no target to build in it")
    project = scaffold.slug(args.name or out_dir.name)
    imported = bakeimport.convert(
        definition, source, out_dir, project, _last_stage, declared, bool(args.targets)
    )
    text = HEADER.format(source=source.name) + yaml.safe_dump(
        imported.data, sort_keys=False, default_flow_style=False, width=100
    )
    where = args.output if not to_stdout else source.parent / "builds.yaml"
    # What we write must load: a result that does not is named before anything is written,
    # as the generated file's problem (its lines are of no file the user has).
    try:
        manifest.validate(yamlsrc.loads(text, where))
    except ManifestError as exc:
        raise UserError(
            f"{source}: the builds.yaml made from it would not load; nothing written",
            problems=[
                _problem(line, source, imported, declared, text)
                for line in (exc.problems or [exc.message])
            ],
        ) from None
    for line in imported.skipped:
        console.err.print(f"not carried over: {line}", markup=False, highlight=False)
    if to_stdout:
        console.result(text, markup=False, highlight=False, end="")
        return 0
    atomic.write_text(args.output, text, mode=0o644)
    targets = ", ".join(imported.data["targets"])
    print(f"wrote {args.output}: targets {targets}", file=sys.stderr)
    return 0
