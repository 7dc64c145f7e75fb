"""`orchestrator check`: the guide's practices per target, hadolint, and the build context.

`build` calls `gate` first (unless --skip-checks): error findings stop it before anything runs.
`check` itself exits 1 when an error finding remains, 0 otherwise (warnings never fail). Its
report and status are stored for a replay of the same command over an unchanged tree
(checkmemo.py): everything it reads is noted (inputs.py) and its stdout is written in one piece.
"""

from __future__ import annotations

import argparse
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from orchestrator import (
    buildcontext,
    checkmemo,
    console,
    destinations,
    inputs,
    masking,
    matrix,
    outfile,
    scratch,
)
from orchestrator.checks import Finding, all_rules, finish, own_findings
from orchestrator.checks import gate as gate_
from orchestrator.checks import hadolint as hadolint_
from orchestrator.checks.formats import (
    display_path,
    plain_text,
    render_json,
    render_sarif,
    render_text,
    to_dict,
)
from orchestrator.checks.rules_context import human
from orchestrator.commands.common import load
from orchestrator.errors import UserError, stdout_guard
from orchestrator.plan import Plan, TargetPlan

if TYPE_CHECKING:
    from orchestrator.commands.common import Loaded


# Context listings per (context, Dockerfile, left-out path), each a dict the rules fill lazily.
Listings = dict[tuple[str, str, str | None], dict[str, buildcontext.ContextListing]]


def collect(
    plan: Plan,
    *,
    use_hadolint: bool = True,
    runs: hadolint_.Runs | None = None,
    listings: Listings | None = None,
) -> list[Finding]:
    """Every target's findings, in target order. hadolint runs first, once per distinct
    Dockerfile and side by side (hadolint.prefetch); `runs` receives its answers. Our own
    rules run meanwhile: hadolint's processes are most of a check's time, and they wait for
    nothing of ours but the Dockerfiles."""
    runs = {} if runs is None else runs
    parsed = [target.model() for target in plan.targets]
    own = Path(plan.root) / scratch.NAME
    # One listing per (context, Dockerfile): it is all a context listing depends on, and the
    # development and production targets of one service usually share both. `listings` gives
    # them to `--context` afterwards: a large context is walked once per check.
    listings = {} if listings is None else listings
    with ThreadPoolExecutor(1, thread_name_prefix="hadolint-prefetch") as pool:
        fetched = None
        if use_hadolint:
            launched = threading.Event()
            fetched = pool.submit(hadolint_.prefetch, parsed, runs, launched)
            launched.wait()  # the processes start sooner when our rules do not hold the GIL
        by_name = {t.name: t for t in plan.targets}
        passes = [
            own_findings(
                target,
                dockerfile,
                scratch=own,
                listings=listings.setdefault(
                    (target.context, target.dockerfile, target.left_out), {}
                ),
                targets=by_name,  # `target:` contexts: what an image inherits (USER, ...)
            )
            for target, dockerfile in zip(plan.targets, parsed, strict=True)
        ]
        if fetched is not None:
            fetched.result()
    findings: list[Finding] = []
    notices: set[tuple[str, str]] = set()
    for target, dockerfile, done in zip(plan.targets, parsed, passes, strict=True):
        for finding in finish(target, dockerfile, done, hadolint=use_hadolint, runs=runs):
            if finding.code == hadolint_.NOTICE:
                # A note about the tooling (hadolint missing, or unable to parse a file) is
                # about the file, not the target: said once per file.
                if (finding.file, finding.message) in notices:
                    continue
                notices.add((finding.file, finding.message))
            findings.append(finding)
    return findings


def policies(loaded: Loaded) -> dict[str, gate_.Policy]:
    """Each planned target's `checks:` policy; a matrix expansion takes its matrix target's."""
    origin = matrix.expand(loaded.manifest, loaded.located).origin
    return {
        t.name: gate_.policy_for(loaded.manifest, origin.get(t.name, t.name))
        for t in loaded.plan.targets
    }


def evaluate(loaded: Loaded, findings: list[Finding]) -> gate_.Verdict:
    """builds.yaml's `checks:` policy and the baseline applied to `findings`."""
    root = Path(loaded.plan.root)
    policies_ = policies(loaded)
    baseline = gate_.read_baseline(gate_.baseline_path(loaded.manifest, root))
    return gate_.judge(findings, policies_, root, baseline)


HOW_TO_SILENCE = (
    "silence one with `# orchestrator:ignore=CODE` above its line or a `checks: ignore:` entry "
    "with its reason in builds.yaml; accept all of today's with `orchestrator check "
    "--write-baseline` (commit the file): then only new findings fail"
)


def outcome(verdict: gate_.Verdict, baseline: Path) -> list[str]:
    """The lines after the findings: what the baseline and builds.yaml hid, what got fixed."""
    out = []
    if verdict.baselined:
        out.append(
            f"{verdict.baselined} finding(s) recorded in {display_path(str(baseline))} not shown"
        )
    if verdict.ignored:
        out.append(f"{len(verdict.ignored)} finding(s) accepted in builds.yaml (checks: ignore:)")
    for entry in verdict.fixed:
        out.append(
            # A pragma's silenced finding is dropped before the baseline is compared (finish):
            # it cannot be told from a fixed one here, so the line says both.
            f"fixed since the baseline: {entry['code']} in {entry['file']} ({entry['target']}) "
            "no longer occurs (or a pragma silences it); `orchestrator check --write-baseline` "
            "drops it from the file"
        )
    if any(f.severity != "info" for f in verdict.new):
        out.append(f"to {HOW_TO_SILENCE}")
    return out


def gate(loaded: Loaded, args: argparse.Namespace) -> None:
    """Print new warnings and errors to stderr; stop the build when the gate fails."""
    findings = collect(loaded.plan, use_hadolint=not getattr(args, "no_hadolint", False))
    verdict = evaluate(loaded, findings)
    if any(f.severity != "info" for f in verdict.new):
        for line in render_text(list(verdict.new), min_severity="warning"):
            console.err.print(line)
    if verdict.failed:
        raise UserError(
            f"checks found {len(verdict.failing)} new finding(s) at or above fail-on; "
            "nothing was started",
            problems=[
                f"fix them (`orchestrator check` lists them with fixes); {HOW_TO_SILENCE}; "
                "or pass --skip-checks to build anyway"
            ],
        )


def _contexts(
    plan: Plan, listings: Listings | None = None
) -> list[tuple[list[str], TargetPlan, buildcontext.ContextListing]]:
    """One listing per (context, ignore file) pair, with the targets sharing it; those the
    checks already made (`listings`, collect()) are not made again."""
    seen: dict[
        tuple[str, str, str | None], tuple[list[str], TargetPlan, buildcontext.ContextListing]
    ] = {}
    for t in plan.targets:
        made = (listings or {}).setdefault((t.context, t.dockerfile, t.left_out), {})
        if "listing" not in made:
            made["listing"] = buildcontext.list_context(
                Path(t.context), Path(t.dockerfile), leave_out=t.left_out
            )
        listing = made["listing"]
        key = (t.context, str(listing.ignore_file), t.left_out)
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
        verdict = buildcontext.explain(
            root, rel, Path(target.dockerfile), leave_out=target.left_out
        )
        out.append(f"{', '.join(names)}: {verdict}")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    runs: hadolint_.Runs = {}
    listings: Listings = {}
    with inputs.recording() as read:
        loaded = load(args)
        if args.explain:
            console.result(_explain(loaded.plan, args.explain), markup=False, end="")
            return 0
        findings = collect(
            loaded.plan, use_hadolint=not args.no_hadolint, runs=runs, listings=listings
        )
        if args.write_baseline:
            return write_baseline(loaded, findings)
        text, status = report(loaded, findings, args, listings)
    if args.output is not None:
        outfile.write(args.output, text)
        console.err.print(f"wrote {args.output}", markup=False)
        return status
    # Written in one piece, masked (as MaskedStream would): the memo replays these characters.
    text = masking.mask(text)
    checkmemo.emit(text)
    words = getattr(args, "words", None)  # set by main(); absent when called another way
    if words and not any(isinstance(answer, Exception) for answer in runs.values()):
        # A hadolint that timed out or could not start is not an answer: the next run retries.
        checkmemo.store(words, text, status, read, loaded.located.path.parent, loaded.git)
    return status


def write_baseline(loaded: Loaded, findings: list[Finding]) -> int:
    """`check --write-baseline`: what builds.yaml already accepts or switches off is not
    recorded, it has its reason."""
    base = Path(loaded.plan.root)
    baseline = gate_.baseline_path(loaded.manifest, base)
    # Written with our rights, like an output: inside the repository unless builds.yaml opts
    # out (destinations.py), never in a device or kernel tree.
    problem = destinations.place_problem(
        "checks.baseline", baseline.resolve(), base, loaded.manifest.project.allow_outside
    )
    if problem:
        line = loaded.located.line_of(("checks", "baseline"))
        raise UserError(f"{loaded.located.path}:{line}: {problem}")
    by_target = policies(loaded)
    kept, _ = gate_.apply_policy(findings, by_target, base)
    count = gate_.write_baseline(baseline, kept, base, by_target)
    console.result(
        f"wrote {count} finding(s) to {display_path(str(baseline))}: commit it; from now on "
        "only new findings fail `check` and `build`",
        markup=False,
        highlight=False,
    )
    return 0


def report(
    loaded: Loaded,
    findings: list[Finding],
    args: argparse.Namespace,
    listings: Listings | None = None,
) -> tuple[str, int]:
    """(the report, exit status): as printed on stdout (styled on a terminal), or as plain text
    for `--output`."""
    plan = loaded.plan
    base = Path(plan.root)
    baseline = gate_.baseline_path(loaded.manifest, base)
    verdict = evaluate(loaded, findings)
    shown = list(verdict.new)
    status = 1 if verdict.failed else 0
    contexts = _contexts(plan, listings) if args.context else []
    if args.format == "json":
        dicts = [context_dict(names, listing) for names, _, listing in contexts]
        text = render_json(
            shown,
            base=base,
            contexts=dicts,
            extra={
                "failed": verdict.failed,
                "baselined": verdict.baselined,
                "ignored": [
                    {**to_dict(f, base), "reason": reason} for f, reason in verdict.ignored
                ],
                "fixed": [dict(e) for e in verdict.fixed],
            },
        )
    elif args.format == "sarif":
        text = render_sarif(shown, all_rules(), base=base)
    else:
        lines = render_text(shown)
        # The summary stays the last line (scripts and people read it there).
        lines[-1:-1] = [Text(line, style="dim") for line in outcome(verdict, baseline)]
        text = "".join(context_text(names, listing) for names, _, listing in contexts)
        if args.output is not None:
            return text + plain_text(lines), status
        return _printed(text, lines), status
    return (text if args.output is not None else _printed(text, [])), status


def _printed(text: str, lines: list[Text]) -> str:
    """The characters console.result would write for `text`, then each of `lines`. Guarded like
    console.result: ending a capture flushes stdout."""
    with stdout_guard(), console.out.capture() as captured:
        if text:
            console.out.print(text, markup=False, highlight=False, end="", soft_wrap=True)
        for line in lines:
            console.out.print(line)
    return captured.get()
