"""The scale figures of issue 21, on monorepos generated for the purpose (bench/monorepo.py).

9   30 busybox services, amd64+arm64, pushed: `orchestrator build --rebuild` against raw bake of
    the same definition (every target baked, warm builder: BuildKit's fixed work per target is
    all there is, so what the orchestrator adds per target shows); 9b the same tree unchanged,
    `orchestrator build` as users run it (bases referenced by tag: avoidance keys them by the
    digest the tag resolves to now); 9c the orchestrator's own CPU per baked target.
10  100 Go services x 2 targets: the 200-target plan computed afresh (memo off) and replayed,
    against `bake --print`; 10c the plan's peak RSS.
11  `orchestrator check` of the same 100 Dockerfiles: first run (empty user cache) and second
    run (unchanged tree), absolute goals.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from pathlib import Path

from bench import monorepo
from bench.cases import Settings, _group_targets, _pair
from bench.harness import (
    Figure,
    Goal,
    Series,
    Variant,
    attempt,
    log,
    median,
    rounds,
)
from bench.workspace import ROOT, Bench, Workspace, phases_note, read_env_file

SERVICES = 30
GO_SERVICES = 100
_IMAGES = ROOT / "engine" / "images.env"


def _images() -> dict[str, str]:
    return read_env_file(_IMAGES)


def _busybox(root: Path, registry: str, n: int = SERVICES) -> list[str]:
    return monorepo.busybox_services(root, n, registry, _images()["BUSYBOX_IMAGE"])


def _go(root: Path, registry: str, n: int = GO_SERVICES) -> list[str]:
    return monorepo.go_services(root, n, registry, _images()["GO_IMAGE"])


def _go_distinct(root: Path, registry: str, n: int = GO_SERVICES) -> list[str]:
    return monorepo.go_services(root, n, registry, _images()["GO_IMAGE"], distinct=True)


# --- 9 ----------------------------------------------------------------------------------------


def case_monorepo_build(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.generated("c9-monorepo", _busybox)
    definition = ws.definition("default", [])
    targets = _group_targets(definition)
    forced, raw, as_users = (
        f"orchestrator build --rebuild ({len(targets)} targets)",
        f"bake ({len(targets)} targets)",
        "orchestrator build (unchanged tree)",
    )
    forced_reports: list[int] = []
    user_reports: list[int] = []

    def build(rebuild: bool, into: list[int]) -> None:
        ws.build([], rebuild=rebuild)  # a bake retried inside the run fails (Workspace.build)
        into.append(len(ws.phases) - 1)

    variants = [
        Variant(forced, functools.partial(build, True, forced_reports)),
        Variant(raw, lambda: ws.bake(definition, targets)),
        Variant(as_users, functools.partial(build, False, user_reports)),
    ]
    # Build records are not written for a context changed in the last 2 s (uptodate.py).
    time.sleep(2.1)
    retried: list[str] = []
    warmup = max(1, s.warmup)  # the first round is cold (nothing cached): discarded
    # Five tries a run, for either side: with 30 multi-arch pushes, a bake meets the local
    # registry's 500 about one time in four (workspace.REGISTRY_RETRY), and on a loaded machine
    # nearly one in two (2026-12-02: a raw bake failed three tries in a row, figure 9 had no
    # value).
    samples = rounds(variants, s.runs, warmup=warmup, label="9 monorepo", retried=retried, tries=5)
    forced_phases = [ws.phases[i] for i in forced_reports[warmup:]]
    user_phases = [ws.phases[i] for i in user_reports[warmup:]]
    skipped = sum(1 for p in user_phases if p.get("bake", 1.0) == 0.0)
    per_target = [
        1000 * ws.cpu[i]["per_baked_target"]
        for i in forced_reports[warmup:]
        if i < len(ws.cpu) and "per_baked_target" in ws.cpu[i]
    ]
    totals = [ws.cpu[i]["total"] for i in forced_reports[warmup:] if i < len(ws.cpu)]
    preloads = [
        1000 * ws.cpu[i].get("preload", 0.0) for i in forced_reports[warmup:] if i < len(ws.cpu)
    ]
    early = [
        1000 * ws.cpu[i].get("readahead", 0.0) for i in forced_reports[warmup:] if i < len(ws.cpu)
    ]
    common = [
        ws.equivalence_note(definition),
        f"{len(targets)} busybox services (bench/monorepo.py), each amd64+arm64, pushed with "
        "provenance; bases referenced by tag (busybox:1.35 through a mirror)",
    ]
    return [
        Figure(
            "9",
            f"{len(targets)} multi-arch targets, every target baked: `orchestrator build "
            "--rebuild` / raw `bake`",
            **_pair(samples, forced, raw),
            goal=Goal(1.10, "≤ 1.10x"),
            notes=[*common, phases_note(forced_phases), *retried],
        ),
        Figure(
            "9b",
            f"{len(targets)} targets unchanged, bases referenced by tag: `orchestrator build` / "
            "raw `bake`",
            **_pair(samples, as_users, raw),
            goal=Goal(0.30, "≤ 0.30x"),
            notes=[
                "A as users run it: one HEAD per distinct base tag, then every target's key; "
                "targets whose key and pushed tags are unchanged are not baked",
                f"A baked nothing in {skipped} of {len(user_phases)} measured runs",
                phases_note(user_phases),
            ],
        ),
        Figure(
            "9c",
            "orchestrator CPU per baked target during the bake (progress read and shown), "
            "from A of figure 9",
            a=Series("report cpu.per_baked_target", per_target, "ms"),
            ratios=per_target,
            unit="ms",
            goal=Goal(10.0, "≤ 10 ms"),
            notes=[
                "the orchestrator process's own user+system CPU while the bake ran, less the "
                "registry client's import done meanwhile (report cpu.preload, a fixed cost per "
                "run, not per target) and the read-backs of pushed images started meanwhile "
                "(cpu.readahead: publish work, moved), divided by the targets baked; buildx's "
                "CPU is not in it",
                f"the import meanwhile: median {median(preloads):.0f} ms per run"
                if preloads
                else "no preload figure",
                f"the read-ahead meanwhile: median {median(early):.0f} ms per run"
                if early
                else "no read-ahead figure",
                f"whole run, the orchestrator's own CPU: median {median(totals):.2f} s"
                if totals
                else "no report read",
            ],
        ),
    ]


# --- 10 ---------------------------------------------------------------------------------------
RSS_PROBE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _peak_rss_mb(ws: Workspace, argv: list[str], extra: dict[str, str]) -> float:
    """Peak RSS of one command (and its children), in MB, from a small parent that runs it."""
    done = ws.runner.run([sys.executable, "-c", RSS_PROBE, *argv], cwd=ws.repo, extra_env=extra)
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def case_monorepo_plan(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.generated("c10-plan", _go)
    definition = ws.definition("default", [])
    targets = _group_targets(definition)
    fresh, raw, replay = (
        f"orchestrator plan, memo off ({len(targets)} targets)",
        f"bake --print ({len(targets)} targets)",
        "orchestrator plan, replayed from the memo",
    )
    plan_argv = ws.orch_argv("plan", [])
    print_argv = [*ws.bake_argv(definition, targets), "--print"]
    off = {"ORCH_PLAN_MEMO": "0"}
    variants = [
        Variant(fresh, lambda: ws.runner.run(plan_argv, cwd=ws.repo, extra_env=off)),
        Variant(raw, lambda: ws.runner.run(print_argv, cwd=ws.base)),
        Variant(replay, lambda: ws.runner.run(plan_argv, cwd=ws.repo)),
    ]
    time.sleep(2.1)  # the memo does not store a plan of files changed in the last 2 s
    retried: list[str] = []
    samples = rounds(variants, 2 * s.runs, warmup=max(1, s.warmup), label="10 plan")
    rss = [_peak_rss_mb(ws, plan_argv, off) for _ in range(max(1, s.runs // 2))]
    check_argv = ws.orch_argv("check", [])
    with tempfile.TemporaryDirectory() as cache:
        rss_check = _peak_rss_mb(ws, check_argv, {"XDG_CACHE_HOME": cache})
    note = f"{GO_SERVICES} Go services x (development, production) (bench/monorepo.py)"
    return [
        Figure(
            "10",
            f"{len(targets)}-target plan computed afresh (memo off) / `bake --print`",
            **_pair(samples, fresh, raw),
            goal=Goal(1.5, "≤ 1.5x"),
            notes=[note, *retried],
        ),
        Figure(
            "10b",
            f"{len(targets)}-target plan replayed from the memo / `bake --print`",
            **_pair(samples, replay, raw),
            goal=Goal(1.0, "≤ 1.0x"),
            notes=[note],
        ),
        Figure(
            "10c",
            f"peak RSS of the {len(targets)}-target plan computed afresh",
            a=Series("orchestrator plan, memo off: peak RSS", rss, "MB"),
            ratios=rss,
            unit="MB",
            goal=Goal(150.0, "≤ 150 MB"),
            notes=[f"`orchestrator check` of the same tree, first run: {rss_check:.0f} MB"],
        ),
    ]


# --- 11 ---------------------------------------------------------------------------------------
def case_monorepo_check(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.generated("c11-check", _go)
    apart = bench.generated("c11c-check", _go_distinct)
    argv = ws.orch_argv("check", [])
    first: list[float] = []
    second: list[float] = []
    distinct: list[float] = []
    retried: list[str] = []
    time.sleep(2.1)  # an answer about files changed in the last 2 s is not remembered
    for index in range(s.runs):
        with tempfile.TemporaryDirectory() as cache:  # an empty user cache: nothing remembered
            env = {"XDG_CACHE_HOME": cache}

            def run(env: dict[str, str] = env) -> None:
                ws.runner.run(argv, cwd=ws.repo, extra_env=env)

            first.append(attempt("check, first run", run, None, retried))
            second.append(attempt("check, second run", run, None, retried))
        with tempfile.TemporaryDirectory() as cache:
            env = {"XDG_CACHE_HOME": cache}

            def run_apart(env: dict[str, str] = env) -> None:
                apart.runner.run(apart.orch_argv("check", []), cwd=apart.repo, extra_env=env)

            distinct.append(attempt("check of distinct files, first run", run_apart, None, retried))
        log(
            f"[11 check] round {index + 1}/{s.runs}: first {first[-1]:.2f} s, "
            f"second {second[-1]:.2f} s, distinct files first {distinct[-1]:.2f} s"
        )
    count = len(list((ws.repo / "services").glob("*/Dockerfile")))
    what = f"{count} Dockerfiles, {2 * count} targets (bench/monorepo.py), hadolint included"
    copies = (
        "the files are one template whose header comment names the service: hadolint lints it "
        "once (comments are not an input, hadolint_compat.quiet_comments)"
    )
    return [
        _seconds(
            "11",
            f"{count} Dockerfiles, first run",
            "check, first run",
            first,
            1.0,
            [what, copies, *retried],
        ),
        _seconds(
            "11b",
            f"{count} Dockerfiles, second run (tree unchanged)",
            "check, second run",
            second,
            0.3,
            [what],
        ),
        _seconds(
            "11c",
            f"{count} distinct Dockerfiles, first run",
            "check of distinct files, first run",
            distinct,
            1.0,
            [f"{what}; each file names its own binary, so hadolint lints all {count}", *retried],
        ),
    ]


def _seconds(
    number: str, what: str, series: str, values: list[float], goal: float, notes: list[str]
) -> Figure:
    """A figure whose value is the median time in seconds of `orchestrator check` runs."""
    first_run = "first run" in what
    return Figure(
        number,
        f"`orchestrator check` of {what}" + (" (empty user cache)" if first_run else ""),
        a=Series(series, values),
        ratios=values,
        unit="s",
        goal=Goal(goal, f"≤ {goal} s"),
        notes=notes,
    )
