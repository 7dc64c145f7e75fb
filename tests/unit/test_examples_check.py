"""Every example passes `orchestrator check` cleanly: no error, no warning (hadolint included)."""

from __future__ import annotations

import pytest

from orchestrator.main import main
from tests.conftest import ROOT

EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/builds.yaml"))


def test_the_issue_asks_for_six_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_checks_clean(
    example: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    path = ROOT / "examples" / example / "builds.yaml"
    assert main(["plan", "-f", str(path)]) == 0
    code = main(["check", "-f", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().endswith("0 errors, 0 warnings, 0 info"), out
