"""The tool's `.orchestrator/` never reaches a build context, whatever .dockerignore says.

A target whose context holds builds.yaml's directory and does not exclude `.orchestrator/` is
built from a copy of its Dockerfile beside a Dockerfile-specific ignore file (scratch.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orchestrator import argv, buildcontext, scratch
from orchestrator.main import main
from tests.unit import helpers

MANIFEST = """\
version: 1
project: {name: s, image: localhost:5000/s}
targets:
  app: {}
  sub: {context: sub}
"""
DOCKERFILE = "FROM busybox:1.35\r\nWORKDIR /app\r\nCOPY . .\r\n"  # CRLF: copied byte for byte


def _project(tmp_path: Path, ignore: str | None, specific: str | None = None) -> Path:
    path = helpers.write_project(tmp_path, MANIFEST, DOCKERFILE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text("FROM busybox:1.35\nCOPY . .\n")
    if ignore is not None:
        (tmp_path / ".dockerignore").write_text(ignore)
    if specific is not None:
        (tmp_path / "Dockerfile.dockerignore").write_text(specific)
    return path


def _sent(tmp_path: Path, ignore: str | None, specific: str | None = None) -> dict[str, str | None]:
    plan = helpers.resolve(_project(tmp_path, ignore, specific), ["app", "sub"])
    return {t.name: t.dockerfile_sent for t in plan.targets}


@pytest.mark.parametrize(
    ("ignore", "specific", "copied"),
    [
        (None, None, True),  # no ignore file: everything is sent
        (".git\n", None, True),  # the usual denylist, written before this tool
        (".orchestrator\n", None, False),
        ("**/.orchestrator/\n", None, False),
        ("*\n!Dockerfile\n", None, False),  # an allowlist
        (".orchestrator\n", ".git\n", True),  # the Dockerfile's own ignore file wins
        ("", ".orchestrator\n", False),
    ],
)
def test_a_copy_only_where_the_context_would_send_the_directory(
    tmp_path: Path, ignore: str | None, specific: str | None, copied: bool
) -> None:
    sent = _sent(tmp_path, ignore, specific)
    root = tmp_path.resolve()
    want = str(root / ".orchestrator" / "dockerfiles" / "app" / "Dockerfile") if copied else None
    assert sent == {"app": want, "sub": None}  # sub's context does not hold .orchestrator/


def test_no_copy_without_a_step_that_would_copy_the_directory_in(tmp_path: Path) -> None:
    """Sent with the context, it is never read by such a build: BuildKit transfers what the
    steps use. A COPY of a path inside it would ship it, though."""
    path = _project(tmp_path, ".git\n")
    for text, copied in (
        ("FROM busybox:1.35\nCOPY hello.txt /x\nCOPY --from=busybox:1.35 / /y\n", False),
        ("FROM busybox:1.35\nCOPY .orchestrator/report.json /r\n", True),
        ('FROM busybox:1.35\nADD ["./", "/app"]\n', True),
    ):
        (tmp_path / "Dockerfile").write_text(text)
        (t,) = helpers.resolve(path, ["app"]).targets
        assert (t.dockerfile_sent is not None) is copied, text


def test_the_copy_and_its_ignore_file_keep_the_project_lines(tmp_path: Path) -> None:
    plan = helpers.resolve(_project(tmp_path, ".git\n!keep/.git\n*.log"), ["app"])
    (t,) = plan.targets
    assert t.dockerfile_sent is not None
    assert argv.build_argv(t)[3:5] == ["--file", t.dockerfile_sent]
    assert argv.bake_target(t)["dockerfile"] == t.dockerfile_sent
    assert any(".orchestrator/ is kept out of the context" in note for note in t.notes)
    scratch.write_sent(Path(t.context), Path(t.dockerfile), Path(t.dockerfile_sent))
    sent = Path(t.dockerfile_sent)
    assert sent.read_bytes() == DOCKERFILE.encode()
    ignore = Path(f"{sent}.dockerignore").read_text()
    assert ignore.startswith(".git\n!keep/.git\n*.log\n# Added by orchestrator")
    assert ignore.endswith("\n.orchestrator\n")
    # What BuildKit then reads (the Dockerfile-specific file beats the context's): nothing of
    # the directory is sent, the rest as before.
    context = Path(t.context)
    assert not buildcontext.sends_any(
        context, [f".orchestrator/{s}" for s in scratch.SAMPLES], sent
    )
    assert buildcontext.sends_any(context, ["hello.txt"], sent)
    assert not buildcontext.sends_any(context, ["x.log"], sent)
    # Unchanged: not rewritten (the plan memo records the stat of these files).
    before = sent.stat().st_mtime_ns, Path(f"{sent}.dockerignore").stat().st_mtime_ns
    scratch.write_sent(context, Path(t.dockerfile), sent)
    assert (sent.stat().st_mtime_ns, Path(f"{sent}.dockerignore").stat().st_mtime_ns) == before
    (context / "Dockerfile").write_text("FROM busybox:1.36\n")
    scratch.write_sent(context, Path(t.dockerfile), sent)
    assert sent.read_text() == "FROM busybox:1.36\n"


def test_plan_writes_the_copies_its_bake_definition_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orchestrator plan --format bake | docker buildx bake -f -` must find the files."""
    _project(tmp_path, ".git\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    assert main(["plan", "--format", "bake", "app"]) == 0
    definition = json.loads(capsys.readouterr().out)
    path = Path(definition["target"]["app"]["dockerfile"])
    assert path.is_file()
    assert Path(f"{path}.dockerignore").is_file()
    assert path.is_relative_to(tmp_path.resolve() / ".orchestrator")
    assert (tmp_path / ".orchestrator" / ".gitignore").is_file()  # never dirties the tree


def test_build_refuses_in_one_line_when_the_copy_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, ".git\n")
    (tmp_path / ".orchestrator").mkdir()
    (tmp_path / ".orchestrator" / "dockerfiles").write_text("in the way\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "app"]) != 0
    err = capsys.readouterr().err
    assert "cannot write the copy of" in err
    assert "Traceback" not in err


def test_check_lists_and_explains_the_context_build_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, ".git\n*.log\n")
    monkeypatch.chdir(tmp_path)
    main(["plan", "app"])  # writes the copy: .orchestrator/ now has files to leave out
    capsys.readouterr()
    main(["check", "app", "--context", "--format", "json", "--no-hadolint"])
    (context,) = json.loads(capsys.readouterr().out)["contexts"]
    assert context["paths"]
    assert not [p for p in context["paths"] if p.startswith(".orchestrator")]
    main(["check", "app", "--explain", ".orchestrator/report.json"])
    assert "this tool's own directory, which build leaves out" in capsys.readouterr().out
    main(["check", "app", "--explain", "x.log"])
    assert "excluded by .dockerignore:2 `*.log`" in capsys.readouterr().out  # the user's line


def test_plan_writes_nothing_through_a_scratch_symlink_leading_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloned repository may ship `.orchestrator -> /somewhere`: plan and check, which only
    read, must not write there (build writes its reports there, and the copies with them)."""
    project, outside = tmp_path / "p", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    _project(project, ".git\n")
    (project / ".orchestrator").symlink_to(outside)
    monkeypatch.chdir(project)
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    assert main(["plan", "app"]) == 0
    assert list(outside.iterdir()) == []


def test_build_refuses_a_scratch_symlink_the_repository_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Committed, `.orchestrator -> elsewhere` would have build write its reports, logs and
    records there: refused in one line, nothing written. A link the user made (untracked) is
    theirs: build goes on (here it stops later, at the engine, having written through it)."""
    project, outside = tmp_path / "p", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    _project(project, ".git\n")
    (project / ".orchestrator").symlink_to(outside)
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "ships a link"], check=True)
    monkeypatch.chdir(project)
    assert main(["build", "app"]) == 2
    err = capsys.readouterr().err
    assert "ships this tool's scratch directory as a symlink" in err
    assert err.count("\n") == 1
    assert list(outside.iterdir()) == []
    subprocess.run([*git, "rm", "-q", "--cached", ".orchestrator"], check=True)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    main(["build", "app"])
    assert "ships this tool's scratch directory" not in capsys.readouterr().err
    assert list(outside.iterdir()) != []  # the user's own link is followed


def test_the_copy_keeps_non_utf8_bytes_of_the_dockerfile_and_ignore_file(
    tmp_path: Path,
) -> None:
    """BuildKit reads both files as bytes (a Latin-1 comment builds): plan accepted neither, and
    the copy it builds from must be the user's bytes, not a re-encoding."""
    path = helpers.write_project(tmp_path, MANIFEST)
    dockerfile = b"# Maintainer: Fran\xe7ois\r\nFROM busybox:1.35\r\nCOPY . .\r\n"
    ignore = b"# r\xe9sum\xe9\n.git\ncaf\xe9.txt\n"
    (tmp_path / "Dockerfile").write_bytes(dockerfile)
    (tmp_path / ".dockerignore").write_bytes(ignore)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text("FROM busybox:1.35\n")
    (t,) = helpers.resolve(path, ["app"]).targets
    assert t.dockerfile_sent is not None
    scratch.write_sent(Path(t.context), Path(t.dockerfile), Path(t.dockerfile_sent))
    assert Path(t.dockerfile_sent).read_bytes() == dockerfile
    assert Path(f"{t.dockerfile_sent}.dockerignore").read_bytes().startswith(ignore)
