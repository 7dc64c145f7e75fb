"""A tour of bad manifests: each gives file:line: key path: cause, all at once, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import manifest, yamlsrc
from orchestrator.errors import ManifestError
from orchestrator.main import main


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        manifest.validate(yamlsrc.loads(text, Path("builds.yaml")))
    return list(info.value.problems) or [info.value.message]


HEAD = "project: {name: app, image: localhost:5000/app}\n"


def test_unknown_key_names_line_path_and_suggestion() -> None:
    text = HEAD + "targets:\n  production:\n    stage: production\n    tagz: [a]\n"
    assert problems(text) == [
        "builds.yaml:5: targets.production.tagz: unknown key (did you mean 'tags'?)"
    ]


def test_unknown_nested_key_suggests_from_nested_model() -> None:
    text = HEAD + "targets:\n  p:\n    cache:\n      fromm: []\n"
    assert problems(text) == [
        "builds.yaml:5: targets.p.cache.fromm: unknown key (did you mean 'from'?)"
    ]


def test_unknown_top_level_key_lists_known_when_nothing_is_close() -> None:
    text = HEAD + "targets: {p: {}}\nzzz: 1\n"
    (line,) = problems(text)
    assert line.startswith("builds.yaml:3: zzz: unknown key (known: version, project,")


def test_wrong_types_and_invalid_values_each_get_a_line_in_file_order() -> None:
    text = HEAD + (
        "targets:\n"
        "  p:\n"
        "    platforms: [linux/amd64, linux/arm65]\n"
        "    no-cache: maybe\n"
        "    outputs: [pushh]\n"
        "    provenance: maybe\n"
        "    secrets:\n"
        "      - id: tok\n"
    )
    assert problems(text) == [
        "builds.yaml:4: targets.p.platforms: invalid platform 'linux/arm65': unknown architecture 'arm65'",
        "builds.yaml:5: targets.p.no-cache: Input should be a valid boolean, unable to interpret input (got 'maybe')",
        "builds.yaml:6: targets.p.outputs: 'pushh': expected load, push, oci:PATH, docker:PATH, tar:PATH, local:DIR",
        "builds.yaml:7: targets.p.provenance: 'maybe': expected false, true (= min), min or max",
        "builds.yaml:9: targets.p.secrets[0]: give exactly one of 'env' or 'file'",
    ]


def test_missing_required_keys() -> None:
    assert problems("project: {name: app}\n") == [
        "builds.yaml:1: project.image: required key is missing",
        "builds.yaml:1: targets: required key is missing",
    ]


def test_a_list_or_scalar_where_a_mapping_goes_says_so_without_class_names() -> None:
    text = "version: 2\n" + HEAD + "targets:\n  app: [1]\n  b: 3\n  c: {secrets: [x]}\n"
    assert problems(text) == [
        "builds.yaml:1: version: this orchestrator reads manifests of version 1 (got 2)",
        "builds.yaml:4: targets.app: expected a mapping of keys (got [1])",
        "builds.yaml:5: targets.b: expected a mapping of keys (got 3)",
        "builds.yaml:6: targets.c.secrets[0]: expected a mapping of keys (got 'x')",
    ]


@pytest.mark.parametrize("written", ["true", "'1'", "1.0"])
def test_the_format_version_is_the_number_1_as_written(written: str) -> None:
    """pydantic's lax mode read `version: true` as format 1."""
    (problem,) = problems(f"version: {written}\n" + HEAD + "targets:\n  app: {}\n")
    assert problem.startswith("builds.yaml:1: version: expected 1, the manifest format")


def test_group_member_must_exist() -> None:
    text = HEAD + "targets: {p: {}}\ngroups:\n  all: [p, q]\n"
    assert problems(text) == [
        "builds.yaml:3: groups: all: 'q' is neither a target nor a group (known: p, all)"
    ]


def test_duplicate_key_is_an_error_not_a_silent_overwrite() -> None:
    text = HEAD + "targets:\n  p: {}\n  p: {}\n"
    assert problems(text) == [
        "builds.yaml:4: targets.p: duplicate key (the first one would be silently ignored)"
    ]


def test_yaml_syntax_error_has_line_and_column() -> None:
    assert problems("targets: [a\nb: 1\n") == [
        "builds.yaml:2:2: invalid YAML: expected ',' or ']', but got ':'"
    ]


def test_floats_stay_version_strings() -> None:
    located = yamlsrc.loads(HEAD + "targets:\n  p:\n    args: {GO_VERSION: 1.20}\n", Path("b.yaml"))
    man = manifest.validate(located)
    assert man.targets["p"].args == {"GO_VERSION": "1.20"}


def test_cli_reports_bad_manifest_with_exit_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "builds.yaml"
    path.write_text(HEAD + "targets:\n  p:\n    platfroms: [linux/amd64]\n", encoding="utf-8")
    code = main(["plan", "-f", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:4: targets.p.platfroms: unknown key (did you mean 'platforms'?)" in err
    assert "Traceback" not in err


def test_missing_manifest_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", "-f", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err


def test_schema_is_valid_json_schema_with_our_keys(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    target = schema["$defs"]["TargetSpec"]["properties"]
    assert {"platforms", "tags", "secrets", "cache", "outputs", "pin", "no-cache"} <= set(target)
    assert schema["$defs"]["TargetSpec"]["additionalProperties"] is False


# --- YAML anchors, aliases and merge keys ------------------------------------------------------
MERGED = HEAD + (
    "x-common: &common\n"  # line 2
    "  platforms: [linux/amd64, linux/arm64]\n"
    "  outputs: [push]\n"
    "  args: {A: common}\n"
    "x-dev: &dev\n"  # line 6
    "  outputs: [load]\n"
    "  args: {A: dev, B: dev}\n"
    "targets:\n"  # line 9
    "  production:\n"
    "    <<: *common\n"
    "    outputs: [oci:out.tar]\n"
    "  development:\n"
    "    args: {C: own}\n"
    "    <<: [*dev, *common]\n"
)


def _targets(text: str) -> dict[str, object]:
    data = yamlsrc.loads(text, Path("builds.yaml")).data
    data.pop("x-common", None)
    data.pop("x-dev", None)
    return dict(data["targets"])


def test_merge_keys_copy_an_anchor_and_keys_written_out_win() -> None:
    targets = _targets(MERGED)
    assert targets["production"] == {
        "platforms": ["linux/amd64", "linux/arm64"],
        "outputs": ["oci:out.tar"],  # written out: wins over the merged [push]
        "args": {"A": "common"},
    }
    # A list of mappings: earlier ones win (dev's outputs and args); the key written out wins
    # even though it comes before the merge; mappings are not merged deeply (args is dev's).
    assert targets["development"] == {
        "args": {"C": "own"},
        "outputs": ["load"],
        "platforms": ["linux/amd64", "linux/arm64"],
    }


def test_an_error_in_a_merged_value_points_at_the_anchor_line() -> None:
    text = MERGED.replace("[linux/amd64, linux/arm64]", "[linux/amd64, linux/arm65]")
    text = text.replace("x-common", "common").replace("x-dev", "dev")
    found = problems(text)
    # `common:` and `dev:` are unknown top-level keys; the bad platform is reported where it is
    # written (line 3), once per target that merged it.
    assert (
        "builds.yaml:3: targets.production.platforms: invalid platform 'linux/arm65': "
        "unknown architecture 'arm65'" in found
    )
    assert (
        "builds.yaml:3: targets.development.platforms: invalid platform 'linux/arm65': "
        "unknown architecture 'arm65'" in found
    )


@pytest.mark.parametrize("value", ["x", "[a, b]", "[*s]", "~", "*s"])
def test_a_merge_key_takes_only_mappings(value: str) -> None:
    text = HEAD + f"s: &s [1]\ntargets:\n  p:\n    <<: {value}\n"
    assert problems(text) == [
        "builds.yaml:5: targets.p.<<: a merge key takes a mapping (`<<: *name`) or a list of "
        "them (`<<: [*a, *b]`)"
    ]


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    text = HEAD + "targets:\n  p:\n    '<<': {stage: x}\n"
    (line,) = problems(text)
    assert line.startswith("builds.yaml:4: targets.p.<<: unknown key")


def test_a_key_written_twice_is_still_a_duplicate_next_to_a_merge() -> None:
    text = HEAD + "d: &d {stage: a}\ntargets:\n  p:\n    <<: *d\n    stage: b\n    stage: c\n"
    assert problems(text) == [
        "builds.yaml:7: targets.p.stage: duplicate key (the first one would be silently ignored)"
    ]


def test_aliases_that_expand_too_far_are_refused() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    assert problems("\n".join(levels) + "\n") == [
        "builds.yaml: more than 100000 values (aliases expanding?)"
    ]


def test_nested_merges_cannot_multiply_the_work_unseen() -> None:
    """Merging dedupes keys, so the result stays small; the work of 2**40 conversions would
    not. Counted across merges, it stops at the same limit."""
    levels = ["m0: &m0 {k: 1}"]
    levels += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 41)]
    assert problems("\n".join(levels) + "\n") == [
        "builds.yaml: more than 100000 values (aliases expanding?)"
    ]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert problems("a: &a [1, *a]\n") == ["builds.yaml: invalid YAML: an alias refers to itself"]


def test_x_keys_hold_anchors_and_are_not_validated() -> None:
    man = manifest.validate(yamlsrc.loads(MERGED, Path("builds.yaml")))
    assert man.targets["production"].platforms == ["linux/amd64", "linux/arm64"]
    assert man.targets["development"].outputs == ["load"]
    schema = manifest.json_schema()
    assert schema["patternProperties"] == {"^x-": {}}
    assert schema["additionalProperties"] is False  # other unknown top-level keys stay errors


@pytest.mark.parametrize(
    "section", ["variables", "mirrors", "verify", "defaults", "groups", "checks"]
)
def test_a_section_with_nothing_under_it_is_empty(section: str) -> None:
    """`verify:` whose only entry is commented out (the README's example) is YAML's null."""
    text = HEAD + f"{section}:\n  # a: b\ntargets: {{p: {{}}}}\n"
    value = getattr(manifest.validate(yamlsrc.loads(text, Path("builds.yaml"))), section)
    if section in ("defaults", "checks"):  # a model: nothing set in it
        assert value.model_fields_set == set()
    else:
        assert value == {}


def test_the_readmes_builds_yaml_loads() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith("version: 1") and "targets:" in b]
    assert examples
    for example in examples:
        manifest.validate(yamlsrc.loads(example, Path("builds.yaml")))
