"""What a build produced, as data, and its three renderings: console table, JSON, Markdown.

The JSON report is the machine interface for later CI steps (digests as outputs); the Markdown
goes to $GITHUB_STEP_SUMMARY when that is set.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from orchestrator import console, outfile, scratch

# Marks a report as ours: `publish --from` refuses any other JSON file in one line.
FORMAT = "orchestrator-report/1"


@dataclass(frozen=True)
class BaseUsed:
    ref: str
    source: str
    digest: str | None
    locked: bool


@dataclass
class TargetResult:
    name: str
    # ok | failed | built (all steps done, the run failed: untagged) | not finished | not started
    status: str
    tags: list[str] = field(default_factory=list)
    digest: str | None = None
    platforms: dict[str, str] = field(default_factory=dict)
    duration_s: float | None = None
    steps: int = 0
    cached_steps: int = 0
    pushed: bool = False
    base_images: list[BaseUsed] = field(default_factory=list)
    error: str = ""
    signature: str = ""  # where cosign stored the index signature (REPO:sha256-….sig)
    attestations: dict[str, list[str]] = field(default_factory=dict)  # platform -> kinds
    # A build of some platforms only (`build --platform`): what `publish` needs (parts.Part).
    part: dict[str, Any] | None = None
    node: str = ""  # the fan-out node that built it, if any


@dataclass
class Report:
    project: str
    version: str
    commit: str
    status: str
    duration_s: float
    targets: list[TargetResult]
    engine: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Wall seconds per phase of this run: prepare (plan, checks, preflight), bake, publish.
    phases: dict[str, float] = field(default_factory=dict)
    # This process's own CPU seconds (user + system, never buildx's): `total` for the run, `bake`
    # while the bake ran, `preload` the registry client's import done meanwhile, and
    # `per_baked_target` = (bake - preload) / targets: reading and showing the progress.
    cpu: dict[str, float] = field(default_factory=dict)
    format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_json(report: Report, path: Path) -> None:
    """Atomic write: two concurrent runs never leave a half-written report behind. `--report`
    names the path: a device, FIFO or directory there is refused in one line (renamed over,
    `--report /dev/null` replaced the machine's /dev/null with a report)."""
    scratch.mkdir(path.parent)
    outfile.write(path, json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n", mode=None)


def markdown(report: Report) -> str:
    lines = [
        f"### {report.project} {report.version} ({report.commit}): {report.status}",
        "",
        "| target | status | tags | digest | platforms | cached | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in report.targets:
        plats = "<br>".join(f"{p} `{d[:19]}`" for p, d in t.platforms.items()) or "-"
        tags = "<br>".join(f"`{x}`" for x in t.tags) or "-"
        dur = f"{t.duration_s:.1f}s" if t.duration_s is not None else "-"
        lines.append(
            f"| {t.name} | {t.status} | {tags} | `{t.digest or '-'}` | {plats} | "
            f"{f'{t.cached_steps}/{t.steps}' if t.steps else '-'} | {dur} |"
        )
    return "\n".join(lines + _supply_markdown(report)) + "\n"


def _supply_markdown(report: Report) -> list[str]:
    rows = [t for t in report.targets if t.signature or t.attestations]
    if not rows:
        return []
    lines = ["", "| target | signature | attestations |", "|---|---|---|"]
    for t in rows:
        kinds = "<br>".join(f"{p}: {', '.join(k) or '-'}" for p, k in t.attestations.items())
        lines.append(f"| {t.name} | `{t.signature or 'unsigned'}` | {kinds or '-'} |")
    return lines


def write_step_summary(report: Report) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown(report))


def write_github_outputs(report: Report) -> None:
    """`digest-<target>` and `tags-<target>` as step outputs for later GitHub Actions steps."""
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            for t in report.targets:
                if t.digest:
                    handle.write(f"digest-{t.name}={t.digest}\n")
                handle.write(f"tags-{t.name}={','.join(t.tags)}\n")


def print_summary(report: Report) -> None:
    if not console.err.is_terminal:
        _print_plain(report)
        return
    table = Table(title=f"{report.project} {report.version} ({report.commit})", show_lines=False)
    for col in ("target", "status", "tags", "digest", "platforms", "cached", "time"):
        table.add_column(col, overflow="fold")
    for t in report.targets:
        table.add_row(
            t.name,
            t.status,
            "\n".join(t.tags) or "-",
            t.digest or "-",
            "\n".join(f"{p} {d[:19]}" for p, d in t.platforms.items()) or "-",
            f"{t.cached_steps}/{t.steps}" if t.steps else "-",
            f"{t.duration_s:.1f}s" if t.duration_s is not None else "-",
        )
    console.err.print(table)
    for t in report.targets:
        _plain_supply(t)
        for base in t.base_images:
            console.plain(f"  {t.name}: base {_base_line(base)}")


def _print_plain(report: Report) -> None:
    """CI logs: one fact per line, nothing wrapped, easy to grep."""
    console.plain(
        f"{report.project} {report.version} ({report.commit}): {report.status} "
        f"in {report.duration_s:.1f}s"
    )
    for t in report.targets:
        dur = f"{t.duration_s:.1f}s" if t.duration_s is not None else "-"
        if t.steps:
            console.plain(f"  {t.name}: {t.status}, {t.cached_steps}/{t.steps} steps cached, {dur}")
        else:
            console.plain(f"  {t.name}: {t.status}")
        if t.digest:
            console.plain(f"    digest {t.digest}")
        for plat, digest in t.platforms.items():
            console.plain(f"    {plat} {digest}")
        for tag in t.tags:
            console.plain(f"    tag {tag}")
        _plain_supply(t)
        for base in t.base_images:
            console.plain(f"    base {_base_line(base)}")


def _base_line(base: BaseUsed) -> str:
    """`ref <- source@digest (locked)`; a source pinned in the Dockerfile itself (`pin --write`)
    already ends in its digest, which is not written twice."""
    state = "locked" if base.locked else "unlocked"
    pin = f"@{base.digest}" if base.digest and "@" not in base.source else ""
    return f"{base.ref} <- {base.source}{pin} ({state})"


def _plain_supply(t: TargetResult) -> None:
    if t.signature:
        console.plain(f"    signature {t.signature}")
    for plat, kinds in t.attestations.items():
        console.plain(f"    attestations {plat}: {', '.join(kinds) or '-'}")
