"""Command-line entry point: parse arguments and dispatch; every command returns an exit code."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import error_handler
from orchestrator.options import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    with error_handler(Path(".orchestrator")) as code:
        args = parser.parse_args(argv)
        code[0] = _dispatch(args)
    return code[0]


def _dispatch(args: argparse.Namespace) -> int:
    # Each command module is imported on demand, so `plan` never pays for docker libraries.
    module = importlib.import_module(f"orchestrator.commands.{args.command}")
    code: int = module.run(args)
    return code
