"""Issue 16, silent rewrites: YAML scalars keep their text (1.2 core), unknown tags are refused
on every node kind, and interpolation reads every compose form or refuses it at file:line:key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestrator import variables, yamlsrc
from orchestrator.errors import ManifestError
from tests.unit import helpers

DOCKERFILE = "FROM scratch AS app\nCOPY a /a\n"


def project(tmp: Path, target: str, name: str = "app", more: str = "") -> Path:
    text = (
        "version: 1\n"
        "project: {name: y, image: localhost:5000/y}\n"
        "variables: {A: '', B: b}\n"
        "targets:\n"
        f"  {name}:\n"
        "    stage: app\n" + target + more
    )
    return helpers.write_project(tmp, text, DOCKERFILE)


def test_yaml_1_1_scalars_stay_as_written_in_args(tmp_path: Path) -> None:
    path = project(tmp_path, "    args: {ON: on, OCT: 017, T: 1:30, Y: yes, HEX: 0x1F, N: 7}\n")
    args = helpers.resolve(path, ["app"]).target("app").args
    assert args == {"ON": "on", "OCT": "017", "T": "1:30", "Y": "yes", "HEX": "0x1F", "N": "7"}


def test_targets_named_on_and_yes_do_not_collide(tmp_path: Path) -> None:
    path = project(tmp_path, "", name="on", more="  yes:\n    stage: app\n")
    plan = helpers.resolve(path, ["on", "yes"])
    assert [t.name for t in plan.targets] == ["on", "yes"]


def test_booleans_nulls_and_integers_still_read(tmp_path: Path) -> None:
    located = yamlsrc.loads("a: true\nb: ~\nc: 12\nd: False\ne: '017'\n", tmp_path / "x.yaml")
    assert located.data == {"a": True, "b": None, "c": 12, "d": False, "e": "017"}


@pytest.mark.parametrize("text", ["tags: !foo [a]\n", "x: !bar {a: 1}\n", "x: !baz a\n"])
def test_unknown_tags_are_refused_on_every_node_kind(tmp_path: Path, text: str) -> None:
    with pytest.raises(
        ManifestError, match=r"x\.yaml:1: (tags|x): .*(unknown tag|could not determine)"
    ):
        yamlsrc.loads(text, tmp_path / "x.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A:-${B:-x}}", "b"),
        ("${A:-${U:-x}}", "x"),
        ("${A-x}", ""),
        ("${U-x}", "x"),
        ("${A:+x}", ""),
        ("${B:+x}", "x"),
        ("${A+x}", "x"),
        ("${U+x}", ""),
        ("$$B", "$B"),
        ("cost $5", "cost $5"),
        ("${B:?never}", "b"),
    ],
)
def test_interpolation_reads_every_compose_form(text: str, expected: str) -> None:
    assert variables.interpolate(text, {"A": "", "B": "b"}) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${A:?A is needed}", r"\$\{A\}: A is needed"),
        ("${U?}", r"\$\{U\}: is not set"),
        ("x${", "invalid variable reference"),
        ("${}", "invalid variable reference"),
        ("${B", "unterminated"),
        ("${B x}", "invalid variable reference"),
    ],
)
def test_interpolation_errors_name_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = project(tmp_path, f"    args: {{X: '{text}'}}\n")
    with pytest.raises(ManifestError, match=r"builds\.yaml:\d+: targets\.app\.args\.X: " + message):
        helpers.resolve(path, ["app"])


def test_an_unknown_variable_in_tags_is_named(tmp_path: Path) -> None:
    path = project(tmp_path, "    tags: ['${NOPE}']\n")
    with pytest.raises(ManifestError, match=r"targets\.app\.tags: unknown variable \$\{NOPE\}"):
        helpers.resolve(path, ["app"])


def test_the_tag_memo_keeps_plain_quoted_and_tagged_forms_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same text written plain, quoted and with an explicit tag reads three ways, however
    often it repeats, and the resolver runs once per distinct (text, plain, quoted)."""
    calls: list[tuple[object, ...]] = []
    base = yamlsrc._BASE_LOADER.resolve

    def counting(self: object, kind: object, value: object, implicit: object) -> object:
        calls.append((kind, value, implicit))
        return base(self, kind, value, implicit)

    monkeypatch.setattr(yamlsrc._BASE_LOADER, "resolve", counting)
    rows = "\n".join("- [true, 'true', !!str true, 017, !!int '12', null, ~]" for _ in range(50))
    located = yamlsrc.loads(rows + "\n", Path("builds.yaml"))
    assert located.data == [[True, "true", "true", "017", 12, None, None]] * 50
    scalars = [c for c in calls if c[0] is yaml.ScalarNode]
    assert len(scalars) == len(set(scalars))  # every repeat answered from the memo
    assert ("true", (True, False)) in {c[1:] for c in scalars}
    assert ("true", (False, True)) in {c[1:] for c in scalars}


@pytest.mark.parametrize(
    "variables", ["{A: '${B}', B: b}", "{A: '${B}', B: '${A}'}", "{A: 'x${A}'}"]
)
def test_a_variable_that_refers_to_another_variable_is_told_so(
    tmp_path: Path, variables: str
) -> None:
    """A variable's value reads built-ins only; `${B}` naming another `variables:` entry (or
    itself, or a cycle) said "unknown variable ${B} (define it under `variables:` ...)", which
    is where it already was."""
    text = (
        "version: 1\n"
        "project: {name: y, image: localhost:5000/y}\n"
        f"variables: {variables}\n"
        "targets:\n"
        "  app: {stage: app}\n"
    )
    path = helpers.write_project(tmp_path, text, DOCKERFILE)
    with pytest.raises(ManifestError) as caught:
        helpers.resolve(path, ["app"])
    message = str(caught.value)
    assert re.search(r"builds\.yaml:3: variables\.A: \$\{[AB]\} is a `variables:` entry", message)
    assert "define it under" not in message
    assert "built-ins" in message
