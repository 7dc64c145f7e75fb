"""Where a plan writes and what it sends: outside the repository only when asked for.

An output path (`oci:`, `docker:`, `tar:`, `local:`) is written by buildx with our rights, and
a build context (the target's, or a named one that is a directory or an OCI layout) is sent
whole to the builder: `oci:../../x`, `context: /` or `contexts: {x: /etc}` in a manifest you
did not write yourself should not pass unnoticed. So both must resolve inside the directory
of builds.yaml unless `project.allow-outside: true` says otherwise; device and kernel trees
(/dev, /proc, /sys) are refused always (`docker:/dev/sda` is never a result file). Caches are
not judged: a cache directory shared between repositories is the usual setup.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from orchestrator import contexts, scratch, specs
from orchestrator.errors import ManifestError
from orchestrator.plan import Plan

DEVICE_TREES = (Path("/dev"), Path("/proc"), Path("/sys"))


def _inside(path: Path, root: Path) -> bool:
    # `path == root or root in path.parents`, by parts: the same for the absolute, resolved
    # paths of a plan, without building every parent (pathlib's slow part) per target.
    parts = root.parts
    return path.parts[: len(parts)] == parts


def local_path(value: str) -> Path | None:
    """The directory a named context reads from the machine (contexts.local_value made it
    absolute), None for an image, a URL or another target."""
    if value.startswith((contexts.TARGET, contexts.IMAGE)) or contexts.is_remote(value):
        return None
    if value.startswith(contexts.OCI_LAYOUT):
        return Path(value.removeprefix(contexts.OCI_LAYOUT).partition("@")[0])
    return Path(value)


# Where a target's key was written, as `file:line: targets.NAME.KEY` (plan.key_origin): given
# the target's name, the key and, for a mapping, the entry.
Where = Callable[[str, str, str | None], str]


def problems(plan: Plan, allow_outside: bool, where: Where | None = None) -> list[str]:
    """One line per place that must not be read or written, each naming the key as written
    (with `where`, the file and line too)."""
    root = Path(plan.root)
    out: list[str] = []
    for t in plan.targets:
        places: list[tuple[str, str | None, Path]] = [("context", None, Path(t.context))]
        for name, value in t.build_contexts.items():
            # A named context that is a directory (or an OCI layout) is sent like the context.
            local = local_path(value)
            if local is not None:
                places.append(("contexts", name, local))
        for spec in t.outputs:
            dest = specs.fields(spec).get("dest")
            # Our own OCI archives (plan.oci_archive) are not the user's to judge.
            if dest and not dest.startswith(f"{root / scratch.NAME / 'oci'}{os.sep}"):
                places.append(("outputs", None, Path(dest)))
        for key, entry, path in places:
            shown = f"targets.{t.name}.{key}" + (f".{entry}" if entry else "")
            problem = place_problem(shown, path, root, allow_outside)
            if problem is None and key == "outputs":
                problem = _overwrites(shown, path, root)
            if problem and where is not None:
                problem = where(t.name, key, entry) + problem.removeprefix(shown)
            if problem:
                out.append(problem)
    return out


# What an output must never be written over: the repository's own history (a `local:` output
# into .git/hooks is code git runs), and the files this tool reads.
_OWN_FILES = ("builds.yaml", "builds.lock")


def _overwrites(key: str, path: Path, root: Path) -> str | None:
    if path == root:
        return (
            f"{key}: {path} is the repository itself; write the output into a directory of its own"
        )
    if _inside(path, root / ".git"):
        return f"{key}: {path} is inside .git (git's own files: its hooks are run)"
    if path == root / scratch.NAME or (path.parent == root and path.name in _OWN_FILES):
        return f"{key}: {path} is a file or directory this tool keeps; pick another path"
    return None


def place_problem(key: str, path: Path, root: Path, allow_outside: bool) -> str | None:
    """What is wrong with reading or writing `path` (absolute, resolved) for `key`, or None."""
    if any(_inside(path, tree) for tree in DEVICE_TREES):
        return f"{key}: {path} is a device or kernel path"
    if not allow_outside and not _inside(path, root):
        return (
            f"{key}: {path} is outside {root}, the directory of builds.yaml; "
            "set `project.allow-outside: true` if that is intended"
        )
    return None


def refuse(plan: Plan, allow_outside: bool, where: Where | None = None) -> None:
    found = problems(plan, allow_outside, where)
    if len(found) == 1:
        raise ManifestError(found[0])
    if found:
        raise ManifestError(f"{plan.manifest}: {len(found)} problem(s)", problems=found)
