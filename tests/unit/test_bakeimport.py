"""`orchestrator import`: a resolved bake definition (what `bake --print` prints) -> builds.yaml.

Real buildx reads the files in tests/integration/test_import.py; here the conversion alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import bakeimport, manifest, yamlsrc

DEFINITION = {
    "group": {"default": {"targets": ["api", "web"]}, "ci": {"targets": ["api", "gone"]}},
    "target": {
        "api": {
            "context": ".",
            "dockerfile": "Dockerfile",
            "target": "production",
            "args": {"GO_VERSION": "1.23", "UNSET": None},
            "labels": {"team": "shop", "a=b": "x"},
            "tags": [
                "localhost:5000/acme/api:1.0",
                "localhost:5000/acme/api:latest",
                "ghcr.io/acme/api:1.0",
            ],
            "platforms": ["linux/amd64", "linux/arm64"],
            "cache-from": ["localhost:5000/acme/api:cache"],
            "cache-to": ["type=inline"],
            "secret": ["id=netrc,src=netrc.txt", "id=token,env=TOKEN", "id=PLAIN"],
            "ssh": ["default", "key=/k1,/k2"],
            "output": ["type=registry"],
            "attest": ["type=provenance,mode=max", "type=sbom", "type=sbom,generator=x"],
            "call": "check",
        },
        "web": {
            "context": "web",
            "dockerfile": "Web.Dockerfile",
            "tags": ["localhost:5000/acme/web"],
            "output": ["type=docker", "type=local,dest=out", "type=weird"],
            "no-cache": True,
        },
        "bad.name": {"context": "."},
    },
}


def _convert(tmp_path: Path) -> bakeimport.Imported:
    return bakeimport.convert(DEFINITION, tmp_path / "docker-bake.hcl", tmp_path, "shop")


def test_targets_carry_over_with_repositories_split_from_tags(tmp_path: Path) -> None:
    data = _convert(tmp_path).data
    assert data["project"] == {"name": "shop", "image": "localhost:5000/acme/api"}
    api = data["targets"]["api"]
    assert api["stage"] == "production"
    assert api["args"] == {"GO_VERSION": "1.23"}
    # bake's `latest` is a literal tag; in builds.yaml the word is a rule: carried as a literal.
    assert api["tags"] == ["1.0", {"type": "raw", "value": "latest"}]
    assert api["labels"] == {"team": "shop"}
    assert api["platforms"] == ["linux/amd64", "linux/arm64"]
    assert api["cache"] == {
        "from": ["type=registry,ref=localhost:5000/acme/api:cache"],
        "to": ["type=inline"],
    }
    assert api["secrets"] == [
        {"id": "netrc", "file": "netrc.txt"},
        {"id": "token", "env": "TOKEN"},
        {"id": "PLAIN", "env": "PLAIN"},
    ]
    assert api["ssh"] == [{"id": "default"}, {"id": "key", "paths": ["/k1", "/k2"]}]
    assert api["outputs"] == ["push"]
    assert (api["provenance"], api["sbom"]) == ("max", True)
    web = data["targets"]["web"]
    assert web["image"] == "localhost:5000/acme/web"
    assert (web["context"], web["dockerfile"]) == ("web", "Web.Dockerfile")
    assert web["tags"] == [{"type": "raw", "value": "latest"}]
    assert web["outputs"] == ["load", "local:out"]
    assert web["no-cache"] is True
    assert data["groups"] == {"default": ["api", "web"], "ci": ["api"]}


def test_what_cannot_be_carried_over_is_listed(tmp_path: Path) -> None:
    skipped = _convert(tmp_path).skipped
    assert "target bad.name: not a valid builds.yaml name; left out" in skipped
    assert "target api: call: no builds.yaml equivalent" in skipped
    assert (
        "target api: attest 'type=sbom,generator=x': only provenance and plain sbom carry over"
        in skipped
    )
    assert "target web: output 'type=weird': no builds.yaml equivalent" in skipped
    assert "group ci: members left out: gone" in skipped
    assert not any("keyword" in line for line in skipped)
    assert "target api: label 'a=b': a key with '=' or blank; left out" in skipped
    assert (
        "target api: tags differ between repositories; builds.yaml pushes 1.0, latest to each "
        "of localhost:5000/acme/api, ghcr.io/acme/api" in skipped
    )


def test_other_repositories_become_images(tmp_path: Path) -> None:
    api = _convert(tmp_path).data["targets"]["api"]
    assert api["images"] == ["localhost:5000/acme/api", "ghcr.io/acme/api"]


def test_the_result_is_a_valid_manifest(tmp_path: Path) -> None:
    import yaml

    text = yaml.safe_dump(_convert(tmp_path).data, sort_keys=False)
    man = manifest.validate(yamlsrc.loads(text, tmp_path / "builds.yaml"))
    assert set(man.targets) == {"api", "web"}


def test_contexts_are_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    data = bakeimport.convert(
        {"target": {"a": {"context": "..", "tags": []}, "b": {"context": "https://x/y.git"}}},
        tmp_path / "deploy" / "docker-bake.hcl",
        tmp_path,
        "p",
    ).data
    assert data["targets"]["a"]["context"] == "."
    assert data["targets"]["b"]["context"] == "https://x/y.git"
    assert data["project"]["image"] == "${REGISTRY}/p"
    assert data["variables"] == {"REGISTRY": "localhost:5000"}


def test_a_result_that_would_not_load_is_named_as_generated_and_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its problems carried `builds.yaml:15:` line numbers of a file that was never written."""
    from orchestrator import executor
    from orchestrator.main import main

    source = tmp_path / "docker-bake.json"
    source.write_text("{}")
    bad = {"target": {"app": {"context": ".", "platforms": ["linux/arm65"]}}}
    monkeypatch.setattr(executor, "bake_definition", lambda _path: bad)
    capsys.readouterr()
    out = tmp_path / "builds.yaml"
    assert main(["import", str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source}: the builds.yaml made from it would not load; nothing written" in err
    assert "the generated builds.yaml, line " in err
    assert "arm65" in err
    assert not out.exists()
