"""`orchestrator check`: the guide's practices per target, hadolint, and the build context.

`build` calls `gate` first (unless --skip-checks): error findings stop it before anything runs.
`check` itself exits 1 when an error finding remains, 0 otherwise (warnings never fail).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import buildcontext, console
from orchestrator.checks import Finding, all_rules, counts, run_checks
from orchestrator.checks.formats import (
    display_path,
    plain_text,
    render_json,
    render_sarif,
    render_text,
)
from orchestrator.checks.rules_context import human
from orchestrator.commands.common import load
from orchestrator.errors import UserError
from orchestrator.plan import Plan, TargetPlan

if TYPE_CHECKING:
    from orchestrator.checks.hadolint import Runs
    from orchestrator.commands.common import Loaded


def collect(plan: Plan, *, use_hadolint: bool = True) -> list[Finding]:
    findings: list[Finding] = []
    runs: Runs = {}
    for target in plan.targets:
        parsed = target.model()
        findings += run_checks(target, parsed, hadolint=use_hadolint, hadolint_runs=runs)
    return findings


def gate(loaded: Loaded, args: argparse.Namespace) -> None:
    """Print warnings and errors to stderr; stop the build when an error remains."""
    findings = collect(loaded.plan, use_hadolint=not getattr(args, "no_hadolint", False))
    if any(f.severity != "info" for f in findings):
        for line in render_text(findings, min_severity="warning"):
            console.err.print(line)
    errors = counts(findings)["error"]
    if errors:
        raise UserError(
            f"checks found {errors} error(s); nothing was started",
            problems=[
                "fix them (`orchestrator check` lists them with fixes), silence one with "
                "`# orchestrator:ignore=ORxxx` above its line, or pass --skip-checks to build "
                "anyway"
            ],
        )


def _contexts(plan: Plan) -> list[tuple[list[str], TargetPlan, buildcontext.ContextListing]]:
    """One listing per (context, ignore file) pair, with the targets sharing it."""
    seen: dict[tuple[str, str], tuple[list[str], TargetPlan, buildcontext.ContextListing]] = {}
    for t in plan.targets:
        listing = buildcontext.list_context(Path(t.context), Path(t.dockerfile))
        key = (t.context, str(listing.ignore_file))
        if key in seen:
            seen[key][0].append(t.name)
        else:
            seen[key] = ([t.name], t, listing)
    return list(seen.values())


def context_dict(names: list[str], listing: buildcontext.ContextListing) -> dict[str, Any]:
    return {
        "targets": names,
        "context": str(listing.root),
        "ignore_file": str(listing.ignore_file) if listing.ignore_file else None,
        "files": len(listing.files),
        "total_bytes": listing.total_bytes,
        "largest": [{"path": p, "bytes": n} for p, n in listing.largest],
        "sensitive": list(listing.sensitive),
        "paths": list(listing.files),
    }


def context_text(names: list[str], listing: buildcontext.ContextListing) -> str:
    ignore = display_path(str(listing.ignore_file)) if listing.ignore_file else "none"
    lines = [
        f"context {display_path(str(listing.root))} ({', '.join(names)}; ignore file: {ignore})",
        f"  {len(listing.files)} files, {human(listing.total_bytes)} sent",
    ]
    lines += [f"  {human(size):>10}  {path}" for path, size in listing.largest]
    sensitive = ", ".join(listing.sensitive) or "none"
    lines.append(f"  sensitive: {sensitive}")
    return "\n".join(lines) + "\n"


def _explain(plan: Plan, path: str) -> str:
    out = []
    for names, target, _ in _contexts(plan):
        root = Path(target.context)
        rel = path
        candidate = Path(path).resolve()
        if candidate.is_relative_to(root):  # a path given from the cwd, inside the context
            rel = candidate.relative_to(root).as_posix()
        verdict = buildcontext.explain(root, rel, Path(target.dockerfile))
        out.append(f"{', '.join(names)}: {verdict}")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    loaded = load(args)
    plan = loaded.plan
    base = Path(plan.root)
    if args.explain:
        console.result(_explain(plan, args.explain), markup=False, end="")
        return 0
    findings = collect(plan, use_hadolint=not args.no_hadolint)
    contexts = _contexts(plan) if args.context else []
    if args.format == "json":
        dicts = [context_dict(names, listing) for names, _, listing in contexts]
        text = render_json(findings, base=base, contexts=dicts)
    elif args.format == "sarif":
        text = render_sarif(findings, all_rules(), base=base)
    else:
        lines = render_text(findings)
        text = "".join(context_text(names, listing) for names, _, listing in contexts)
        if args.output is None:
            if text:
                console.result(text, markup=False, highlight=False, end="")
            for line in lines:
                console.result(line)
            return 1 if counts(findings)["error"] else 0
        text += plain_text(lines)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        console.err.print(f"wrote {args.output}", markup=False)
    else:
        console.result(text, markup=False, highlight=False, end="", soft_wrap=True)
    return 1 if counts(findings)["error"] else 0
