"""`orchestrator publish`: merge per-platform parts into one index, then tag it by digest.

The parts come from reports of `build --platform` written on other machines (CI runners), so
everything about them is checked before anything is pushed: they are reports of ours, of this
project, of the plan this checkout resolves to, and together they hold every declared platform
once. Then: merge under the target's staging tag, read the merged index back (each platform
must still be the manifest its part pushed), and only then attach the release tags.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from orchestrator import console, executor, outfile, parts, report, signing
from orchestrator.commands.common import load
from orchestrator.errors import BuildFailed, UserError
from orchestrator.plan import Plan, TargetPlan, staging_tag

MAX_REPORT_BYTES = 16 * 1024 * 1024  # a report lists a few targets; anything larger is not one


def read_parts(paths: list[Path], project: str) -> list[parts.Part]:
    """Every part recorded in the reports, each checked to be a report of ours for `project`."""
    found: list[parts.Part] = []
    for path in paths:
        data = _read_report(path)
        if data.get("project") != project:
            raise UserError(f"{path}: a report of project {data.get('project')!r}, not {project!r}")
        targets = data.get("targets")
        if not isinstance(targets, list):
            raise UserError(f"{path}: not an orchestrator report (no targets list)")
        recorded = [
            t["part"] for t in targets if isinstance(t, dict) and isinstance(t.get("part"), dict)
        ]
        if not recorded:
            raise UserError(
                f"{path}: holds no part (was it written by `orchestrator build --platform`?)"
            )
        found += [parts.Part.from_dict(p, str(path)) for p in recorded]
    return found


def _read_report(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file():
            what = "not a regular file" if path.exists() else "no such report file"
            raise UserError(f"{path}: {what}")
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise UserError(f"{path}: too large to be an orchestrator report")
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # `[[[[…` deeper than the interpreter's stack
        raise UserError(f"{path}: not an orchestrator report (nested too deeply)") from None
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8 or JSON, a 5000-digit number
        raise UserError(f"{path}: not an orchestrator report ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != report.FORMAT:
        raise UserError(f"{path}: not an orchestrator report (expected format {report.FORMAT})")
    return data


def checked(plan: Plan, found: list[parts.Part]) -> list[tuple[TargetPlan, list[parts.Part]]]:
    """Each target with its parts, or one line saying why they cannot be merged."""
    out = []
    for t in plan.targets:
        mine = parts.mergeable(found, t.name)
        if mine[0].repository != t.repository:  # the fingerprint is a claim: not this either
            raise UserError(
                f"{t.name}: the parts push to {mine[0].repository}, not {t.repository} as this "
                "checkout's plan does; nothing was tagged"
            )
        here = parts.fingerprint(t)
        if mine[0].fingerprint != here:
            raise UserError(
                f"{t.name}: the parts were built from another plan than this checkout's "
                f"(commit {mine[0].commit[:12]}, version {mine[0].version}; here "
                f"{plan.variables.get('GIT_COMMIT_FULL', '')[:12]}, "
                f"{plan.variables.get('VERSION', '')}); nothing was tagged"
            )
        out.append((t, mine))
    return out


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    names = list(args.targets or [])
    loaded = load(args, names=names or [])
    if args.report:
        outfile.check(args.report)
    found = read_parts(list(args.reports), loaded.plan.project)
    if not names:  # default: exactly the targets the reports hold parts of
        names = list(dict.fromkeys(p.target for p in found))
        loaded = load(args, names=names)
    plan = loaded.plan
    work = checked(plan, found)
    unsignable = signing.problems(plan)
    if unsignable:
        raise UserError(
            f"{len(unsignable)} problem(s) before publishing; nothing was merged",
            problems=unsignable,
        )
    merged = [(t, merge(t, mine)) for t, mine in work]
    attach(plan, merged)
    results = [res for _, res in merged]
    done = report.Report(
        project=plan.project,
        version=plan.variables.get("VERSION", ""),
        commit=plan.variables.get("GIT_COMMIT", ""),
        status="ok",
        duration_s=round(time.monotonic() - began, 2),
        targets=results,
    )
    path = args.report or Path(plan.root) / ".orchestrator" / "report.json"
    report.write_json(done, path)
    if args.ci or console.is_ci():
        report.write_step_summary(done)
        report.write_github_outputs(done)
    report.print_summary(done)
    console.err.print(f"report: {path}", markup=False)
    return 0


def merge(t: TargetPlan, mine: list[parts.Part]) -> report.TargetResult:
    """Merge the parts under the staging tag and check the index holds exactly their manifests;
    no release tag yet (see attach)."""
    staging = f"{t.repository}:{staging_tag(t.name)}"
    sources = [f"{p.repository}@{p.digest}" for p in mine]
    console.err.print(f"{t.name}: merging {len(mine)} parts into {staging}", markup=False)
    executor.merge(sources, staging)
    digest = executor.index_digest(staging)
    merged = executor.platform_digests(f"{t.repository}@{digest}")
    wanted = {plat: d for p in mine for plat, d in p.platforms.items()}
    if merged != wanted:
        raise BuildFailed(
            f"{t.name}: the merged index {digest} does not hold the parts' manifests "
            f"(got {merged}, expected {wanted}); nothing was tagged"
        )
    return report.TargetResult(
        name=t.name, status="ok", tags=list(t.tags), digest=digest, platforms=merged, pushed=True
    )


def attach(plan: Plan, done: list[tuple[TargetPlan, report.TargetResult]]) -> None:
    """Sign every merged index that asks for it (by digest), then attach the release tags: as
    in `build`, a signing failure leaves no tag anywhere, and no tag names an unsigned image."""
    for t, res in done:
        if t.sign and res.digest:
            res.signature = signing.sign(plan, t, res.digest)
    for t, res in done:
        if t.tags and res.digest:
            console.err.print(f"{t.name}: tagging {', '.join(t.tags)}", markup=False)
            executor.publish(t.tags, f"{t.repository}@{res.digest}")
