"""Shared first steps of every command: manifest + git + overrides -> plan."""

from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator import (
    destinations,
    exposure,
    gitinfo,
    manifest,
    masking,
    overrides,
    scratch,
    variables,
    yamlsrc,
)
from orchestrator.errors import UserError
from orchestrator.lockfile import lock_view, read_lock
from orchestrator.manifest import Manifest
from orchestrator.plan import Plan, key_origin, resolve


@dataclass(frozen=True)
class Loaded:
    manifest: Manifest
    located: yamlsrc.Located
    plan: Plan
    git: gitinfo.GitInfo


def parse_vars(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not variables.NAME_RE.match(name):
            raise UserError(f"--var {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def load(
    args: argparse.Namespace,
    names: list[str] | None = None,
    *,
    sent_required: bool = False,
    every_target: bool = False,
) -> Loaded:
    """builds.yaml, git and the lock resolved into the plan; the Dockerfile copies the plan
    names written (_write_sent: `sent_required` makes a failure to write one an error).
    `every_target`: all the targets builds.yaml names, whatever the command line says."""
    man, located = manifest.load(args.file)
    if every_target:
        names = list(man.targets)
    root = located.path.parent
    scratch.refuse_blocked(root)
    if sent_required:  # build: it writes under .orchestrator whatever the link's target
        scratch.refuse_shipped_link(root)
    cli_vars = parse_vars(args.var)
    # Before anything is interpolated: from here on no output of ours can show these values.
    secret_values = masking.register_manifest(
        [
            (s.id, s.env, s.file)
            for spec in (man.defaults, *man.targets.values())
            for s in spec.secrets or []
        ],
        root,
        os.environ,
        {**man.variables, **cli_vars},
    )
    git = gitinfo.read(root)
    lock = read_lock(root / "builds.lock")
    given = [overrides.parse(s) for s in args.sets]
    plan = resolve(
        man,
        located,
        git,
        names=names if names is not None else list(getattr(args, "targets", []) or []),
        environ=os.environ,
        cli_vars=cli_vars,
        overrides=given,
        lock=lock_view(lock) if lock else None,
    )
    where = functools.partial(key_origin, man, located, given)
    exposure.refuse(plan, secret_values, where)
    destinations.refuse(plan, man.project.allow_outside, where)
    # For every command, not only build: `plan --format bake` output names these files, and may
    # be fed to bake directly. Best effort but for build (a read-only checkout still plans).
    _write_sent(plan, strict=sent_required)
    return Loaded(man, located, plan, git)


def _write_sent(plan: Plan, *, strict: bool) -> None:
    """The Dockerfile copies that keep `.orchestrator/` out of contexts (scratch.write_sent).
    Only build writes through a `.orchestrator` that leads out of the project (a symlink, as
    build writes its reports there): a plan or check of a cloned repository must not write
    wherever a symlink it ships points."""
    root = Path(plan.root)
    if not strict and not (root / scratch.NAME).resolve().is_relative_to(root.resolve()):
        return
    for t in plan.targets:
        if t.dockerfile_sent is None:
            continue
        try:
            scratch.write_sent(Path(t.context), Path(t.dockerfile), Path(t.dockerfile_sent))
        except (OSError, UserError) as exc:
            if strict:
                why = exc.message if isinstance(exc, UserError) else exc.strerror or exc
                raise UserError(
                    f"{t.dockerfile_sent}: cannot write the copy of {t.dockerfile} that keeps "
                    f"{scratch.NAME}/ out of target {t.name}'s context: {why}"
                ) from None
