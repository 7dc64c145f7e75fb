"""Issue 16: the CLI as a user runs it, over generated hostile input.

Every example writes a project (manifest, Dockerfile, .dockerignore, builds.lock) made of
pieces chosen to be awkward (commas and quotes for buildx's CSV specs, `${` forms, YAML 1.1
scalars, globs, non-references, the secret's own value), with a canary secret in the
environment, then runs the real commands in-process: `plan` in every format, `check` in every
format with --context and --explain, `schema`, `build` and `pin` with no engine (DOCKER_HOST
points at a socket nobody listens on). Each must exit 0, 1 or 2, print no traceback, answer
within a time bound, and leave the canary (plain or base64) in no output and no file.

`make test` runs ORCH_FUZZ_EXAMPLES examples (default 12, derandomized, no database); set it
higher for a longer hunt, e.g. `ORCH_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/unit/test_fuzz_cli.py`.
Inputs that failed once are kept below as @example regressions.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.main import main

CANARY = "fuzzc4n4ry0123456789abcdef"
CANARY_FORMS = (CANARY, base64.b64encode(CANARY.encode()).decode())
EXAMPLES = int(os.environ.get("ORCH_FUZZ_EXAMPLES", "12"))
TIME_LIMIT = 20.0  # seconds per command: generous for a loaded CI machine, far from "hangs"

VALUES = [
    "x",
    "${MY_TOKEN}",
    "pre-${MY_TOKEN}",
    "a,type=image,push=true",
    'q"uote',
    "${",
    "${}",
    "${A:-${B:-x}}",
    "$$",
    "on",
    "017",
    "1:30",
    "UPPER",
    "../../outside",
    "/dev/null",
    "sp ace",
    "",
    "\u00e9",
]
OUTPUTS = ["load", "push", "oci:o.tar", "local:d,type=image", "docker:/dev/x", "tar:t.tar"]
DOCKERFILES = [
    "FROM 127.0.0.1:1/base:1 AS app\nRUN true\n",
    "FROM scratch AS app\nCOPY . /\n",
    "ARG B=127.0.0.1:1/b:2\nFROM ${B} AS app\nRUN --mount=type=secret,id=tok true\n",
    "FROM 127.0.0.1:1/x@sha256:" + "a" * 64 + " AS app\n",
    "FROM a AS app\nFROM b AS app\n",
    "FROM\n",
]
IGNORES = ["", "*\n!keep\n", "a*" * 30 + "b\n", "[\n", "**/x\n!**/y*\n", "\\\n", "# c\n.env\n"]
LOCKS = [
    None,
    "version: 1\nimages: {}\n",
    "version: 1\nimages:\n  'UPPER:1': {digest: 'sha256:abc'}\n",
    "images: [1, 2]\n",
    "\x00\x01",
    "version: 1\nimages:\n  127.0.0.1:1/base:1: {digest: 'sha256:" + "b" * 64 + "'}\n",
]


def _scalar(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def projects(draw: Any) -> dict[str, Any]:
    value = st.sampled_from(VALUES)
    target: dict[str, str] = {}
    if draw(st.booleans()):
        target["tags"] = (
            "[" + ", ".join(_scalar(v) for v in draw(st.lists(value, max_size=3))) + "]"
        )
    if draw(st.booleans()):
        target["args"] = (
            "{"
            + ", ".join(
                f"A{i}: {_scalar(v)}" for i, v in enumerate(draw(st.lists(value, max_size=3)))
            )
            + "}"
        )
    if draw(st.booleans()):
        target["labels"] = (
            "{"
            + ", ".join(
                f"l{i}: {_scalar(v)}" for i, v in enumerate(draw(st.lists(value, max_size=2)))
            )
            + "}"
        )
    target["outputs"] = (
        "["
        + ", ".join(
            _scalar(o) for o in draw(st.lists(st.sampled_from(OUTPUTS), min_size=1, max_size=2))
        )
        + "]"
    )
    if draw(st.booleans()):
        target["cache"] = "{local: " + _scalar(draw(value)) + "}"
    if draw(st.booleans()):
        target["reproducible"] = "true"
    image = draw(
        st.sampled_from(
            ["localhost:5000/fz", "localhost:5000/${MY_TOKEN}", "Bad/Ref", "localhost:5000/fz:tag"]
        )
    )
    body = "".join(f"    {k}: {v}\n" for k, v in target.items())
    manifest = (
        "version: 1\n"
        f"project: {{name: fz, image: {_scalar(image)}}}\n"
        "variables: {MY_TOKEN: '', A: '', B: ''}\n"
        "targets:\n"
        f"  {draw(st.sampled_from(['app', 'on', 'yes']))}:\n"
        "    stage: app\n"
        "    secrets: [{id: tok, env: MY_TOKEN}]\n" + body
    )
    return {
        "manifest": manifest,
        "dockerfile": draw(st.sampled_from(DOCKERFILES)),
        "ignore": draw(st.sampled_from(IGNORES)),
        "lock": draw(st.sampled_from(LOCKS)),
    }


COMMANDS = [
    ["plan"],
    ["plan", "--format", "json"],
    ["plan", "--format", "bake"],
    ["check", "--no-hadolint"],
    ["check", "--no-hadolint", "--format", "json", "--context"],
    ["check", "--no-hadolint", "--format", "sarif", "--output", "out/c.sarif"],
    ["check", "--no-hadolint", "--explain", CANARY],
    ["schema", "--output", "out/schema.json"],
    ["build", "--report", "out/report.json"],
    ["build", "--skip-checks", "--ci"],
]


def _run(words: list[str]) -> tuple[int, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(words)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue() + err.getvalue(), time.monotonic() - started


def _check_files(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for form in CANARY_FORMS:
                assert form.encode() not in data, f"canary written to {path}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", CANARY)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    monkeypatch.setenv("ORCH_QUERY_TIMEOUT", "5")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/orchestrator-fuzz.sock")
    monkeypatch.delenv("CI", raising=False)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(projects())
@example(
    {
        "manifest": "version: 1\nproject: {name: fz, image: 'localhost:5000/${MY_TOKEN}'}\n"
        "variables: {MY_TOKEN: ''}\ntargets:\n  app:\n    stage: app\n"
        "    secrets: [{id: tok, env: MY_TOKEN}]\n    outputs: ['local:d,type=image']\n",
        "dockerfile": DOCKERFILES[0],
        "ignore": IGNORES[2],
        "lock": LOCKS[4],
    }
)
def test_the_cli_answers_every_input(
    env: None, tmp_path_factory: pytest.TempPathFactory, project: dict[str, Any]
) -> None:
    root = tmp_path_factory.mktemp("fz")
    (root / "builds.yaml").write_text(project["manifest"], encoding="utf-8")
    (root / "Dockerfile").write_text(project["dockerfile"], encoding="utf-8")
    (root / ".dockerignore").write_text(project["ignore"], encoding="utf-8")
    (root / CANARY).write_text("a file named like the secret\n", encoding="utf-8")
    if project["lock"] is not None:
        (root / "builds.lock").write_text(project["lock"], encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for words in COMMANDS:
            full = [words[0], *([] if words[0] == "schema" else ["-f", "builds.yaml"]), *words[1:]]
            code, text, took = _run(full)
            assert code in (0, 1, 2), (full, code, text)
            assert "Traceback" not in text, (full, text)
            assert "unexpected error" not in text, (full, text)
            assert took < TIME_LIMIT, (full, took)
            for form in CANARY_FORMS:
                assert form not in text, (full, text)
        _check_files(root)
    finally:
        os.chdir(cwd)


def test_pin_without_a_registry_is_one_line(env: None, tmp_path: Path) -> None:
    (tmp_path / "builds.yaml").write_text(
        "version: 1\nproject: {name: fz, image: localhost:5000/fz}\ntargets:\n  app: {}\n",
        encoding="utf-8",
    )
    (tmp_path / "Dockerfile").write_text("FROM 127.0.0.1:1/base:1 AS app\n", encoding="utf-8")
    code, text, took = _run(["pin", "-f", str(tmp_path / "builds.yaml")])
    assert code in (1, 2)
    assert "Traceback" not in text
    assert took < TIME_LIMIT
