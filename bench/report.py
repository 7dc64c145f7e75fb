"""The results: a table on the console (rich), JSON, and a Markdown table for the README."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import SCHEMA_VERSION
from bench.harness import Figure, Series

README_BEGIN = "<!-- bench:begin -->"
README_END = "<!-- bench:end -->"


def machine_facts() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo")
    mem_bytes = 0
    if meminfo.is_file():
        match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(encoding="utf-8"), re.M)
        mem_bytes = int(match.group(1)) * 1024 if match else 0
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(encoding="utf-8"), re.M)
        cpu = match.group(1).strip() if match else ""
    try:
        nproc = len(os.sched_getaffinity(0))  # what `nproc` prints
    except AttributeError:  # pragma: no cover - not Linux
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "memory_bytes": mem_bytes,
        "memory_gib": round(mem_bytes / 2**30, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


@dataclass
class Results:
    started: datetime
    machine: dict[str, Any]
    engine: dict[str, Any]
    settings: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "date": self.started.isoformat(timespec="seconds"),
            "complete": self.complete,
            "duration_s": round(self.duration_s, 1),
            "machine": self.machine,
            "engine": self.engine,
            "settings": self.settings,
            "notes": self.notes,
            "figures": [f.to_dict() for f in self.figures],
        }


def now() -> datetime:
    return datetime.now(tz=UTC)


# --- formatting -------------------------------------------------------------------------------
def fmt_value(series: Series | None) -> str:
    if series is None or not series.samples:
        return "-"
    value = series.median
    if series.unit == "B":
        return fmt_bytes(value)
    if series.unit != "s":
        return f"{value:.3g} {series.unit}"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def fmt_bytes(value: float) -> str:
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} B"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0.1:
        return f"{value:.2g}x"  # 0.034x, 0.00072x: two significant digits
    return f"{value:.2f}x"


def raw_cell(f: Figure) -> str:
    if f.raw is not None:
        return f"{fmt_ratio(f.raw)} (this run)"
    if f.reference:
        return f"ref {f.reference}"
    return "-"


RESULT = {"pass": "pass", "fail": "FAIL", "info": "info", "error": "ERROR"}


def rows(results: Results) -> list[list[str]]:
    out = []
    for f in results.figures:
        out.append(
            [
                f.id,
                f.title if f.error is None else f"{f.title}: {f.error.splitlines()[0]}",
                fmt_value(f.a),
                fmt_value(f.b),
                fmt_ratio(f.ratio) if not f.unit or f.ratio is None else f"{f.ratio:.3g} {f.unit}",
                raw_cell(f),
                f.goal.text if f.goal else "-",
                RESULT[f.status],
                str(f.pairs),
            ]
        )
    return out


HEADERS = ["#", "Figure (A / B)", "A", "B", "A/B", "Raw buildx", "Goal", "Result", "Runs"]


def headline(results: Results) -> str:
    m, e = results.machine, results.engine
    when = results.started.strftime("%Y-%m-%d %H:%M UTC")
    runs = results.settings.get("runs")
    took = results.duration_s
    total = f"{took / 60:.1f} min" if took >= 60 else f"{took:.0f} s"
    return (
        f"{when} · {m['nproc']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['memory_gib']} GiB RAM · "
        f"Docker Engine {e.get('server', '?')}, buildx {e.get('buildx', '?')} "
        f"({e.get('driver', '?')} driver) · {runs} paired run{'s' if runs != 1 else ''} per "
        f"figure (see Runs), median of the per-run ratios · total {total}"
    )


def print_table(results: Results, console: Console | None = None) -> None:
    console = console or Console(
        file=sys.stdout, width=None if sys.stdout.isatty() else 200, soft_wrap=False
    )
    table = Table(title="orchestrator vs raw docker buildx bake", caption=headline(results))
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    for row in rows(results):
        table.add_row(*row)
    console.print(table)
    for f in results.figures:
        for note in f.notes:
            console.print(f"  {f.id}: {note}", markup=False, highlight=False)
    for note in results.notes:
        console.print(f"  note: {note}", markup=False, highlight=False)


def markdown(results: Results) -> str:
    lines = [
        f"Measured {headline(results)}.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    for row in rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines.append("")
    for f in results.figures:
        if f.a and f.b:
            lines.append(f"- **{f.id}**: A = {f.a.label}; B = {f.b.label}.")
        elif f.a:
            lines.append(f"- **{f.id}**: {f.a.label}.")
        if f.raw_a and f.raw_b:
            lines.append(f"  Raw: {f.raw_a.label} / {f.raw_b.label}.")
    if not results.complete:
        lines.append("")
        lines.append("**Incomplete run**: not every selected case finished.")
    return "\n".join(lines) + "\n"


def write(results: Results, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results.to_dict(), indent=2) + "\n", encoding="utf-8")
    md = out.with_suffix(".md")
    md.write_text(markdown(results), encoding="utf-8")
    return md


def update_readme(readme: Path, table: str) -> None:
    """Replace the block between the bench markers of `readme` with the latest table."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start == -1 or end < start:
        raise ValueError(f"{readme}: no `{README_BEGIN}` … `{README_END}` block to replace")
    new = text[: start + len(README_BEGIN)] + "\n" + table + text[end:]
    readme.write_text(new, encoding="utf-8")
