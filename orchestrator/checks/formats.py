"""Findings as text (grouped, styled for a terminal), JSON, and SARIF 2.1.0 for code scanning.

Renderers are separate from rules, as in hadolint: the same list of findings feeds all three.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from orchestrator import __version__
from orchestrator.checks import SEVERITIES, Finding, Rule, Severity, counts
from orchestrator.checks.hadolint import help_uri

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def display_path(path: str, base: Path | None = None) -> str:
    """Relative to `base` (or the cwd) when inside it: short, clickable in terminals."""
    try:
        return os.path.relpath(path, base or Path.cwd()) if Path(path).is_absolute() else path
    except ValueError:
        return path


def summary(findings: Sequence[Finding]) -> str:
    n = counts(findings)
    parts = [f"{n[s]} {s}{'s' if n[s] != 1 and s != 'info' else ''}" for s in SEVERITIES]
    return ", ".join(parts)


def render_text(
    findings: Sequence[Finding], *, min_severity: Severity = "info", base: Path | None = None
) -> list[Text]:
    """Grouped by target, then file; one line per finding and an indented fix.

    Each finding starts with `path:line`, the form terminals and editors jump to."""
    shown = [f for f in findings if SEVERITIES.index(f.severity) <= SEVERITIES.index(min_severity)]
    lines: list[Text] = []
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in shown:
        groups.setdefault((finding.target, finding.file), []).append(finding)
    for (target, file), items in groups.items():
        path = display_path(file, base)
        lines.append(Text.assemble((target, "bold"), " ", (path, "underline")))
        for f in sorted(items, key=lambda f: (f.line or 0, SEVERITIES.index(f.severity), f.code)):
            where = f"{path}:{f.line}" if f.line else path
            lines.append(
                Text.assemble(
                    f"  {where}: ",
                    (f"{f.severity:<7}", _STYLE[f.severity]),
                    " ",
                    (f"{f.code:<6}", "dim"),
                    f" {f.message}",
                )
            )
            if f.fix:
                lines.append(Text(f"      fix: {f.fix}", style="dim"))
    hidden = len(findings) - len(shown)
    tail = f" ({hidden} below {min_severity} not shown)" if hidden else ""
    lines.append(Text(f"{summary(findings)}{tail}", style="bold" if findings else ""))
    return lines


def plain_text(lines: Iterable[Text]) -> str:
    return "".join(f"{line.plain}\n" for line in lines)


def to_dict(finding: Finding, base: Path | None = None) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "file": display_path(finding.file, base),
        "line": finding.line,
        "message": finding.message,
        "fix": finding.fix,
        "target": finding.target,
        "source": finding.source,
        **({"platforms": list(finding.platforms)} if finding.platforms else {}),
    }


def render_json(
    findings: Sequence[Finding],
    *,
    base: Path | None = None,
    contexts: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {
        "version": 1,
        "summary": counts(findings),
        "findings": [to_dict(f, base) for f in findings],
        **(extra or {}),
    }
    if contexts:
        body["contexts"] = list(contexts)
    return json.dumps(body, indent=2) + "\n"


def _sarif_rule(code: str, rules: Mapping[str, Rule], level: Severity) -> dict[str, Any]:
    item = rules.get(code)
    if item is None:  # a hadolint (or notice) code: describe it by its documentation link
        described: dict[str, Any] = {
            "id": code,
            "shortDescription": {"text": code},
            "defaultConfiguration": {"level": _SARIF_LEVEL[level]},
        }
        if code[:2] in ("DL", "SC"):
            described["helpUri"] = help_uri(code)
        return described
    default = item.severity["production"] or item.severity["development"] or "warning"
    return {
        "id": code,
        "name": item.name,
        "shortDescription": {"text": item.summary},
        "help": {"text": f"Fix: {item.fix}"},
        "defaultConfiguration": {"level": _SARIF_LEVEL[default]},
    }


def _sarif_run(
    tool: str, findings: Sequence[Finding], rules: Mapping[str, Rule], base: Path | None
) -> dict[str, Any]:
    # Our run lists every rule (a UI can show what was checked); hadolint's, the codes it hit.
    codes: list[str] = list(rules) if tool == "orchestrator" else []
    for finding in findings:
        if finding.code not in codes:
            codes.append(finding.code)
    levels: dict[str, Severity] = {f.code: f.severity for f in findings}
    results = []
    for f in findings:
        location: dict[str, Any] = {
            "artifactLocation": {"uri": display_path(f.file, base).replace(os.sep, "/")}
        }
        if f.line:
            location["region"] = {"startLine": f.line}
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code),
                "level": _SARIF_LEVEL[f.severity],
                "message": {
                    "text": f"{f.target}: {f.message}" + (f" (fix: {f.fix})" if f.fix else "")
                },
                "locations": [{"physicalLocation": location}],
                "properties": {"target": f.target},
            }
        )
    driver: dict[str, Any] = {
        "name": tool,
        "rules": [_sarif_rule(code, rules, levels.get(code, "warning")) for code in codes],
    }
    if tool == "hadolint":
        driver["informationUri"] = "https://github.com/hadolint/hadolint"
    else:
        driver["version"] = __version__
    return {"tool": {"driver": driver}, "results": results}


def render_sarif(
    findings: Sequence[Finding], rules: Mapping[str, Rule], *, base: Path | None = None
) -> str:
    """One run per tool, as code-scanning UIs expect; paths relative to `base` (the repo)."""
    runs = [
        _sarif_run("orchestrator", [f for f in findings if f.source == "orchestrator"], rules, base)
    ]
    from_hadolint = [f for f in findings if f.source == "hadolint"]
    if from_hadolint:
        runs.append(_sarif_run("hadolint", from_hadolint, rules, base))
    body = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    return json.dumps(body, indent=2) + "\n"
