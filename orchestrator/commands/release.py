"""`orchestrator release`: the `make release` flow with its safety rails.

1. a clean working tree (a release must be reproducible from its commit) unless --force;
2. VERSION from --var VERSION=…, else the version tag at HEAD, else a dev version (warned);
3. `check` and `pin --check` must pass;
4. build + push the selected targets (default group), tags published only if all succeed;
5. the summary of tags and digests.
"""

from __future__ import annotations

import argparse

from orchestrator import console, tags
from orchestrator.commands.common import load
from orchestrator.errors import UserError


def run(args: argparse.Namespace) -> int:
    # Imported here: registering this sub-command must not slow down `plan`.
    from orchestrator.commands import build, pin

    loaded = load(args)
    values = loaded.plan.variables
    if values.get("GIT_DIRTY") == "true" and not args.force:
        raise UserError(
            "the working tree has uncommitted changes; commit them, or pass --force "
            "(make release FORCE=1) to release anyway"
        )
    version = values.get("VERSION", "")
    if not tags.is_release(version):
        console.err.print(
            f"warning: VERSION {version} is not a plain release: it gets no `latest` and no "
            "short tags (tag the commit vX.Y.Z or pass VERSION=X.Y.Z)",
            markup=False,
        )
    drift = pin.drift(loaded)
    if drift:
        raise UserError(
            "builds.lock does not match the registry or the Dockerfiles; run `orchestrator pin "
            "--update` and commit builds.lock",
            problems=drift,
        )
    args.skip_checks = False
    args.allow_secret_args = False
    return build.run(args)
