"""The one console object for all human output.

Diagnostics and progress go to stderr so that `plan --format json > p.json` stays clean.
Build logs contain `[` characters, so they are printed with markup and highlighting off.
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

from orchestrator.errors import stdout_guard


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich's default exits 1; a reader that left (`| head`) is handled by stdout_guard.
        raise BrokenPipeError


def _make(stderr: bool) -> Console:
    # CI logs are not terminals; rich already honours NO_COLOR and COLUMNS.
    # emoji=False: engine bytes are data; `root:x:0:0` must not become `root❌0:0`.
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


err = _make(stderr=True)
out = _make(stderr=False)


def result(*objects: Any, **options: Any) -> None:
    """Print a command's result on stdout (`out.print` arguments); see errors.stdout_guard."""
    with stdout_guard():
        out.print(*objects, **options)


def is_ci() -> bool:
    """True in CI systems we know, so progress becomes plain lines and a report is written."""
    return any(
        os.environ.get(name, "").lower() not in ("", "0", "false")
        for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL", "TF_BUILD")
    )


def plain(line: str) -> None:
    """Print a log line verbatim to stderr (no markup: buildx output is full of brackets)."""
    err.print(line, markup=False, highlight=False)
