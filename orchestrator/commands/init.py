"""`orchestrator init`: write a first builds.yaml for the Dockerfiles of this repository."""

from __future__ import annotations

import argparse

from orchestrator import atomic, console, manifest, scaffold, yamlsrc
from orchestrator.errors import UserError


def run(args: argparse.Namespace) -> int:
    path = args.file
    root = path.parent
    if path.exists() and not args.force:
        raise UserError(f"{path}: already exists; `orchestrator init --force` replaces it")
    if not root.is_dir():
        raise UserError(f"{root}: no such directory")
    found = scaffold.find(root)
    if not found:
        raise UserError(
            f"{root}: no Dockerfile found (looked for Dockerfile, Dockerfile.*, *.Dockerfile)"
        )
    project = scaffold.slug(args.name or root.resolve().name)
    parsed = scaffold.parse_all(root, found)
    if not parsed:  # each one passed over with its line above: "no FROM" would be wrong
        raise UserError(
            f"{root}: no Dockerfile init could draft from ({len(found)} found, each passed "
            "over above)"
        )
    targets = scaffold.drafts(parsed, project)
    if not targets:
        raise UserError(f"{root}: no Dockerfile with a FROM instruction")
    text = scaffold.render(project, targets)
    # What we write must load: a draft that does not is our bug, not the user's file.
    manifest.validate(yamlsrc.loads(text, path))
    atomic.write_text(path, text, mode=0o644)
    for target in targets:
        for name, base, line in target.required:
            # The draft plans only once this is given: say so now, not at the first plan.
            console.err.print(
                f"init: target {target.name} needs {name}: {scaffold.source(target)}:{line}: "
                f"FROM {base} reads ARG {name}, which has no default; write the image under "
                f"its `args:` in {path} or pass --var {name}=IMAGE",
                markup=False,
                highlight=False,
            )
    console.err.print(
        f"wrote {path}: {len(targets)} target(s) from {len(found)} Dockerfile(s): "
        f"{', '.join(t.name for t in targets)}\n"
        "next: `orchestrator plan` (what would run), `orchestrator check`, `orchestrator build`",
        markup=False,
    )
    return 0
