"""registry.py: where each reference is dialled, the docker CLI's credentials, and how answers a
registry on 127.0.0.1 gives (a small HTTP server here) become results, errors or a fallback to
buildx. The same calls against the real registry: tests/integration/test_registry_http.py."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orchestrator import executor, readahead, refs, registry, signing
from orchestrator.errors import UserError
from orchestrator.progress import Tracker

INDEX = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []},
    separators=(",", ":"),
).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX).hexdigest()
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


@pytest.mark.parametrize(
    ("text", "host", "repository", "insecure"),
    [
        ("busybox:1.35", registry.HUB_HOST, "library/busybox", False),
        ("docker.io/acme/app:1", registry.HUB_HOST, "acme/app", False),
        ("localhost:5000/app@" + INDEX_DIGEST, "localhost:5000", "app", True),
        ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000", "a/b", True),
        ("[::1]:5000/a:1", "[::1]:5000", "a", True),
        ("ghcr.io/acme/app:1", "ghcr.io", "acme/app", False),
        ("localhost.example.com/app:1", "localhost.example.com", "app", False),
    ],
)
def test_endpoint(text: str, host: str, repository: str, insecure: bool) -> None:
    assert registry.endpoint(refs.parse_reference(text)) == registry.Endpoint(
        host, repository, insecure
    )


def test_same_repository() -> None:
    source = f"localhost:5000/app@{INDEX_DIGEST}"
    assert registry.same_repository(source, "localhost:5000/app:v1")
    assert not registry.same_repository(source, "localhost:5000/other:v1")
    assert not registry.same_repository(source, "127.0.0.1:5000/app:v1")
    assert registry.same_repository("busybox@" + INDEX_DIGEST, "docker.io/library/busybox:1")


def _config(tmp: Path, monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]) -> None:
    (tmp / "config.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp))


def test_credentials_from_auths_as_the_cli_stores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = base64.b64encode(b"ci:pa:ss").decode()
    _config(
        tmp_path,
        monkeypatch,
        {"auths": {"ghcr.io": {"auth": token}, "https://index.docker.io/v1/": {"auth": token}}},
    )
    assert registry.credentials("ghcr.io") == ("ci", "pa:ss")  # a colon in the password kept
    assert registry.credentials(registry.HUB_HOST) == ("ci", "pa:ss")  # Hub's v1 key
    assert registry.credentials("quay.io") is None


@pytest.mark.parametrize(
    "entry",
    [{"auth": "%%%not-base64"}, {"auth": base64.b64encode(b"\xff\xfe:x").decode()}],
)
def test_an_unreadable_entry_is_left_to_buildx_and_says_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: object
) -> None:
    _config(tmp_path, monkeypatch, {"auths": {"ghcr.io": entry}})
    with pytest.raises(registry.Fallback) as caught:
        registry.credentials("ghcr.io")
    assert str(caught.value) == "unreadable credentials for ghcr.io"


def test_no_config_is_anonymous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    assert registry.credentials("ghcr.io") is None


def test_identity_tokens_are_left_to_buildx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, {"auths": {"acr.example": {"identitytoken": "x"}}})
    with pytest.raises(registry.Fallback):
        registry.credentials("acr.example")


def test_a_credential_helper_is_asked_through_the_process_seam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, {"credHelpers": {"ghcr.io": "pass"}, "credsStore": "desktop"})
    asked: list[tuple[list[str], str | None]] = []

    def query(
        argv: list[str], what: str, env: object = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        asked.append((list(argv), stdin))
        answer = json.dumps({"Username": "robot", "Secret": "s3"})
        return subprocess.CompletedProcess(argv, 0, answer, "")

    monkeypatch.setattr(executor, "query", query)
    assert registry.credentials("ghcr.io") == ("robot", "s3")
    assert registry.credentials("quay.io") == ("robot", "s3")  # the store, for every other host
    assert asked == [
        (["docker-credential-pass", "get"], "ghcr.io"),
        (["docker-credential-desktop", "get"], "quay.io"),
    ]


class _Registry(http.server.BaseHTTPRequestHandler):
    """Answers per path from `script` (a list of (status, headers, body) per path, consumed in
    order); records every request."""

    script: ClassVar[dict[str, list[tuple[int, dict[str, str], bytes]]]] = {}
    seen: ClassVar[list[tuple[str, str, bytes]]] = []
    ports: ClassVar[list[int]] = []  # the client's port of each request: its connection
    protocol_version = "HTTP/1.1"  # connections kept open, as a registry does

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, body))
        self.ports.append(self.client_address[1])
        steps = self.script.get(self.path) or [(404, {}, b'{"errors":[]}')]
        status, headers, payload = steps.pop(0) if len(steps) > 1 else steps[0]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[str]:
    _Registry.script = {}
    _Registry.seen = []
    _Registry.ports = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        registry._by_digest.clear()


def _index(status: int = 200) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": INDEX_TYPE, "Docker-Content-Digest": INDEX_DIGEST}
    return status, headers, INDEX


def test_tagging_is_one_put_of_the_exact_bytes(fake: str) -> None:
    _Registry.script = {
        f"/v2/app/manifests/{INDEX_DIGEST}": [_index()],
        "/v2/app/manifests/v1": [(201, {"Docker-Content-Digest": INDEX_DIGEST}, b"")],
        "/v2/app/manifests/latest": [(201, {"Docker-Content-Digest": INDEX_DIGEST}, b"")],
    }
    executor.publish([f"{fake}/app:v1", f"{fake}/app:latest"], f"{fake}/app@{INDEX_DIGEST}")
    puts = [(path, body) for method, path, body in _Registry.seen if method == "PUT"]
    assert puts == [("/v2/app/manifests/v1", INDEX), ("/v2/app/manifests/latest", INDEX)]
    # read back by digest afterwards: the bytes are known, no second GET
    assert executor.manifest(f"{fake}/app@{INDEX_DIGEST}")["manifests"] == []
    assert [m for m, _, _ in _Registry.seen].count("GET") == 1


def test_requests_to_one_registry_share_a_kept_connection(fake: str) -> None:
    """30 targets are 30 repositories of one registry: one connection per thread for all."""
    _Registry.script = {f"/v2/{name}/manifests/v1": [_index()] for name in ("app", "web", "api")}
    for name in ("app", "web", "api", "app"):
        assert executor.index_digest(f"{fake}/{name}:v1") == INDEX_DIGEST
    assert len(_Registry.ports) == 4
    assert len(set(_Registry.ports)) == 1


def test_head_gives_the_digest_a_tag_resolves_to(fake: str) -> None:
    _Registry.script = {"/v2/app/manifests/v1": [_index()]}
    assert executor.index_digest(f"{fake}/app:v1") == INDEX_DIGEST
    assert _Registry.seen[0][0] == "HEAD"


def test_bytes_that_do_not_match_the_digest_are_refused(fake: str) -> None:
    other = "sha256:" + "0" * 64
    _Registry.script = {f"/v2/app/manifests/{other}": [_index()]}
    with pytest.raises(UserError, match="not sha256:0000"):
        executor.manifest(f"{fake}/app@{other}")


def test_a_5xx_is_retried_then_answered(fake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_pause", lambda _s: None)
    _Registry.script = {"/v2/app/manifests/v1": [(503, {}, b""), (503, {}, b""), _index()]}
    assert executor.index_digest(f"{fake}/app:v1") == INDEX_DIGEST
    assert len(_Registry.seen) == 3


def test_manifest_unknown_is_one_line(fake: str) -> None:
    with pytest.raises(UserError) as caught:
        executor.index_digest(f"{fake}/app:nope")
    assert caught.value.message == f"resolving {fake}/app:nope: not found in the registry"


def test_what_the_client_cannot_do_falls_back_to_buildx(
    fake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 over plain HTTP (or any odd status) is buildx's to answer: the process runs."""
    ran: list[tuple[str, ...]] = []

    def buildx(*args: str, **_kw: object) -> subprocess.CompletedProcess[str]:
        ran.append(args)
        answer = json.dumps({"digest": INDEX_DIGEST})
        return subprocess.CompletedProcess(list(args), 0, answer, "")

    monkeypatch.setattr(executor, "run_buildx", buildx)
    _Registry.script = {
        "/v2/app/manifests/v1": [(401, {"WWW-Authenticate": 'Basic realm="x"'}, b"")],
        "/v2/app/manifests/v2": [(400, {}, b"")],
    }
    assert executor.index_digest(f"{fake}/app:v1") == INDEX_DIGEST
    assert executor.index_digest(f"{fake}/app:v2") == INDEX_DIGEST
    assert [a[:2] for a in ran] == [("imagetools", "inspect")] * 2
    monkeypatch.setenv(registry.SWITCH, "0")  # off: every call is the process, nothing dialled
    before = len(_Registry.seen)
    assert executor.index_digest(f"{fake}/app:v1") == INDEX_DIGEST
    assert len(_Registry.seen) == before
    assert len(ran) == 3


def test_a_tag_in_another_repository_is_copied_by_buildx(
    fake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its child manifests and blobs are not in that repository: imagetools create copies."""
    created: list[tuple[str, ...]] = []

    def buildx(*args: str, **_kw: object) -> subprocess.CompletedProcess[str]:
        created.append(args)
        return subprocess.CompletedProcess(list(args), 0, "", "")

    monkeypatch.setattr(executor, "run_buildx", buildx)
    _Registry.script = {
        f"/v2/app/manifests/{INDEX_DIGEST}": [_index()],
        "/v2/app/manifests/v1": [(201, {"Docker-Content-Digest": INDEX_DIGEST}, b"")],
    }
    source = f"{fake}/app@{INDEX_DIGEST}"
    executor.publish([f"{fake}/app:v1", f"{fake}/mirror:v1"], source)
    assert [p for m, p, _ in _Registry.seen if m == "PUT"] == ["/v2/app/manifests/v1"]
    assert created == [("imagetools", "create", "--tag", f"{fake}/mirror:v1", source)]


def _json(data: object) -> tuple[bytes, str]:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return raw, "sha256:" + hashlib.sha256(raw).hexdigest()


def test_a_pushed_image_is_read_back_while_the_bake_runs_and_publishing_reuses_it(
    fake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """readahead.py: the index and its attestation manifests are read once, in the background,
    when the progress stream says the push completed; the read-back after the bake then asks
    the registry nothing. Another repository's push (a cache export, say) is not read."""
    oci = "application/vnd.oci.image.manifest.v1+json"
    predicate = "https://slsa.dev/provenance/v0.2"
    attestation, att_digest = _json(
        {"schemaVersion": 2, "mediaType": oci, "layers": [
            {"annotations": {"in-toto.io/predicate-type": predicate}}]}
    )  # fmt: skip
    platform = "sha256:" + "2" * 64
    index, digest = _json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {"digest": platform, "platform": {"os": "linux", "architecture": "arm64"}},
                {
                    "digest": att_digest,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": platform,
                    },
                },
            ],
        }
    )
    _Registry.script = {
        f"/v2/app/manifests/{digest}": [(200, {"Content-Type": INDEX_TYPE}, index)],
        f"/v2/app/manifests/{att_digest}": [(200, {"Content-Type": oci}, attestation)],
    }
    tracker = Tracker(["app"])
    early = readahead.ReadAhead([f"{fake}/app"])
    tracker.on_pushed = early.pushed
    for ref in (f"{fake}/app:orchestrator-staging-app", f"{fake}/cache:buildcache"):
        status = {"id": f"pushing manifest for {ref}@{digest}", "completed": "now"}
        tracker.feed(json.dumps({"statuses": [status]}) + "\n")
    early.close(wait=True)
    assert sorted(path for _, path, _ in _Registry.seen) == sorted(_Registry.script)
    assert early.reads == 2
    assert early.cpu > 0
    before = len(_Registry.seen)
    assert executor.platform_digests(f"{fake}/app@{digest}") == {"linux/arm64": platform}
    assert signing.attestations(f"{fake}/app", digest) == {"linux/arm64": ["provenance"]}
    assert len(_Registry.seen) == before
    assert capsys.readouterr().err == ""


def test_an_early_read_that_fails_is_silent_and_the_read_back_retries_it(
    fake: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One attempt, no retry line in the bake's progress; the answer is asked for again, with
    retries, when publishing needs it."""
    monkeypatch.setattr(registry, "_pause", lambda _s: None)
    _Registry.script = {f"/v2/app/manifests/{INDEX_DIGEST}": [(500, {}, b""), _index()]}
    assert executor.warm_manifest(f"{fake}/app@{INDEX_DIGEST}") is None
    assert len(_Registry.seen) == 1
    assert capsys.readouterr().err == ""
    assert executor.manifest(f"{fake}/app@{INDEX_DIGEST}")["manifests"] == []
    assert len(_Registry.seen) == 2
    monkeypatch.setenv(registry.SWITCH, "0")  # the HTTP client off: no early read at all
    registry._by_digest.clear()
    assert executor.warm_manifest(f"{fake}/app@{INDEX_DIGEST}") is None
    assert len(_Registry.seen) == 2
