"""`orchestrator pin` (placeholder until its issue lands: exits 2 with a clear message)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from orchestrator.errors import UserError


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("pin", help="(not available yet)")
    common(p)
    p.add_argument("targets", nargs="*", metavar="TARGET|GROUP")


def run(_args: argparse.Namespace) -> int:
    raise UserError("`orchestrator pin` is not available in this version")
