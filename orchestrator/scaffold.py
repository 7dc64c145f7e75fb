"""A first builds.yaml for a repository that has Dockerfiles: what `orchestrator init` writes.

Pure: Dockerfiles in, YAML text out (the command does the reading and the writing). Per
Dockerfile it drafts the targets a user would write by hand:

* stages named `production` / `development` become targets of those names;
* otherwise the last stage, which BuildKit builds when there is no `--target`;
* names that plan reads as the stage meant (`_named`): never a stage's name unless that stage
  is the one drafted, never a group's, never another target's;
* platforms `linux/amd64` + `linux/arm64` only where the Dockerfile cross-compiles (a stage
  `FROM --platform=$BUILDPLATFORM` that reads TARGETOS/TARGETARCH/TARGETPLATFORM): elsewhere a
  second platform would mean emulating every RUN step, which the user should choose knowingly;
* tags `semver` + `sha` (release versions from git tags, `sha-<commit>` always), pushed;
  a development stage is loaded into the local engine instead, tagged `dev`;
* `contexts: {base: target:base}` where a Dockerfile builds `FROM base` (or copies
  `--from=base`) and `base` is no registry image but another drafted target: bake's build
  graph, as a monorepo's shared base is meant to be built (see `_links`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator import console, dockerfile
from orchestrator.dockerfile import Dockerfile, Stage
from orchestrator.errors import UserError

# Folders that hold other people's files or tool state, never a project's Dockerfile.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "vendor", ".venv", "venv"})
CROSS_ARGS = ("TARGETARCH", "TARGETOS", "TARGETPLATFORM", "TARGETVARIANT")
MULTI_ARCH = ("linux/amd64", "linux/arm64")
ROLES = ("production", "development")
GROUPS = ("default", "all")  # the groups render() writes: no target may be named like one


@dataclass(frozen=True)
class Draft:
    """One target of the builds.yaml being drafted."""

    name: str
    stage: str | None  # None: the last stage, unnamed or named like the target
    context: str  # relative to the repository root, POSIX
    dockerfile: str  # relative to the context
    platforms: tuple[str, ...]
    tags: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str
    image: str | None = None  # own repository: several Dockerfiles must not share one's tags
    contexts: tuple[tuple[str, str], ...] = ()  # (name in the Dockerfile, "target:<draft>")
    required: tuple[tuple[str, str, int], ...] = ()  # (ARG, its FROM as written, line): no value


def is_dockerfile(name: str) -> bool:
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def find(root: Path) -> list[Path]:
    """Dockerfiles under ROOT (relative paths, sorted), hidden and vendored folders skipped."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(folder, f).relative_to(root) for f in sorted(files) if is_dockerfile(f))
    return sorted(found, key=lambda p: (len(p.parts), p.as_posix()))


def cross_compiles(parsed: Dockerfile) -> bool:
    """A stage runs on the build platform and builds for the target one (Go, Rust, ...)."""
    for stage in parsed.stages:
        if stage.platform is None or "BUILDPLATFORM" not in stage.platform:
            continue
        for ins in stage.instructions:
            if any(arg in ins.content for arg in CROSS_ARGS):
                return True
    return False


def slug(text: str) -> str:
    """A name builds.yaml accepts (letters, digits, '-', '_'; starting with a letter or digit)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_").lower()
    return cleaned or "app"


def _prefix(path: Path, many: bool) -> str:
    """How targets of this Dockerfile are named apart from the others' ('' for a lone one)."""
    if not many:
        return ""
    parts = [*path.parent.parts]
    if path.name != "Dockerfile":
        parts.append(path.name.removeprefix("Dockerfile.").removesuffix(".Dockerfile"))
    return slug("-".join(parts)) if parts else "root"


def drafts(found: Sequence[tuple[Path, Dockerfile]], project: str) -> list[Draft]:
    out = _drafts(found, project)
    return _links(out, {path.as_posix(): parsed for path, parsed in found})


def _drafts(found: Sequence[tuple[Path, Dockerfile]], project: str) -> list[Draft]:
    many = len(found) > 1
    out: list[Draft] = []
    taken = set(GROUPS)
    prefixes: set[str] = set()
    for path, parsed in found:
        if not parsed.stages:
            continue  # no FROM: not a Dockerfile BuildKit can build
        prefix = _unique(_prefix(path, many), prefixes)
        image = f"${{REGISTRY}}/{project}-{prefix}" if prefix else None
        context = path.parent.as_posix()
        platforms = MULTI_ARCH if cross_compiles(parsed) else ()
        required = required_args(parsed)
        names = parsed.stage_names()
        roles = [role for role in ROLES if role in names]
        if not roles:
            last = parsed.stages[-1]
            name, stage = _named(prefix or slug(last.name or project), last, parsed, taken)
            out.append(
                Draft(
                    name,
                    stage,
                    context,
                    path.name,
                    platforms,
                    ("semver", "sha"),
                    ("push",),
                    f"the last stage of {path.as_posix()}",
                    image,
                    required=required,
                )
            )
            continue
        for role in roles:
            meant = next(s for s in parsed.stages if s.name == role)
            name, stage = _named(f"{prefix}-{role}" if prefix else role, meant, parsed, taken)
            dev = role == "development"
            out.append(
                Draft(
                    name,
                    stage,
                    context,
                    path.name,
                    () if dev else platforms,
                    ("dev",) if dev else ("semver", "sha"),
                    ("load",) if dev else ("push",),
                    f"stage {role} of {path.as_posix()}",
                    image,
                    required=required,
                )
            )
    return out


def required_args(parsed: Dockerfile) -> tuple[tuple[str, str, int], ...]:
    """Global ARGs a FROM reads that have no default (`ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`):
    BuildKit refuses the blank base in any stage, so every target of the file needs a value.
    Asked again with each one given a stand-in, to find the ARGs of later stages too."""
    given: dict[str, str] = {}
    found: list[tuple[str, str, int]] = []
    while (blank := parsed.blank_base(given)) is not None:
        stage, names = blank
        if not names:
            break  # `${X:+y}`-like: no one ARG to ask for; plan says so at its line
        for name in names:
            given[name] = "image"
            found.append((name, stage.base, stage.line))
    return tuple(found)


def _unique(prefix: str, prefixes: set[str]) -> str:
    """`prefix`, or with a number when another Dockerfile has it (`a/b/Dockerfile` and
    `a/Dockerfile.b` are both `a-b`): it names the file's image too, and two files pushing
    the same tags are refused by plan."""
    name, n = prefix, 1
    while name and name in prefixes:
        n += 1
        name = f"{prefix}-{n}"
    prefixes.add(name)
    return name


def _named(
    wanted: str, meant: Stage, parsed: Dockerfile, taken: set[str]
) -> tuple[str, str | None]:
    """The target name and `stage:` of a draft meant to build `meant`, the name marked taken.

    plan builds the stage of a target's own name when the file has one, so a folder called
    `builder` must not name the target of a file whose last stage is unnamed and whose first
    is `FROM golang AS builder`: that target would build (and push) the golang stage. Such a
    name gets `-image` added (an unnamed stage cannot be targeted, so only the name can
    differ); a named stage is written as `stage:` whenever the name differs from it.
    Names are lower case (slug) and BuildKit's stage names are compared lower-cased, so a
    plain `in` is its case-insensitive match. Names already given to other targets, or taken
    by the groups init writes, are skipped too: a second `api:` key would not load.
    """
    stages = set(parsed.stage_names())
    name, n = wanted, 1
    while name in taken or (meant.name is None and name in stages):
        n += 1
        name = f"{wanted}-image" if n == 2 else f"{wanted}-image-{n - 1}"
    taken.add(name)
    return name, None if name == meant.name else meant.name


def source(draft: Draft) -> str:
    return (Path(draft.context) / draft.dockerfile).as_posix()


def _links(out: list[Draft], parsed_by_path: dict[str, Dockerfile]) -> list[Draft]:
    """`out` with `contexts:` for the images a draft takes from another drafted target.

    `FROM base` where no stage of the file is called `base` reads as the image `base:latest`
    from Docker Hub: in a monorepo it is almost always the shared base built next door, fed in
    by bake (`contexts: {base: target:base}`); without that line `check` calls it an untagged
    image and `build` pulls the wrong thing. A name is linked when it is a bare word (no tag,
    registry or digest) and names a draft, or the folder of exactly one drafted Dockerfile
    (`FROM base` with `images/base/Dockerfile`). Of that file's drafts the production one is
    taken. A link that would close a cycle is left out: bake cannot build one.
    """
    by_name = {d.name: d for d in out}
    by_folder: dict[str, list[Draft]] = {}
    for d in out:
        folder = Path(d.context).name or "."
        if d.stage != "development" and d.name.split("-")[-1] != "development":
            by_folder.setdefault(slug(folder), []).append(d)
    links: dict[str, dict[str, str]] = {}
    for d in out:
        parsed = parsed_by_path.get(source(d))
        if parsed is None:
            continue
        for name in _external_names(parsed, d.stage or d.name):
            found = by_name.get(name)
            if found is None and len(by_folder.get(name, [])) == 1:
                found = by_folder[name][0]
            if found is None or found.name == d.name or _reaches(links, found.name, d.name):
                continue
            links.setdefault(d.name, {})[name] = found.name
    return [
        replace(d, contexts=tuple((k, f"target:{v}") for k, v in links[d.name].items()))
        if d.name in links
        else d
        for d in out
    ]


BARE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # what docker reads as docker.io/library/X


def _external_names(parsed: Dockerfile, target: str) -> list[str]:
    """Bare image names (no tag, registry or digest) the stages built for `target` pull."""
    stage = parsed.find_stage(target)
    try:
        stages = parsed.stages_for(stage.name if stage and stage.name else None, {})
        refs = [ref for s in stages for ref, _ in parsed.external_images(s, {})]
    except UserError:  # a draft only: plan and check report the real problem
        return []
    names: list[str] = []
    for ref in refs:
        if BARE.fullmatch(ref) and ref not in names:
            names.append(ref)
    return names


def _reaches(links: dict[str, dict[str, str]], start: str, goal: str) -> bool:
    """`start` already depends on `goal` through the links so far (a new goal -> start edge
    would close a cycle)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(links.get(name, {}).values())
    return False


def _required_lines(target: Draft) -> list[str]:
    """`args:` for the ARGs a FROM needs that the Dockerfile gives no default. There is no
    value init could guess, so each reads the variable of its name: plan refuses it in one line
    (`unknown variable ${BASE_IMAGE} ... pass --var BASE_IMAGE=VALUE`) until the user writes
    the image here or passes it, instead of BuildKit failing the build on a blank FROM."""
    lines: list[str] = []
    for name, base, line in target.required:
        lines += [
            f"    # ARG {name} has no default and BuildKit refuses a blank base (line {line}:",
            f"    # FROM {base}): write the image here, or pass --var {name}=IMAGE.",
        ]
    lines.append("    args:")
    lines += [f'      {name}: "${{{name}}}"' for name, _, _ in target.required]
    return lines


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def render(project: str, targets: Sequence[Draft]) -> str:
    """builds.yaml text: every key a user would otherwise look up, with a comment why."""
    lines = [
        "# Written by `orchestrator init`. `orchestrator plan` shows what it resolves to,",
        "# `orchestrator check` the Dockerfile practices; `orchestrator schema` gives editors the",
        "# JSON Schema. Edit freely: init never overwrites this file without --force.",
        "version: 1",
        "",
        "project:",
        f"  name: {project}",
        "  # Override for a real registry: orchestrator build --var REGISTRY=ghcr.io/acme",
        f"  image: ${{REGISTRY}}/{project}",
        "",
        "variables:",
        "  REGISTRY: localhost:5000",
        "",
        "# Base images from a registry copy instead of upstream (air-gapped sites, caches):",
        "# mirrors:",
        "#   debian:bookworm: localhost:5000/library/debian:bookworm",
        "",
        "targets:",
    ]
    for target in targets:
        lines += [f"  {target.name}:", f"    description: {target.description}"]
        if target.stage:
            lines.append(f"    stage: {target.stage}")
        if target.image:
            lines.append(f"    image: {target.image}")
        if target.context != ".":
            lines.append(f"    context: {target.context}")
        if target.dockerfile != "Dockerfile":
            lines.append(f"    dockerfile: {target.dockerfile}")
        if target.required:
            lines += _required_lines(target)
        if target.contexts:
            lines.append(
                "    # Built first in the same bake and fed in: not pulled from a registry."
            )
            lines.append("    contexts:")
            lines += [f"      {name}: {value}" for name, value in target.contexts]
        if target.platforms:
            lines.append(
                "    # The Dockerfile cross-compiles: a second platform needs no emulation."
            )
            lines.append(f"    platforms: {_flow(target.platforms)}")
        lines.append(f"    tags: {_flow(target.tags)}")
        lines.append(f"    outputs: {_flow(target.outputs)}")
    pushed = [t.name for t in targets if "push" in t.outputs]
    lines += ["", "groups:", f"  default: {_flow(pushed or [t.name for t in targets])}"]
    if len(targets) > 1:
        lines.append(f"  all: {_flow(t.name for t in targets)}")
    return "\n".join(lines) + "\n"


def parse_all(root: Path, paths: Sequence[Path]) -> list[tuple[Path, Dockerfile]]:
    """Every Dockerfile found that BuildKit could build; the others (a test fixture that is
    broken on purpose, an unreadable file) are passed over with a line saying why."""
    parsed: list[tuple[Path, Dockerfile]] = []
    for path in paths:
        try:
            parsed.append((path, dockerfile.load(root / path)))
        except UserError as exc:
            console.err.print(f"init: passed over {exc.message}", markup=False, highlight=False)
    return parsed
