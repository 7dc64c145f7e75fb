"""Issue 16, dangerous destinations and silent rewrites: outputs and contexts outside the
repository need `project.allow-outside`, device paths never pass; platforms, labels and
mirrors that would mean something else than they say are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.errors import ManifestError
from orchestrator.main import main
from tests.unit import helpers

DOCKERFILE = "FROM busybox:1.35 AS app\n"


def project(tmp: Path, target: str, head: str = "", top: str = "") -> Path:
    repo = tmp / "repo"
    repo.mkdir(exist_ok=True)
    text = (
        "version: 1\n"
        "project: {name: d, image: localhost:5000/d" + head + "}\n" + top + "targets:\n"
        "  app:\n" + target
    )
    return helpers.write_project(repo, text, DOCKERFILE)


def plan(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["plan", "-f", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("    outputs: ['oci:../../x.tar']\n", "outputs"),
        ("    outputs: ['local:/tmp/elsewhere']\n", "outputs"),
        ("    context: ..\n", "context"),
        ("    contexts: {src: ../elsewhere}\n", "contexts.src"),
        ("    contexts: {etc: /etc}\n", "contexts.etc"),
        ("    contexts: {lay: 'oci-layout://../layout'}\n", "contexts.lay"),
    ],
)
def test_outside_the_repository_needs_the_opt_in(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    if key == "context":
        (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    path = project(tmp_path, target)
    code, err = plan(capsys, path)
    assert code == 2
    assert f"targets.app.{key}:" in err
    assert "project.allow-outside: true" in err
    path = project(tmp_path, target, head=", allow-outside: true")
    assert plan(capsys, path)[0] == 0


@pytest.mark.parametrize(
    "target",
    [
        "    outputs: ['docker:/dev/sda']\n",
        "    outputs: ['local:/proc/self']\n",
        "    outputs: ['tar:/sys/x']\n",
        "    contexts: {k: /proc}\n",
    ],
)
def test_device_paths_are_refused_even_with_the_opt_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    path = project(tmp_path, target, head=", allow-outside: true")
    code, err = plan(capsys, path)
    assert code == 2
    assert "device or kernel path" in err


@pytest.mark.parametrize(
    ("output", "why"),
    [
        ("local:.git/hooks", "is inside .git"),
        ("oci:.git/config", "is inside .git"),
        ("oci:builds.yaml", "a file or directory this tool keeps"),
        ("tar:builds.lock", "a file or directory this tool keeps"),
        ("local:.orchestrator", "a file or directory this tool keeps"),
        ("local:.", "is the repository itself"),
    ],
)
def test_an_output_never_overwrites_git_or_the_files_this_tool_reads(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output: str,
    why: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`local:.git/hooks` wrote a pre-commit hook that the next `git commit` ran; `local:.`
    wrote the image over the repository. Refused even with allow-outside."""
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    path = project(tmp_path, f"    outputs: ['{output}']\n", head=", allow-outside: true")
    code, err = plan(capsys, path)
    assert code == 2
    assert why in err
    ok = project(tmp_path, "    outputs: ['local:out', 'oci:.orchestrator/mine.tar']\n")
    assert plan(capsys, ok)[0] == 0


def test_named_contexts_that_are_no_directory_are_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    (tmp_path / "repo" / "inside").mkdir(parents=True)
    target = (
        "    contexts: {a: inside, b: 'docker-image://localhost:5000/b:1', "
        "c: 'https://example.invalid/x.git'}\n"
    )
    assert plan(capsys, project(tmp_path, target)) == (0, "")


@pytest.mark.parametrize(
    "platforms",
    ["[linux/arm64, linux/arm64/v8]", "[linux/amd64/v1, linux/amd64]", "[linux/arm, linux/arm/v7]"],
)
def test_the_same_platform_twice_is_refused(tmp_path: Path, platforms: str) -> None:
    path = project(tmp_path, f"    platforms: {platforms}\n")
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert "the same platform" in "\n".join(caught.value.lines())


@pytest.mark.parametrize("labels", ["{'': x}", "{'a=b': x}", "{' ': x}"])
def test_a_label_key_buildx_would_split_is_refused(tmp_path: Path, labels: str) -> None:
    path = project(tmp_path, f"    labels: {labels}\n")
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert "label key" in "\n".join(caught.value.lines())


def test_two_mirrors_for_one_image_are_refused(tmp_path: Path) -> None:
    top = "mirrors: {busybox: 'localhost:5000/a:1', 'docker.io/library/busybox:latest': 'localhost:5000/b:1'}\n"
    path = project(tmp_path, "    outputs: [load]\n", top=top)
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert "same image" in "\n".join(caught.value.lines())


def test_a_duplicate_stage_name_is_refused(tmp_path: Path) -> None:
    path = project(tmp_path, "    outputs: [load]\n")
    (path.parent / "Dockerfile").write_text("FROM busybox:1.35 AS app\nFROM alpine:3 AS APP\n")
    with pytest.raises(ManifestError, match=r"Dockerfile:2: duplicate stage name 'app'"):
        helpers.resolve(path, ["app"])


@pytest.mark.parametrize(
    ("from_line", "says"),
    [
        # BuildKit splits FROM's words on blanks before it expands ${...}: five words here.
        (
            "ARG BASE\nFROM ${BASE:?set BASE to an image}",
            r"Dockerfile:2: FROM requires either one or three arguments .*got 5; a \$\{\.\.\.\} "
            r"with a blank inside is split there",
        ),
        ("FROM busybox:1.35 extra", r"Dockerfile:1: FROM requires either one or three .*got 2$"),
        ("FROM busybox:1.35 AS app more", r"Dockerfile:1: FROM requires .*got 4$"),
        ("FROM busybox:1.35 AS 2nd", r"Dockerfile:1: invalid name for build stage: '2nd'"),
        ("FROM busybox:1.35 AS a/b", r"Dockerfile:1: invalid name for build stage: 'a/b'"),
    ],
)
def test_a_from_line_buildkit_refuses_is_refused_in_its_words(
    tmp_path: Path, from_line: str, says: str
) -> None:
    path = project(tmp_path, "    outputs: [load]\n")
    (path.parent / "Dockerfile").write_text(from_line + "\nUSER 1\n")
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    assert len(caught.value.lines()) == 1
    assert re.search(says, caught.value.lines()[0]), caught.value.lines()


def test_stage_names_buildkit_accepts_are_kept(tmp_path: Path) -> None:
    path = project(tmp_path, "    outputs: [load]\n    stage: app.v-1_x\n")
    (path.parent / "Dockerfile").write_text("FROM busybox:1.35 AS App.v-1_x\nUSER 1\n")
    assert helpers.resolve(path, ["app"]).targets[0].stage == "app.v-1_x"


@pytest.mark.parametrize(
    ("top", "target", "sets", "says"),
    [
        ("", "    outputs: ['local:.git/hooks']\n", [], r"builds\.yaml:5: targets\.app\.outputs: "),
        (
            "",
            "    contexts:\n      ok: .\n      etc: /etc\n",
            [],
            r"builds\.yaml:7: targets\.app\.contexts\.etc: ",
        ),
        (
            "defaults:\n  outputs: ['oci:builds.lock']\n",
            "    tags: [x]\n",
            [],
            r"builds\.yaml:4: defaults\.outputs: ",
        ),
        (
            "",
            "    matrix: {v: [a, b]}\n    name: app-${v}\n    outputs: ['local:.git/${v}']\n",
            [],
            r"builds\.yaml:7: targets\.app\.outputs: .*\.git/a is inside \.git",
        ),
        ("", "    tags: [x]\n", ["--set", "app.outputs=local:.git"], r"^error: --set app\.outputs"),
    ],
)
def test_a_refused_destination_names_the_line_it_was_written_on(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    top: str,
    target: str,
    sets: list[str],
    says: str,
) -> None:
    """As every other manifest error does: file:line and the key as written (the defaults'
    key when the target inherits it, the --set when one set it), one line for one problem."""
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    path = project(tmp_path, target, top=top)
    capsys.readouterr()
    code = main(["plan", "-f", str(path), *sets])
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(says, err, re.MULTILINE), err
    # One line for one problem; a matrix target's two expansions are two problems.
    assert len(err.strip().splitlines()) == (3 if "matrix" in target else 1), err


def test_a_bad_tag_from_a_set_is_the_sets_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was blamed on `builds.yaml:5: targets.app.tags`, a line that is fine."""
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    path = project(tmp_path, "    tags: [x]\n")
    capsys.readouterr()
    assert main(["plan", "-f", str(path), "--set", "app.tags=x-${NOPE}"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: --set app.tags=x-${NOPE}: unknown variable ${NOPE}"
    )
    path = project(tmp_path, "    tags: ['x-${NOPE}']\n")
    assert main(["plan", "-f", str(path)]) == 2
    assert "builds.yaml:5: targets.app.tags: unknown variable ${NOPE}" in capsys.readouterr().err
