"""Command-line entry point: parse arguments and dispatch; every command returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["plan"]:
        # Before anything else is imported: a replayed plan costs little more than start-up.
        from orchestrator import planmemo

        if planmemo.replay(words):
            return 0
    from orchestrator.errors import error_handler
    from orchestrator.options import build_parser

    parser = build_parser()
    with error_handler(Path(".orchestrator")) as code:
        args = parser.parse_args(words)
        args.words = words  # the exact command line, for the plan memo's key
        code[0] = _dispatch(args)
    return code[0]


def _dispatch(args: argparse.Namespace) -> int:
    # Each command module is imported on demand, so `plan` never pays for docker libraries.
    module = importlib.import_module(f"orchestrator.commands.{args.command}")
    code: int = module.run(args)
    return code
