"""`orchestrator check` end to end (no daemon): a bad Dockerfile, sample-go-app, the gate."""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from orchestrator.commands import check as check_command
from orchestrator.commands.common import load
from orchestrator.errors import UserError
from orchestrator.main import main
from tests.unit import helpers

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "b" * 64

MANIFEST = """\
version: 1
project: {name: app, image: localhost:5000/app, context: ., dockerfile: Dockerfile}
defaults: {pin: minor}
targets:
  development: {stage: development, outputs: [load]}
  production:
    stage: production
    platforms: [linux/amd64, linux/arm64]
    outputs: [push]
    pin: digest
    secrets: [{id: npm_token, env: NPM_TOKEN}]
"""

# Every problem on its own line; EXPECTED_PRODUCTION says what must be reported where.
BAD_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM golang:1.23 AS builder
WORKDIR /src
COPY . .
RUN go mod download
RUN go build -o /out/app ./cmd/server
FROM debian:12 AS production
ARG NPM_TOKEN
ENV API_PASSWORD=hunter2
ADD https://example.com/tool.tar.gz /opt/
ADD vendor.tar.gz /opt/
RUN apt-get update
RUN apt-get install -y curl
RUN apk add curl
COPY --from=builder /out/app /app
USER root
CMD /app --serve
FROM alpine AS development
RUN apk add git
"""

EXPECTED_PRODUCTION = {
    ("OR003", 1, "warning"),  # syntax directive pulls a frontend
    ("OR001", 2, "error"),  # golang:1.23 not digest-pinned (pin: digest)
    ("OR011", 4, "warning"),  # COPY . . before go mod download
    ("OR022", 4, "info"),  # ... which also copies .orchestrator/ (context = manifest dir)
    ("OR004", 6, "warning"),  # go build under emulation on a 2-platform target
    ("OR001", 7, "error"),  # debian:12 not digest-pinned
    ("OR014", 7, "warning"),  # no HEALTHCHECK
    ("OR010", 8, "error"),  # ARG carries the manifest secret npm_token
    ("OR010", 9, "error"),  # ENV with a secret-looking name in the image
    ("OR005", 10, "error"),  # ADD of a URL
    ("OR006", 11, "warning"),  # ADD of a local archive
    ("OR007", 12, "warning"),  # apt-get update alone
    ("OR008", 12, "warning"),  # apt lists left in the layer
    ("OR009", 14, "warning"),  # apk add without --no-cache
    ("OR013", 16, "error"),  # USER root
    ("OR012", 17, "error"),  # shell-form CMD
    ("OR015", None, "warning"),  # no .dockerignore
    ("OR016", None, "error"),  # .env would be sent
}


def orch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bad_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NPM_TOKEN", "x")
    (tmp_path / "builds.yaml").write_text(MANIFEST)
    (tmp_path / "Dockerfile").write_text(BAD_DOCKERFILE)
    (tmp_path / ".env").write_text("SECRET=1\n")
    (tmp_path / "vendor.tar.gz").write_text("")
    return tmp_path


def _json(out: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(out)
    return body


def test_bad_dockerfile_reports_each_problem_at_its_line(
    bad_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = str(bad_project / "builds.yaml")
    code, out, _ = orch(capsys, "check", "-f", manifest, "production", "--format", "json")
    assert code == 1  # error findings remain
    findings = _json(out)["findings"]
    ours = {
        (f["code"], f["line"], f["severity"]) for f in findings if f["source"] == "orchestrator"
    }
    assert ours == EXPECTED_PRODUCTION
    # Only stages production builds: nothing from the development stage (lines 18-19).
    assert all((f["line"] or 0) < 18 for f in findings)
    # hadolint ran too and is merged in (e.g. DL3008: unpinned apt packages, line 13).
    assert ("DL3008", 13) in {(f["code"], f["line"]) for f in findings}


def test_same_dockerfile_for_development_is_judged_as_development(
    bad_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = str(bad_project / "builds.yaml")
    code, out, _ = orch(
        capsys, "check", "-f", manifest, "development", "--format", "json", "--no-hadolint"
    )
    found = {(f["code"], f["line"], f["severity"]) for f in _json(out)["findings"]}
    assert ("OR001", 18, "error") in found  # alpine floats; pin: minor is still a policy
    assert ("OR013", 18, "info") in found  # root is fine for a dev image: info only
    assert ("OR016", None, "warning") in found  # the same .env only warns here
    assert not {c for c, _, _ in found} & {"OR014", "OR004"}
    assert code == 1  # OR001 is an error for any target


def test_text_output_and_report_file(bad_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = str(bad_project / "builds.yaml")
    code, out, _ = orch(capsys, "check", "-f", manifest, "production", "--no-hadolint")
    assert code == 1
    assert "production " in out
    assert "Dockerfile:16: error   OR013  USER root: the container runs as root" in out
    assert out.rstrip().endswith("info")

    sarif_path = bad_project / "reports" / "checks.sarif"
    code, out, err = orch(
        capsys, "check", "-f", manifest, "--format", "sarif", "--output", str(sarif_path)
    )
    assert code == 1
    assert out == ""
    assert "wrote" in err
    sarif = json.loads(sarif_path.read_text())
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert "Dockerfile" in uris  # relative to the project root


def test_context_analysis_and_explain(
    bad_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bad_project / ".dockerignore").write_text("# keep secrets out\n.env\n")
    manifest = str(bad_project / "builds.yaml")
    code, out, _ = orch(
        capsys, "check", "-f", manifest, "production", "--context", "--format", "json"
    )
    context = _json(out)["contexts"][0]
    assert context["targets"] == ["production"]
    assert ".env" not in context["paths"]
    assert (
        context["files"] == len(context["paths"]) == 4
    )  # builds.yaml Dockerfile .dockerignore tgz
    assert context["sensitive"] == []

    code, out, _ = orch(capsys, "check", "-f", manifest, "production", "--explain", ".env")
    assert code == 0
    assert out == "production: .env: excluded by .dockerignore:2 `.env`\n"


def test_check_context_walks_each_context_once(
    bad_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules' listing is the one `--context` shows: a large context was walked twice."""
    from orchestrator import buildcontext

    walked: list[str] = []
    real = buildcontext.list_context

    def counting(context_dir: Path, *args: Any, **kwargs: Any) -> Any:
        walked.append(str(context_dir))
        return real(context_dir, *args, **kwargs)

    monkeypatch.setattr(buildcontext, "list_context", counting)
    monkeypatch.setattr("orchestrator.checks.list_context", counting)
    monkeypatch.setenv("ORCH_CHECK_MEMO", "0")
    manifest = str(bad_project / "builds.yaml")
    orch(capsys, "check", "-f", manifest, "--format", "json")
    by_the_rules = list(walked)
    assert by_the_rules  # the context rules list it
    walked.clear()
    _, out, _ = orch(capsys, "check", "-f", manifest, "--context", "--format", "json")
    assert walked == by_the_rules  # and --context shows those listings, not new ones
    assert _json(out)["contexts"]


def _sample_project(tmp_path: Path) -> Path:
    """The repo's builds.yaml and sample-go-app, with the Go base locked (as `pin` would)."""
    shutil.copy(REPO / "builds.yaml", tmp_path / "builds.yaml")
    shutil.copytree(REPO / "sample-go-app", tmp_path / "sample-go-app")
    if (REPO / "builds.lock").is_file():
        shutil.copy(REPO / "builds.lock", tmp_path / "builds.lock")
    else:
        (tmp_path / "builds.lock").write_text(
            textwrap.dedent(f"""\
            version: 1
            images:
              docker.io/library/golang:1.23-bookworm:
                source: localhost:5000/library/golang:1.23-bookworm
                digest: {DIGEST}
            """)
        )
    return tmp_path / "builds.yaml"


def test_sample_go_app_production_has_no_error_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = str(_sample_project(tmp_path))
    code, out, _ = orch(capsys, "check", "-f", manifest, "production", "--format", "json")
    findings = _json(out)["findings"]
    assert [f for f in findings if f["severity"] == "error"] == []
    assert code == 0


def test_gate_raises_with_the_skip_hint(
    bad_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        file=bad_project / "builds.yaml", var=[], sets=[], targets=["production"], no_hadolint=True
    )
    with pytest.raises(UserError) as raised:
        check_command.gate(load(args), args)
    assert "--skip-checks" in " ".join(raised.value.lines())
    assert "OR013" in capsys.readouterr().err  # findings printed to stderr


def test_gate_passes_sample_go_app(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        file=_sample_project(tmp_path), var=[], sets=[], targets=["production"], no_hadolint=False
    )
    check_command.gate(load(args), args)
    assert "error" not in capsys.readouterr().err


def test_targets_sharing_a_dockerfile_run_hadolint_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = helpers.count_hadolint_runs(monkeypatch)
    args = argparse.Namespace(
        file=_sample_project(tmp_path), var=[], sets=[], targets=["all"], no_hadolint=False
    )
    loaded = load(args)
    check_command.collect(loaded.plan)
    assert [t.name for t in loaded.plan.targets] == ["development", "production"]
    assert len(calls) == 1


GRAPH_MANIFEST = """\
version: 1
project: {name: graph, image: localhost:5000/graph}
targets:
  base: {context: base}
  api:
    context: api
    image: localhost:5000/api
    outputs: [push]
    contexts: {base: 'target:base'}
"""


@pytest.mark.parametrize(
    ("base_user", "expected"),
    [
        # The base target's non-root USER and HEALTHCHECK are what api ships with: no finding.
        ("USER 65534:65534", set()),
        # A root USER inherited from it is named, with the file and line it comes from.
        ("USER root", {("OR013", 1, "error")}),
        # No USER anywhere in the chain: api runs as root.
        ("", {("OR013", 1, "error")}),
    ],
)
def test_an_image_built_from_another_target_inherits_its_user_and_healthcheck(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    base_user: str,
    expected: set[tuple[str, int, str]],
) -> None:
    """`FROM base` with `contexts: {base: target:base}` (bake's build graph): the rules follow
    the context into the base target's Dockerfile instead of calling api root and unchecked."""
    (tmp_path / "builds.yaml").write_text(GRAPH_MANIFEST)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "Dockerfile").write_text(
        "FROM busybox:1.36.1\n"
        f"{base_user}\n"
        'HEALTHCHECK --interval=30s CMD ["true"]\n'
        'ENTRYPOINT ["sleep", "1"]\n'
    )
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM base\nCOPY app.txt /app.txt\n")
    (tmp_path / "api" / "app.txt").write_text("hi\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = orch(capsys, "check", "api", "--format", "json", "--no-hadolint")
    findings = [f for f in _json(out)["findings"] if f["target"] == "api"]
    found = {
        (f["code"], f["line"], f["severity"]) for f in findings if f["code"] in ("OR013", "OR014")
    }
    assert found == expected
    if base_user == "USER root":
        (message,) = [f["message"] for f in findings if f["code"] == "OR013"]
        assert message.startswith("USER root inherited from target base (base/Dockerfile:2)")
    assert (code == 1) == bool(expected)
