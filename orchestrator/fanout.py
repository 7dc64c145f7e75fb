"""A build fanned out over several engines: each platform on its own node, merged into one index.

For engines no buildx builder can join (podman farm's case, or native machines reached over ssh):
`builder: {driver: fan-out, nodes: [...]}`. Phases: split the plan by node (each pushed target
narrowed to the node's platforms; every other target whole on the first node) -> preflight every
node -> bake on all nodes at once (one bake session per node) -> if every node succeeded, merge
each target's parts and attach its tags (the same merge as `orchestrator publish`) -> report.
A failed node fails the run before anything is tagged, and the report names the node.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator import argv, console, executor, parts, preflight, refs
from orchestrator.commands.common import Loaded
from orchestrator.errors import BuildFailed, Interrupted, PreflightError, UserError
from orchestrator.manifest import NodeSpec
from orchestrator.plan import Plan, TargetPlan
from orchestrator.progress import Step, Tracker, step_line
from orchestrator.report import Report, TargetResult


@dataclass(frozen=True)
class NodeWork:
    node: NodeSpec
    engine: dict[str, str]  # DOCKER_HOST or DOCKER_CONTEXT for this node
    plan: Plan  # what this node builds


def endpoint_env(endpoint: str) -> dict[str, str]:
    """A node's endpoint as the variable that selects it: a URL is a DOCKER_HOST, any other
    name a docker context."""
    return {"DOCKER_HOST": endpoint} if "://" in endpoint else {"DOCKER_CONTEXT": endpoint}


def split(plan: Plan, nodes: list[NodeSpec]) -> tuple[list[NodeWork], dict[str, parts.Whole]]:
    """Which node builds what; every declared platform of a pushed target on exactly one node."""
    owner = {refs.parse_platform(p): n.name for n in nodes for p in n.platforms}
    per_node: dict[str, list[TargetPlan]] = {n.name: [] for n in nodes}
    wholes: dict[str, parts.Whole] = {}
    problems: list[str] = []
    for t in plan.targets:
        if not (t.push and t.platforms):
            per_node[nodes[0].name].append(t)  # nothing to merge: built whole on the first node
            continue
        homeless = [p for p in t.platforms if refs.parse_platform(p) not in owner]
        if homeless:
            have = ", ".join(f"{n.name} {' '.join(n.platforms)}" for n in nodes)
            problems.append(
                f"{t.name}: no node of the fan-out builder builds {', '.join(homeless)} "
                f"(nodes: {have})"
            )
            continue
        wholes[t.name] = parts.Whole(parts.fingerprint(t), t.platforms)
        for node in nodes:
            keep = tuple(p for p in t.platforms if owner[refs.parse_platform(p)] == node.name)
            if keep:
                per_node[node.name].append(parts.narrow(t, keep))
    if problems:
        raise UserError(f"fan-out: {len(problems)} problem(s)", problems=problems)
    work = [
        NodeWork(n, endpoint_env(n.endpoint or ""), dataclasses.replace(plan, targets=tuple(ts)))
        for n in nodes
        if (ts := per_node[n.name])
    ]
    return work, wholes


def preflight_nodes(work: list[NodeWork]) -> dict[str, executor.Engine]:
    """Every node's engine, asked side by side; any problem names its node."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = {w.node.name: pool.submit(executor.engine_info, None, w.engine) for w in work}
    engines: dict[str, executor.Engine] = {}
    problems: list[str] = []
    for w in work:
        try:
            engines[w.node.name] = futures[w.node.name].result()
            preflight.check_engine(w.plan, engines[w.node.name])
        except UserError as exc:
            problems += [f"node {w.node.name} ({w.node.endpoint}): {line}" for line in exc.lines()]
    if problems:
        raise PreflightError(
            f"{len(problems)} preflight problem(s); nothing was started", problems=problems
        )
    return engines


def run(loaded: Loaded, run_dir: Path) -> tuple[Report, list[str]]:
    """Split, preflight, bake on every node, merge and tag: the report of the whole run, and
    the lines saying which node failed and why (empty when every node succeeded)."""
    spec = loaded.manifest.builder
    if spec is None or spec.driver != "fan-out":
        raise AssertionError("fanout.run needs a fan-out builder (build.run checks it)")
    plan = loaded.plan
    work, wholes = split(plan, list(spec.nodes))
    engines = preflight_nodes(work)
    jobs, trackers = [], {}
    for w in work:
        definition = run_dir / f"bake-{w.node.name}.json"
        definition.write_text(json.dumps(argv.bake_definition(w.plan), indent=2), encoding="utf-8")
        names = tuple(t.name for t in w.plan.targets)
        trackers[w.node.name] = Tracker(list(names))
        jobs.append(
            executor.BakeJob(
                w.node.name, definition, names, run_dir / f"metadata-{w.node.name}.json", w.engine
            )
        )
    started = time.monotonic()

    def show(node: str, steps: list[Step]) -> None:
        # Plain lines, prefixed by node: several engines' progress interleaved stays readable.
        for step in steps:
            console.plain(step_line(step, time.monotonic() - started, node))

    def on_output(node: str, text: str) -> None:
        show(node, trackers[node].feed(text))

    console.err.print(
        "fan-out: " + "; ".join(f"{w.node.name}: {_summary(w.plan)}" for w in work), markup=False
    )
    executor.preload()
    runs = executor.bake_many(jobs, on_output)
    for node, tracker in trackers.items():
        show(node, tracker.finish())
    elapsed = round(time.monotonic() - started, 2)
    report = Report(
        project=plan.project,
        version=plan.variables.get("VERSION", ""),
        commit=plan.variables.get("GIT_COMMIT", ""),
        status="ok",
        duration_s=elapsed,
        targets=[],
        engine={name: e.to_dict() for name, e in engines.items()},
        notes=[n for t in plan.targets for n in t.notes],
        # The makespan is the slowest node; each node's own time shows which one that was.
        phases={"bake": elapsed, **{f"bake:{n}": r.seconds for n, r in runs.items()}},
    )
    failed = [w for w in work if runs[w.node.name].returncode != 0]
    if any(r.interrupted for r in runs.values()):
        report.status = "interrupted"
        raise Interrupted("interrupted; no tags were pushed")
    if failed:
        report.status = "failed"
        lines = []
        for w in work:
            tracker = trackers[w.node.name]
            ok = w not in failed
            for t in w.plan.targets:
                why = tracker.failure_lines(t.name)
                if not ok and not why:
                    why = runs[w.node.name].other_lines[-5:] or ["bake failed"]
                status = "built" if ok else ("failed" if why else "not finished")
                error = "" if ok else f"node {w.node.name}: {why[-1] if why else 'bake failed'}"
                report.targets.append(TargetResult(t.name, status, node=w.node.name, error=error))
                lines += [f"node {w.node.name} ({w.node.endpoint}): {x}" for x in why[-10:]]
        return report, lines
    merging = time.monotonic()
    report.targets = _merge_all(plan, work, runs, wholes)
    report.phases["merge"] = round(time.monotonic() - merging, 3)
    return report, []


def _summary(plan: Plan) -> str:
    return ", ".join(f"{t.name} {'/'.join(t.platforms) or 'default'}" for t in plan.targets)


def _merge_all(
    plan: Plan,
    work: list[NodeWork],
    runs: Mapping[str, executor.BakeRun],
    wholes: Mapping[str, parts.Whole],
) -> list[TargetResult]:
    """Each pushed target's parts merged and tagged (only now: every node has succeeded)."""
    from orchestrator.commands.publish import attach, merge

    found: list[parts.Part] = []
    results: dict[str, TargetResult] = {}
    for w in work:
        for t in w.plan.targets:
            meta = runs[w.node.name].metadata.get(t.name)
            digest = meta.get("containerimage.digest") if isinstance(meta, dict) else None
            if not digest:
                raise BuildFailed(
                    f"{t.name}: node {w.node.name} reported no digest; nothing tagged"
                )
            if t.name not in wholes:  # built whole: nothing to merge
                results[t.name] = TargetResult(
                    t.name, "ok", list(t.tags) if t.load else [], str(digest), node=w.node.name
                )
                continue
            platforms = executor.platform_digests(f"{t.repository}@{digest}")
            found.append(
                parts.record(plan, t, wholes[t.name], str(digest), platforms, f"node {w.node.name}")
            )
    merged = [
        (t, merge(t, parts.mergeable(found, t.name))) for t in plan.targets if t.name in wholes
    ]
    attach(plan, merged)
    results.update({t.name: res for t, res in merged})
    return [results[t.name] for t in plan.targets]
