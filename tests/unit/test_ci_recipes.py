"""The CI recipes in docs/ and .github/ call only commands and flags that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.options import build_parser

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted([*ROOT.glob("docs/ci/*.yml"), *ROOT.glob(".github/workflows/*.yml")])


def _scripts(node: Any) -> list[str]:
    """Every shell line of a workflow (`run:`) or pipeline (`script:` and friends)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                out += value.splitlines()
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                out += [str(v) for v in value]
            else:
                out += _scripts(value)
    elif isinstance(node, list):
        for value in node:
            out += _scripts(value)
    return out


def _calls(path: Path) -> list[list[str]]:
    calls = []
    for line in _scripts(yaml.safe_load(path.read_text(encoding="utf-8"))):
        # A GitHub expression `${{ matrix.x }}` stands for one word.
        words = shlex.split(re.sub(r"\$\{\{.*?\}\}", "VALUE", line), comments=True)
        if words[:1] == ["orchestrator"]:
            calls.append(words[1:])
    return calls


def test_the_fan_out_recipes_exist_and_call_build_platform_and_publish() -> None:
    names = {p.name for p in RECIPES}
    assert {"github-fanout.yml", "gitlab-fanout.yml"} <= names
    for name in ("github-fanout.yml", "gitlab-fanout.yml"):
        calls = _calls(ROOT / "docs" / "ci" / name)
        assert any(c[0] == "build" and "--platform" in c for c in calls), name
        assert any(c[0] == "publish" and c.count("--from") == 2 for c in calls), name


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_orchestrator_call_parses(recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = _calls(recipe)
    assert calls, f"{recipe.name} calls no orchestrator command"
    for words in calls:
        try:
            build_parser().parse_args(words)
        except SystemExit:
            pytest.fail(
                f"{recipe.name}: `orchestrator {shlex.join(words)}`: {capsys.readouterr().err}"
            )
