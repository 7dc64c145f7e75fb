"""Canary secrets: a random value used by a real build is found nowhere we or buildx put things.

One build per provenance mode (min, max) of a target whose RUN step mounts a file secret, an env
secret (both carry the canary) and an ssh agent with a throwaway key. Then every byte that build
left behind is searched for the canary, its base64 and its sha256 (and for the key file's lines):

* the OCI archive: index, manifests, configs (history included), every layer decompressed, the
  in-toto attestation blobs;
* the registry: the same walk over HTTP from the pushed index, plus `imagetools inspect --raw`
  and its SBOM/provenance views; the target is signed and has an SBOM, so this includes the
  cosign signature object (manifest with the signature annotation, payload layer) and the SPDX
  attestation;
* the engine's image store (`docker image inspect`, `docker history --no-trunc`);
* everything under `.orchestrator/` (bake definition, metadata file, report), the build log
  (stdout + stderr of `orchestrator build`) and `orchestrator plan` in all three formats.

The search is shown not to be vacuous: it counts what it opened, it must find the `/proof` file
the RUN step wrote (secrets were mounted and non-empty), and it must find a planted, harmless
build-arg value in the config history, and in the attestation with mode=max only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import secrets
import shutil
import subprocess
import tarfile
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Engine
from tests.integration.orchestrate import run_cli

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "manifest.list.v2+json")

DOCKERFILE = """\
FROM busybox:1.35 AS app
ARG MARKER
RUN --mount=type=secret,id=filetok --mount=type=secret,id=envtok --mount=type=ssh,required={ssh} \
    sh -c 'test -s /run/secrets/filetok && test -s /run/secrets/envtok \
    && test "$(cat /run/secrets/filetok)" = "$(cat /run/secrets/envtok)" \
    && test "$(wc -c < /run/secrets/envtok)" -eq 32 {ssh_check}&& echo used > /proof'
USER 10001:10001
"""


@dataclass
class Corpus:
    """Everything searched, by where it came from; counts prove the search was not empty."""

    items: list[tuple[str, bytes]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, where: str, data: bytes, kind: str) -> None:
        self.items.append((where, data))
        self.kinds[kind] += 1

    def hits(self, needles: dict[str, str]) -> list[str]:
        return [
            f"{label} in {where}"
            for where, data in self.items
            for label, needle in needles.items()
            if needle.encode() in data
        ]


def needles_for(value: str, prefix: str) -> dict[str, str]:
    raw = value.encode()
    return {
        f"{prefix} value": value,
        f"{prefix} base64": base64.b64encode(raw).decode(),
        f"{prefix} base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        f"{prefix} sha256": hashlib.sha256(raw).hexdigest(),
    }


def decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        zstd = shutil.which("zstd")
        if zstd is None:
            pytest.fail("a zstd layer and no zstd binary to open it: the search would be blind")
        return subprocess.run(
            [zstd, "-dc"], input=data, capture_output=True, check=True, timeout=60
        ).stdout
    return data


class Walker:
    """Walk an index/manifest tree from any blob source; add each blob, layers decompressed."""

    def __init__(self, corpus: Corpus, fetch: Any, origin: str, fetch_manifest: Any = None) -> None:
        self.corpus, self.fetch, self.origin = corpus, fetch, origin
        self.fetch_manifest = fetch_manifest or fetch
        self.layer_files: dict[str, bytes] = {}  # path in layer -> content (regular files)
        self.attestations: list[bytes] = []
        self.configs: list[bytes] = []

    def descriptor(self, desc: dict[str, Any]) -> None:
        data = self.fetch_manifest(desc["digest"])
        media = str(desc.get("mediaType", ""))
        where = f"{self.origin} {media or 'blob'} {desc['digest'][:19]}"
        if media.endswith(INDEX_TYPES):
            self.corpus.add(where, data, "index")
            for child in json.loads(data)["manifests"]:
                self.descriptor(child)
        elif "manifest" in media:
            self.corpus.add(where, data, "manifest")
            doc = json.loads(data)
            config = doc["config"]
            blob = self.fetch(config["digest"])
            self.corpus.add(f"{self.origin} config {config['digest'][:19]}", blob, "config")
            self.configs.append(blob)
            for layer in doc["layers"]:
                self.layer(layer)

    def layer(self, desc: dict[str, Any]) -> None:
        data = self.fetch(desc["digest"])
        media = str(desc.get("mediaType", ""))
        where = f"{self.origin} layer {desc['digest'][:19]}"
        self.corpus.add(where + " (as stored)", data, "blob")
        if "in-toto" in media:
            self.corpus.add(where + " (in-toto)", data, "attestation")
            self.attestations.append(data)
            if b'"predicateType":"https://spdx.dev/Document"' in data.replace(b" ", b""):
                self.corpus.add(where + " (sbom)", data, "sbom")
            return
        if "cosign" in media or desc.get("annotations", {}).get(
            "dev.cosignproject.cosign/signature"
        ):
            # The signed payload; the signature itself is the layer's annotation (in the manifest).
            self.corpus.add(where + " (cosign payload)", data, "signature")
            return
        plain = decompress(data)
        self.corpus.add(where + " (decompressed)", plain, "layer")
        with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
            for member in tar.getmembers():
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None:
                    self.layer_files[member.name] = handle.read()


def registry_walker(corpus: Corpus, repo_path: str) -> Walker:
    base = f"http://127.0.0.1:5000/v2/{repo_path}"
    return Walker(
        corpus,
        lambda digest: http_get(f"{base}/blobs/{digest}"),
        "registry",
        lambda digest: http_get(f"{base}/manifests/{digest}", ACCEPT),
    )


def http_get(url: str, accept: str = "*/*") -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 (127.0.0.1)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        data: bytes = response.read()
    return data


def orchestrator(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return run_cli(env, cwd, *args, timeout=timeout)


def ssh_key(folder: Path, comment: str) -> tuple[Path, bool]:
    """A throwaway key file (real when ssh-keygen exists: buildx must parse it to forward it)."""
    key = folder / "id_canary"
    keygen = shutil.which("ssh-keygen")
    if keygen:
        subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return key, True
    body = base64.b64encode(f"openssh-key-v1 fake {comment} {secrets.token_hex(32)}".encode())
    key.write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body.decode()}\n-----END OPENSSH PRIVATE KEY-----\n",
        encoding="utf-8",
    )
    return key, False


@pytest.mark.parametrize("mode", ["min", "max"])
def test_canary_secret_is_nowhere(engine: Engine, tmp_path: Path, mode: str) -> None:
    canary = secrets.token_hex(16)
    marker = f"harmless-marker-{secrets.token_hex(8)}"
    ssh_comment = f"sshcanary-{secrets.token_hex(8)}"
    vault = tmp_path / "vault"  # outside the build context
    vault.mkdir()
    (vault / "filetok").write_text(canary, encoding="utf-8")
    key, real_key = ssh_key(vault, ssh_comment)
    # The first body line is the same for every unencrypted OpenSSH key: not this key's secret.
    key_lines = [
        line for line in key.read_text(encoding="utf-8").splitlines() if line[:5] != "-----"
    ][1:]

    # Signed too: the signature object (payload and annotations) is searched like the image.
    keys = vault / "keys"
    keys.mkdir()
    key_password = secrets.token_hex(8)
    subprocess.run(
        ["cosign", "generate-key-pair"],
        cwd=keys,
        env={**engine.env, "COSIGN_PASSWORD": key_password},
        check=True,
        capture_output=True,
        timeout=60,
    )
    repo = engine.unique_repo("canary")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(
        DOCKERFILE.format(
            ssh="true" if real_key else "false",
            ssh_check='&& test -S "$SSH_AUTH_SOCK" ' if real_key else "",
        ),
        encoding="utf-8",
    )
    (project / ".dockerignore").write_text("*\n", encoding="utf-8")
    ssh_entry = f"    ssh: [{{id: default, paths: ['{key}']}}]\n" if real_key else ""
    (project / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: canary, image: {repo}}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        f"signing: {{key: '{keys / 'cosign.key'}', password-env: CANARY_KEY_PASSWORD}}\n"
        "targets:\n"
        "  app:\n"
        "    tags: [v1]\n"
        f"    args: {{MARKER: {marker}}}\n"
        "    sign: true\n"
        "    sbom: true\n"
        f"    sbom-generator: {engine.images['SCANNER_IMAGE']}\n"
        "    secrets:\n"
        f"      - {{id: filetok, file: '{vault / 'filetok'}'}}\n"
        "      - {id: envtok, env: CANARY_TOKEN}\n"
        f"{ssh_entry}"
        "    outputs: [push, 'oci:out/app.tar']\n"
        f"    provenance: {mode}\n",
        encoding="utf-8",
    )
    env = {
        **engine.env,
        "PYTHONPATH": str(ROOT),
        "CANARY_TOKEN": canary,
        "CANARY_KEY_PASSWORD": key_password,
        "CI": "true",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "ORCH_DEBUG": "1",
    }
    env.pop("SSH_AUTH_SOCK", None)

    corpus = Corpus()
    for fmt in ("text", "json", "bake"):
        out = orchestrator(env, project, "plan", "app", "--format", fmt)
        assert out.returncode == 0, out.stderr
        corpus.add(f"plan --format {fmt}", (out.stdout + out.stderr).encode(), "plan")
    build = orchestrator(env, project, "build", "app", "--ci")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    corpus.add("build log", (build.stdout + build.stderr).encode(), "log")
    for path in sorted((project / ".orchestrator").rglob("*")):
        if path.is_file():
            kind = "metadata" if path.name == "metadata.json" else "scratch"
            corpus.add(str(path.relative_to(project)), path.read_bytes(), kind)
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    (result,) = report["targets"]
    assert result["status"] == "ok"
    assert result["pushed"]

    # The OCI archive, walked offline.
    archive = project / "out" / "app.tar"
    corpus.add("oci archive (as written)", archive.read_bytes(), "archive")
    with tarfile.open(archive) as tar:
        files = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    offline = Walker(corpus, lambda d: files["blobs/" + d.replace(":", "/")], "oci")
    corpus.add("oci index.json", files["index.json"], "index")
    for desc in json.loads(files["index.json"])["manifests"]:
        offline.descriptor(desc)

    # The registry, over HTTP, from the release tag; and as buildx shows it.
    repo_path = repo.split("/", 1)[1]
    online = registry_walker(corpus, repo_path)
    top = http_get(f"http://127.0.0.1:5000/v2/{repo_path}/manifests/v1", ACCEPT)
    corpus.add("registry index v1", top, "index")
    for child in json.loads(top)["manifests"]:
        online.descriptor(child)
        raw = engine.run(
            "docker", "buildx", "imagetools", "inspect", "--raw", f"{repo}@{child['digest']}"
        ).stdout
        corpus.add(f"imagetools inspect --raw {child['digest'][:19]}", raw.encode(), "inspect")
    raw = engine.run("docker", "buildx", "imagetools", "inspect", "--raw", f"{repo}:v1").stdout
    corpus.add("imagetools inspect --raw v1", raw.encode(), "inspect")
    assert json.loads(raw)["manifests"], raw

    # The signature object cosign pushed beside the image (REPO:sha256-<hex>.sig), walked the
    # same way: its manifest carries the signature in an annotation, its layer the payload.
    assert result["signature"] == f"{repo}:{result['digest'].replace(':', '-')}.sig"
    sig_tag = result["signature"].rsplit(":", 1)[1]
    sig_manifest = http_get(f"http://127.0.0.1:5000/v2/{repo_path}/manifests/{sig_tag}", ACCEPT)
    corpus.add("signature manifest", sig_manifest, "manifest")
    for layer in json.loads(sig_manifest)["layers"]:
        online.layer(layer)
    for what in ("SBOM", "Provenance"):
        shown = engine.run(
            "docker", "buildx", "imagetools", "inspect", f"{repo}:v1", "--format",
            f"{{{{json .{what}}}}}",
        ).stdout  # fmt: skip
        corpus.add(f"imagetools inspect .{what}", shown.encode(), "inspect")

    # The engine's own image store, when the push left a local copy there.
    staging = f"{repo}:orchestrator-staging-app"
    for args in (("image", "inspect", staging), ("history", "--no-trunc", staging)):
        local = engine.run("docker", *args, check=False)
        if local.returncode == 0:
            corpus.add(f"docker {args[0]} {args[1]}", local.stdout.encode(), "engine")

    # Not vacuous: what was opened, what the RUN step wrote, what a harmless arg left behind.
    for walker in (offline, online):
        assert walker.layer_files.get("proof") == b"used\n", sorted(walker.layer_files)[:20]
        assert any(marker.encode() in c for c in walker.configs), "marker not in config history"
        in_attestation = any(marker.encode() in a for a in walker.attestations)
        assert walker.attestations, "no in-toto attestation found"
        assert in_attestation == (mode == "max"), f"mode={mode}: marker in provenance"
    assert corpus.kinds["layer"] >= 4  # busybox + RUN layer, offline and online
    kinds = ("index", "manifest", "config", "attestation", "sbom", "signature", "metadata", "log")
    for kind in (*kinds, "plan"):
        assert corpus.kinds[kind] >= 1, (kind, corpus.kinds)
    assert corpus.hits({"marker": marker}), "the search finds nothing at all"
    assert corpus.hits({"secret id": "envtok"}), "secret ids are expected in plan and provenance"

    needles = needles_for(canary, "canary") | needles_for(ssh_comment, "ssh comment")
    needles |= {f"ssh key line {i}": line for i, line in enumerate(key_lines)}
    needles |= needles_for(key_password, "signing key password")
    assert corpus.hits(needles) == [], corpus.kinds


def test_a_step_that_prints_the_secret_and_fails_is_masked(engine: Engine, tmp_path: Path) -> None:
    """Our error block quotes the failing step's output: the secret in it becomes `***`."""
    canary = secrets.token_hex(16)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(
        "FROM busybox:1.35 AS app\n"
        'RUN --mount=type=secret,id=envtok sh -c \'echo "token is $(cat /run/secrets/envtok)"; '
        "exit 3'\n"
        "USER 10001:10001\n",
        encoding="utf-8",
    )
    (project / ".dockerignore").write_text("*\n", encoding="utf-8")
    (project / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: canary, image: {engine.unique_repo('masked')}}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        "targets:\n"
        "  app:\n"
        "    secrets: [{id: envtok, env: CANARY_TOKEN}]\n",
        encoding="utf-8",
    )
    env = {**engine.env, "PYTHONPATH": str(ROOT), "CANARY_TOKEN": canary, "NO_COLOR": "1"}
    for ci in ("true", "false"):
        build = orchestrator({**env, "CI": ci}, project, "build", "app")
        assert build.returncode == 1, build.stderr[-3000:]
        log = build.stdout + build.stderr
        assert "| token is ***" in log  # the step's output is shown, and masked
        report = (project / ".orchestrator" / "report.json").read_text(encoding="utf-8")
        for needle in needles_for(canary, "canary").values():
            assert needle not in log
            assert needle not in report
