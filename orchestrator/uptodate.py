"""Build avoidance: a target whose inputs and outputs are unchanged is not baked again.

A fully cached bake still costs about a second (solve, exports, registry round trips, cache
export). When nothing a target's image is made from changed since its last successful build in
this checkout, and what that build produced is still where it was put, `build` reports the target
"up to date" and leaves it out of the bake. `build --rebuild` always bakes.

Inputs, all hashed into the target's key (sha256 of canonical JSON):
* its bake entry (context, Dockerfile, stage, args, labels, platforms, outputs, cache, secrets and
  ssh by id and source, named contexts, attestations) and its tags: VERSION and GIT_COMMIT are in
  there, so every commit is a new build;
* every entry under the build context directory and under local named contexts, by path, type,
  size, mode and mtime (ns). Not filtered file by file through .dockerignore (a superset can
  only cause a needless rebuild, never a wrong skip), but two things are left out: the
  directories the ignore file excludes whole, which BuildKit never enters (`.git`, where
  `git status` rewrites the index on every run), and the tool's own `.orchestrator/`. The
  Dockerfile and its ignore files by content;
* the builder (name, driver, DOCKER_HOST, DOCKER_CONTEXT) and this program's version;
* the keys of the targets it consumes (`contexts: {x: target:OTHER}`): a change to OTHER's
  inputs rebuilds every target built FROM it. A consumed target that is always built makes its
  consumers always built too.
* the digest each base image referenced by tag (FROM, `COPY --from`) resolves to in its
  registry right now: one HEAD per distinct image, side by side, before the keys are computed
  (`resolve_bases`). A tag that moved is a new key; one that cannot be resolved makes its
  targets always built. The build itself still pulls by tag, as written;
Never skipped (always baked): a base image whose tag cannot be resolved, an image used by
`RUN --mount from=` or a named context without a digest; `ADD` of a URL or git repository; a
`# syntax=` frontend without a digest; outputs other than push and load; `no-cache`;
reproducible targets (their OCI archive is an output of its own); `--verify-reproducible`; a
context of more than 50,000 entries.
As in BuildKit's own cache, the contents of secrets and ssh keys are not inputs.

Outputs, checked before skipping: every pushed tag resolves in its registry to the recorded index
digest; every loaded tag names the recorded image in the engine's store.

Records live in `.orchestrator/state/<target>.json`, written only after the target was built and
tagged. A context file modified within 2 s before the build started makes the build unrecordable
(a same-tick edit after it would go unseen: git's racy-clean rule).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import __version__, atomic, buildcontext, scratch, specs, textfile
from orchestrator.argv import bake_target
from orchestrator.errors import UserError
from orchestrator.plan import TargetPlan

MAX_ENTRIES = 50_000
RACY_SECONDS = 2.0
_DIGEST = "@sha256:"


@dataclass(frozen=True)
class Fingerprint:
    key: str | None  # None: this target is always baked, `why` says why
    why: str = ""
    newest_ns: int = 0  # latest mtime/ctime among the context entries


@dataclass(frozen=True)
class Record:
    """What a successful build of a target left behind, and the key of the inputs it had."""

    key: str
    digest: str
    tags: tuple[str, ...]
    platforms: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, str] = field(default_factory=dict)  # tag -> image id in the engine's store


def _why_not(t: TargetPlan, bases: Mapping[str, str]) -> str:
    """Why `t` can never be skipped, or "" when it can. `bases`: tag -> digest resolved now."""
    if t.no_cache:
        return "no-cache is set"
    if t.reproducible:
        return "reproducible targets are always built"
    for spec in t.outputs:
        fields = specs.fields(spec)
        kind = fields.get("type")
        pushed = kind == "image" and fields.get("push") == "true"
        # cacheonly: an input of other targets only; it is skipped with them (commands/build.py)
        if not (pushed or spec in ("type=docker", "type=cacheonly")):
            return f"output {spec.split(',')[0]} is not a registry push or a load"
    for base in t.base_images:
        if not base.digest and base.source not in bases:
            return f"{base.ref} is not pinned by digest and its tag could not be resolved"
    for name, source in t.build_contexts.items():
        if source.startswith("target:"):
            continue  # keyed by the consumed target's own key (see fingerprints)
        if not source.startswith("/") and "://" not in source:
            return f"named context {name} ({source}) is not pinned"
        pulled = source.startswith("docker-image://")
        image = source.removeprefix("docker-image://") if pulled else ""
        if "://" in source and not (image and (_DIGEST in image or image in bases)):
            return f"named context {name} ({source.split('://')[0]}) is not pinned"
    parsed = t.model()
    syntax = parsed.directives.get("syntax")
    if syntax and _DIGEST not in syntax[0]:
        return f"the # syntax={syntax[0]} frontend is not pinned by digest"
    stage_names = {s.name for s in parsed.stages if s.name}
    for stage in parsed.built_stages(t.stage, t.args, t.platforms):
        for ins in stage.instructions:
            if ins.keyword == "ADD" and any(
                "://" in word or word.startswith("git@") for word in ins.args.split()
            ):
                return f"{t.dockerfile}:{ins.line}: ADD of a URL or repository is fetched anew"
            for mount in ins.flag_all("mount") if ins.keyword == "RUN" else []:
                fields = dict(part.partition("=")[::2] for part in mount.split(","))
                source = fields.get("from", "")
                external = source and source.lower() not in stage_names and not source.isdigit()
                if external and _DIGEST not in source:
                    return f"{t.dockerfile}:{ins.line}: mount from {source} is not pinned"
    return ""


def _walk(
    top: Path,
    out: list[list[Any]],
    budget: list[int],
    skip: str = "",
    ignored: Callable[[str], bool] | None = None,
) -> int:
    """Append (path, kind, size, mode, mtime) of everything below `top` but the directory
    `skip` and the directories `ignored(relative path)` says BuildKit never enters; the newest
    m/ctime. More entries than `budget` raise OverflowError."""
    newest = 0
    stack = [top]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.path == skip:
                    continue
                st = entry.stat(follow_symlinks=False)
                rel = os.path.relpath(entry.path, top)
                is_dir = stat.S_ISDIR(st.st_mode)
                if is_dir and ignored is not None and ignored(rel):
                    continue
                budget[0] -= 1
                if budget[0] < 0:
                    raise OverflowError
                kind = stat.S_IFMT(st.st_mode)
                link = str(Path(entry.path).readlink()) if stat.S_ISLNK(st.st_mode) else ""
                out.append([rel, kind, st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns, link])
                newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
                if is_dir:
                    stack.append(Path(entry.path))
    out.sort()
    return newest


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# A walked directory: its sorted entries and their newest m/ctime, or why it cannot be walked.
Walked = tuple[list[list[Any]], int] | str


def _excluded_dirs(context: Path, dockerfile: Path) -> tuple[str, Callable[[str], bool] | None]:
    """The ignore file that applies and a test for the directories it excludes with nothing
    inside re-included: BuildKit never enters those (fsutil's SkipDir), so what happens in them
    (git rewriting .git/index on every `git status`, node_modules, build output) cannot reach
    the image."""
    try:
        ignore = buildcontext.read_ignore(context, dockerfile)
    except UserError:
        return "", None  # unreadable: walk everything (the build itself reports the file)
    if not ignore.patterns:
        return "", None
    matcher = buildcontext.Matcher(ignore.patterns)
    return str(ignore.path), lambda rel: matcher.skips(rel, matcher.match(rel)[0])


def _walked(
    top: str,
    walks: dict[str, Walked],
    skip: str = "",
    dockerfile: str | None = None,
) -> Walked:
    """`top` walked once per build, however many targets share it as their context (and ignore
    file). `dockerfile`: `top` is its build context, whose ignore file prunes the walk."""
    ignore, ignored = _excluded_dirs(Path(top), Path(dockerfile)) if dockerfile else ("", None)
    cache = f"{top}\0{ignore}"
    if cache not in walks:
        entries: list[list[Any]] = []
        try:
            walks[cache] = (entries, _walk(Path(top), entries, [MAX_ENTRIES], skip, ignored))
        except OverflowError:
            walks[cache] = f"more than {MAX_ENTRIES} files in the build context"
        except OSError as exc:
            walks[cache] = f"cannot read the build context: {exc.strerror or exc}"
    return walks[cache]


def _by_tag(t: TargetPlan) -> list[str]:
    """The images `t` pulls by tag: its unlocked bases (what BuildKit pulls: the mirror) and
    `docker-image://` named contexts without a digest (how mirrors reach BuildKit)."""
    out = [b.source for b in t.base_images if not b.digest]
    for source in t.build_contexts.values():
        if source.startswith("docker-image://") and _DIGEST not in source:
            out.append(source.removeprefix("docker-image://"))
    return out


def unpinned_bases(targets: Iterable[TargetPlan]) -> list[str]:
    """Every distinct image the targets pull by tag, to resolve before keying them."""
    return list(dict.fromkeys(ref for t in targets for ref in _by_tag(t)))


def resolve_bases(refs: Iterable[str], registry_digest: Callable[[str], str]) -> dict[str, str]:
    """tag -> the digest it resolves to now, asked side by side (one HEAD each); a tag that
    cannot be resolved is left out, so its targets are built."""
    todo = list(refs)
    if not todo:
        return {}
    out: dict[str, str] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
        answers = [(ref, pool.submit(registry_digest, ref)) for ref in todo]
        for ref, answer in answers:
            with contextlib.suppress(UserError):
                out[ref] = answer.result()
    return out


def fingerprints(
    targets: Iterable[TargetPlan],
    builder: tuple[str, ...],
    bases: Mapping[str, str] | None = None,
    scratch_dir: Path | None = None,
) -> dict[str, Fingerprint]:
    """Keys of every target; the plan lists consumed targets first, so a consumer's key can
    include the keys of the targets it reads (`target:` contexts). `bases` maps each base
    image referenced by tag to the digest it resolves to now (resolve_bases). `scratch_dir`
    (the tool's own `.orchestrator/`) is left out of every walk: each build writes its report
    and logs there, so a context holding it would never be up to date (and a file written
    there during the build would make it unrecordable)."""
    walks: dict[str, Walked] = {}
    out: dict[str, Fingerprint] = {}
    skip = str(scratch_dir) if scratch_dir is not None else ""
    for t in targets:
        out[t.name] = fingerprint(t, builder, walks, out, bases, skip)
    return out


def fingerprint(
    t: TargetPlan,
    builder: tuple[str, ...],
    walks: dict[str, Walked] | None = None,
    inputs: dict[str, Fingerprint] | None = None,
    bases: Mapping[str, str] | None = None,
    skip: str = "",
) -> Fingerprint:
    """The key of `t`'s inputs as they are now, or why it has none. `walks` shares directory
    walks between the targets of one build; `inputs` holds the keys of the targets `t`
    consumes; `bases` the digests its tag-referenced base images resolve to now."""
    bases = bases or {}
    why = _why_not(t, bases)
    if why:
        return Fingerprint(None, why)
    consumed: dict[str, str] = {}
    newest = 0
    for other in t.depends_on:
        dep = (inputs or {}).get(other)
        if dep is None or dep.key is None:
            reason = f": {dep.why}" if dep is not None and dep.why else ""
            return Fingerprint(None, f"it consumes {other}, which is always built{reason}")
        consumed[other] = dep.key
        newest = max(newest, dep.newest_ns)  # a racy edit of the input is one of this target
    walks = {} if walks is None else walks
    trees: dict[str, list[list[Any]]] = {}
    local = [s for s in t.build_contexts.values() if s.startswith("/")]
    for top in [t.context, *local]:
        walked = _walked(top, walks, skip, t.dockerfile if top == t.context else None)
        if isinstance(walked, str):
            return Fingerprint(None, walked)
        trees[top], newest = walked[0], max(newest, walked[1])
    if sum(len(entries) for entries in trees.values()) > MAX_ENTRIES:
        return Fingerprint(None, f"more than {MAX_ENTRIES} files in the build context")
    df = Path(t.dockerfile)
    material = {
        "orchestrator": __version__,
        "builder": list(builder),
        "target": bake_target(t),
        "tags": list(t.tags),
        "sign": t.sign,  # an unsigned image is not up to date for a target that signs
        "dockerfile": _text(df),
        "ignore": [_text(Path(f"{df}.dockerignore")), _text(Path(t.context) / ".dockerignore")],
        "trees": trees,
    }
    if consumed:
        material["consumes"] = consumed
    resolved = {ref: bases[ref] for ref in _by_tag(t)}
    if resolved:
        material["bases"] = resolved
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return Fingerprint(hashlib.sha256(text.encode()).hexdigest(), "", newest)


def builder_identity(name: str, driver: str) -> tuple[str, ...]:
    return (name, driver, os.environ.get("DOCKER_HOST", ""), os.environ.get("DOCKER_CONTEXT", ""))


def _path(root: Path, target: str) -> Path:
    return root / ".orchestrator" / "state" / f"{target}.json"


def read(root: Path, target: str) -> Record | None:
    try:
        # textfile: a FIFO (or device) there is refused, not read: a read would wait forever.
        data = json.loads(textfile.read(_path(root, target), "build record"))
        return Record(
            key=str(data["key"]),
            digest=str(data["digest"]),
            tags=tuple(str(x) for x in data["tags"]),
            platforms={str(k): str(v) for k, v in data.get("platforms", {}).items()},
            loaded={str(k): str(v) for k, v in data.get("loaded", {}).items()},
        )
    except (OSError, UserError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None  # not a record of ours: the target is baked


def write(root: Path, target: str, record: Record) -> None:
    path = _path(root, target)
    scratch.mkdir(path.parent)
    atomic.write_text(path, json.dumps(asdict(record), indent=2))


def forget(root: Path, target: str) -> None:
    """A target about to be built loses its record: a failed build must not look up to date."""
    with contextlib.suppress(FileNotFoundError):
        _path(root, target).unlink()


def recordable(print_: Fingerprint, started: float) -> bool:
    """False when a context entry changed within RACY_SECONDS before the build started."""
    return print_.key is not None and print_.newest_ns < (started - RACY_SECONDS) * 1e9


def fresh(
    targets: Iterable[TargetPlan],
    prints: dict[str, Fingerprint],
    root: Path,
    registry_digest: Callable[[str], str],
    engine_image: Callable[[str], str | None],
) -> dict[str, Record]:
    """The targets that need no build: same key as their record, outputs still in place.

    `registry_digest` and `engine_image` are executor functions (passed in: this module never
    talks to docker itself); the output checks of all targets run side by side."""
    candidates: dict[str, Record] = {}
    for t in targets:
        record = read(root, t.name)
        key = prints[t.name].key
        if record is not None and key is not None and record.key == key:
            candidates[t.name] = record
    if not candidates:
        return {}
    by_name = {t.name: t for t in targets}
    checks: list[tuple[str, Callable[[], bool]]] = []
    for name, record in candidates.items():
        t = by_name[name]
        if t.push:
            for tag in t.tags:
                checks.append((name, _same(registry_digest, tag, record.digest)))
        if t.load:
            for tag in t.tags:
                checks.append((name, _same(engine_image, tag, record.loaded.get(tag))))
    stale: set[str] = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = [(name, pool.submit(check)) for name, check in checks]
        for name, answer in answers:
            if not answer.result():
                stale.add(name)
    return {name: r for name, r in candidates.items() if name not in stale}


def _same(
    lookup: Callable[[str], str | None], ref: str, expected: str | None
) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return expected is not None and lookup(ref) == expected
        except UserError:
            return False  # gone from the registry, or unreachable: build it

    return check
