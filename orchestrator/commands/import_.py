"""`orchestrator import FILE`: builds.yaml from a docker-bake.hcl/.json or compose file."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from orchestrator import (
    atomic,
    bakeimport,
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


# `builds.yaml:15: ` at the start of a problem line, whatever directory the name carries.
_GENERATED = re.compile(r"^\S*?builds\.yaml:(\d+): ")


def run(args: argparse.Namespace) -> int:
    source = args.source
    to_stdout = str(args.output) == "-"
    if not source.is_file():
        raise UserError(f"{source}: no such file")
    if not to_stdout and args.output.exists() and not args.force:
        raise UserError(f"{args.output}: already exists; `orchestrator import --force` replaces it")
    out_dir = (source.parent if to_stdout else args.output.parent).resolve()
    definition = executor.bake_definition(source)
    if not definition.get("target"):
        raise UserError(f"{source}: buildx found no target to build in it")
    project = scaffold.slug(args.name or out_dir.name)
    imported = bakeimport.convert(definition, source, out_dir, project, _last_stage)
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
                _GENERATED.sub(r"the generated builds.yaml, line \1: ", line, count=1)
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
