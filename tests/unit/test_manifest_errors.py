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
        "builds.yaml:6: targets.p.outputs: 'pushh': expected load, push, oci:PATH, docker:PATH, local:DIR",
        "builds.yaml:7: targets.p.provenance: 'maybe': expected false, true (= min), min or max",
        "builds.yaml:9: targets.p.secrets[0]: give exactly one of 'env' or 'file'",
    ]


def test_missing_required_keys() -> None:
    assert problems("project: {name: app}\n") == [
        "builds.yaml:1: project.image: required key is missing",
        "builds.yaml:1: targets: required key is missing",
    ]


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
