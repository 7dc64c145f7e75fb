"""Text, JSON and SARIF renderings of the same findings."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.checks import Finding, all_rules
from orchestrator.checks.formats import plain_text, render_json, render_sarif, render_text

ROOT = Path("/repo")
DF = "/repo/app/Dockerfile"
FINDINGS = [
    Finding("OR013", "error", DF, 12, "no USER in stage production", "add USER", "production"),
    Finding(
        "OR009", "warning", DF, 4, "apk add without --no-cache", "use --no-cache", "production"
    ),
    Finding("DL3059", "info", DF, 5, "Multiple consecutive RUN", "see wiki", "dev", "hadolint"),
    Finding("OR015", "warning", DF, None, "no .dockerignore", "add one", "dev"),
]


def test_text_groups_by_target_then_file_whole_file_first_then_by_line() -> None:
    # Every finding starts `path:line:` (path alone for whole-file ones) so editors can jump.
    text = plain_text(render_text(FINDINGS, base=ROOT))
    assert text == (
        "production app/Dockerfile\n"
        "  app/Dockerfile:4: warning OR009  apk add without --no-cache\n"
        "      fix: use --no-cache\n"
        "  app/Dockerfile:12: error   OR013  no USER in stage production\n"
        "      fix: add USER\n"
        "dev app/Dockerfile\n"
        "  app/Dockerfile: warning OR015  no .dockerignore\n"
        "      fix: add one\n"
        "  app/Dockerfile:5: info    DL3059 Multiple consecutive RUN\n"
        "      fix: see wiki\n"
        "1 error, 2 warnings, 1 info\n"
    )


def test_text_is_styled_for_terminals_and_can_hide_info() -> None:
    lines = render_text(FINDINGS, min_severity="warning", base=ROOT)
    error_line = next(line for line in lines if "OR013" in line.plain)
    assert any("red" in str(span.style) for span in error_line.spans)
    plain = plain_text(lines)
    assert "DL3059" not in plain
    assert plain.endswith("1 error, 2 warnings, 1 info (1 below warning not shown)\n")


def test_text_for_no_findings() -> None:
    assert plain_text(render_text([])) == "0 errors, 0 warnings, 0 info\n"


def test_json_lists_findings_with_relative_paths_and_a_summary() -> None:
    body = json.loads(render_json(FINDINGS, base=ROOT, contexts=[{"files": 3}]))
    assert body["version"] == 1
    assert body["summary"] == {"error": 1, "warning": 2, "info": 1}
    assert body["findings"][0] == {
        "code": "OR013",
        "severity": "error",
        "file": "app/Dockerfile",
        "line": 12,
        "message": "no USER in stage production",
        "fix": "add USER",
        "target": "production",
        "source": "orchestrator",
    }
    assert body["findings"][3]["line"] is None
    assert body["contexts"] == [{"files": 3}]


def test_sarif_has_one_run_per_tool_with_rules_and_locations() -> None:
    sarif = json.loads(render_sarif(FINDINGS, all_rules(), base=ROOT))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    ours, theirs = sarif["runs"]
    driver = ours["tool"]["driver"]
    assert driver["name"] == "orchestrator"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids[:3] == ["OR001", "OR002", "OR003"]  # every rule, so UIs show what ran
    by_rule = {r["id"]: r for r in driver["rules"]}
    assert by_rule["OR013"]["defaultConfiguration"] == {"level": "error"}
    assert "Fix:" in by_rule["OR013"]["help"]["text"]

    first = ours["results"][0]
    assert first["ruleId"] == "OR013"
    assert rule_ids[first["ruleIndex"]] == "OR013"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/Dockerfile"},
        "region": {"startLine": 12},
    }
    no_line = next(r for r in ours["results"] if r["ruleId"] == "OR015")
    assert "region" not in no_line["locations"][0]["physicalLocation"]

    assert theirs["tool"]["driver"]["name"] == "hadolint"
    assert theirs["tool"]["driver"]["rules"][0]["helpUri"].endswith("/wiki/DL3059")
    assert theirs["results"][0]["level"] == "note"  # SARIF has no "info"


def test_sarif_without_hadolint_findings_has_a_single_run() -> None:
    sarif = json.loads(render_sarif(FINDINGS[:2], all_rules(), base=ROOT))
    assert len(sarif["runs"]) == 1
