"""Issue 15, first contact: what a new user sees on the first run of a project not written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from orchestrator import console, report, scratch
from orchestrator.errors import UserError
from orchestrator.live import Display
from orchestrator.main import main
from orchestrator.progress import Tracker
from tests.unit.helpers import BASE, git, resolve, write_project

ENGINE_BYTES = "printf 'root:x:0:0:root:/root:/sbin/nologin' > /etc/passwd [bold]x[/bold] :smile:"


def test_engine_lines_print_verbatim_without_emoji_or_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.plain(ENGINE_BYTES)
    assert capsys.readouterr().err.strip() == ENGINE_BYTES


def test_live_table_shows_vertex_names_verbatim() -> None:
    tracker = Tracker(["app"])
    tracker.targets["app"].current = ENGINE_BYTES
    record = Console(record=True, width=400, emoji=False)
    record.print(Display(tracker, plain=True)._table())
    assert ENGINE_BYTES[:80] in record.export_text()


def test_scratch_directory_never_makes_the_tree_dirty(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "f").write_text("x", encoding="utf-8")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "one")
    # What a build writes: a run dir, a state record, the report.
    scratch.mkdir(tmp_path / ".orchestrator" / "runs" / "r1")
    (tmp_path / ".orchestrator" / "runs" / "r1" / "bake.json").write_text("{}", encoding="utf-8")
    report.write_json(
        report.Report("p", "1", "c", "ok", 0.0, []), tmp_path / ".orchestrator" / "report.json"
    )
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == ""
    assert (tmp_path / ".orchestrator" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")


def test_scratch_mkdir_outside_the_scratch_dir_writes_no_gitignore(tmp_path: Path) -> None:
    scratch.mkdir(tmp_path / "out" / "x")
    assert not (tmp_path / "out" / ".gitignore").exists()


def test_unknown_top_level_key_is_named_as_written_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE.replace("groups:", "not_a_known_key_xyz: 1\ngroups:").replace(
        "  development:\n", "  my_dev:\n    platfroms: [linux/amd64]\n  development:\n"
    )
    path = write_project(tmp_path, text)
    lines = path.read_text(encoding="utf-8").splitlines()
    key_line = 1 + next(i for i, line in enumerate(lines) if line.startswith("not_a_known"))
    typo_line = 1 + next(i for i, line in enumerate(lines) if "platfroms" in line)
    assert main(["plan", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"builds.yaml:{key_line}: not_a_known_key_xyz: unknown key" in err
    assert (
        f"builds.yaml:{typo_line}: targets.my_dev.platfroms: unknown key "
        "(did you mean 'platforms'?)" in err
    )


def test_unknown_target_names_a_few_close_ones_and_how_to_list_all(tmp_path: Path) -> None:
    targets = "".join(f"  service-{i}: {{stage: production}}\n" for i in range(200))
    text = BASE.split("targets:")[0] + "targets:\n" + targets
    path = write_project(tmp_path, text)
    with pytest.raises(UserError) as caught:
        resolve(path, ["servce-42"])
    message = caught.value.message
    assert "did you mean 'service-42'" in message
    assert "`orchestrator plan --list` lists all 200" in message
    assert message.count("service-") <= 4  # the name asked for and three close ones


def test_plan_list_prints_every_target_and_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_project(tmp_path)
    assert main(["plan", "-f", str(path), "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "target development",
        "target production",
        "group  default: production",
        "group  all: development production",
    ]


def test_plan_list_shows_what_a_matrix_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It listed `target app` (a name plan refuses to build alone) and passed a matrix that
    makes one name twice."""
    text = (
        "version: 1\nproject: {name: m, image: localhost:5000/m}\n"
        "targets:\n  app:\n    matrix: {v: [x, y]}\n"
    )
    path = write_project(tmp_path, text, "FROM busybox:1.35\n")
    capsys.readouterr()
    assert main(["plan", "-f", str(path), "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "target app-x",
        "target app-y",
        "group  app: app-x app-y",
    ]
    path.write_text(text.replace("[x, y]", "['a b', a_b]"))
    assert main(["plan", "-f", str(path), "--list"]) == 2
    assert "makes 'app-a_b' twice" in capsys.readouterr().err
