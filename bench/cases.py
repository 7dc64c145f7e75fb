"""The seven figures of issue 9. Each case builds in its own copy (see workspace.py).

"Cold" always means an empty builder state: `docker buildx prune -af` (build cache records and
cache mounts) right before the timed command, and nothing to import: every registry cache tag the
plan's `cache-from` names is deleted first (the configuration stays as builds.yaml has it, so both
sides still try the import and export the cache afterwards). The raw side always runs a
definition generated once, untimed, by `orchestrator plan --format bake` with the same variables
and overrides.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    BenchError,
    Figure,
    Goal,
    Series,
    Variant,
    attempt,
    json_objects,
    log,
    median,
    paired_ratios,
    rounds,
)
from bench.workspace import Bench, Workspace, git, phases_note

TOLERANCE = 1.05  # "no worse than raw bake's ratio + 5%"


@dataclass(frozen=True)
class Settings:
    runs: int  # paired rounds per figure
    warmup: int  # discarded rounds for the cheap, warm cases (plan, fully cached)
    emulated_runs: int  # the slow emulated-builder contrast of case 6 (0 = skip)
    quick: bool


def _group_targets(definition: Path) -> list[str]:
    data = json.loads(definition.read_text(encoding="utf-8"))
    targets = data["group"]["default"]["targets"]
    return [str(t) for t in targets]


def _series(label: str, samples: dict[str, list[float]], unit: str = "s") -> Series:
    return Series(label, samples[label], unit)


def _pair(samples: dict[str, list[float]], a: str, b: str) -> dict[str, Any]:
    """A Figure's `a`, `b` and per-round `ratios` from two variants measured in the same rounds."""
    return {
        "a": _series(a, samples),
        "b": _series(b, samples),
        "ratios": paired_ratios(samples[a], samples[b]),
    }


# --- 1 ----------------------------------------------------------------------------------------
def _versus_raw(
    number: str,
    title: str,
    names: tuple[str, str, str, str],
    samples: dict[str, list[float]],
    reference: str,
    notes: list[str],
) -> Figure:
    """A/B for the orchestrator (names 0, 1) beside raw bake's own A/B (names 2, 3): the goal is
    raw's ratio plus 5%, so what is judged is only what the orchestrator adds."""
    raw = median(paired_ratios(samples[names[2]], samples[names[3]]))
    return Figure(
        number,
        title,
        **_pair(samples, names[0], names[1]),
        raw=raw,
        raw_a=_series(names[2], samples),
        raw_b=_series(names[3], samples),
        goal=Goal(raw * TOLERANCE, f"≤ raw x 1.05 = {raw * TOLERANCE:.2f}"),
        reference=reference,
        notes=notes,
    )


def case_plan(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.workspace("c1-plan")
    definition = ws.definition("all", ["all"])
    targets = _group_targets(definition)
    a_name, b_name = "orchestrator plan all", f"bake --print {' '.join(targets)}"
    fresh_name = f"{a_name} (ORCH_PLAN_MEMO=0)"
    print_argv = [*ws.bake_argv(definition, targets), "--print"]
    plan_argv = ws.orch_argv("plan", ["all"])
    variants = [
        Variant(a_name, lambda: ws.runner.run(plan_argv, cwd=ws.repo)),
        Variant(b_name, lambda: ws.runner.run(print_argv, cwd=ws.base)),
        Variant(
            fresh_name,
            lambda: ws.runner.run(plan_argv, cwd=ws.repo, extra_env={"ORCH_PLAN_MEMO": "0"}),
        ),
    ]
    # The memo does not store a plan whose files changed in the last 2 s (planmemo.py): the
    # copy was just made, so wait that out, as any tree a user plans twice would be.
    time.sleep(2.1)
    # Cheap and noisy (tenths of a second): twice the rounds of the build figures, and at least
    # one warm-up round, which stores the plan the measured rounds replay.
    retried: list[str] = []
    samples = rounds(variants, 2 * s.runs, warmup=max(1, s.warmup), label="1 plan", retried=retried)
    print_note = "B: docker buildx bake -f <plan --format bake output> --print " + " ".join(targets)
    return [
        Figure(
            "1",
            "plan: `orchestrator plan all` / `docker buildx bake --print` (same targets)",
            **_pair(samples, a_name, b_name),
            goal=Goal(1.20, "≤ 1.20x"),
            notes=[
                "A: python -m orchestrator plan all, as users run it: a repeated plan of an "
                "unchanged tree is replayed from the plan memo (git and every input re-checked)",
                print_note,
                *retried,
            ],
        ),
        Figure(
            "1b",
            "plan computed afresh: `orchestrator plan all` with the memo off / `bake --print`",
            **_pair(samples, fresh_name, b_name),
            notes=[
                "A: ORCH_PLAN_MEMO=0 python -m orchestrator plan all (process start, pydantic "
                "and PyYAML imports, manifest, git, plan, print): what every changed tree costs",
                print_note,
            ],
        ),
    ]


# --- 2 ----------------------------------------------------------------------------------------
def case_cached(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.workspace("c2-cached")
    definition = ws.definition("all", ["all"])
    targets = _group_targets(definition)
    a_name, b_name = "orchestrator build all", f"bake {' '.join(targets)}"
    forced_name = "orchestrator build all --rebuild"
    a_phases: list[dict[str, float]] = []
    forced_phases: list[dict[str, float]] = []

    def as_users_run_it() -> None:
        ws.build(["all"], rebuild=False)
        a_phases.extend(ws.phases[-1:])

    def forced() -> None:
        ws.build(["all"])  # --rebuild
        forced_phases.extend(ws.phases[-1:])

    variants = [
        Variant(a_name, as_users_run_it),
        Variant(b_name, lambda: ws.bake(definition, targets)),
        Variant(forced_name, forced),
    ]
    # The warm-up round is required, not optional: it is what makes every later round cached.
    # Build records are not written for a context changed in the last 2 s (uptodate.py): the
    # copy was just made, so wait that out before the warm-up build writes them.
    time.sleep(2.1)
    retried: list[str] = []
    warmup = max(1, s.warmup)
    samples = rounds(variants, s.runs, warmup=warmup, label="2 cached", retried=retried)
    measured = a_phases[warmup:]
    skipped = sum(1 for p in measured if p.get("bake", 1.0) == 0.0)
    common = [
        ws.equivalence_note(definition),
        "both sides load development and push production + registry cache (mode=max) when "
        "they bake",
    ]
    return [
        Figure(
            "2",
            "fully cached build of all targets: `orchestrator build all` / raw `bake`",
            **_pair(samples, a_name, b_name),
            goal=Goal(1.10, "≤ 1.10x"),
            notes=[
                *common,
                "A as users run it: targets whose inputs are unchanged since their last build "
                "and whose tags and loaded image are still in place are not baked (uptodate.py); "
                "A checks that in the registry and the engine's store",
                f"A baked no target in {skipped} of {len(measured)} measured runs; in the others "
                "it baked development, whose loaded image raw bake (run in between) had "
                "replaced, so the recorded image was gone",
                phases_note(measured),
                *retried,
            ],
        ),
        Figure(
            "2b",
            "fully cached build, every target baked: `orchestrator build all --rebuild` / raw "
            "`bake`",
            **_pair(samples, forced_name, b_name),
            notes=[
                *common,
                "A bakes like raw bake and adds its fixed cost: checks, preflight, the "
                "tag-by-digest step and the per-platform read-back",
                phases_note(forced_phases[warmup:]),
            ],
        ),
    ]


# --- 3 and 4 ----------------------------------------------------------------------------------
def case_cold_family(bench: Bench, s: Settings, want: set[str]) -> list[Figure]:
    """3: warm rebuild after a one-line change / cold; 4: cold importing registry cache / cold.

    One sequence serves both, since both divide by the same cold build of production:
      cold   prune -af, delete the registry cache, `orchestrator build production`
      warm   (after cold) edit one line, commit, `orchestrator build production`, twice: the
             second is timed (see below), the first is reported in the notes
      import prune -af, `orchestrator build production` (imports the registry cache the previous
             build exported, for the same source)
    Rounds alternate `cold warm import` and `import cold warm`; warm always follows its cold.
    The first rebuild after a cold build is slower on both sides, irregularly (0.1-1 s here:
    see bench/README.md; in the one traced, BuildKit waited out gRPC's 1 s reconnect backoff
    on a session buildx had already closed while loading a cached result). The timed warm
    build is the edit-and-rebuild loop after that one; the first one's medians and ratios are
    in the notes, so the figure can be read either way.
    Figure 3 also runs raw bake's own cold and warm (same steps, a bake definition regenerated
    untimed after each commit): the goal is absolute, so raw's ratio shows what the build itself
    allows on this machine.
    """
    ws = bench.workspace("c34-cold")
    definition = ws.definition("production", ["production"])  # names the caches to delete
    cold: list[float] = []
    warm: list[float] = []
    imported: list[float] = []
    edited: list[str] = []
    retried: list[str] = []

    def build() -> None:
        ws.build(["production"])

    def do_cold() -> None:
        cold.append(attempt("cold", build, lambda: ws.cold_reset(definition), retried))
        log(f"[3/4 cold] round {len(cold)}/{s.runs}: cold, no cache: {cold[-1]:.2f} s")

    warm_phases: list[dict[str, float]] = []

    first: list[float] = []

    # A warm build's setup is its one-line change, so a retried build is again a rebuild after
    # a fresh change (the failed try may have built it, and a second bake of the same source
    # would time a push alone).
    def do_warm() -> None:
        first.append(
            attempt("first warm", build, lambda: edited.append(ws.edit_source()), retried, 3)
        )
        warm.append(attempt("warm", build, ws.edit_source, retried, 3))
        warm_phases.extend(ws.phases[-1:])
        log(
            f"[3/4 cold] round {len(warm)}/{s.runs}: first rebuild after cold {first[-1]:.2f} s, "
            f"warm, one-line change: {warm[-1]:.2f} s"
        )

    def do_import() -> None:
        imported.append(attempt("import", build, bench.engine.prune, retried))
        log(f"[3/4 cold] round {len(imported)}/{s.runs}: cold + cache: {imported[-1]:.2f} s")

    raw_cold: list[float] = []
    raw_first: list[float] = []
    raw_warm: list[float] = []

    def do_raw() -> None:
        current = ws.definition("production", ["production"])
        seconds = attempt(
            "raw cold",
            lambda: ws.bake(current, ["production"]),
            lambda: ws.cold_reset(current),
            retried,
        )
        raw_cold.append(seconds)
        changed: list[Path] = []

        def change() -> None:
            ws.edit_source()
            changed.append(ws.definition("production", ["production"]))  # new VERSION, commit

        for into, label in ((raw_first, "raw first warm"), (raw_warm, "raw warm")):
            into.append(
                attempt(label, lambda: ws.bake(changed[-1], ["production"]), change, retried, 3)
            )
        log(
            f"[3/4 cold] round {len(raw_warm)}/{s.runs}: raw bake cold {raw_cold[-1]:.2f} s, "
            f"first rebuild {raw_first[-1]:.2f} s, warm {raw_warm[-1]:.2f} s"
        )

    for index in range(s.runs):
        steps: list[Callable[[], None]] = [do_cold]
        if "3" in want:
            steps.append(do_warm)
            steps = [*steps, do_raw] if index % 2 == 0 else [do_raw, *steps]
        if "4" in want:
            steps = [*steps, do_import] if index % 2 == 0 else [do_import, *steps]
        for step in steps:
            step()

    cold_label = "cold: prune -af, registry cache deleted"
    figures = []
    if "3" in want:
        figures.append(
            Figure(
                "3",
                "warm rebuild after a one-line source change / cold (production, amd64+arm64)",
                a=Series("warm: one-line change, committed", warm),
                b=Series(cold_label, cold),
                ratios=paired_ratios(warm, cold),
                raw=median(paired_ratios(raw_warm, raw_cold)),
                raw_a=Series("raw bake: warm", raw_warm),
                raw_b=Series("raw bake: cold", raw_cold),
                goal=Goal(0.10, "≤ 0.10"),
                notes=[
                    f"the change: {edited[0] if edited else '-'} (a new commit each round, so "
                    "VERSION and GIT_COMMIT change too, as in CI)",
                    "the timed warm build is the second edit-and-rebuild after its round's cold "
                    "build; the prune before a cold build also empties the Go module/build cache "
                    "mounts",
                    f"first rebuild right after the cold build (not in the ratio; slower on "
                    f"both sides, irregularly): orchestrator {median(first):.2f} s "
                    f"({median(paired_ratios(first, cold)):.3f}), raw bake "
                    f"{median(raw_first):.2f} s ({median(paired_ratios(raw_first, raw_cold)):.3f})",
                    phases_note(warm_phases),
                    *retried,
                ],
            )
        )
    if "3" in want:
        figures.append(
            Figure(
                "3b",
                "warm rebuild after a one-line change: orchestrator / raw bake (same rounds)",
                a=Series("orchestrator build production: warm", warm),
                b=Series("raw bake production: warm", raw_warm),
                ratios=paired_ratios(warm, raw_warm),
                goal=Goal(1.10, "≤ 1.10x"),
                notes=[
                    "both are the second edit-and-rebuild after their round's cold build; what "
                    "A adds is the orchestrator's fixed cost per build (see 3's phases note)",
                ],
            )
        )
    if "4" in want:
        figures.append(
            Figure(
                "4",
                "cold on an empty builder importing the registry cache / cold without "
                "(production, amd64+arm64)",
                a=Series("cold + registry cache import", imported),
                b=Series(cold_label, cold),
                ratios=paired_ratios(imported, cold),
                goal=Goal(0.10, "≤ 0.10"),
                reference="0.03 raw buildx (ENGINE.md, no source change)",
                notes=[
                    "the imported cache was exported by the previous build of the same source; "
                    "cache mounts are not in a registry cache, but nothing needs to recompile",
                    *retried,
                ],
            )
        )
    return figures


# --- 5 ----------------------------------------------------------------------------------------
def case_together(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.workspace("c5-together")
    definition = ws.definition("all", ["all"])
    targets = _group_targets(definition)
    first, second = targets[0], targets[-1]
    names = (
        "orchestrator build all",
        f"orchestrator build {first}; orchestrator build {second}",
        f"bake {' '.join(targets)}",
        f"bake {first}; bake {second}",
    )

    def seq_orch() -> None:
        ws.build([first])
        ws.build([second])

    def seq_raw() -> None:
        ws.bake(definition, [first])
        ws.bake(definition, [second])

    def cold() -> None:
        ws.cold_reset(definition)

    variants = [
        Variant(names[0], lambda: ws.build(["all"]), setup=cold),
        Variant(names[1], seq_orch, setup=cold),
        Variant(names[2], lambda: ws.bake(definition, targets), setup=cold),
        Variant(names[3], seq_raw, setup=cold),
    ]
    retried: list[str] = []
    samples = rounds(variants, s.runs, label="5 together", retried=retried)
    return [
        _versus_raw(
            "5",
            f"{first} + {second} in one run / one after the other (cold)",
            names,
            samples,
            "0.95 raw bake (ENGINE.md)",
            [
                ws.equivalence_note(definition),
                "every variant starts cold: prune -af, registry cache deleted",
                *retried,
            ],
        )
    ]


# --- 6 ----------------------------------------------------------------------------------------
BUILDER_FROM = re.compile(r"^FROM\s+--platform=\$BUILDPLATFORM\s+(\S+)\s+AS\s+builder\s*$", re.M)


def case_platforms(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.workspace("c6-platforms")
    amd64 = ["production.platforms=linux/amd64"]
    def_multi = ws.definition("production-multi", ["production"])
    def_amd64 = ws.definition("production-amd64", ["production"], amd64)
    names = (
        "orchestrator: amd64+arm64",
        "orchestrator: amd64",
        "bake: amd64+arm64",
        "bake: amd64",
    )

    def cold() -> None:
        ws.cold_reset(def_multi)

    variants = [
        Variant(names[0], lambda: ws.build(["production"]), setup=cold),
        Variant(names[1], lambda: ws.build(["production"], amd64), setup=cold),
        Variant(names[2], lambda: ws.bake(def_multi, ["production"]), setup=cold),
        Variant(names[3], lambda: ws.bake(def_amd64, ["production"]), setup=cold),
    ]
    retried: list[str] = []
    samples = rounds(variants, s.runs, label="6 platforms", retried=retried)
    figures = [
        _versus_raw(
            "6",
            "amd64+arm64 cross-compiled / amd64 alone (production, cold)",
            names,
            samples,
            "1.74 raw buildx, 2 cores (ENGINE.md)",
            [
                ws.equivalence_note(def_multi),
                ws.equivalence_note(def_amd64),
                "cold: prune -af, registry cache deleted; image and cache pushed as configured",
                *retried,
            ],
        )
    ]
    if s.emulated_runs > 0:
        figures.append(_emulated(ws, s, def_multi, samples[names[0]]))
    return figures


def _emulated(ws: Workspace, s: Settings, definition: Path, cross: list[float]) -> Figure:
    title = "emulated builder (QEMU) / cross-compiled, amd64+arm64 (contrast)"
    source = (ws.app / "Dockerfile").read_text(encoding="utf-8")
    variant, count = BUILDER_FROM.subn(r"FROM \1 AS builder", source)
    if count != 1:
        return Figure("6b", title, error="no `FROM --platform=$BUILDPLATFORM … AS builder` line")
    ws.add_file("sample-go-app/Dockerfile.emulated", variant, "builder stage without BUILDPLATFORM")
    sets = ["production.dockerfile=Dockerfile.emulated"]
    emulated: list[float] = []
    retried: list[str] = []
    for index in range(s.emulated_runs):
        emulated.append(
            attempt(
                "emulated",
                lambda: ws.build(["production"], sets),
                lambda: ws.cold_reset(definition),
                retried,
            )
        )
        log(f"[6b emulated] run {index + 1}/{s.emulated_runs}: {emulated[-1]:.2f} s")
    reference = median(cross)
    runs = "run" if s.emulated_runs == 1 else "runs"
    return Figure(
        "6b",
        title,
        a=Series("orchestrator: builder stage emulated", emulated),
        b=Series("orchestrator: cross-compiled (case 6)", list(cross)),
        ratios=[e / reference for e in emulated],
        reference="5.8 raw buildx (ENGINE.md)",
        notes=[
            f"only {s.emulated_runs} emulated {runs} (slow): each divided by the median of "
            "case 6's cross-compiled runs, not paired",
            "Dockerfile.emulated: the builder stage's `FROM --platform=$BUILDPLATFORM` removed, "
            "so its RUN steps run under QEMU for arm64 (the checks warn OR004; not an error)",
            *retried,
        ],
    )


# --- 7 ----------------------------------------------------------------------------------------
PROBE_DOCKERFILE = "FROM scratch\nCOPY . /context/\n"
POLLUTION = {  # build outputs a developer's checkout typically holds next to the source
    "bin/server": 8 * 1024 * 1024,
    "dist/sample-go-app_linux_amd64.tar.gz": 3 * 1024 * 1024,
    "dist/sample-go-app_linux_arm64.tar.gz": 3 * 1024 * 1024,
    "coverage.out": 64 * 1024,
}


def context_bytes(stream: str) -> int:
    """Bytes BuildKit reports for its `transferring context` steps (rawjson progress)."""
    per_vertex: dict[str, int] = {}
    for obj in json_objects(stream):
        for status in obj.get("statuses") or []:
            if not isinstance(status, dict):
                continue
            if not str(status.get("id", "")).startswith("transferring context"):
                continue
            vertex = str(status.get("vertex", ""))
            per_vertex[vertex] = max(per_vertex.get(vertex, 0), int(status.get("current") or 0))
    if not per_vertex:
        raise BenchError("buildx reported no `transferring context` step")
    return sum(per_vertex.values())


def _polluted_tree(bench: Bench, ws: Workspace) -> tuple[Path, list[str]]:
    """sample-go-app as its own checkout: its .git, ignored build outputs, and the source."""
    tree = ws.base / "tree-template"
    shutil.copytree(ws.app, tree, ignore=shutil.ignore_patterns("Dockerfile.*"))
    (tree / ".gitignore").write_text("bin/\ndist/\ncoverage.out\n", encoding="utf-8")
    git(bench.runner, tree, "init", "-q")
    git(bench.runner, tree, "add", "-A")
    git(bench.runner, tree, "commit", "-q", "-m", "sample-go-app")
    for relative, size in POLLUTION.items():
        path = tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))  # incompressible, like real binaries and archives
    git_bytes = sum(p.stat().st_size for p in (tree / ".git").rglob("*") if p.is_file())
    contents = [f".git ({git_bytes} B)"] + [f"{k} ({v} B)" for k, v in POLLUTION.items()]
    return tree, contents


def case_context(bench: Bench, s: Settings) -> list[Figure]:
    ws = bench.workspace("c7-context")
    template, contents = _polluted_tree(bench, ws)
    probe = ws.base / "probe" / "Dockerfile"
    probe.parent.mkdir()
    probe.write_text(PROBE_DOCKERFILE, encoding="utf-8")
    production = json.loads(ws.definition("production", ["production"]).read_text("utf-8"))
    copies = 0

    def fresh(with_ignore: bool) -> Path:
        # A new directory each time: BuildKit re-sends only what changed for a path it has seen.
        nonlocal copies
        copies += 1
        tree = ws.base / f"tree-{copies}"
        shutil.copytree(template, tree, symlinks=True)
        if not with_ignore:
            (tree / ".dockerignore").unlink()
        return tree

    builder = ["--builder", bench.engine.builder] if bench.engine.builder else []

    def probe_bytes(with_ignore: bool) -> int:
        tree = fresh(with_ignore)
        done = bench.runner.run(
            [
                *("docker", "buildx", "build", *builder, "--progress=rawjson"),
                *("--file", str(probe), "--output", "type=cacheonly", str(tree)),
            ]
        )
        shutil.rmtree(tree)
        return context_bytes(done.stderr)

    def target_bytes(with_ignore: bool) -> int:
        tree = fresh(with_ignore)
        target: dict[str, Any] = dict(production["target"]["production"])
        for key in ("cache-from", "cache-to", "attest", "tags"):
            target.pop(key, None)
        target.update(
            context=str(tree),
            dockerfile=str(tree / "Dockerfile"),
            platforms=["linux/amd64"],
            output=["type=cacheonly"],
        )
        path = ws.base / "defs" / f"target-{copies}.json"
        path.write_text(json.dumps({"target": {"production": target}}), encoding="utf-8")
        done = bench.runner.run([*ws.bake_argv(path, ["production"]), "--progress=rawjson"])
        shutil.rmtree(tree)
        return context_bytes(done.stderr)

    def measure(label: str, fn: Callable[[bool], int], count: int) -> tuple[Series, Series]:
        with_ignore: list[float] = []
        without: list[float] = []
        for index in range(count):
            order = [True, False] if index % 2 == 0 else [False, True]
            for flag in order:
                (with_ignore if flag else without).append(float(fn(flag)))
            sizes = f"{with_ignore[-1]:.0f} B / {without[-1]:.0f} B"
            log(f"[{label}] round {index + 1}/{count}: {sizes}")
        return (
            Series("with .dockerignore", with_ignore, "B"),
            Series("without .dockerignore", without, "B"),
        )

    a, b = measure("7 context", probe_bytes, s.runs)
    figures = [
        Figure(
            "7",
            "build context bytes with / without .dockerignore (checkout with .git and outputs)",
            a=a,
            b=b,
            ratios=paired_ratios(a.samples, b.samples),
            notes=[
                "bytes BuildKit reports transferring for a `COPY . /context/` probe (the whole "
                "context as .dockerignore defines it), a fresh copy of the tree each time",
                "tree: sample-go-app + " + ", ".join(contents),
            ],
        )
    ]
    if not s.quick:
        a, b = measure("7b target", target_bytes, s.runs)
        figures.append(
            Figure(
                "7b",
                "bytes sent for the production target (amd64) with / without .dockerignore",
                a=a,
                b=b,
                ratios=paired_ratios(a.samples, b.samples),
                notes=[
                    "the real Dockerfile: BuildKit's frontend only asks for the paths its COPY "
                    "lines name, so here .dockerignore only trims tests/docs inside cmd/ and "
                    "internal/ (and keeps the cache key free of them)",
                ],
            )
        )
    return figures


# --- 8 ----------------------------------------------------------------------------------------
def _engine_b_host() -> str:
    from bench.workspace import ROOT, read_env_file

    host = read_env_file(ROOT / ".engine" / "env-b").get("DOCKER_HOST", "")
    if not host:
        raise BenchError("no second engine: run `make engine-b` (writes .engine/env-b)")
    return host


def case_fanout(bench: Bench, s: Settings) -> list[Figure]:
    """Issue 17: amd64 on one engine and arm64 on another (a fan-out builder) against one engine
    building both. Both engines share these 2 cores: no speed-up is expected here; what the
    figure shows is the fan-out's own cost (two sessions, the merge) and each node's time."""
    ws = bench.workspace("c8-fanout")
    host_a = bench.runner.env.get("DOCKER_HOST", "")
    host_b = _engine_b_host()
    builder = (
        "\nbuilder:\n  name: bench-farm\n  driver: fan-out\n  nodes:\n"
        f'    - {{name: a, endpoint: "{host_a}", platforms: [linux/amd64]}}\n'
        f'    - {{name: b, endpoint: "{host_b}", platforms: [linux/arm64]}}\n'
    )
    manifest = ws.repo / "builds.yaml"
    ws.add_file("builds.yaml", manifest.read_text(encoding="utf-8") + builder, "fan-out builder")
    definition = ws.definition("production-one-engine", ["production"])
    names = ("fan-out: amd64 on a, arm64 on b", "one engine: amd64+arm64")
    one = ["production", "--rebuild", "--builder", "default"]

    def cold() -> None:
        ws.cold_reset(definition)
        bench.runner.run(
            ["docker", "buildx", "prune", "-af"], extra_env={"DOCKER_HOST": host_b}, timeout=600
        )

    variants = [
        Variant(names[0], lambda: ws.build(["production"]), setup=cold),
        Variant(
            names[1], lambda: ws.runner.run(ws.orch_argv("build", one), cwd=ws.repo), setup=cold
        ),
    ]
    retried: list[str] = []
    samples = rounds(variants, s.runs, label="8 fan-out", retried=retried)
    fanned = [p for p in ws.phases if "bake:a" in p]
    notes = [
        "cold: prune -af on both engines, registry cache deleted",
        phases_note(fanned),
        "model for N native runners: makespan = slowest platform's build + merge; the merge "
        "(imagetools create + read-back + tags) is the `merge` phase above",
        *retried,
    ]
    return [
        Figure(
            "8",
            "fan-out over two engines / one engine building both platforms (production, cold)",
            **_pair(samples, names[0], names[1]),
            reference="2 cores shared by both engines: no speed-up expected",
            notes=notes,
        )
    ]


# --- registry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    ids: tuple[str, ...]
    run: Callable[[Bench, Settings, set[str]], list[Figure]]


CASES: tuple[Case, ...] = (
    Case(("1",), lambda b, s, _w: case_plan(b, s)),
    Case(("2",), lambda b, s, _w: case_cached(b, s)),
    Case(("3", "4"), case_cold_family),
    Case(("5",), lambda b, s, _w: case_together(b, s)),
    Case(("6",), lambda b, s, _w: case_platforms(b, s)),
    Case(("7",), lambda b, s, _w: case_context(b, s)),
    Case(("8",), lambda b, s, _w: case_fanout(b, s)),
    Case(("9",), lambda b, s, _w: _scale().case_monorepo_build(b, s)),
    Case(("10",), lambda b, s, _w: _scale().case_monorepo_plan(b, s)),
    Case(("11",), lambda b, s, _w: _scale().case_monorepo_check(b, s)),
)


def _scale() -> Any:
    """bench/cases_scale.py imports this module's helpers: imported when a case runs."""
    import bench.cases_scale

    return bench.cases_scale


ALL_IDS = tuple(i for case in CASES for i in case.ids)


def run_selected(
    bench: Bench,
    settings: Settings,
    selected: set[str],
    on_figures: Callable[[list[Figure]], None],
) -> list[Figure]:
    """Every selected case in order; a failing case becomes an `error` row, the rest still run."""
    figures: list[Figure] = []
    for case in CASES:
        want = selected & set(case.ids)
        if not want:
            continue
        log(f"== case {', '.join(sorted(want))}")
        try:
            got = case.run(bench, settings, want)
        except BenchError as exc:
            log(f"case {', '.join(sorted(want))} failed: {exc}")
            got = [Figure(i, f"case {i}", error=str(exc)) for i in sorted(want)]
        figures += got
        on_figures(figures)
    return figures
