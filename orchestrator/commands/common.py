"""Shared first steps of every command: manifest + git + overrides -> plan."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from orchestrator import gitinfo, manifest, overrides, variables, yamlsrc
from orchestrator.errors import UserError
from orchestrator.lockfile import lock_view, read_lock
from orchestrator.manifest import Manifest
from orchestrator.plan import Plan, resolve


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


def load(args: argparse.Namespace, names: list[str] | None = None) -> Loaded:
    man, located = manifest.load(args.file)
    root = located.path.parent
    git = gitinfo.read(root)
    lock = read_lock(root / "builds.lock")
    plan = resolve(
        man,
        located,
        git,
        names=names if names is not None else list(getattr(args, "targets", []) or []),
        environ=os.environ,
        cli_vars=parse_vars(args.var),
        overrides=[overrides.parse(s) for s in args.sets],
        lock=lock_view(lock) if lock else None,
    )
    return Loaded(man, located, plan, git)
