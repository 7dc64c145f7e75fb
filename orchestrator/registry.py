"""The registry's HTTP API (OCI distribution spec), through python-dxf.

Tagging an image that is already pushed is one PUT of manifest bytes we already have, and a
read-back is one GET; as `docker buildx imagetools` processes they cost ~0.1 s each (a Go
binary starting, reading its config, resolving auth), which at 30 targets was most of the
publish phase (issue 21). python-dxf is the kept client (docs/DESIGN.md, "Registry client"): it
does the Bearer token flow and Basic auth; credentials come from the docker CLI's own config
(`auths`, `credHelpers`, `credsStore`), looked up only when a registry asks for them.

Everything here is an optimisation of a path buildx also has: whatever this client cannot do
as buildx would (a TLS setup only buildkitd.toml knows, an identity token, a registry that
answers oddly) raises `Fallback`, and executor.py runs the buildx process instead. What both
would answer the same way (no answer within ORCH_QUERY_TIMEOUT, manifest unknown, a 5xx after
retries) is a UserError at once, with the same one-line wording. Only executor.py calls this
module: it stays the one place that talks to the engine and registries.
ORCH_REGISTRY_HTTP=0 turns this path off (every call falls back).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import refs
from orchestrator.errors import UserError

SWITCH = "ORCH_REGISTRY_HTTP"
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
RETRY_STATUS = {429, 500, 502, 503, 504}
ATTEMPTS = 4
HUB_HOST = "registry-1.docker.io"


class Fallback(Exception):
    """This client cannot answer like buildx would: use the buildx process (reason in args)."""


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as the registry stores it."""

    data: bytes
    media_type: str
    digest: str  # sha256 of `data`: what a tag pointing at these bytes resolves to

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass(frozen=True)
class Endpoint:
    host: str  # as dialled: registry-1.docker.io for Docker Hub
    repository: str  # library/busybox for busybox
    insecure: bool  # plain HTTP: loopback registries, like the docker engine's default


def enabled() -> bool:
    return os.environ.get(SWITCH, "1").lower() not in ("0", "false", "no", "off")


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint(ref: refs.Reference) -> Endpoint:
    normal = ref.normalized()
    host = normal.domain or refs.DEFAULT_DOMAIN
    if host in (refs.DEFAULT_DOMAIN, "index.docker.io"):
        host = HUB_HOST
    return Endpoint(host, normal.path, _loopback(host))


# --- credentials: the docker CLI's config, read only when a registry asks -------------------
def _config() -> dict[str, Any]:
    where = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise Fallback(f"cannot read {where}: {exc}") from None
    return data if isinstance(data, dict) else {}


def _config_keys(host: str) -> list[str]:
    if host == HUB_HOST:  # the CLI stores Docker Hub under its v1 index address
        return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", HUB_HOST]
    return [host, f"https://{host}", f"http://{host}"]


def credentials(host: str) -> tuple[str, str] | None:
    """(username, secret) for `host` as the docker CLI would find them, or None (anonymous).
    An entry or helper answer we cannot read is buildx's to read (its message, not ours)."""
    try:
        return _credentials(host)
    except (ValueError, TypeError, AttributeError):  # bad base64/UTF-8/JSON, wrong shapes
        raise Fallback(f"unreadable credentials for {host}") from None


def _credentials(host: str) -> tuple[str, str] | None:
    config = _config()
    keys = _config_keys(host)
    helpers = config.get("credHelpers") or {}
    helper = next((helpers[k] for k in keys if k in helpers), None) or config.get("credsStore")
    if helper:
        from orchestrator import executor  # the process seam

        proc = executor.query(
            [f"docker-credential-{helper}", "get"], f"credentials for {host}", stdin=keys[0]
        )
        if proc.returncode == 0:
            found = json.loads(proc.stdout or "{}")
            if found.get("Username") == "<token>":
                raise Fallback("an identity token: buildx does that exchange")
            return str(found.get("Username", "")), str(found.get("Secret", ""))
    auths = config.get("auths") or {}
    entry = next((auths[k] for k in keys if k in auths), None)
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        raise Fallback("an identity token: buildx does that exchange")
    if entry.get("auth"):
        user, _, secret = base64.b64decode(str(entry["auth"])).decode().partition(":")
        return user, secret
    if entry.get("username"):
        return str(entry["username"]), str(entry.get("password", ""))
    return None


# --- clients: one per thread and repository (requests sessions are not shared) --------------
_local = threading.local()


def _auth(client: Any, response: Any) -> None:
    """python-dxf calls this on a 401: token or Basic auth with the docker CLI's credentials."""
    import dxf.exceptions

    found = credentials(client._host)
    user, secret = found if found else (None, None)
    try:
        client.authenticate(user, secret, response=response, actions=["pull", "push"])
    except dxf.exceptions.DXFAuthInsecureError:
        raise Fallback("the registry asks for credentials over plain HTTP") from None


def _client(point: Endpoint, timeout: float) -> Any:
    import dxf
    import requests

    clients: dict[tuple[str, str, float], Any] = _local.__dict__.setdefault("clients", {})
    sessions: dict[str, Any] = _local.__dict__.setdefault("sessions", {})
    key = (point.host, point.repository, timeout)
    if key not in clients:
        client = dxf.DXF(
            point.host, point.repository, auth=_auth, insecure=point.insecure, timeout=timeout
        )
        # One connection per host and thread, kept alive across repositories: 30 targets are
        # 30 repositories of one registry, and a new TCP (or TLS) connection each costs more
        # than the request. The client's own auth headers stay per repository (token scope).
        # python-dxf's default "session" is the requests module itself, whose calls each make
        # a Session and a connection of their own: a Session is what keeps one open.
        if point.host not in sessions:
            sessions[point.host] = requests.Session()
        client._sessions = [sessions[point.host]]
        clients[key] = client
    return clients[key]


def preload() -> None:
    """Import python-dxf and requests (~0.15 s) where it overlaps other work."""
    import dxf  # noqa: F401


def _call(what: str, timeout: float, action: Callable[[], Any], attempts: int = ATTEMPTS) -> Any:
    """`action` with the retry/timeout behaviour of executor's buildx queries (`attempts=1`:
    no retry, and so no retry line printed)."""
    import requests

    delay = 0.5
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except requests.exceptions.Timeout:
            raise UserError(
                f"{what}: no answer within {timeout:g} s (is the registry or engine reachable? "
                "ORCH_QUERY_TIMEOUT=SECONDS waits longer)"
            ) from None
        except requests.exceptions.SSLError as exc:
            raise Fallback(f"TLS: {exc}") from None
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 404:
                raise UserError(f"{what}: not found in the registry") from None
            if status not in RETRY_STATUS:
                raise Fallback(f"HTTP {status}") from None  # buildx says it in its words
            reason = exc.response.reason if exc.response is not None else ""
            last = f"unexpected status: {status} {reason}".rstrip()  # buildx's wording
        except requests.exceptions.ConnectionError:
            # Refused, reset, no such host: buildx names the cause in its own words and
            # retries what it retries; an error path may pay one more process.
            raise Fallback("connection error") from None
        if attempt == attempts:
            raise UserError(f"{what}: {last} (gave up after {attempts} attempts)")
        from orchestrator import console

        console.plain(f"registry error, retrying {what} ({attempt + 1}/{attempts}): {last}")
        _pause(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _pause(seconds: float) -> None:
    time.sleep(seconds)  # a seam: tests retry without waiting


def _reference(text: str) -> refs.Reference:
    try:
        return refs.parse_reference(text)
    except refs.InvalidReferenceError as exc:
        raise Fallback(str(exc)) from None


def _pointer(ref: refs.Reference) -> str:
    return ref.digest or ref.tag or "latest"


# Manifests fetched by digest never change: one GET per run, whoever asks (tagging, platform
# read-back, attestations all read the same index).
_by_digest: dict[str, Manifest] = {}
_by_digest_lock = threading.Lock()


def get(text: str, what: str, timeout: float, attempts: int = ATTEMPTS) -> Manifest:
    """The manifest `text` (repo:tag or repo@digest) names, as stored."""
    ref = _reference(text)
    if ref.digest:
        with _by_digest_lock:
            known = _by_digest.get(str(ref))
        if known is not None:
            return known
    client = _client(endpoint(ref), timeout)

    def fetch() -> Manifest:
        response = client._request("get", f"manifests/{_pointer(ref)}", headers={"Accept": ACCEPT})
        data = bytes(response.content)
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if not media:
            media = str(json.loads(data).get("mediaType", ""))
        return Manifest(data, media, "sha256:" + hashlib.sha256(data).hexdigest())

    found: Manifest = _call(what, timeout, fetch, attempts)
    if ref.digest and found.digest != ref.digest:
        raise UserError(f"{what}: the registry sent bytes of {found.digest}, not {ref.digest}")
    if ref.digest:
        with _by_digest_lock:
            _by_digest[str(ref)] = found
    return found


def head(text: str, what: str, timeout: float) -> str:
    """The digest `text` resolves to now (one HEAD; a GET when the registry omits the header)."""
    ref = _reference(text)
    client = _client(endpoint(ref), timeout)

    def ask() -> str:
        response = client._request("head", f"manifests/{_pointer(ref)}", headers={"Accept": ACCEPT})
        return str(response.headers.get("Docker-Content-Digest") or "")

    digest: str = _call(what, timeout, ask)
    return digest if digest.startswith("sha256:") else get(text, what, timeout).digest


def same_repository(a: str, b: str) -> bool:
    """Whether two references name one repository of one registry (a tag PUT then needs no
    blob or child manifest copied)."""
    return endpoint(_reference(a)) == endpoint(_reference(b))


def tag(source: str, tags: list[str], what: str, timeout: float) -> None:
    """Point each of `tags` (same repository as `source`, repo@digest) at `source`'s bytes."""
    manifest = get(source, what, timeout)
    for text in tags:
        ref = _reference(text)
        if not ref.tag or ref.digest:
            raise Fallback(f"{text} is not a plain tag")
        client = _client(endpoint(ref), timeout)

        def put(ref: refs.Reference = ref, client: Any = client) -> str:
            response = client._request(
                "put",
                f"manifests/{ref.tag}",
                data=manifest.data,
                headers={"Content-Type": manifest.media_type},
            )
            return str(response.headers.get("Docker-Content-Digest") or manifest.digest)

        stored: str = _call(f"{what} as {text}", timeout, put)
        if stored != manifest.digest:
            raise UserError(f"{what}: {text} was stored as {stored}, not {manifest.digest}")
