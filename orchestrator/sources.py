"""Checks that the inputs a build needs exist, without ever reading a secret's value.

Run before any build (exit 2, nothing started); `plan` shows the same problems as warnings.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator import destinations, inputs
from orchestrator.plan import Plan


def problems(plan: Plan, environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    out: list[str] = []
    for t in plan.targets:
        for secret in t.secrets:
            if secret.source == "env" and not env.get(secret.name):
                what = (
                    "which is empty (a CI secret this job is not given, as for a pull request "
                    "from a fork?)"
                    if secret.name in env
                    else "which is not set"
                )
                out.append(
                    f"{t.name}: secret {secret.id!r} needs environment variable {secret.name}, "
                    f"{what}; export it, or mark the secret `required: false`"
                )
            if secret.source == "file":
                inputs.note(secret.name)
            if secret.source == "file" and not Path(secret.name).is_file():
                exists = Path(secret.name).exists()
                what = (
                    "which is not a regular file (a directory, FIFO or device: BuildKit reads "
                    "the file whole)"
                    if exists
                    else "which does not exist (create it, or mark the secret `required: false`)"
                )
                out.append(f"{t.name}: secret {secret.id!r} needs file {secret.name}, {what}")
        for ssh in t.ssh:
            for path in ssh.paths:
                inputs.note(path)
            missing = [p for p in ssh.paths if not Path(p).exists()]
            if missing:
                out.append(f"{t.name}: ssh {ssh.id!r}: {', '.join(missing)} not found")
            if not ssh.paths and not env.get("SSH_AUTH_SOCK"):
                out.append(
                    f"{t.name}: ssh {ssh.id!r} needs an agent (SSH_AUTH_SOCK is not set); "
                    "start ssh-agent, list key paths, or mark it `required: false`"
                )
        for name, value in t.build_contexts.items():
            # BuildKit reads a named context's directory when the bake starts: a missing one
            # failed the bake, where a missing `context:` is refused by plan.
            local = destinations.local_path(value)
            if local is None:
                continue
            inputs.note(local)
            if not local.is_dir():
                what = "which is not a directory" if local.exists() else "which does not exist"
                out.append(f"{t.name}: context {name!r} reads directory {local}, {what}")
    return out
