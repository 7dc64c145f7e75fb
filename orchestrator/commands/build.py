"""`orchestrator build`: resolve -> check -> preflight -> skip up-to-date -> bake -> publish
-> report (see `run`, one function per phase)."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import json
import os
import resource
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from orchestrator import (
    argv,
    builders,
    console,
    executor,
    fanout,
    guards,
    outfile,
    parts,
    preflight,
    readahead,
    scratch,
    signing,
    sources,
    specs,
    uptodate,
)
from orchestrator.commands.common import Loaded, load
from orchestrator.errors import BuildFailed, Interrupted, PreflightError, UserError
from orchestrator.live import Display
from orchestrator.plan import Plan, TargetPlan
from orchestrator.progress import TargetProgress, Tracker
from orchestrator.report import (
    BaseUsed,
    Report,
    TargetResult,
    print_summary,
    write_github_outputs,
    write_json,
    write_step_summary,
)

UP_TO_DATE = "up to date"
NOT_NEEDED = "not needed"  # an input-only target whose consumers were all up to date


def _run_dir(root: Path) -> Path:
    # One directory per run: concurrent runs in the same repo never share scratch files.
    base = root / ".orchestrator" / "runs"
    scratch.mkdir(base)
    path = base / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path


def _validate(plan: Plan, allow_secret_args: bool) -> None:
    found = sources.problems(plan)
    secret_args = guards.problems(plan)
    if secret_args and not allow_secret_args:
        found += [f"{p}: {guards.FIX}" for p in secret_args]
    found += preflight.undeclared_mounts(plan)
    found += preflight.pin_problems(plan)
    found += signing.problems(plan)
    if found:
        raise UserError(
            f"{len(found)} problem(s) before building; nothing was started", problems=found
        )


def run(args: argparse.Namespace) -> int:
    """resolve -> check -> preflight -> skip up-to-date -> bake -> publish -> report."""
    began = time.monotonic()
    if args.report:
        outfile.check(args.report)  # a device or a directory there: said now, not after the build
    # resolve: builds.yaml -> the plan (a graph of target builds); a build needs the copies
    loaded = load(args, sent_required=True)
    plan = loaded.plan
    # `--platform`: a part of each target for `publish` (or a fan-out node) to merge later.
    part_prints: dict[str, parts.Whole] = {}
    if getattr(args, "platforms", None):
        plan, part_prints = parts.restrict(plan, args.platforms)
    ci = args.ci or console.is_ci()
    _validate(plan, args.allow_secret_args)
    shallow = loaded.git.shallow_warning(plan.variables.get("VERSION", ""))
    if shallow:
        console.err.print(f"warning: {shallow}", markup=False, highlight=False)
    spec = loaded.manifest.builder
    if spec is not None and spec.driver == "fan-out" and not args.builder:
        return _fan_out(loaded, args, ci, bool(part_prints))
    builder, engine = _checks_and_engine(loaded, args)  # check, with the engine query beside it
    preflight.check_engine(plan, engine)
    supply = signing.registry_problems(plan)  # SBOM generators resolve, `verify:` bases signed
    if supply:
        raise PreflightError(
            f"{len(supply)} supply-chain problem(s); nothing was started", problems=supply
        )
    wall_start = time.time()
    prints, fresh, todo = _skip_up_to_date(plan, engine, args)
    baked = _bake(plan, todo, builder, engine, ci)
    phases = {"prepare": round(baked.started - began, 3), "bake": round(baked.elapsed, 3)}
    report = _report(plan, engine, baked, fresh, phases)
    # The registry client's import may run in the bake's shadow (executor.preload): a fixed
    # cost per run, reported apart from the per-target cost of reading the bake's progress.
    report.cpu = {
        "bake": round(baked.cpu, 4),
        "preload": round(baked.preload, 4),
        "readahead": round(baked.readahead, 4),
    }
    if baked.names:
        # Reading the bake's progress, per target: the import and the early read-backs (the
        # publish phase's work, moved into the bake's shadow) are reported apart.
        per_target = max(0.0, baked.cpu - baked.preload - baked.readahead) / len(baked.names)
        report.cpu["per_baked_target"] = round(per_target, 5)
    if not baked.failed and args.verify_reproducible:
        _verify_reproducible(plan, report, baked.definition, baked.run_dir, builder, baked.direct)
    with _tagging_finishes() as held:
        if not baked.failed:
            tagging = time.monotonic()
            try:
                _publish(plan, report, part_prints)
            except BuildFailed:
                report.status = "failed"  # e.g. signing: no tag was attached, say so
                _write_report(plan, report, args, ci)
                raise
            phases["publish"] = round(time.monotonic() - tagging, 3)
            _remember(plan, report, prints, Path(plan.root), wall_start)
        else:
            report.status = "interrupted" if baked.result.interrupted else "failed"
        report.cpu["total"] = round(_own_cpu(), 3)
        _write_report(plan, report, args, ci)
    _raise_for(plan, baked)
    if held:
        raise Interrupted(
            "interrupted while publishing: it was finished first, every tag is on (see the report)"
        )
    return 0


@contextlib.contextmanager
def _tagging_finishes() -> Iterator[list[int]]:
    """SIGINT or SIGTERM while tags go on (a PUT each, a second or so for many targets) is
    held until the tagging and the report are done: stopped half way, some release tags had
    moved and others not, and no report said which (SIGTERM ended the process at once). A
    second signal stops at once. The signals seen are yielded; the caller ends with exit 130."""
    held: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)
        with contextlib.suppress(OSError, ValueError):
            console.err.print(
                "interrupt: finishing the tagging first (again to stop now)", markup=False
            )

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _skip_up_to_date(
    plan: Plan, engine: executor.Engine, args: argparse.Namespace
) -> tuple[dict[str, uptodate.Fingerprint], dict[str, uptodate.Record], list[TargetPlan]]:
    """Keys of every target, the ones up to date, and what is left to bake."""
    root = Path(plan.root)
    identity = uptodate.builder_identity(engine.builder, engine.driver)
    # Parts are built on CI runners that keep no records, and a part's record would describe
    # another image than the target's: never skipped.
    skipping = not (args.rebuild or args.verify_reproducible or getattr(args, "platforms", None))
    # Bases referenced by tag (how most Dockerfiles are written) are keyed by the digest the tag
    # resolves to now: one HEAD per distinct image. Also for --rebuild: its records are what
    # the next plain build compares with.
    bases = uptodate.resolve_bases(uptodate.unpinned_bases(plan.targets), executor.index_digest)
    prints = uptodate.fingerprints(plan.targets, identity, bases, root / scratch.NAME)
    fresh: dict[str, uptodate.Record] = {}
    if skipping:
        fresh = uptodate.fresh(
            plan.targets, prints, root, executor.index_digest, executor.image_digest
        )
    todo = [t for t in plan.targets if t.name not in fresh]
    # A target built only as an input (cache only, no record of its own) is needed only when
    # one of its consumers is baked.
    wanted = {d for t in todo for d in t.depends_on}
    todo = [t for t in todo if not t.input_only or t.name in wanted]
    for name, record in fresh.items():
        console.err.print(
            f"{name}: up to date ({record.digest[:19]}…), not built; --rebuild builds it anyway",
            markup=False,
        )
    for t in todo:
        uptodate.forget(root, t.name)  # until this build succeeds, it is not up to date
    return prints, fresh, todo


@dataclasses.dataclass
class _Baked:
    """What the bake phase left: the run's files, buildx's result and its progress."""

    run_dir: Path
    definition: Path
    names: list[str]
    tracker: Tracker
    result: executor.BakeRun
    started: float
    elapsed: float
    cpu: float  # this process's CPU seconds during the bake
    preload: float = 0.0  # of which the registry client's import (executor.preload)
    readahead: float = 0.0  # and of which the read-backs started early (readahead.py)
    direct: list[str] = dataclasses.field(default_factory=list)  # built with `buildx build`

    @property
    def failed(self) -> bool:
        return self.result.returncode != 0 or self.result.interrupted


def _bake(
    plan: Plan, todo: list[TargetPlan], builder: str | None, engine: executor.Engine, ci: bool
) -> _Baked:
    run_dir = _run_dir(Path(plan.root))
    _make_output_dirs(plan)
    definition = run_dir / "bake.json"
    definition.write_text(json.dumps(argv.bake_definition(plan), indent=2), encoding="utf-8")
    metadata = run_dir / "metadata.json"
    names = [t.name for t in todo]
    # Targets using keys this buildx's bake drops (network, entitlements, extra-hosts before
    # 0.18/0.17/0.25) are built one by one with `docker buildx build`, after the bake.
    direct = [t for t in todo if argv.bake_lacks(t, engine.buildx_version)]
    baked_names = [t.name for t in todo if t not in direct]
    # bake names its steps `[target ...]` only when it builds several: the tracker must know
    # exactly the targets of the bake; the direct builds' progress joins it afterwards.
    tracker = Tracker(baked_names)
    # Pushed images of the bake are read back while it runs on (readahead.py); an OCI archive
    # (reproducible) is only pushed after the bake, by skopeo.
    early = readahead.ReadAhead(
        t.repository for t in todo if t.push and not t.reproducible and t not in direct
    )
    tracker.on_pushed = early.pushed
    started = time.monotonic()
    cpu_before = _own_cpu()
    imports_before = len(executor.PRELOAD_CPU)
    result = executor.BakeRun(0, {})
    if todo:
        # Tagging needs the registry client; its import (~0.1 s) overlaps the bake when it did
        # not already overlap the engine query (_checks_and_engine).
        executor.preload()
        succeeded = False  # an exception (Ctrl-C) drops the reads not started
        try:
            with _local_cache_locks(plan):
                if baked_names:
                    with Display(tracker, plain=ci) as display:
                        result = executor.bake_with_retry(
                            definition, baked_names, metadata, display.feed, builder=builder
                        )
                for t in direct:
                    if result.returncode != 0 or result.interrupted:
                        break
                    result = _build_one(t, run_dir, tracker, result, builder, ci)
            succeeded = result.returncode == 0 and not result.interrupted
        finally:
            early.close(wait=succeeded)
    for t in direct:
        tracker.targets.setdefault(t.name, TargetProgress(t.name))  # not started
    elapsed = time.monotonic() - started
    cpu = _own_cpu() - cpu_before
    preload = sum(executor.PRELOAD_CPU[imports_before:], 0.0)  # an import that ended in the bake
    return _Baked(
        run_dir,
        definition,
        names,
        tracker,
        result,
        started,
        elapsed,
        cpu,
        preload,
        early.cpu,
        [t.name for t in direct],
    )


def _own_cpu() -> float:
    """User + system CPU seconds of this process (all threads), not of the processes it ran."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _build_one(
    t: TargetPlan,
    run_dir: Path,
    tracker: Tracker,
    so_far: executor.BakeRun,
    builder: str | None,
    ci: bool,
) -> executor.BakeRun:
    """`docker buildx build` of one target; its progress and metadata join the bake's."""
    console.err.print(
        f"{t.name}: built with `docker buildx build` (this buildx's bake drops "
        f"{', '.join(argv.needs_buildx_build(t))})",
        markup=False,
    )
    own = Tracker([t.name])
    metadata = run_dir / f"metadata-{t.name}.json"
    with Display(own, plain=ci) as display:
        run = executor.build(argv.build_argv(t)[3:], metadata, display.feed, builder=builder)
    tracker.targets[t.name] = own.targets[t.name]
    tracker.logs.update(own.logs)
    tracker.other_lines += own.other_lines
    return _joined(so_far, t.name, run)


def _joined(so_far: executor.BakeRun, name: str, run: executor.BakeRun) -> executor.BakeRun:
    """`so_far` with the `docker buildx build` of target `name` added: its metadata under its
    name, its lines after the others', its outcome."""
    meta = dict(so_far.metadata)
    if run.metadata:
        meta[name] = run.metadata
    return executor.BakeRun(
        run.returncode, meta, [*so_far.other_lines, *run.other_lines], run.interrupted
    )


def _report(
    plan: Plan,
    engine: executor.Engine,
    baked: _Baked,
    fresh: dict[str, uptodate.Record],
    phases: dict[str, float],
) -> Report:
    report = Report(
        project=plan.project,
        version=plan.variables.get("VERSION", ""),
        commit=plan.variables.get("GIT_COMMIT", ""),
        status="ok",
        duration_s=round(baked.elapsed, 2),
        targets=[],
        engine=engine.to_dict(),
        notes=[n for t in plan.targets for n in t.notes],
        phases=phases,
    )
    for t in plan.targets:
        if t.name in fresh:
            report.targets.append(_up_to_date(t, fresh[t.name]))
        elif t.name not in baked.tracker.targets:
            # an input only, and every target consuming it was up to date: nothing to build
            report.targets.append(TargetResult(t.name, NOT_NEEDED, base_images=_bases_used(t)))
        else:
            report.targets.append(_result(t, baked.tracker, baked.result.metadata, baked.failed))
    return report


def _write_report(plan: Plan, report: Report, args: argparse.Namespace, ci: bool) -> None:
    report_path = args.report or Path(plan.root) / ".orchestrator" / "report.json"
    write_json(report, report_path)
    if ci:
        write_step_summary(report)
        write_github_outputs(report)
    print_summary(report)
    console.err.print(f"report: {report_path}", markup=False)


def _raise_for(plan: Plan, baked: _Baked) -> None:
    if baked.result.interrupted:
        raise Interrupted("interrupted; no tags were pushed (see the report for what finished)")
    if baked.failed:
        tracker = baked.tracker
        lines = [line for name in baked.names for line in tracker.failure_lines(name)]
        lines += tracker.other_lines[-10:]
        # A failing RUN step's output may print a secret it read: mask it like CI logs do.
        hidden = guards.secret_values(plan)
        lines = [guards.mask(line, hidden) for line in lines[-40:]]
        raise BuildFailed("build failed; no tags were pushed", problems=lines)


def _fan_out(loaded: Loaded, args: argparse.Namespace, ci: bool, part: bool) -> int:
    """`builder.driver: fan-out`: every node bakes its platforms at once, then one merge."""
    if part:
        raise UserError(
            "--platform builds a part on this engine; with a fan-out builder every node "
            "builds its own platforms (use --builder to pick a buildx builder instead)"
        )
    if args.verify_reproducible:
        raise UserError("--verify-reproducible is not supported with a fan-out builder yet")
    if not args.skip_checks:
        preflight.run_checks(loaded, args)
    root = Path(loaded.plan.root)
    run_dir = _run_dir(root)
    _make_output_dirs(loaded.plan)
    report, failures = fanout.run(loaded, run_dir)
    _write_report(loaded.plan, report, args, ci)
    if failures:
        failed = sorted({t.node for t in report.targets if t.status != "built"})
        raise BuildFailed(
            f"fan-out: node {', '.join(failed)} failed; nothing was tagged",
            problems=[guards.mask(x, guards.secret_values(loaded.plan)) for x in failures[-40:]],
        )
    return 0


@contextlib.contextmanager
def _local_cache_locks(plan: Plan) -> Iterator[None]:
    """Runs sharing a `type=local` cache directory take turns: BuildKit's local cache store is
    not safe for two writers (they collide in its `ingest/` directory and the export fails)."""
    folders: set[Path] = set()
    for t in plan.targets:
        for spec in (*t.cache_from, *t.cache_to):
            fields = specs.fields(spec)
            where = fields.get("dest") or fields.get("src")
            if fields.get("type") == "local" and where:
                folders.add(Path(where))
    with contextlib.ExitStack() as stack:
        for folder in sorted(folders):  # one order for all runs: they never wait in a cycle
            folder.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context((folder / ".orchestrator.lock").open("a"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                console.err.print(f"waiting for another run using cache {folder}", markup=False)
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _make_output_dirs(plan: Plan) -> None:
    """buildx writes archives but does not create their directories."""
    for t in plan.targets:
        for spec in t.outputs:
            fields = specs.fields(spec)
            dest = fields.get("dest")
            if dest and fields.get("type") in ("oci", "docker", "tar"):
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
            elif dest and fields.get("type") == "local":
                Path(dest).mkdir(parents=True, exist_ok=True)


def _checks_and_engine(
    loaded: Loaded, args: argparse.Namespace
) -> tuple[str | None, executor.Engine]:
    """Dockerfile checks (files + hadolint) and the engine query (two docker CLI calls) are
    independent and both on every build's critical path: they run side by side. A check error
    still stops the build before anything is built."""

    def engine() -> tuple[str | None, executor.Engine]:
        builder = args.builder or _ensure_builder(loaded)
        return builder, executor.engine_info(builder)

    # The registry client is needed right after (bases referenced by tag are resolved before
    # anything is keyed): imported meanwhile, while this thread mostly waits on processes.
    executor.preload()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(engine)
        if not args.skip_checks:
            preflight.run_checks(loaded, args)
        return answer.result()


def _ensure_builder(loaded: Loaded) -> str | None:
    """The manifest's builder, created (or completed with missing nodes) if needed."""
    spec = loaded.manifest.builder
    if spec is None or spec.driver == "docker":
        return spec.name if spec else None
    argvs = builders.create_argvs(spec, executor.builder_nodes(spec.name))
    for cmd in argvs:
        console.err.print("builder: " + " ".join(cmd), markup=False)
    executor.ensure_builder(argvs)
    return spec.name


def _result(
    t: TargetPlan, tracker: Tracker, metadata: dict[str, object], failed: bool
) -> TargetResult:
    progress = tracker.targets[t.name]
    meta = metadata.get(t.name)
    digest = meta.get("containerimage.digest") if isinstance(meta, dict) else None
    if digest:
        status = "ok"
    elif failed:
        if progress.failed:
            status = "failed"
        elif progress.total and progress.done == progress.total:
            status = "built"  # every step done, but the run did not finish: no tags for it
        else:
            status = "not finished" if progress.total else "not started"
    else:
        status = "ok"
    duration = None
    if progress.started_at is not None and progress.finished_at is not None:
        duration = round(progress.finished_at - progress.started_at, 2)
    return TargetResult(
        name=t.name,
        status=status,
        tags=list(t.tags) if (t.load or t.push) else [],
        digest=str(digest) if digest else None,
        duration_s=duration,
        steps=progress.total,
        cached_steps=progress.cached,
        base_images=_bases_used(t),
        # The failing step and BuildKit's reason, as the error lines show them (CI reads it).
        error="; ".join(f"{s.name}: {s.error}" for s in progress.failed)
        if status == "failed"
        else "",
    )


def _bases_used(t: TargetPlan) -> list[BaseUsed]:
    # One line per distinct image, however many stages use it.
    return list(
        dict.fromkeys(
            BaseUsed(b.ref, b.source, b.digest, b.digest is not None) for b in t.base_images
        )
    )


def _up_to_date(t: TargetPlan, record: uptodate.Record) -> TargetResult:
    return TargetResult(
        name=t.name,
        status=UP_TO_DATE,
        tags=list(record.tags),
        digest=record.digest,
        platforms=dict(record.platforms),
        pushed=t.push,
        base_images=_bases_used(t),
    )


def _remember(
    plan: Plan,
    report: Report,
    prints: dict[str, uptodate.Fingerprint],
    root: Path,
    wall_start: float,
) -> None:
    """Record what each built target produced, so the next identical build can skip it."""
    for t, res in zip(plan.targets, report.targets, strict=True):
        key = prints[t.name].key
        if res.status != "ok" or not res.digest or key is None:
            continue
        if not uptodate.recordable(prints[t.name], wall_start):
            continue
        tags = t.tags if t.load else ()
        loaded = executor.image_digests(tags)  # one engine call for all of them
        if len(loaded) != len(tags):
            continue  # a loaded tag is already gone: nothing to vouch for
        record = uptodate.Record(key, res.digest, tuple(t.tags), dict(res.platforms), loaded)
        uptodate.write(root, t.name, record)


def _publish(plan: Plan, report: Report, part_prints: dict[str, parts.Whole] | None = None) -> None:
    """Tags go on only after every target built, was pushed and was signed: all or nothing
    under a release tag, and never a tag on an unsigned image (docs/DESIGN.md, "Signing"). A
    part gets no tag and no signature: its record says what `publish` needs to merge it."""
    part_prints = part_prints or {}
    todo = [
        (t, res)
        for t, res in zip(plan.targets, report.targets, strict=True)
        if t.push and res.status != UP_TO_DATE
    ]
    for t, res in todo:
        if not res.digest:
            raise BuildFailed(f"{t.name}: buildx reported no digest; nothing was tagged")
        copy = argv.copy_argv(t)
        if copy:
            console.err.print(f"{t.name}: copying the OCI archive (digests kept)", markup=False)
            executor.copy_archive(copy, f"{t.name}: pushing {t.repository}")
    signed = [(t, res) for t, res in todo if t.sign and res.digest and t.name not in part_prints]
    with concurrent.futures.ThreadPoolExecutor(max_workers=PUBLISH_WORKERS) as pool:
        # Each signature is its own cosign process and registry round trips: side by side.
        signatures = pool.map(lambda pair: signing.sign(plan, pair[0], str(pair[1].digest)), signed)
        for (_, res), signature in zip(signed, signatures, strict=True):
            res.signature = signature
        for t, _ in todo:
            if t.tags and t.name not in part_prints:
                console.err.print(f"{t.name}: tagging {', '.join(t.tags)}", markup=False)
        # Targets are independent, and so are a target's tags and its read-backs: they all go
        # out side by side (a tag is one PUT, a read-back one GET: round trips, not work). The
        # first failure is raised once the others finished; every target was signed before
        # any tag went on.
        done = [
            (
                res,
                pool.submit(_tag_one, t, res, part_prints),
                pool.submit(_read_back, plan, t, res, part_prints),
            )
            for t, res in todo
        ]
        for res, tagged, read in done:
            tagged.result()
            read.result()
            res.pushed = True


# Each request waits on the registry (a tag PUT took ~70 ms on the loaded local registry),
# not on us: 16 side by side published 30 two-tag targets in 0.76-1.28 s against 8's 1.2-1.5 s
# (measured alternating, 2026-12-01).
PUBLISH_WORKERS = 16


def _tag_one(t: TargetPlan, res: TargetResult, part_prints: dict[str, parts.Whole]) -> None:
    """A target's tags (a part gets none: `publish` merges the parts and tags the result)."""
    if t.tags and t.name not in part_prints:
        executor.publish(t.tags, f"{t.repository}@{res.digest}")


def _read_back(
    plan: Plan, t: TargetPlan, res: TargetResult, part_prints: dict[str, parts.Whole]
) -> None:
    """A target's read-backs: per-platform digests and attestations, or a part's record."""
    source = f"{t.repository}@{res.digest}"
    res.platforms = executor.platform_digests(source)
    if t.name in part_prints:
        res.tags = []
        res.part = parts.record(
            plan, t, part_prints[t.name], str(res.digest), res.platforms
        ).to_dict()
        return
    if t.provenance != "false" or t.sbom:
        res.attestations = signing.attestations(t.repository, str(res.digest))


def _verify_outputs(outputs: Sequence[str]) -> list[str]:
    """The second build's exporters: the same ones writing other files (the first build's
    archives must stay for the push), never a push."""
    return [
        o.replace(".tar", ".verify.tar") if o.startswith(("type=oci", "type=docker,dest")) else o
        for o in outputs
        if not o.startswith("type=image")
    ] or ["type=cacheonly"]


def _verify_reproducible(
    plan: Plan,
    report: Report,
    definition: Path,
    run_dir: Path,
    builder: str | None,
    direct: Sequence[str] = (),
) -> None:
    """Build everything again without cache and compare digests before anything is tagged.
    Targets built with `docker buildx build` the first time (`direct`: keys this buildx's bake
    drops, such as network or extra-hosts) are built again the same way: through bake they
    would be built without those keys, and differ for that reason alone."""
    data = json.loads(definition.read_text(encoding="utf-8"))
    for name, target in data["target"].items():
        target["no-cache"] = True
        target["output"] = _verify_outputs(target.get("output", []))
        data["target"][name] = target
    second = run_dir / "bake-verify.json"
    second.write_text(json.dumps(data, indent=2), encoding="utf-8")
    metadata = run_dir / "metadata-verify.json"
    names = [t.name for t in plan.targets if t.name not in direct]
    console.err.print("verify-reproducible: building again without cache", markup=False)
    again = executor.BakeRun(0, {})
    if names:
        with Display(Tracker(names), plain=True) as display:
            again = executor.bake(second, names, metadata, display.feed, builder=builder)
    for t in plan.targets:
        if t.name not in direct or again.returncode != 0 or again.interrupted:
            continue
        twin = dataclasses.replace(t, no_cache=True, outputs=tuple(_verify_outputs(t.outputs)))
        with Display(Tracker([t.name]), plain=True) as display:
            run = executor.build(
                argv.build_argv(twin)[3:],
                run_dir / f"metadata-verify-{t.name}.json",
                display.feed,
                builder=builder,
            )
        again = _joined(again, t.name, run)
    if again.returncode != 0 or again.interrupted:
        raise BuildFailed("verify-reproducible: the second build failed; nothing was tagged")
    differ = []
    for res in report.targets:
        meta = again.metadata.get(res.name)
        other = meta.get("containerimage.digest") if isinstance(meta, dict) else None
        if other != res.digest:
            differ.append(f"{res.name}: first build {res.digest}, second build {other}")
    if differ:
        raise BuildFailed("not reproducible; nothing was tagged", problems=differ)
    console.err.print("verify-reproducible: identical digests", markup=False)
