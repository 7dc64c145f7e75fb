"""`python -m bench`: the orchestrator against raw `docker buildx bake`, as ratios.

Exit codes: 0 every selected figure was measured (goals met or not: this is a measurement, not a
test), 1 a case failed to run, 2 usage or no engine, 130 interrupted.
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.cases import ALL_IDS, Settings, run_selected
from bench.harness import BenchError, Figure, Runner, log
from bench.report import Results, machine_facts, markdown, now, print_table, update_readme, write
from bench.workspace import ROOT, Bench, Engine, bench_env, registry_host

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the orchestrator against raw `docker buildx bake` on copies "
        "of sample-go-app (see bench/README.md). Needs the engine: `. .engine/env` or "
        "`make bench`. Empties the engine's build cache (docker buildx prune -af) for the cold "
        "cases 3-6 and 8 (8 also on the second engine, `make engine-b`).",
    )
    parser.add_argument(
        "--runs", type=int, help="paired runs per figure (default 7; 1 with --quick)"
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL_IDS),
        metavar="1,2,…",
        help="which cases (default: all, 1-11; 6 includes the emulated contrast 6b, 7 includes 7b; "
        "9-11 are the generated monorepos of issue 21)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run, not a measurement: 1 run, no warm-up round, no emulated variant, no 7b",
    )
    parser.add_argument(
        "--emulated-runs",
        type=int,
        help="runs of the slow emulated-builder variant of case 6 (default 1; 0 with --quick)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="JSON results (default bench/results/latest.json); the Markdown table goes "
        "next to it (.md)",
    )
    parser.add_argument(
        "--update-readme",
        type=Path,
        metavar="FILE",
        help=f"also replace the block between {'<!-- bench:begin -->'} and "
        f"{'<!-- bench:end -->'} in FILE with the Markdown table",
    )
    parser.add_argument("--builder", help="buildx builder (default: the current one)")
    parser.add_argument("--workdir", type=Path, help="where the temp copies go (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temp copies afterwards")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo every command")
    args = parser.parse_args(argv)
    selected = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = selected - set(ALL_IDS)
    if unknown or not selected:
        parser.error(f"--only: unknown case(s) {sorted(unknown)}; choose from {', '.join(ALL_IDS)}")
    args.selected = selected
    args.runs = args.runs if args.runs is not None else (1 if args.quick else 7)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.emulated_runs is None:
        args.emulated_runs = 0 if args.quick else 1
    return args


def _compiled() -> str:
    """Byte-compile the orchestrator's sources before anything is timed, as `pip install` does
    for users. With PYTHONDONTWRITEBYTECODE set (this machine's shells set it) and a source
    edited since its .pyc was written, every timed run would compile that module again in
    memory: ~0.25 s more on a fresh plan, measured, none of which a user pays."""
    ok = compileall.compile_dir(str(ROOT / "orchestrator"), quiet=1)
    return "orchestrator's bytecode compiled before timing" + ("" if ok else " (some failed)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runner = Runner(bench_env(), verbose=args.verbose)
    engine_dir = runner.env.get("ORCH_ENGINE_DIR", "")
    own = bool(engine_dir) and runner.env.get("DOCKER_HOST", "").startswith(f"unix://{engine_dir}/")
    engine = Engine(runner, args.builder, restart=own and not args.builder)
    try:
        engine_facts = engine.facts()
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    settings = Settings(
        runs=args.runs,
        warmup=0 if args.quick else 1,
        emulated_runs=args.emulated_runs,
        quick=args.quick,
    )
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="orch-bench-", dir=args.workdir))
    # The plan memo starts empty and stays out of the user's ~/.cache.
    runner.env["XDG_CACHE_HOME"] = str(workdir / "xdg-cache")
    bench = Bench(runner, engine, workdir, registry_host(runner.env))
    results = Results(
        started=now(),
        machine=machine_facts(),
        engine=engine_facts,
        settings={
            "runs": settings.runs,
            "warmup_rounds": settings.warmup,
            "emulated_runs": settings.emulated_runs,
            "quick": settings.quick,
            "only": sorted(args.selected),
            "registry_namespace": bench.namespace,
        },
    )
    log(f"bench {bench.run_id}: copies in {workdir}, images under {bench.namespace}/")
    began = time.perf_counter()

    def save(figures: list[Figure]) -> None:
        results.figures = list(figures)
        results.duration_s = time.perf_counter() - began
        write(results, args.out)

    code = 0
    try:
        results.notes.append(_compiled())
        bench.prepare_template()
        results.notes.append(f"base images: {bench.pin_mode}")
        figures = run_selected(bench, settings, args.selected, save)
        results.complete = True
        save(figures)
        code = 1 if any(f.status == "error" for f in figures) else 0
    except BenchError as exc:
        log(f"error: {exc}")
        results.notes.append(f"stopped: {exc}".splitlines()[0])
        save(results.figures)
        code = 1
    except KeyboardInterrupt:
        log("interrupted")
        results.notes.append("interrupted")
        save(results.figures)
        code = 130
    finally:
        if engine.restarts:
            results.notes.append(
                f"the project's engine was restarted {engine.restarts} time(s) to empty the "
                "build cache (dockerd held records prune could not free)"
            )
        if engine.repeated_prunes:
            results.notes.append(
                f"{engine.repeated_prunes} prune(s) had to be repeated: the build cache was not "
                "empty after `docker buildx prune -af` (another client was building or pruning; "
                "expect noise)"
            )
            save(results.figures)
        engine.remove_images(bench.namespace)  # loaded and pushed images alike
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(results)
    md = args.out.with_suffix(".md")
    log(f"wrote {args.out} and {md}")
    if args.update_readme:
        try:
            update_readme(args.update_readme, markdown(results))
        except (OSError, ValueError) as exc:
            log(f"error: {exc}")
            return max(code, 1)
        log(f"updated {args.update_readme}")
    return code


if __name__ == "__main__":
    sys.exit(main())
