"""Issue 16, injection: a value placed into a buildx CSV spec stays one field.

buildx reads --output, --cache-from/to, --secret and --attest with Go's encoding/csv and takes the
last of two `type=` fields; these tests read our specs back with the same rules (specs.split) and
check that the plan's JSON, the argv and the bake definition say the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import argv, specs
from orchestrator.errors import ManifestError
from tests.unit import helpers

DOCKERFILE = "FROM scratch AS app\nCOPY a /a\n"


def project(tmp: Path, target: str) -> Path:
    text = (
        "version: 1\nproject: {name: inj, image: localhost:5000/inj}\ntargets:\n  app:\n" + target
    )
    return helpers.write_project(tmp, text, DOCKERFILE)


def flag_values(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, word in enumerate(cmd) if word == flag]


def test_an_output_path_with_a_comma_cannot_add_a_push(tmp_path: Path) -> None:
    evil = "local:d,type=image,name=ghcr.io/evil/x,push=true"
    plan = helpers.resolve(project(tmp_path, f"    outputs: ['{evil}']\n"), ["app"])
    t = plan.target("app")
    (output,) = flag_values(argv.build_argv(t), "--output")
    fields = specs.split(output)
    assert fields == [
        "type=local",
        f"dest={tmp_path.resolve()}/d,type=image,name=ghcr.io/evil/x,push=true",
    ]
    assert t.to_dict()["push"] is False
    bake = argv.bake_definition(plan)["target"]["app"]["output"]
    assert bake == [output]
    assert json.loads(json.dumps(bake)) == [output]


def test_a_local_cache_dir_with_a_comma_is_one_field(tmp_path: Path) -> None:
    plan = helpers.resolve(
        project(tmp_path, "    cache: {local: 'c,type=registry,ref=evil.io/x'}\n"), ["app"]
    )
    t = plan.target("app")
    assert specs.pairs(t.cache_from[0]) == [
        ("type", "local"),
        ("src", "c,type=registry,ref=evil.io/x"),
    ]
    assert dict(specs.pairs(t.cache_to[0]))["type"] == "local"
    assert flag_values(argv.build_argv(t), "--cache-to") == list(t.cache_to)


def test_a_registry_cache_ref_with_a_comma_is_refused(tmp_path: Path) -> None:
    path = project(tmp_path, "    cache: {registry: 'localhost:5000/c,type=local,dest=/tmp/x'}\n")
    with pytest.raises(ManifestError, match=r"cache\.registry"):
        helpers.resolve(path, ["app"])


def test_a_variable_cannot_add_a_second_type_to_a_raw_cache_entry(tmp_path: Path) -> None:
    path = project(tmp_path, "    cache: {from: ['type=registry,ref=${REF}']}\n")
    with pytest.raises(ManifestError, match="type given twice"):
        helpers.resolve(path, ["app"], cli={"REF": "r.io/x,type=local,src=/etc"})


@pytest.mark.parametrize(
    "entry", ['type=registry,ref="a', 'type=registry,ref=a"b', "type=registry,ref=a,ref=b"]
)
def test_a_raw_cache_entry_buildx_cannot_read_is_refused(tmp_path: Path, entry: str) -> None:
    path = project(tmp_path, f"    cache: {{to: ['{entry}']}}\n")
    with pytest.raises(ManifestError, match=r"cache\.to"):
        helpers.resolve(path, ["app"])


def test_a_secret_file_with_a_comma_is_one_field(tmp_path: Path) -> None:
    (tmp_path / "a,src=").mkdir()
    (tmp_path / "a,src=" / "etc").write_text("x", encoding="utf-8")
    target = "    secrets: [{id: s, file: 'a,src=/etc'}]\n"
    t = helpers.resolve(project(tmp_path, target), ["app"]).target("app")
    (secret,) = flag_values(argv.build_argv(t), "--secret")
    assert specs.pairs(secret) == [("id", "s"), ("src", f"{tmp_path.resolve()}/a,src=/etc")]


def test_a_secret_env_name_with_a_comma_is_one_field(tmp_path: Path) -> None:
    target = "    secrets: [{id: s, env: 'A,src=/etc/shadow'}]\n"
    t = helpers.resolve(project(tmp_path, target), ["app"]).target("app")
    assert specs.pairs(t.secrets[0].spec()) == [("id", "s"), ("env", "A,src=/etc/shadow")]


def test_an_ssh_path_with_a_comma_is_refused(tmp_path: Path) -> None:
    path = project(tmp_path, "    ssh: [{id: default, paths: ['k,/etc/shadow']}]\n")
    with pytest.raises(ManifestError, match="ssh path"):
        helpers.resolve(path, ["app"])


@settings(max_examples=300, derandomize=True, database=None)
@given(st.text(), st.sampled_from(["dest", "src", "ref", "name"]))
def test_any_value_reads_back_as_exactly_one_field(value: str, key: str) -> None:
    if "\0" in value:
        with pytest.raises(specs.SpecError):
            specs.field(key, value)
        return
    assert specs.split(specs.build(("type", "local"), (key, value))) == [
        "type=local",
        f"{key}={value}",
    ]


def test_the_reader_follows_go_encoding_csv() -> None:
    assert specs.split('a=1,"b=2,3",c') == ["a=1", "b=2,3", "c"]
    assert specs.split('"x=""q"""') == ['x="q"']
    assert specs.split("") == [""]
    for bad in ('a="b"', '"a', '"a"b', 'a=b"'):
        with pytest.raises(specs.SpecError):
            specs.split(bad)
