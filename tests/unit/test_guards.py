"""Guards: what is refused before a build starts, and that no message ever shows a secret value.

Every refusal through the CLI is proven to happen before the engine is touched:
`executor.engine_info` (the first call that talks to docker) is patched to fail the test.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from orchestrator import argv, executor, guards, preflight
from orchestrator.errors import PreflightError
from orchestrator.main import main
from tests.unit import helpers

CANARY = "c4n4ry" + secrets.token_hex(16)

DOCKERFILE = """\
FROM busybox:1.35 AS app
ARG VERSION
RUN --mount=type=secret,id=token sh -c 'test -s /run/secrets/token'
"""


def project(tmp: Path, target: str, dockerfile: str = DOCKERFILE) -> Path:
    """A one-target manifest; `target` is the YAML body of target `app` (indented 4)."""
    text = (
        "version: 1\n"
        "project: {name: guarded, image: localhost:5000/guarded}\n"
        "targets:\n"
        "  app:\n" + target
    )
    return helpers.write_project(tmp, text, dockerfile)


WITH_TOKEN = "    secrets: [{id: token, env: TOKEN}]\n"  # noqa: S105 (an id, no value)


def plan_for(tmp: Path, target: str, env: dict[str, str] | None = None) -> Any:
    return helpers.resolve(project(tmp, target), ["app"], env=env or {"TOKEN": CANARY})


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call that would reach docker fails the test."""

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("the engine was reached: the guard did not stop the build")

    monkeypatch.setattr(executor, "engine_info", boom)
    monkeypatch.setattr(executor, "bake_with_retry", boom)
    monkeypatch.setenv("TOKEN", CANARY)
    monkeypatch.setenv("ORCH_DEBUG", "1")  # debug output must not leak either
    monkeypatch.setenv("NO_COLOR", "1")


def run_cli(tmp: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([args[0], "-f", str(tmp / "builds.yaml"), *args[1:]])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    return code, text


def assert_no_canary(text: str, value: str = CANARY) -> None:
    b64 = base64.b64encode(value.encode()).decode()
    assert value not in text
    assert b64 not in text


# --- secret-looking build args -------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "NPM_AUTH_TOKEN",
        "DB_PASSWORD",
        "db_passwd",
        "API_KEY",
        "apikey",
        "AWS_SECRET_ACCESS_KEY",
        "PRIVATE_KEY",
        "REGISTRY_CREDENTIALS",
        "BASIC_AUTH",
    ],
)
def test_secret_looking_arg_name_is_refused(tmp_path: Path, name: str) -> None:
    plan = plan_for(tmp_path, f"    args: {{{name}: harmless}}\n")
    assert guards.problems(plan, {}) == [f"app: build arg {name} looks like a secret by its name"]


@pytest.mark.parametrize(
    "value",
    [
        "ghp_" + "a1B2" * 9,
        "glpat-" + "x" * 20,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "xoxb-1234567890-abcdef",
        "sk-" + "Z" * 32,
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "https://builder:hunter2@proxy.example.com/goproxy",
    ],
)
def test_credential_looking_arg_value_is_refused_without_echoing_it(
    tmp_path: Path, value: str
) -> None:
    plan = plan_for(tmp_path, f"    args: {{GOPROXY: {json.dumps(value)}}}\n")
    found = guards.problems(plan, {})
    assert found == ["app: build arg GOPROXY has a value that looks like a credential"]
    assert value not in "\n".join(found)


@pytest.mark.parametrize(
    "name",
    ["VERSION", "GIT_COMMIT", "GO_VERSION", "BUILD_DATE", "TARGETARCH", "BASE_IMAGE", "KEYRING"],
)
def test_ordinary_args_pass(tmp_path: Path, name: str) -> None:
    plan = plan_for(tmp_path, f"    args: {{{name}: '1.2.3'}}\n" + WITH_TOKEN)
    assert guards.problems(plan, {"TOKEN": CANARY}) == []


def test_ordinary_url_values_pass(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "    args: {GOPROXY: 'https://proxy.golang.org,direct'}\n")
    assert guards.problems(plan, {}) == []


def test_arg_equal_to_a_declared_env_secret_is_refused(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, f"    args: {{CACHE_BUSTER: {CANARY}}}\n" + WITH_TOKEN)
    found = guards.problems(plan, {"TOKEN": CANARY})
    assert found == ["app: build arg CACHE_BUSTER carries the value of secret 'token'"]
    assert_no_canary("\n".join(found))


def test_arg_containing_a_declared_file_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text(CANARY + "\n", encoding="utf-8")
    target = f"    args: {{URL: 'https://x/{CANARY}/y'}}\n    secrets: [{{id: token, file: token.txt}}]\n"
    plan = plan_for(tmp_path, target)
    assert guards.problems(plan, {}) == ["app: build arg URL carries the value of secret 'token'"]


def test_label_carrying_a_secret_is_refused_but_label_names_are_not_judged(tmp_path: Path) -> None:
    target = (
        "    labels:\n"
        "      org.opencontainers.image.authors: team@example.com\n"
        f"      leaked: {CANARY}\n" + WITH_TOKEN
    )
    found = guards.problems(plan_for(tmp_path, target), {"TOKEN": CANARY})
    assert found == ["app: label leaked carries the value of secret 'token'"]


def test_build_refuses_secret_arg_before_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_engine: None
) -> None:
    project(tmp_path, f"    args: {{CACHE_BUSTER: {CANARY}}}\n" + WITH_TOKEN)
    code, text = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert "error: 1 problem(s) before building; nothing was started" in text
    assert "app: build arg CACHE_BUSTER carries the value of secret 'token': " in text
    assert "--allow-secret-args" in text
    assert_no_canary(text)


def test_allow_secret_args_overrides_the_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the override the run gets past every guard to the engine (stubbed to stop there)."""
    monkeypatch.setenv("TOKEN", CANARY)
    reached: list[str | None] = []

    def engine_info(builder: str | None = None) -> None:
        reached.append(builder)
        raise PreflightError("engine reached (test stub)")

    monkeypatch.setattr(executor, "engine_info", engine_info)
    project(tmp_path, "    args: {GITHUB_TOKEN: not-really}\n" + WITH_TOKEN)
    code, text = run_cli(tmp_path, capsys, "build", "app", "--skip-checks")
    assert code == 2
    assert "looks like a secret by its name" in text
    assert reached == []
    code, text = run_cli(tmp_path, capsys, "build", "app", "--skip-checks", "--allow-secret-args")
    assert code == 2
    assert "error: engine reached (test stub)" in text
    assert "looks like a secret" not in text
    assert len(reached) == 1


# --- provenance -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "flag", "attest"),
    [
        ("true", "--provenance=mode=min", "type=provenance,mode=min"),
        ("min", "--provenance=mode=min", "type=provenance,mode=min"),
        ("max", "--provenance=mode=max", "type=provenance,mode=max"),
        ("false", "--provenance=false", "type=provenance,disabled=true"),
    ],
)
def test_provenance_true_means_min_never_max(
    tmp_path: Path, setting: str, flag: str, attest: str
) -> None:
    plan = plan_for(tmp_path, f"    provenance: {setting}\n")
    target = plan.target("app")
    assert flag in argv.build_argv(target)
    assert [a for a in argv.build_argv(target) if a.startswith("--provenance")] == [flag]
    assert attest in argv.bake_target(target)["attest"]


def test_no_provenance_setting_leaves_buildx_default_min(tmp_path: Path) -> None:
    target = plan_for(tmp_path, "    tags: [x]\n").target("app")
    assert target.provenance is None
    assert not [a for a in argv.build_argv(target) if a.startswith("--provenance")]


# --- secret sources and mounts, before building ---------------------------------------------
def test_undeclared_secret_mount_fails_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_engine: None
) -> None:
    project(tmp_path, "    tags: [x]\n")  # the Dockerfile mounts `token`; nothing declares it
    code, text = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert (
        f"{tmp_path / 'Dockerfile'}:3: app: secret 'token' is mounted but not declared under "
        "`secrets:` in builds.yaml"
    ) in text


def test_undeclared_mount_found_in_every_built_stage_only(tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:1.35 AS deps\n"
        "RUN --mount=type=secret,id=npmrc,required=true true\n"
        "FROM busybox:1.35 AS unused\n"
        "RUN --mount=type=secret,id=other true\n"
        "FROM busybox:1.35 AS app\n"
        "COPY --from=deps /etc/hostname /x\n"
    )
    plan = helpers.resolve(project(tmp_path, "    tags: [x]\n", dockerfile), ["app"], env={})
    assert preflight.undeclared_mounts(plan) == [
        f"{tmp_path / 'Dockerfile'}:2: app: secret 'npmrc' is mounted (required=true) but not "
        "declared under `secrets:` in builds.yaml"
    ]


def test_unset_env_var_for_declared_secret_fails_before_building(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_engine: None,
) -> None:
    monkeypatch.delenv("TOKEN", raising=False)
    project(tmp_path, WITH_TOKEN)
    code, text = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert "nothing was started" in text
    assert (
        "app: secret 'token' needs environment variable TOKEN, which is not set; "
        "export it, or mark the secret `required: false`"
    ) in text
    # Empty is not given: GitHub hands a fork's pull request empty secrets.
    monkeypatch.setenv("TOKEN", "")
    code, text = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert "needs environment variable TOKEN, which is empty (a CI secret this job" in text


def test_missing_secret_file_fails_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_engine: None
) -> None:
    project(tmp_path, "    secrets: [{id: token, file: nope/token.txt}]\n")
    code, text = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert (
        f"app: secret 'token' needs file {tmp_path / 'nope' / 'token.txt'}, which does not exist"
        in text
    )


# --- no output of ours shows a value ------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "bake"])
def test_plan_output_names_secrets_by_id_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_engine: None, fmt: str
) -> None:
    file_value = "f1le" + secrets.token_hex(16)
    (tmp_path / "tok.txt").write_text(file_value, encoding="utf-8")
    key = tmp_path / "id_test"
    key_value = "k3y" + secrets.token_hex(16)
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{key_value}\n", encoding="utf-8")
    project(
        tmp_path,
        "    secrets:\n"
        "      - {id: token, env: TOKEN}\n"
        "      - {id: filetok, file: tok.txt}\n"
        "    ssh: [{id: default, paths: [id_test]}]\n",
    )
    code, text = run_cli(tmp_path, capsys, "plan", "app", "--format", fmt)
    assert code == 0
    assert "token" in text
    assert "filetok" in text
    for value in (CANARY, file_value, key_value):
        assert_no_canary(text, value)


def test_plan_masks_a_secret_carried_by_an_arg_or_a_same_named_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_engine: None
) -> None:
    """`plan` does not refuse (it runs nothing), but it never prints the value either."""
    text = (
        "version: 1\n"
        "project: {name: guarded, image: localhost:5000/guarded}\n"
        "variables: {TOKEN: ''}\n"  # takes the environment's TOKEN: the secret itself
        "targets:\n"
        "  app:\n"
        "    args: {STAMP: 'v-${TOKEN}'}\n"
        "    labels: {note: '${TOKEN}'}\n" + WITH_TOKEN
    )
    helpers.write_project(tmp_path, text, DOCKERFILE)
    for fmt in ("text", "json", "bake"):
        code, out = run_cli(tmp_path, capsys, "plan", "app", "--format", fmt)
        assert code == 0
        assert "***" in out or "<secret>" in out
        assert_no_canary(out)
    code, out = run_cli(tmp_path, capsys, "build", "app")
    assert code == 2
    assert "app: build arg STAMP carries the value of secret 'token'" in out
    assert "app: label note carries the value of secret 'token'" in out
    assert_no_canary(out)


def test_failed_step_output_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RUN that prints the secret and fails: the log tail we show has `***` instead."""
    monkeypatch.setenv("TOKEN", CANARY)
    monkeypatch.setenv("NO_COLOR", "1")
    engine = executor.Engine("26.1.5", "0.13.1", "docker", True, ("linux/amd64",), "default")
    monkeypatch.setattr(executor, "engine_info", lambda *_a, **_k: engine)
    monkeypatch.setattr(preflight, "check_engine", lambda *_a, **_k: None)
    vertex = {"digest": "sha256:1", "name": "[app 1/1] RUN cat /run/secrets/token"}
    status = {
        "vertexes": [{**vertex, "started": "t", "completed": "t", "error": "exit code: 1"}],
        "logs": [{"vertex": "sha256:1", "data": base64.b64encode(f"{CANARY}\n".encode()).decode()}],
    }

    def bake(_d: Path, _t: list[str], _m: Path, on_line: Any, **_k: Any) -> executor.BakeRun:
        on_line(json.dumps(status) + "\n")
        on_line(f"ERROR: process did not complete: {CANARY}\n")
        return executor.BakeRun(1, {}, [])

    monkeypatch.setattr(executor, "bake_with_retry", bake)
    project(tmp_path, WITH_TOKEN)
    monkeypatch.chdir(tmp_path)
    code, text = run_cli(tmp_path, capsys, "build", "app", "--skip-checks", "--ci")
    assert code == 1
    assert "| ***" in text
    assert_no_canary(text)
    report = (tmp_path / ".orchestrator" / "report.json").read_text(encoding="utf-8")
    assert_no_canary(report)


def test_secret_values_longest_first_and_short_values_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abcdefgh\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("abcd", encoding="utf-8")
    target = (
        "    secrets:\n"
        "      - {id: b, file: b.txt}\n"
        "      - {id: a, file: a.txt}\n"
        "      - {id: short, env: SHORT}\n"
    )
    plan = plan_for(tmp_path, target, env={"SHORT": "abc"})
    values = guards.secret_values(plan, {"SHORT": "abc"})
    assert values == ["abcdefgh", "abcd"]  # "abc" is too short to mask without mangling text
    assert guards.mask("x abcdefgh y abcd z abc", values) == "x *** y *** z abc"


@pytest.mark.parametrize(
    ("name", "flagged"),
    [
        ("GITHUB_TOKEN", True),
        ("NPM_AUTH_TOKEN", True),
        ("DB_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("API_KEY", True),
        ("auth", True),
        ("PRIVATE_KEY", True),
        ("AUTHOR", False),
        ("TOKENIZER_MODEL", False),
        ("PASSTHROUGH", False),
        ("GIT_COMMIT", False),
        ("KEYBOARD", False),
    ],
)
def test_secret_name_pattern_matches_words_not_substrings(name: str, flagged: bool) -> None:
    assert bool(guards.SECRET_NAME.search(name)) is flagged
