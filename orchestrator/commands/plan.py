"""`orchestrator plan`: print what `build` would run; touches no daemon."""

from __future__ import annotations

import argparse
import json
import shlex

from orchestrator import argv, console, guards, inputs, manifest, matrix, planmemo, sources
from orchestrator.commands.common import load
from orchestrator.plan import Plan


def render_text(plan: Plan) -> str:
    lines = [
        f"project {plan.project}  VERSION={plan.variables.get('VERSION')}  "
        f"GIT_COMMIT={plan.variables.get('GIT_COMMIT')}"
    ]
    for t in plan.targets:
        lines.append("")
        stage = t.stage or "last (no --target)"
        lines.append(f"target {t.name}  (stage {stage}, pin {t.pin})")
        if t.depends_on:
            lines.append(f"  inputs:    {', '.join(t.depends_on)} (target: contexts)")
        lines.append(f"  platforms: {', '.join(t.platforms) or 'builder default'}")
        lines.append(f"  tags:      {', '.join(t.tags) or '-'}")
        lines.append(f"  outputs:   {', '.join(t.outputs)}")
        for base in t.base_images:
            via = f" -> {base.context}" if base.context else ""
            lines.append(f"  base:      {base.ref} (stage {base.stage}){via}")
        if t.sign and plan.signing:
            lines.append(f"  sign:      cosign, key {plan.signing.key} (index digest)")
        if t.sbom:
            lines.append(f"  sbom:      {t.sbom_generator or 'BuildKit default scanner'}")
        for note in t.notes:
            lines.append(f"  note:      {note}")
        lines.append("  $ " + shlex.join(argv.build_argv(t)))
        publish = argv.publish_argv(t, "<digest>")
        if publish:
            lines.append("  $ " + shlex.join(publish))
    return "\n".join(lines) + "\n"


def list_names(args: argparse.Namespace) -> int:
    """`plan --list`: targets, then groups with their members; nothing is resolved but the
    matrix (a matrix target is listed as the targets it makes and a group of them, as plan
    sees it, and a matrix that makes one name twice is the same error as plan's)."""
    man, located = manifest.load(args.file)
    man = matrix.expand(man, located).manifest
    lines = [f"target {name}" for name in man.targets]
    lines += [f"group  {name}: {' '.join(members)}" for name, members in man.groups.items()]
    console.result("\n".join(lines), markup=False)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_names(args)
    with inputs.recording() as read:
        loaded = load(args)
        plan = loaded.plan
        warnings = sources.problems(plan)
        shallow = loaded.git.shallow_warning(plan.variables.get("VERSION", ""))
        if shallow:
            warnings.append(shallow)
        text = _render(plan, args.format)
    for problem in warnings:
        console.err.print(f"warning: {problem}", markup=False)
    # Written as is, not through rich: the memo replays these exact characters.
    planmemo.emit(text)
    words = getattr(args, "words", None)  # set by main(); absent when called another way
    if words and not warnings:
        planmemo.store(words, text, read, loaded.located.path.parent, loaded.git)
    return 0


def _render(plan: Plan, form: str) -> str:
    if form == "json":
        text = json.dumps(plan.to_dict(), indent=2) + "\n"
    elif form == "bake":
        text = json.dumps(argv.bake_definition(plan), indent=2) + "\n"
    else:
        text = render_text(plan)
    # An arg or label that carries a secret (build refuses it) must not print it either.
    return guards.mask(text, guards.secret_values(plan))
