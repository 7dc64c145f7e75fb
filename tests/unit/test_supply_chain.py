"""Signing, SBOM generator and base-image keys in the plan; verify's checks on fetched data;
the publish order (sign before any tag) with the cosign/imagetools seams patched."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator import argv, executor, manifest, signing
from orchestrator.commands import build, verify
from orchestrator.errors import BuildFailed, ManifestError, UserError
from orchestrator.report import Report, TargetResult, markdown

from .helpers import BASE, resolve, write_project

DIGEST = "sha256:" + "b" * 64
SIGNED = BASE.replace(
    "    outputs: [push]\n",
    "    outputs: [push]\n    sign: true\n    sbom: true\n"
    "    sbom-generator: ${REGISTRY}/scanner:1\n",
).replace(
    "defaults:\n",
    "variables: {REGISTRY: localhost:5000}\n"
    "signing: {key: keys/cosign.key, password-env: KEYPASS}\n"
    "verify: {'golang:1.23-bookworm': {key: keys/base.pub}}\n"
    "defaults:\n",
)


def test_plan_carries_signing_generator_and_base_keys(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path, SIGNED), ["all"])
    assert plan.signing is not None
    assert plan.signing.key == str(tmp_path / "keys" / "cosign.key")
    assert plan.signing.public_key == str(tmp_path / "keys" / "cosign.pub")
    assert plan.signing.password_env == "KEYPASS"  # noqa: S105 (a variable name)
    prod = plan.target("production")
    assert prod.sign
    assert not plan.target("development").sign
    assert prod.sbom_generator == "localhost:5000/scanner:1"
    assert {b.verify_key for b in prod.base_images} == {str(tmp_path / "keys" / "base.pub")}
    assert "type=sbom,generator=localhost:5000/scanner:1" in argv.bake_target(prod)["attest"]
    assert "--sbom=generator=localhost:5000/scanner:1" in argv.build_argv(prod)
    # The plan names the key file and the password's variable, never a value.
    assert json.loads(json.dumps(plan.to_dict()))["signing"]["password_env"] == "KEYPASS"  # noqa: S105


def test_set_overrides_sign_and_the_generator(tmp_path: Path) -> None:
    path = write_project(tmp_path, SIGNED)
    off = resolve(path, sets=["production.sign=false"]).target("production")
    assert not off.sign
    other = resolve(path, sets=["production.sbom-generator=${REGISTRY}/other:2"])
    assert other.target("production").sbom_generator == "localhost:5000/other:2"


def test_key_from_env_needs_a_public_key(tmp_path: Path) -> None:
    text = SIGNED.replace(
        "signing: {key: keys/cosign.key, password-env: KEYPASS}",
        "signing: {key-env: COSIGN_KEY, public-key: keys/ci.pub}",
    )
    plan = resolve(write_project(tmp_path, text))
    assert plan.signing is not None
    assert plan.signing.key == "env://COSIGN_KEY"
    assert plan.signing.password_env == "COSIGN_PASSWORD"  # noqa: S105 (a name)
    broken = text.replace(", public-key: keys/ci.pub", "")
    with pytest.raises(ManifestError) as info:
        resolve(write_project(tmp_path, broken))
    assert "signing: 'key-env' needs 'public-key'" in "\n".join(info.value.problems)


def test_sign_without_signing_or_push_is_refused_with_its_line(tmp_path: Path) -> None:
    no_key = BASE.replace("    outputs: [push]\n", "    outputs: [push]\n    sign: true\n")
    with pytest.raises(ManifestError, match=r"builds.yaml:\d+: targets.production.sign: needs"):
        resolve(write_project(tmp_path, no_key))
    loaded = SIGNED.replace("    outputs: [load]\n", "    outputs: [load]\n    sign: true\n")
    with pytest.raises(ManifestError, match=r"targets\.development\.sign: only pushed images"):
        resolve(write_project(tmp_path, loaded), ["development"])


def test_signing_problems_name_the_missing_key_and_password(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path, SIGNED))
    found = signing.problems(plan, environ={})
    assert found == [
        f"signing.key: {tmp_path / 'keys' / 'cosign.key'} does not exist "
        "(`make engine` writes a dev key)",
        "signing.password-env: KEYPASS is not set (the key's password; `. .engine/env` sets it "
        "for the dev key)",
    ]
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.key").write_text("k", encoding="utf-8")
    assert signing.problems(plan, environ={"KEYPASS": ""}) == []  # an empty password is one


def test_unreachable_generator_and_unsigned_base_are_preflight_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = resolve(write_project(tmp_path, SIGNED))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "base.pub").write_text("pub", encoding="utf-8")

    def no_image(ref: str) -> str:
        raise UserError(f"resolving {ref}: not found")

    monkeypatch.setattr(executor, "index_digest", no_image)
    monkeypatch.setattr(executor, "cosign_verify", lambda *_: (False, "no signatures found"))
    found = signing.registry_problems(plan)
    assert found[0].startswith(
        "production: sbom: true, but the SBOM scanner localhost:5000/scanner:1 is not reachable "
        "(not found); `make engine` builds an offline one"
    )
    assert "base golang:1.23-bookworm (golang:1.23-bookworm): no signature valid for" in found[1]
    assert found[1].endswith("(no signatures found)")
    monkeypatch.setattr(executor, "index_digest", lambda _ref: DIGEST)
    monkeypatch.setattr(executor, "cosign_verify", lambda *_: (True, "ok"))
    assert signing.registry_problems(plan) == []


def _result(name: str) -> TargetResult:
    return TargetResult(name=name, status="ok", digest=DIGEST)


def test_publish_signs_every_target_before_the_first_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = SIGNED.replace("    outputs: [load]\n", "    outputs: [push]\n    sign: true\n")
    plan = resolve(write_project(tmp_path, text), ["all"])
    events: list[str] = []
    monkeypatch.setenv("KEYPASS", "pw")
    monkeypatch.setattr(
        executor, "cosign_sign", lambda ref, _key, pw: events.append(f"sign {ref} {pw == 'pw'}")
    )
    monkeypatch.setattr(executor, "signature_ref", lambda ref: ref.replace("@", ":") + ".sig")
    monkeypatch.setattr(executor, "publish", lambda _tags, src: events.append(f"tag {src}"))
    monkeypatch.setattr(executor, "platform_digests", lambda _ref: {"linux/amd64": DIGEST})
    monkeypatch.setattr(signing, "attestations", lambda *_: {"linux/amd64": ["provenance"]})
    report = Report("app", "1.2.3", "0123456", "ok", 1.0, [_result(t.name) for t in plan.targets])
    build._publish(plan, report)
    assert [e.split()[0] for e in events] == ["sign", "sign", "tag", "tag"]
    assert all(e.endswith("True") for e in events[:2])  # the password came from KEYPASS
    assert report.targets[1].signature == f"localhost:5000/app:{DIGEST}.sig"
    assert report.targets[1].attestations == {"linux/amd64": ["provenance"]}
    summary = markdown(report)
    assert f"| production | `localhost:5000/app:{DIGEST}.sig` | linux/amd64: provenance |" in (
        summary
    )


def test_a_signing_failure_attaches_no_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = resolve(write_project(tmp_path, SIGNED))
    tagged: list[str] = []
    monkeypatch.setenv("KEYPASS", "pw")

    def refuse(ref: str, key: str, pw: str) -> None:
        raise UserError(f"signing {ref}: error: decrypt: encrypted: decryption failed")

    monkeypatch.setattr(executor, "cosign_sign", refuse)
    monkeypatch.setattr(executor, "publish", lambda _tags, src: tagged.append(src))
    report = Report("app", "1.2.3", "0123456", "ok", 1.0, [_result("production")])
    with pytest.raises(BuildFailed) as info:
        build._publish(plan, report)
    assert info.value.message == "production: signing failed; no tags were attached"
    assert "decryption failed" in info.value.problems[0]
    assert "pw" not in " ".join(info.value.lines())
    assert tagged == []


SLSA = {
    "SLSA": {
        "metadata": {"https://mobyproject.org/buildkit@v1#metadata": {"vcs": {"revision": "abc"}}}
    }
}


def _image(revision: str) -> dict[str, Any]:
    return {"config": {"Labels": {"org.opencontainers.image.revision": revision}}}


def test_provenance_checks_per_platform() -> None:
    plats = ["linux/amd64", "linux/arm64"]
    images = {"linux/amd64": _image("abc"), "linux/arm64": _image("def")}
    checks = verify.provenance_checks("r", plats, {"linux/amd64": SLSA}, images)
    assert [c.line() for c in checks] == [
        "ok   r provenance linux/amd64: commit abc = org.opencontainers.image.revision",
        "FAIL r provenance linux/arm64: no provenance attestation",
    ]
    both = {"linux/amd64": SLSA, "linux/arm64": SLSA}
    mismatch = verify.provenance_checks("r", plats, both, images)[1]
    assert mismatch.line() == "FAIL r provenance linux/arm64: commit abc, but the label says def"
    # A single-platform image: imagetools answers the bare value, not a map.
    (single,) = verify.provenance_checks("r", ["linux/amd64"], SLSA, _image("abc"))
    assert single.ok


def test_sbom_checks_need_packages_per_platform() -> None:
    spdx = {
        "SPDX": {
            "spdxVersion": "SPDX-2.3",
            "packages": [{"name": "stdlib", "versionInfo": "go1.23.5"}],
        }
    }
    checks = verify.sbom_checks("r", ["linux/amd64", "linux/arm64"], {"linux/amd64": spdx})
    assert checks[0].line() == "ok   r sbom linux/amd64: SPDX-2.3, 1 packages (stdlib go1.23.5)"
    assert checks[1].line() == "FAIL r sbom linux/arm64: no SBOM attestation"


def test_a_moved_tag_names_both_digests(tmp_path: Path) -> None:
    other = "sha256:" + "c" * 64
    check = verify.digest_check("app:v1", other, DIGEST, "report.json")
    assert not check.ok
    assert check.detail == f"the tag points at {other}, but report.json recorded {DIGEST}"
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {"targets": [{"pushed": True, "digest": DIGEST, "tags": ["app:v1", "app:latest"]}]}
        ),
        encoding="utf-8",
    )
    assert verify.recorded_digests(report) == {"app:v1": DIGEST, "app:latest": DIGEST}
    assert verify.recorded_digests(tmp_path / "missing.json") == {}
    # Named with --report: a mistyped path must not skip the digest comparison unseen, and
    # a file that is no report is one line, never a traceback.
    with pytest.raises(UserError, match="no such report file"):
        verify.recorded_digests(tmp_path / "missing.json", required=True)
    for text, why in (
        ("{", "invalid JSON"),
        ("[]", "no list of targets"),
        ('{"targets": 1}', "no list"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"targets": [' + "1" * 5000 + "]}", "invalid JSON"),
    ):
        report.write_text(text, encoding="utf-8")
        with pytest.raises(UserError, match=why):
            verify.recorded_digests(report)


def test_verify_command_exits_1_and_prints_one_line_per_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_project(tmp_path, SIGNED)
    monkeypatch.setenv("TOKEN", "x")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_text("pub", encoding="utf-8")
    monkeypatch.setattr(executor, "index_digest", lambda _ref: DIGEST)
    monkeypatch.setattr(executor, "cosign_verify", lambda *_: (False, "no signatures found"))
    monkeypatch.setattr(executor, "platform_digests", lambda _ref: {"linux/amd64": DIGEST})
    answers = {"Provenance": {"linux/amd64": SLSA}, "Image": {"linux/amd64": _image("abc")}}
    monkeypatch.setattr(executor, "imagetools_json", lambda _ref, f: answers.get(f))
    args = argparse.Namespace(
        file=path,
        var=[],
        sets=[],
        refs=["localhost:5000/app:v1"],
        format="json",
        key=None,
        report=None,
    )
    loads: list[Path] = []
    real_load = manifest.load

    def counted(path: Path) -> Any:
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(manifest, "load", counted)
    assert verify.run(args) == 1
    assert loads == [path]  # builds.yaml read and validated once per run
    out = json.loads(capsys.readouterr().out)
    assert [(c["check"], c["ok"]) for c in out] == [
        ("digest", True),
        ("signature", False),
        ("provenance linux/amd64", True),
        ("sbom linux/amd64", False),
    ]
    assert out[1]["detail"] == f"no signatures found ({tmp_path / 'keys' / 'cosign.pub'})"
