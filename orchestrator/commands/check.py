"""`orchestrator check` (its rules land with the checks issue; `gate` is the hook `build` calls)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.errors import UserError

if TYPE_CHECKING:
    from orchestrator.commands.common import Loaded


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("check", help="(not available yet)")
    common(p)
    p.add_argument("targets", nargs="*", metavar="TARGET|GROUP")


def gate(_loaded: Loaded, _args: argparse.Namespace) -> None:
    """Fail the build when a check finds an error (no rules yet)."""


def run(_args: argparse.Namespace) -> int:
    raise UserError("`orchestrator check` is not available in this version")
