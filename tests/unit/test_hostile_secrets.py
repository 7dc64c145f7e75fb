"""Issue 16, secrets shown: one masking seam for every byte we write, and a secret's value is
refused where it would leave the machine (tag, repository, context, cache ref, output path)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest

from orchestrator import masking
from orchestrator.commands import plan as plan_command
from orchestrator.main import main
from tests.unit import helpers

CANARY = "c4n4ry" + secrets.token_hex(12)
B64 = base64.b64encode(CANARY.encode()).decode()
DOCKERFILE = "FROM busybox:1.35 AS app\nARG NOTE\nRUN --mount=type=secret,id=tok true\n"


def project(tmp: Path, target: str, extra: str = "variables: {MY_TOKEN: ''}\n") -> Path:
    text = (
        "version: 1\n"
        "project: {name: sec, image: localhost:5000/sec}\n" + extra + "targets:\n"
        "  app:\n"
        "    secrets: [{id: tok, env: MY_TOKEN}]\n" + target
    )
    return helpers.write_project(tmp, text, DOCKERFILE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert CANARY not in text
    assert B64 not in text
    return code, text


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MY_TOKEN", CANARY)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("target", "place"),
    [
        ("    tags: ['${MY_TOKEN}']\n", "tags"),
        ("    image: localhost:5000/${MY_TOKEN}\n", "image"),
        ("    outputs: ['local:out-${MY_TOKEN}']\n", "outputs"),
        ("    cache: {local: 'c/${MY_TOKEN}'}\n", "cache (from)"),
        ("    cache: {registry: 'localhost:5000/c${MY_TOKEN}'}\n", "cache (from)"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "check"])
def test_a_secret_value_bound_for_the_registry_is_refused_naming_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, place: str, command: str
) -> None:
    project(tmp_path, target)
    code, text = (
        run(capsys, command, "-f", str(tmp_path / "builds.yaml"), "--no-hadolint")[:2]
        if command == "check"
        else run(capsys, command, "-f", str(tmp_path / "builds.yaml"))
    )
    assert code == 2
    assert f"targets.app.{place}: carries the value of secret 'tok'" in text


@pytest.mark.parametrize(
    ("target", "sets", "origin"),
    [
        ("    tags: ['${MY_TOKEN}']\n", [], "builds.yaml:7: targets.app.tags"),
        ("    images: ['localhost:5000/${MY_TOKEN}']\n", [], "builds.yaml:7: targets.app.images"),
        ("    contexts: {x: './${MY_TOKEN}'}\n", [], "builds.yaml:7: targets.app.contexts.x"),
        ("    cache: {local: 'c/${MY_TOKEN}'}\n", [], "builds.yaml:7: targets.app.cache (from)"),
        ("", ["--set", "app.tags=${MY_TOKEN}"], "--set app.tags=${MY_TOKEN}"),
    ],
)
def test_a_secret_value_bound_for_the_registry_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, sets: list[str], origin: str
) -> None:
    """The refusal named `targets.app.tags` only: no file, no line, nor the --set that set it."""
    project(tmp_path, target)
    code, text = run(capsys, "plan", "-f", "builds.yaml", *sets)
    assert code == 2
    assert f"{origin}: carries the value of secret 'tok'" in text


def test_a_same_named_variable_is_a_secret_value_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_TOKEN")
    project(tmp_path, "    tags: ['${MY_TOKEN}']\n", extra=f"variables: {{MY_TOKEN: {CANARY}}}\n")
    code, text = run(capsys, "plan", "-f", str(tmp_path / "builds.yaml"))
    assert code == 2
    assert "secret 'tok'" in text


def test_an_invalid_reference_made_of_a_secret_is_masked_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", CANARY.upper())  # upper case: not a valid repository
    project(tmp_path, "    image: localhost:5000/${MY_TOKEN}\n")
    capsys.readouterr()
    code = main(["plan", "-f", str(tmp_path / "builds.yaml")])
    text = "".join(capsys.readouterr())
    assert code == 2
    assert CANARY.upper() not in text
    assert "localhost:5000/***" in text


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_check_in_every_format_and_explain_never_shows_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    # An arg carrying the secret is a finding whose text quotes the arg: it must come out masked.
    project(tmp_path, "    args: {NOTE: 'x${MY_TOKEN}'}\n    labels: {note: '${MY_TOKEN}'}\n")
    (tmp_path / CANARY).write_text("a file named like the secret\n", encoding="utf-8")
    manifest = str(tmp_path / "builds.yaml")
    run(capsys, "check", "-f", manifest, "--format", fmt, "--no-hadolint")
    run(capsys, "check", "-f", manifest, "--format", fmt, "--no-hadolint", "--context")
    run(capsys, "check", "-f", manifest, "--no-hadolint", "--explain", CANARY)
    run(capsys, "plan", "-f", manifest, "--format", "json")


def test_a_result_file_is_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path, "    labels: {note: '${MY_TOKEN}'}\n")
    (tmp_path / CANARY).write_text("x\n", encoding="utf-8")
    out = tmp_path / "r" / "c.json"
    run(capsys, "check", "-f", "builds.yaml", "--context", "--format", "json", "--output", str(out))
    text = out.read_text(encoding="utf-8")
    assert CANARY not in text
    assert "***" in text


def test_the_crash_log_is_masked_and_never_written_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, "")

    def boom(*_a: object) -> str:
        raise RuntimeError(f"our bug, holding {CANARY}")

    monkeypatch.setattr(plan_command, "_render", boom)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n", encoding="utf-8")
    (tmp_path / ".orchestrator").mkdir()
    log = tmp_path / ".orchestrator" / "orchestrator-crash.log"
    log.symlink_to(victim)
    code, text = run(capsys, "plan", "-f", "builds.yaml")
    assert code == 3
    assert "our bug, holding ***" in text
    assert victim.read_text(encoding="utf-8") == "untouched\n"
    assert not log.is_symlink()
    assert CANARY not in log.read_text(encoding="utf-8")
    assert "our bug, holding ***" in log.read_text(encoding="utf-8")


def test_the_mask_covers_encoded_forms_and_leaves_short_values() -> None:
    try:
        masking.register([CANARY, "abc", 'q"uote\\d'])
        assert masking.mask(f"a {CANARY} b {B64} abc") == "a *** b *** abc"
        assert masking.mask('"q\\"uote\\\\d"') == '"***"'
    finally:
        masking.clear()
