"""`orchestrator import`: a resolved bake definition (what `bake --print` prints) -> builds.yaml.

Real buildx reads the files in tests/integration/test_import.py; here the conversion alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    monkeypatch.setattr(executor, "bake_definition", lambda _path, _names=(): bad)
    capsys.readouterr()
    out = tmp_path / "builds.yaml"
    assert main(["import", str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source}: the builds.yaml made from it would not load; nothing written" in err
    assert "the generated builds.yaml, line " in err
    assert "arm65" in err
    assert not out.exists()


# --- which names are asked for, in which order (bakenames + the import command) ----------

HCL = """\
variable "TAG" { default = "dev" }
# target "commented" {}
/* group "blocked" { targets = ["x"] } */
target "api" {
  args = { NOTE = "target \\"quoted\\" {", T = "${TAG}-}" }
  dockerfile-inline = <<EOT
target "heredoc" {
}
EOT
}
group "ci" { targets = ["api", "bin"] }
target worker {
  tags = ["x/worker:${TAG}"]
}
target "bin" {
  name = "bin-${os}"
  matrix = { os = ["linux", "darwin"] }
}
"""


def test_the_names_a_bake_file_declares_in_file_order(tmp_path: Path) -> None:
    from orchestrator import bakenames

    declared = bakenames.read(tmp_path / "docker-bake.hcl", HCL)
    assert declared.names == {
        "api": ("target", 4),
        "ci": ("group", 11),
        "worker": ("target", 12),
        "bin": ("target", 15),
    }
    as_json = '{"target": {"b": {}, "a": {}}, "group": {"all": {"targets": ["a", "b"]}}}'
    assert list(bakenames.read(tmp_path / "docker-bake.json", as_json).names) == ["all", "b", "a"]
    compose = "services:\n  web.app: {build: .}\n  db: {image: mariadb}\n  api: {build: api}\n"
    declared = bakenames.read(tmp_path / "compose.yaml", compose)
    assert (declared.kind, list(declared.names)) == ("compose", ["web_app", "api"])


def _fake_buildx(
    targets: dict[str, dict[str, object]], groups: dict[str, list[str]]
) -> tuple[list[list[str]], object]:
    """bake --print as buildx 0.13 answers: the named targets and groups (a matrix block's
    label as a group), and as `default` the list of the names asked for."""
    calls: list[list[str]] = []

    def bake_definition(_path: Path, names: Sequence[str] = ()) -> dict[str, object]:
        calls.append(list(names))
        asked = list(names) or ["default"]
        from orchestrator.errors import UserError

        out_targets: dict[str, object] = {}
        out_groups: dict[str, object] = {}

        def add(name: str) -> None:
            if name in groups:
                out_groups[name] = {"targets": list(groups[name])}
                for member in groups[name]:
                    add(member)
            elif name in targets:
                out_targets[name] = targets[name]
            else:
                raise UserError(
                    f"docker-bake.hcl: docker buildx bake --print: failed to find target {name}"
                )

        for name in asked:
            add(name)
        if asked != ["default"]:
            real = list(groups.get("default", []))
            out_groups["default"] = {"targets": real + [n for n in asked if n != "default"]}
        return {"group": out_groups, "target": dict(sorted(out_targets.items()))}

    return calls, bake_definition


def _import(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    targets: dict[str, dict[str, object]],
    groups: dict[str, list[str]],
    *names: str,
    source: str = "docker-bake.hcl",
) -> tuple[list[list[str]], dict[str, Any], str, int]:
    import yaml

    from orchestrator import executor
    from orchestrator.main import main

    (tmp_path / source).write_text(text)
    calls, fake = _fake_buildx(targets, groups)
    monkeypatch.setattr(executor, "bake_definition", fake)
    capsys.readouterr()
    code = main(["import", str(tmp_path / source), *names, "-o", "-"])
    out, err = capsys.readouterr()
    return calls, (yaml.safe_load(out) if code == 0 else {}), err, code


TARGETS: dict[str, dict[str, object]] = {
    "api": {"context": "."},
    "worker": {"context": ".", "tags": ["x/worker:dev"]},
    "bin-linux": {"context": ".", "platforms": ["linux/amd64"]},
    "bin-darwin": {"context": ".", "platforms": ["darwin/amd64"]},
}


def test_a_file_without_a_default_group_imports_every_target_and_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It asked buildx for `default` alone: 'failed to find target default', exit 2."""
    groups = {"ci": ["api", "bin"], "bin": ["bin-linux", "bin-darwin"]}
    calls, data, err, code = _import(tmp_path, monkeypatch, capsys, HCL, TARGETS, groups)
    assert code == 0, err
    assert calls == [["api", "ci", "worker", "bin"]]
    assert list(data["targets"]) == ["api", "worker", "bin-linux", "bin-darwin"]
    # buildx's `default` (the names asked for) is not a group of the file: not written.
    assert data["groups"] == {"ci": ["api", "bin"], "bin": ["bin-linux", "bin-darwin"]}
    assert "not carried over" not in err


def test_the_files_default_group_stays_the_default_and_the_rest_comes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the default group's targets were written, and nothing said the rest was left."""
    text = 'group "default" { targets = ["worker"] }\n' + HCL
    groups = {"default": ["worker"], "ci": ["api", "bin"], "bin": ["bin-linux", "bin-darwin"]}
    calls, data, err, code = _import(tmp_path, monkeypatch, capsys, text, TARGETS, groups)
    assert code == 0, err
    assert calls == [["default", "api", "ci", "worker", "bin"], ["default"]]
    assert set(data["targets"]) == set(TARGETS)
    assert data["groups"]["default"] == ["worker"]


def test_named_targets_are_the_ones_imported_and_the_rest_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = {"bin": ["bin-linux", "bin-darwin"]}
    calls, data, err, code = _import(
        tmp_path, monkeypatch, capsys, HCL, TARGETS, groups, "worker", "bin"
    )
    assert code == 0, err
    assert calls == [["worker", "bin"]]
    assert list(data["targets"]) == ["worker", "bin-linux", "bin-darwin"]
    assert data["groups"] == {"bin": ["bin-linux", "bin-darwin"]}
    assert "not carried over: not named on the command line: api, ci" in err


def test_the_order_is_the_files_whatever_order_buildx_prints(tmp_path: Path) -> None:
    """A compose file's `default` group came out as [backend, proxy] or [proxy, backend]."""
    from orchestrator import bakenames

    compose = "services:\n  proxy: {build: proxy}\n  backend: {build: backend}\n"
    declared = bakenames.read(tmp_path / "compose.yaml", compose)
    texts = set()
    for members in (["backend", "proxy"], ["proxy", "backend"]):
        definition = {
            "group": {"default": {"targets": members}},
            "target": {"backend": {"context": "backend"}, "proxy": {"context": "proxy"}},
        }
        data = bakeimport.convert(
            definition, tmp_path / "compose.yaml", tmp_path, "p", declared=declared
        ).data
        assert list(data["targets"]) == ["proxy", "backend"]
        texts.add(repr(data))
    assert len(texts) == 1
    assert data["groups"] == {"default": ["proxy", "backend"]}


def test_platform_local_is_left_out_and_said(tmp_path: Path) -> None:
    """docker/buildx's own bake file: `invalid platform 'local'`, nothing written."""
    definition = {
        "target": {
            "bin": {"context": ".", "platforms": ["local"]},
            "img": {"context": ".", "platforms": ["local", "linux/arm64"]},
        }
    }
    imported = bakeimport.convert(definition, tmp_path / "docker-bake.hcl", tmp_path, "p")
    assert "platforms" not in imported.data["targets"]["bin"]
    assert imported.data["targets"]["img"]["platforms"] == ["linux/arm64"]
    assert any(
        line.startswith("target bin: platform 'local' left out") and "its own platform" in line
        for line in imported.skipped
    )
    assert any(
        line.startswith("target img: platform 'local' left out") and "linux/arm64 only" in line
        for line in imported.skipped
    )


def test_a_problem_of_the_generated_file_is_named_in_the_bake_files_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was `the generated builds.yaml, line 16: targets.binaries.platforms: ...`."""
    targets: dict[str, dict[str, object]] = {
        **TARGETS,
        "bin-linux": {"context": ".", "platforms": ["linux/arm65"]},
    }
    groups = {"default": ["bin"], "ci": ["api"], "bin": ["bin-linux", "bin-darwin"]}
    text = 'group "default" { targets = ["bin"] }\n' + HCL
    _calls, _data, err, code = _import(tmp_path, monkeypatch, capsys, text, targets, groups)
    assert code == 2
    source = tmp_path / "docker-bake.hcl"
    assert f"{source}: the builds.yaml made from it would not load; nothing written" in err
    assert f"{source}:16: target bin (bin-linux): platforms: invalid platform 'linux/arm65'" in err
    assert "builds.yaml, line" not in err


def test_a_bare_output_is_a_folder_relative_to_the_manifest(tmp_path: Path) -> None:
    """buildx reads `output = ["./bin"]` as type=local,dest=./bin: it was 'no equivalent'."""
    (tmp_path / "deploy").mkdir()
    definition = {"target": {"bin": {"context": ".", "output": ["./bin", "-"]}}}
    imported = bakeimport.convert(
        definition, tmp_path / "deploy" / "docker-bake.hcl", tmp_path, "p"
    )
    assert imported.data["targets"]["bin"]["outputs"] == ["local:deploy/bin"]
    assert imported.skipped == [
        "target bin: output '-' (a tar on stdout): no builds.yaml equivalent"
    ]


def test_a_cache_only_output_is_said_to_become_a_load(tmp_path: Path) -> None:
    """`output = ["type=cacheonly"]` (docker/compose's lint) was dropped without a word, so the
    imported target loaded its image into the engine, which the bake file never did."""
    definition = {
        "target": {
            "lint": {"context": ".", "output": ["type=cacheonly"]},
            "both": {"context": ".", "output": ["type=cacheonly", "type=docker"]},
        }
    }
    imported = bakeimport.convert(definition, tmp_path / "docker-bake.hcl", tmp_path, "p")
    assert "outputs" not in imported.data["targets"]["lint"]
    assert imported.skipped == [
        "target lint: output 'type=cacheonly': builds.yaml has none; as an input of other "
        "targets it stays in the cache, built by name it is loaded (the default)"
    ]


def test_a_matrix_block_named_default_stays_the_default_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`target "default" { matrix = ... }`: buildx prints it as a group of its expansions, and
    asked for more names, that group with those names added; it was dropped."""
    text = 'target "api" {}\ntarget "default" {\n  name = tgt\n  matrix = { tgt = ["a", "b"] }\n}\n'
    targets: dict[str, dict[str, object]] = {"api": {}, "a": {}, "b": {}}
    groups = {"default": ["a", "b"]}
    calls, data, err, code = _import(tmp_path, monkeypatch, capsys, text, targets, groups)
    assert code == 0, err
    assert calls == [["api", "default"], ["default"]]
    assert list(data["targets"]) == ["api", "a", "b"]
    assert data["groups"] == {"default": ["a", "b"]}


def test_buildx_output_that_is_not_utf8_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """buildx quotes a file's bytes in its error: a Latin-1 bake file ended in exit 3
    (UnicodeDecodeError reading its stderr). A stand-in buildx writes such bytes here."""
    import sys

    from orchestrator import executor
    from orchestrator.errors import UserError

    script = "import sys; sys.stderr.buffer.write(b'ERROR: bad byte \\xff here\\n'); sys.exit(1)"
    monkeypatch.setattr(
        executor, "buildx", lambda *_a, **_k: ([sys.executable, "-c", script], None)
    )
    source = tmp_path / "docker-bake.hcl"
    source.write_bytes(b'target "a" { context = "\xff" }\n')
    with pytest.raises(UserError, match=r"docker buildx bake --print: bad byte \ufffd here$"):
        executor.bake_definition(source)


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_source_that_is_no_regular_file_is_said_to_be_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A FIFO or a directory given to import was "no such file"."""
    import os

    from orchestrator.main import main

    source = tmp_path / "docker-bake.hcl"
    os.mkfifo(source) if kind == "fifo" else source.mkdir()
    capsys.readouterr()
    assert main(["import", str(source), "-o", "-"]) == 2
    err = capsys.readouterr().err
    assert f"{source}: not a regular file" in err
