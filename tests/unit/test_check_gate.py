"""The gate teams adopt: builds.yaml `checks:` (fail-on, severities, ignores with a reason) and
the baseline (`check --write-baseline`; afterwards only new findings fail, fixed ones are
reported). `check` and `build` judge the same way. No daemon; hadolint off for speed."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from orchestrator.checks import Finding
from orchestrator.checks import gate as gate_
from orchestrator.main import main

DOCKERFILE = """\
FROM alpine:3.20 AS production
RUN apk add curl
CMD ["/app"]
"""
# production findings: OR009 warning (line 2), OR013 error (line 1, pushed + no USER),
# OR014 warning (no HEALTHCHECK), OR015 warning (no .dockerignore).


def _project(tmp_path: Path, checks: str = "", dockerfile: str = DOCKERFILE) -> Path:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "builds.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            project: {name: app, image: localhost:5000/app}
            targets:
              production: {outputs: [push]}
            """
        )
        + textwrap.dedent(checks)
    )
    return tmp_path / "builds.yaml"


def _check(capsys: pytest.CaptureFixture[str], manifest: Path, *extra: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["check", "-f", str(manifest), "--no-hadolint", "--format", "json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.startswith("{") else out


def _codes(body: Any) -> set[tuple[str, str]]:
    return {(f["code"], f["severity"]) for f in body["findings"]}


def test_default_gate_fails_on_errors_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body = _check(capsys, _project(tmp_path))
    assert code == 1
    assert ("OR013", "error") in _codes(body)
    assert body["failed"] is True


def test_fail_on_warning_and_never(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    never = _project(tmp_path, "checks: {fail-on: never}\n")
    assert _check(capsys, never)[0] == 0
    # A target's own fail-on wins over the top-level one.
    per_target = _project(
        tmp_path,
        "checks: {fail-on: never, severity: {OR013: warning}}\n",
    )
    assert _check(capsys, per_target)[0] == 0
    strict = _project(tmp_path, "checks: {fail-on: warning, severity: {OR013: info}}\n")
    code, body = _check(capsys, strict)
    assert code == 1  # OR009/OR014/OR015 warnings now fail
    assert ("OR013", "info") in _codes(body)


def test_target_checks_override_the_top_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path, "checks: {fail-on: warning}\n")
    text = manifest.read_text().replace(
        "production: {outputs: [push]}",
        "production: {outputs: [push], checks: {fail-on: never}}",
    )
    manifest.write_text(text)
    assert _check(capsys, manifest)[0] == 0


def test_severity_off_drops_and_ignore_needs_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(
        tmp_path,
        """\
        checks:
          severity: {OR014: off}
          ignore:
            - {code: OR013, reason: "entrypoint drops to uid 10001 via a custom launcher"}
        """,
    )
    code, body = _check(capsys, manifest)
    assert code == 0
    codes = {c for c, _ in _codes(body)}
    assert "OR014" not in codes
    assert "OR013" not in codes
    assert [(i["code"], i["reason"]) for i in body["ignored"]] == [
        ("OR013", "entrypoint drops to uid 10001 via a custom launcher")
    ]
    no_reason = _project(tmp_path, "checks: {ignore: [{code: OR013, reason: ' '}]}\n")
    capsys.readouterr()
    assert main(["check", "-f", str(no_reason), "--no-hadolint"]) == 2
    err = capsys.readouterr().err
    assert "checks.ignore[0].reason" in err
    assert "say why the finding is accepted" in err


def test_ignore_by_path_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = _project(
        tmp_path, "checks: {ignore: [{code: OR013, reason: r, path: 'other/*'}]}\n"
    )
    assert _check(capsys, elsewhere)[0] == 1
    here = _project(tmp_path, "checks: {ignore: [{code: OR013, reason: r, path: 'Docker*'}]}\n")
    assert _check(capsys, here)[0] == 0


def test_unknown_code_in_severity_is_a_manifest_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path, "checks: {severity: {root: warning}}\n")
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint"]) == 2
    assert "is not a check code" in capsys.readouterr().err


def test_baseline_accepts_todays_findings_and_reports_fixed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path)
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 0
    assert "wrote 4 finding(s) to" in capsys.readouterr().out
    baseline = json.loads((tmp_path / gate_.BASELINE).read_text())
    assert baseline["version"] == 1
    assert {e["code"] for e in baseline["findings"]} == {"OR009", "OR013", "OR014", "OR015"}
    assert all(
        e["file"] in ("Dockerfile", ".") or e["file"].endswith("Dockerfile")
        for e in baseline["findings"]
    )

    code, body = _check(capsys, manifest)
    assert (code, body["findings"], body["baselined"]) == (0, [], 4)

    # Lines move (a comment and blank lines above): still the same findings.
    (tmp_path / "Dockerfile").write_text("# app\n\n" + DOCKERFILE)
    code, body = _check(capsys, manifest)
    assert (code, body["findings"], body["baselined"]) == (0, [], 4)

    # A new problem fails; a fixed one is reported as fixed.
    (tmp_path / "Dockerfile").write_text(
        "FROM alpine:3.20 AS production\nRUN apk add --no-cache curl\nCMD /app\n"
    )
    code, body = _check(capsys, manifest)
    assert code == 1
    assert {(f["code"], f["line"]) for f in body["findings"]} == {("OR012", 3)}
    assert [e["code"] for e in body["fixed"]] == ["OR009"]


def test_a_baseline_outside_the_repository_or_over_another_file_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--write-baseline wrote `checks.baseline: ../x.json` outside the repository unasked, and
    its advice for a file that is no baseline was the command that had just refused it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    manifest = _project(repo, "checks: {baseline: ../outside.json}\n")
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 2
    err = capsys.readouterr().err
    assert f"builds.yaml:5: checks.baseline: {tmp_path / 'outside.json'} is outside" in err
    assert not (tmp_path / "outside.json").exists()

    manifest = _project(repo, "checks: {baseline: notes.json}\n")
    (repo / "notes.json").write_text('{"mine": true}\n')
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 2
    assert "not a check baseline (no `version` and `findings`); not overwritten" in (
        capsys.readouterr().err
    )
    assert (repo / "notes.json").read_text() == '{"mine": true}\n'
    # A baseline of another format is replaced (what its message tells the user to do).
    (repo / "notes.json").write_text('{"version": 0, "findings": []}\n')
    assert main(["check", "-f", str(manifest), "--no-hadolint"]) == 2
    assert "rewrite it with `orchestrator check --write-baseline`" in capsys.readouterr().err
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 0
    assert json.loads((repo / "notes.json").read_text())["version"] == gate_.BASELINE_FORMAT


@pytest.mark.parametrize("kind", ["fifo", "deep", "digits"])
@pytest.mark.parametrize("rewriting", [False, True])
def test_a_baseline_that_cannot_be_one_is_one_line_not_a_hang_or_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, rewriting: bool
) -> None:
    manifest = _project(tmp_path, "checks: {baseline: base.json}\n")
    base = tmp_path / "base.json"
    if kind == "fifo":
        os.mkfifo(base)  # a plain read would wait for a writer forever
    else:
        base.write_text("[" * 100_000 + "]" * 100_000 if kind == "deep" else "[" + "1" * 5000 + "]")
    extra = ["--write-baseline"] if rewriting else []
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint", *extra]) == 2
    err = capsys.readouterr().err
    assert str(base) in err
    assert err.count("\n") == 1
    assert base.is_fifo() if kind == "fifo" else base.stat().st_size > 4000  # not overwritten


def test_text_output_says_how_to_silence_or_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path)
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint"]) == 1
    out = capsys.readouterr().out
    assert "# orchestrator:ignore=CODE" in out
    assert "orchestrator check --write-baseline" in out
    assert out.rstrip().endswith("1 error, 3 warnings, 0 info")


def test_build_uses_the_same_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _project(tmp_path)
    capsys.readouterr()
    # Nothing reaches docker: the gate stops the build first (exit 2, the build's user error).
    assert main(["build", "-f", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "new finding(s) at or above fail-on" in err
    assert "--write-baseline" in err


def test_same_finding_twice_needs_two_baseline_entries(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a\nRUN apk add x\nRUN apk add x\n")
    two = [Finding("OR009", "warning", str(path), n, "apk", "", "production") for n in (2, 3)]
    recorded = gate_.fingerprints(two[:1], tmp_path)
    verdict = gate_.judge(two, {}, tmp_path, recorded)
    assert (verdict.baselined, len(verdict.new)) == (1, 1)


def test_baseline_of_one_target_leaves_the_others_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path)
    manifest.write_text(
        manifest.read_text().replace(
            "production: {outputs: [push]}",
            "production: {outputs: [push]}\n  other: {stage: production, outputs: [push]}",
        )
    )
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 0
    both = json.loads((tmp_path / gate_.BASELINE).read_text())["findings"]
    assert {e["target"] for e in both} == {"production", "other"}
    # Checking (and re-baselining) one target neither reports the other's entries as fixed
    # nor drops them from the file.
    code, body = _check(capsys, manifest, "production")
    assert (code, body["fixed"]) == (0, [])
    assert (
        main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline", "production"]) == 0
    )
    assert json.loads((tmp_path / gate_.BASELINE).read_text())["findings"] == both


def test_matrix_expansions_take_their_matrix_targets_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path)
    manifest.write_text(
        manifest.read_text().replace(
            "production: {outputs: [push]}",
            "production:\n    matrix: {v: [a, b]}\n    name: production-${v}\n"
            "    stage: production\n    outputs: [push]\n    checks: {fail-on: never}",
        )
    )
    code, body = _check(capsys, manifest)
    assert {f["target"] for f in body["findings"]} == {"production-a", "production-b"}
    assert code == 0


def test_a_baseline_in_a_folder_not_made_yet_is_written_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`checks: baseline: ci/baseline.json` in a checkout without ci/: exit 3, 'a bug'."""
    manifest = _project(tmp_path, "checks: {baseline: ci/baseline.json}\n")
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 0
    assert json.loads((tmp_path / "ci" / "baseline.json").read_text())["findings"]
    assert _check(capsys, manifest)[0] == 0


def test_a_recorded_finding_builds_yaml_now_silences_is_not_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _project(tmp_path)
    capsys.readouterr()
    assert main(["check", "-f", str(manifest), "--no-hadolint", "--write-baseline"]) == 0
    silenced = _project(
        tmp_path,
        """\
        checks:
          severity: {OR014: off}
          ignore:
            - {code: OR009, reason: curl is what the image is for}
        """,
    )
    code, body = _check(capsys, silenced)
    assert (code, body["findings"], body["fixed"]) == (0, [], [])
    # Really fixed is still reported so.
    (tmp_path / ".dockerignore").write_text(".git\n")
    code, body = _check(
        capsys, _project(tmp_path, "checks: {ignore: [{code: OR009, reason: x}]}\n")
    )
    assert [e["code"] for e in body["fixed"]] == ["OR015"]
