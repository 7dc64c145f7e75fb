"""A tour of bad input through `orchestrator build`: one-line cause, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import executor
from orchestrator.main import main

from .helpers import BASE, DOCKERFILE, write_project


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("the engine was contacted: something ran before validation")

    monkeypatch.setattr(executor, "engine_info", forbidden)
    monkeypatch.setattr(executor, "bake", forbidden)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("TOKEN", raising=False)


@pytest.mark.parametrize(
    ("yaml_text", "dockerfile", "expected"),
    [
        (
            BASE.replace("tags: [dev]", "tags: dev-only"),
            DOCKERFILE,
            "targets.development.tags: Input should be a valid list (got 'dev-only')",
        ),
        (
            BASE.replace(
                "    stage: development\n", "    stage: development\n    platfrom: [linux/amd64]\n"
            ),
            DOCKERFILE,
            "targets.development.platfrom: unknown key (did you mean 'platforms'?)",
        ),
        (
            BASE.replace("stage: development", "stage: develop"),
            DOCKERFILE,
            "targets.development.stage: ",
        ),
        (
            BASE.replace("tags: [dev]", "tags: ['dev tag']"),
            DOCKERFILE,
            "targets.development.tags: tag 'dev tag' (from 'dev tag') is not a valid tag",
        ),
        (
            BASE.replace("platforms: [linux/amd64]\n", "platforms: [linux/amd65]\n", 1),
            DOCKERFILE,
            "defaults.platforms: invalid platform 'linux/amd65': unknown architecture 'amd65'",
        ),
        (
            BASE,
            DOCKERFILE,
            "production: secret 'token' needs environment variable TOKEN, which is not set",
        ),
        (
            BASE.replace("secrets: [{id: token, env: TOKEN}]", "secrets: []"),
            DOCKERFILE,
            "production: secret 'token' is mounted but not declared under `secrets:` in builds.yaml",
        ),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "missing-stage",
        "invalid-tag",
        "invalid-platform",
        "secret-env-unset",
        "undeclared-secret-mount",
    ],
)
def test_bad_input_is_one_line_exit_2_before_anything_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    yaml_text: str,
    dockerfile: str,
    expected: str,
) -> None:
    path = write_project(tmp_path, yaml_text, dockerfile)
    code = main(["build", "all", "-f", str(path), "--skip-checks"])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    # The cause is on one line of its own, with the file (and line where one applies).
    line = next(x for x in err.splitlines() if expected in x)
    assert str(tmp_path) in line or "production:" in line


def test_missing_stage_line_names_known_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_project(tmp_path, BASE.replace("stage: development", "stage: develop"))
    assert main(["build", "development", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:11: targets.development.stage: " in err
    assert "no stage named 'develop' (stages: builder, development, production)" in err


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["build", "--no-such-flag"])
    assert info.value.code == 2


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for text in ("orchestrator plan production", "--format bake", "Exit codes", "pin --check"):
        assert text in out
