"""A resolved bake definition -> builds.yaml data: what `orchestrator import` writes.

Pure: the input is what `docker buildx bake -f FILE --print` printed (buildx has already read
the HCL, JSON or compose file, applied `inherits`, variables and functions), the output is the
manifest as plain data plus the list of what could not be carried over. No HCL parser of ours:
buildx's own reading is the only one that cannot disagree with buildx.

Bake names a tag as a full reference (`repo:tag`); builds.yaml names a repository once
(`project.image` or a target's `image`) and tags as templates. So each target's first
repository becomes its image and its tags the tag parts; tags of other repositories are
carried over only where the schema has `images:`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import refs
from orchestrator.bakenames import Declared
from orchestrator.manifest import NAME_PATTERN, TargetSpec
from orchestrator.tags import KEYWORDS

# bake attribute -> builds.yaml key, for the attributes whose values carry over unchanged.
# Checked against the schema at run time: a key the schema does not have (yet) is reported.
SAME_SHAPE = {
    "contexts": "contexts",
    "network": "network",
    "shm-size": "shm-size",
    "ulimits": "ulimits",
    "entitlements": "entitlements",
    "annotations": "annotations",
    "no-cache-filter": "no-cache-filter",
    "pull": "pull",
    "no-cache": "no-cache",
}
HANDLED = {
    "context",
    "dockerfile",
    "target",
    "args",
    "labels",
    "tags",
    "platforms",
    "cache-from",
    "cache-to",
    "secret",
    "ssh",
    "output",
    "attest",
    "extra-hosts",
    *SAME_SHAPE,
}


# (context folder, Dockerfile name) -> the name of its last stage, if it has one.
LastStage = Callable[[Path, str], str | None]


# builds.yaml key -> the bake attribute it was made from: a problem with the generated file
# is named as the user wrote it (`platforms`, `output`), not as we did.
BAKE_KEY = {
    "stage": "target",
    "outputs": "output",
    "secrets": "secret",
    "cache": "cache-from/cache-to",
    "provenance": "attest",
    "sbom": "attest",
    "image": "tags",
    "images": "tags",
}


@dataclass
class Imported:
    data: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # one line per thing not carried over
    # builds.yaml target -> the bake block it came from (a matrix target's is its block's label)
    origin: dict[str, str] = field(default_factory=dict)


def _schema_keys() -> set[str]:
    return {f.alias or n for n, f in TargetSpec.model_fields.items()}


def _split_tag(tag: str) -> tuple[str, str]:
    """`repo:tag` -> (repo, tag); a reference without a tag is `latest`, as docker reads it."""
    ref = refs.parse_reference(tag)
    return ref.name, ref.tag or "latest"


def _csv(entry: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in entry.split(","):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


def _secret(entry: str, where: str, skipped: list[str]) -> dict[str, Any] | None:
    opts = _csv(entry)
    sid = opts.get("id")
    if not sid:
        skipped.append(f"{where}: secret {entry!r}: no id")
        return None
    if "env" in opts:
        return {"id": sid, "env": opts["env"]}
    source = opts.get("src") or opts.get("source")
    if source:
        return {"id": sid, "file": source}
    # buildx's default source for a secret with only an id: the environment variable of that name
    return {"id": sid, "env": sid}


def _ssh(entry: str) -> dict[str, Any]:
    sid, _, paths = entry.partition("=")
    return {"id": sid, "paths": paths.split(",")} if paths else {"id": sid}


def _output(entry: str, where: str, skipped: list[str], folders: tuple[Path, Path]) -> str | None:
    if "," not in entry and not entry.startswith("type="):
        # buildx reads a lone value as a folder to write the result to (`-` as a tar on
        # stdout): `output = ["./bin"]` is `type=local,dest=./bin`.
        if entry == "-":
            skipped.append(f"{where}: output '-' (a tar on stdout): no builds.yaml equivalent")
            return None
        entry = f"type=local,dest={entry}"
    opts = _csv(entry)
    kind = opts.get("type", "")
    if kind == "registry" or (kind == "image" and opts.get("push") == "true"):
        return "push"
    if kind == "docker" and "dest" not in opts:
        return "load"
    if kind in ("oci", "docker", "tar", "local") and opts.get("dest"):
        # bake's dest is relative to the bake file's folder, builds.yaml's to its own.
        return f"{kind}:{_relative(opts['dest'], *folders)}"
    if kind == "cacheonly":
        return None
    skipped.append(f"{where}: output {entry!r}: no builds.yaml equivalent")
    return None


def _cache_entry(entry: str) -> str:
    # bake accepts a bare reference as a registry cache; builds.yaml wants the type written.
    return entry if entry.startswith("type=") else f"type=registry,ref={entry}"


def _attest(entries: list[str], where: str, spec: dict[str, Any], skipped: list[str]) -> None:
    for entry in entries:
        opts = _csv(entry)
        kind = opts.get("type")
        if kind == "provenance":
            if opts.get("disabled") == "true":
                spec["provenance"] = False
            else:
                spec["provenance"] = opts.get("mode", "min")
        elif kind == "sbom" and set(opts) <= {"type", "disabled"}:
            spec["sbom"] = opts.get("disabled") != "true"
        else:
            skipped.append(f"{where}: attest {entry!r}: only provenance and plain sbom carry over")


def _platforms(values: list[str], where: str, skipped: list[str]) -> list[str]:
    """bake's platforms; `local` (the platform buildx itself runs on) has no builds.yaml spelling.

    Left out, which means the builder's default platform: the same one on a local builder,
    the node's own on a remote one. Said either way, since it is not always the same."""
    kept = [p for p in values if p != "local"]
    if len(kept) < len(values):
        then = f"builds {', '.join(kept)} only" if kept else "the builder builds its own platform"
        skipped.append(
            f"{where}: platform 'local' left out (builds.yaml has no name for the platform "
            f"buildx runs on): {then}"
        )
    return kept


def _relative(context: str, source_dir: Path, out_dir: Path) -> str:
    """A bake context (relative to the bake file's folder) relative to the manifest's folder."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", context) or context.startswith("git@"):
        return context
    path = Path(context) if Path(context).is_absolute() else source_dir / context
    return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()


def _target(
    name: str,
    bake: Mapping[str, Any],
    source_dir: Path,
    out_dir: Path,
    schema: set[str],
    imported: Imported,
    last_stage: LastStage | None,
) -> tuple[dict[str, Any], str | None]:
    """builds.yaml fields of one bake target, and the repository its tags are in."""
    where = f"target {name}"
    skipped = imported.skipped
    spec: dict[str, Any] = {}
    context = _relative(str(bake.get("context") or "."), source_dir, out_dir)
    spec["context"] = context
    if bake.get("dockerfile") and bake["dockerfile"] != "Dockerfile":
        spec["dockerfile"] = bake["dockerfile"]
    if bake.get("dockerfile-inline"):
        skipped.append(f"{where}: dockerfile-inline: write the Dockerfile to a file")
    if bake.get("target"):
        spec["stage"] = bake["target"]
    elif last_stage is not None and "://" not in context:
        # No target: bake builds the last stage. Naming it keeps that meaning whether or not
        # a target's name happens to be a stage's too.
        name_of_last = last_stage(out_dir / context, str(bake.get("dockerfile") or "Dockerfile"))
        if name_of_last:
            spec["stage"] = name_of_last
    for key in ("args", "labels"):
        values = {k: v for k, v in (bake.get(key) or {}).items() if v is not None}
        if key == "labels":
            # buildx splits `--label a=b=c` at the first `=`; builds.yaml refuses such keys.
            for bad in [k for k in values if not k.strip() or "=" in k]:
                skipped.append(f"{where}: label {bad!r}: a key with '=' or blank; left out")
                del values[bad]
        if values:
            spec[key] = values
    platforms = _platforms(list(bake.get("platforms") or []), where, skipped)
    if platforms:
        spec["platforms"] = platforms
    repo: str | None = None
    by_repo: dict[str, list[str]] = {}
    for tag in bake.get("tags") or []:
        try:
            tag_repo, tag_name = _split_tag(tag)
        except refs.InvalidReferenceError as exc:
            skipped.append(f"{where}: tag {tag!r}: {exc}")
            continue
        repo = repo or tag_repo
        by_repo.setdefault(tag_repo, []).append(tag_name)
    tags = by_repo.get(repo or "", [])
    others = [r for r in by_repo if r != repo]
    if tags:
        # In builds.yaml `latest`, `sha`, ... are rules (tags.py); bake's are literal tags, so
        # they are carried over as literal ones: `{type: raw, value: latest}`.
        spec["tags"] = [{"type": "raw", "value": t} if t in KEYWORDS else t for t in tags]
    if others:
        if "images" in schema:
            spec["images"] = [repo, *others]
            if any(sorted(by_repo[r]) != sorted(tags) for r in others):
                skipped.append(
                    f"{where}: tags differ between repositories; builds.yaml pushes "
                    f"{', '.join(tags)} to each of {', '.join([repo or '', *others])}"
                )
        else:
            skipped.append(f"{where}: tags in other repositories ({', '.join(others)})")
    cache: dict[str, Any] = {}
    if bake.get("cache-from"):
        cache["from"] = [_cache_entry(e) for e in bake["cache-from"]]
    if bake.get("cache-to"):
        cache["to"] = [_cache_entry(e) for e in bake["cache-to"]]
    if cache:
        spec["cache"] = cache
    secrets = [_secret(e, where, skipped) for e in bake.get("secret") or []]
    if any(secrets):
        spec["secrets"] = [s for s in secrets if s]
    if bake.get("ssh"):
        spec["ssh"] = [_ssh(e) for e in bake["ssh"]]
    folders = (source_dir, out_dir)
    outputs = [_output(e, where, skipped, folders) for e in bake.get("output") or []]
    if any(outputs):
        spec["outputs"] = [o for o in outputs if o]
    elif any(_csv(e).get("type") == "cacheonly" for e in bake.get("output") or []):
        # docker's own repositories run their lint and validate stages this way. builds.yaml
        # exports a target built only as another's input as cache; one named is loaded.
        skipped.append(
            f"{where}: output 'type=cacheonly': builds.yaml has none; as an input of other "
            "targets it stays in the cache, built by name it is loaded (the default)"
        )
    _attest(list(bake.get("attest") or []), where, spec, skipped)
    hosts = bake.get("extra-hosts")
    if hosts:
        if isinstance(hosts, list):
            hosts = dict(str(h).split("=", 1) if "=" in h else str(h).split(":", 1) for h in hosts)
        if "extra-hosts" in schema:
            spec["extra-hosts"] = dict(hosts)
        else:
            skipped.append(f"{where}: extra-hosts: not in builds.yaml yet")
    for key, ours in SAME_SHAPE.items():
        if key in bake and bake[key] not in (None, [], {}, ""):
            if ours in schema:
                spec[ours] = bake[key]
            else:
                skipped.append(f"{where}: {key}: not in builds.yaml yet")
    for key in sorted(set(bake) - HANDLED - {"dockerfile-inline"}):
        skipped.append(f"{where}: {key}: no builds.yaml equivalent")
    return spec, repo


def _places(definition: Mapping[str, Any], declared: Declared | None) -> Callable[[str], Any]:
    """A sort key putting names in the order the file declares them.

    buildx prints targets sorted and some groups in an order of its own (compose's `default`
    differs from run to run): the file's order is the one that stays put. A matrix target takes
    its block's place, in the order buildx expands it; names the file does not show go last,
    sorted."""
    place: dict[str, tuple[int, int]] = {
        name: (i, 0) for i, name in enumerate(declared.names if declared else ())
    }
    for label, group in (definition.get("group") or {}).items():
        if label in place:
            for j, member in enumerate(group.get("targets") or [], start=1):
                place.setdefault(member, (place[label][0], j))
    return lambda name: (*place.get(name, (len(place), 0)), name)


def _origins(definition: Mapping[str, Any], declared: Declared | None) -> dict[str, str]:
    """Printed target -> the block of the file it came from, where that is known."""
    blocks = set(declared.of_kind("target")) if declared else set()
    origin = {name: name for name in definition.get("target") or {} if name in blocks}
    for label, group in (definition.get("group") or {}).items():
        if label in blocks:  # a matrix block: its label names the group of its expansions
            for member in group.get("targets") or []:
                origin.setdefault(member, label)
    return origin


def convert(
    definition: Mapping[str, Any],
    source: Path,
    out_dir: Path,
    project: str,
    last_stage: LastStage | None = None,
    declared: Declared | None = None,
    selected: bool = False,
) -> Imported:
    """The manifest data for a `bake --print` result read from SOURCE, written to OUT_DIR.

    DECLARED is what the file declares (for the file's order, and, when SELECTED, to list what
    the names given on the command line left out)."""
    imported = Imported(data={}, origin=_origins(definition, declared))
    schema = _schema_keys()
    key = _places(definition, declared)
    targets: dict[str, Any] = {}
    repos: dict[str, str | None] = {}
    printed = definition.get("target") or {}
    for name in sorted(printed, key=key):
        bake = printed[name]
        if not re.fullmatch(NAME_PATTERN, name):
            imported.skipped.append(f"target {name}: not a valid builds.yaml name; left out")
            continue
        targets[name], repos[name] = _target(
            name, bake, source.parent, out_dir, schema, imported, last_stage
        )
    # The repository most targets push to becomes project.image; the others name their own.
    counted = [r for r in repos.values() if r]
    image = max(counted, key=counted.count) if counted else "${REGISTRY}/" + project
    for name, repo in repos.items():
        if repo and repo != image:
            targets[name] = {"image": repo, **targets[name]}
    printed_groups = definition.get("group") or {}
    groups = {
        name: list(printed_groups[name].get("targets") or [])
        for name in sorted(printed_groups, key=key)
        if re.fullmatch(NAME_PATTERN, name) and name not in targets
    }
    for name, members in groups.items():
        kept = [m for m in members if m in targets or m in groups]
        if kept != members:
            left = ", ".join(sorted(set(members) - set(kept)))
            imported.skipped.append(f"group {name}: members left out: {left}")
        # bake builds a group's members side by side: their order means nothing to it, and
        # buildx's own order is not stable (a compose file's `default`), the file's is.
        groups[name] = sorted(dict.fromkeys(kept), key=key)
    if selected and declared:
        unnamed = [n for n in declared.names if n not in printed and n not in printed_groups]
        if unnamed:
            imported.skipped.append(f"not named on the command line: {', '.join(unnamed)}")
    data: dict[str, Any] = {"version": 1, "project": {"name": project, "image": image}}
    if image.startswith("${REGISTRY}"):
        data["variables"] = {"REGISTRY": "localhost:5000"}
    data["targets"] = targets
    groups = {k: v for k, v in groups.items() if v}
    if groups:
        data["groups"] = groups
    imported.data = data
    return imported
