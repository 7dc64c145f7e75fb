"""`orchestrator pin` against a simulated registry, policies, and the digest gate of `build`.

The registry is faked at executor's registry seam only (`index_digest`, `manifest`); the real
`platform_digests` runs over the fake manifests, so its attestation filter is exercised too.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import executor, lockfile, pinning
from orchestrator.errors import UserError
from orchestrator.main import main
from orchestrator.plan import LockView, image_key

from .helpers import resolve

DOCKERFILE = """\
# A Go toolchain, a runtime base, and a tool image: three base images.
ARG GO_IMAGE=golang:1.23-bookworm
FROM ${GO_IMAGE} AS builder
RUN echo build > /out
FROM busybox:1.35 AS runtime
COPY --from=builder /out /out
FROM scratch AS production
COPY --from=runtime / /
FROM alpine:3.20 AS extra
"""

BUILDS = """\
version: 1
project:
  name: demo
  image: localhost:5000/demo
mirrors:
  golang:1.23-bookworm: localhost:5000/library/golang:1.23-bookworm
defaults:
  pin: minor
targets:
  tools:
    stage: builder
  app:
    stage: production
    pin: digest
  extra:
    stage: extra
groups:
  default: [app]
"""

GOLANG = "localhost:5000/library/golang:1.23-bookworm"


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class FakeRegistry:
    """Tags -> index digests -> index manifests (amd64, arm64 and a provenance manifest)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tags: dict[str, str] = {}
        self.blobs: dict[str, dict[str, Any]] = {}
        self.asked: list[str] = []
        self.manifests_asked: list[str] = []
        monkeypatch.setattr(executor, "index_digest", self.index_digest)
        monkeypatch.setattr(executor, "manifest", self.manifest)

    def push(self, ref: str, content: str) -> str:
        index = {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "schemaVersion": 2,
            "manifests": [
                {
                    "digest": _sha(content + "amd64"),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "digest": _sha(content + "arm64"),
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
                {
                    "digest": _sha(content + "att"),
                    "platform": {"os": "unknown", "architecture": "unknown"},
                },
            ],
        }
        digest = _sha(json.dumps(index, sort_keys=True))
        self.blobs[digest] = index
        self.tags[ref] = digest
        return digest

    def index_digest(self, ref: str) -> str:
        self.asked.append(ref)
        if ref not in self.tags:
            raise UserError(f"resolving {ref}: ERROR: {ref}: not found")
        return self.tags[ref]

    def manifest(self, ref: str) -> dict[str, Any]:
        self.manifests_asked.append(ref)
        _, _, digest = ref.partition("@")
        return self.blobs[digest or self.tags[ref]]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    reg = FakeRegistry(monkeypatch)
    reg.push(GOLANG, "go-1")
    reg.push("busybox:1.35", "busybox-1")
    reg.push("alpine:3.20", "alpine-1")
    return reg


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # crash logs, if any, stay in the temp dir
    (tmp_path / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (tmp_path / "builds.yaml").write_text(BUILDS, encoding="utf-8")
    return tmp_path


def orch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _stamp(text: str) -> str:
    match = re.search(r"resolved: '(.+?)'", text)
    assert match, text
    return match.group(1)


# --- pin -------------------------------------------------------------------------------------
def test_pin_writes_a_sorted_stable_lock(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = orch(capsys, "pin")
    assert code == 0
    text = (project / "builds.lock").read_text(encoding="utf-8")
    stamp = _stamp(text)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    go, bb, al = registry.tags[GOLANG], registry.tags["busybox:1.35"], registry.tags["alpine:3.20"]
    assert text == (
        "# Written by `orchestrator pin`; refresh with `orchestrator pin --update`.\n"
        "version: 1\n"
        "images:\n"
        "  docker.io/library/alpine:3.20:\n"
        "    source: alpine:3.20\n"
        f"    digest: {al}\n"
        "    platforms:\n"
        f"      linux/amd64: {_sha('alpine-1amd64')}\n"
        f"      linux/arm64: {_sha('alpine-1arm64')}\n"
        f"    resolved: '{stamp}'\n"
        "  docker.io/library/busybox:1.35:\n"
        "    source: busybox:1.35\n"
        f"    digest: {bb}\n"
        "    platforms:\n"
        f"      linux/amd64: {_sha('busybox-1amd64')}\n"
        f"      linux/arm64: {_sha('busybox-1arm64')}\n"
        f"    resolved: '{stamp}'\n"
        "  docker.io/library/golang:1.23-bookworm:\n"
        f"    source: {GOLANG}\n"
        f"    digest: {go}\n"
        "    platforms:\n"
        f"      linux/amd64: {_sha('go-1amd64')}\n"
        f"      linux/arm64: {_sha('go-1arm64')}\n"
        f"    resolved: '{stamp}'\n"
    )
    assert out.splitlines() == [
        f"locked: alpine:3.20 {al} (alpine:3.20)",
        f"locked: busybox:1.35 {bb} (busybox:1.35)",
        f"locked: golang:1.23-bookworm {go} ({GOLANG})",
        "wrote builds.lock (3 images)",
    ]
    # The mirror copy was resolved (what the build pulls), never docker.io's golang.
    assert "golang:1.23-bookworm" not in registry.asked
    # Platforms of exactly the digest just resolved, not of the tag again (it may have moved).
    assert registry.manifests_asked == [
        f"alpine:3.20@{al}",
        f"busybox:1.35@{bb}",
        f"{GOLANG}@{go}",
    ]
    assert (project / "builds.lock").stat().st_mode & 0o777 == 0o644


def test_pin_is_idempotent_and_never_moves_an_existing_pin(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    first = (project / "builds.lock").read_bytes()
    old = registry.tags["busybox:1.35"]
    registry.push("busybox:1.35", "busybox-2")  # the tag moves upstream
    code, out, _ = orch(capsys, "pin")
    assert code == 0
    assert out == "builds.lock unchanged (3 images)\n"
    assert (project / "builds.lock").read_bytes() == first
    lock = lockfile.read_lock(project / "builds.lock")
    assert lock is not None
    assert lock.images["docker.io/library/busybox:1.35"].digest == old


def test_pin_of_some_targets_keeps_the_others_and_drops_unused(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin", "extra")[0] == 0
    lock = lockfile.read_lock(project / "builds.lock")
    assert lock is not None
    assert list(lock.images) == ["docker.io/library/alpine:3.20"]
    # A stale entry nobody uses goes; the alpine entry of a target not named stays.
    stale = lockfile.LockEntry("nginx:1.27", _sha("nginx"), {}, "2024-01-01T00:00:00Z")
    lockfile.write_lock(
        project / "builds.lock",
        lockfile.Lock({**lock.images, "docker.io/library/nginx:1.27": stale}),
    )
    code, out, _ = orch(capsys, "pin", "app")
    assert code == 0
    assert "removed: nginx:1.27 (no target uses it)" in out.splitlines()
    lock = lockfile.read_lock(project / "builds.lock")
    assert lock is not None
    assert list(lock.images) == [
        "docker.io/library/alpine:3.20",
        "docker.io/library/busybox:1.35",
        "docker.io/library/golang:1.23-bookworm",
    ]


def test_pin_update_one_image_moves_only_that_pin(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    before = lockfile.read_lock(project / "builds.lock")
    assert before is not None
    old_bb = before.images["docker.io/library/busybox:1.35"].digest
    new_bb = registry.push("busybox:1.35", "busybox-2")
    registry.push(GOLANG, "go-2")
    # Named as written, or normalised: both match.
    for name in ("busybox:1.35", "docker.io/library/busybox:1.35"):
        code, out, _ = orch(capsys, "pin", "--update", name)
        assert code == 0
    after = lockfile.read_lock(project / "builds.lock")
    assert after is not None
    assert after.images["docker.io/library/busybox:1.35"].digest == new_bb
    assert after.images["docker.io/library/busybox:1.35"].platforms == {
        "linux/amd64": _sha("busybox-2amd64"),
        "linux/arm64": _sha("busybox-2arm64"),
    }
    go_key = "docker.io/library/golang:1.23-bookworm"
    assert after.images[go_key] == before.images[go_key]  # not named: untouched
    assert out == "unchanged: busybox:1.35 " + new_bb + "\nbuilds.lock unchanged (3 images)\n"
    code, out, _ = orch(capsys, "pin", "--update")
    assert code == 0
    assert f"updated: golang:1.23-bookworm {before.images[go_key].digest} -> " in out
    assert old_bb not in (project / "builds.lock").read_text(encoding="utf-8")


def test_pin_update_of_an_image_no_target_uses_is_a_usage_error(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = orch(capsys, "pin", "--update", "nginx:1.27")
    assert code == 2
    assert err == (
        "error: --update nginx:1.27: no selected target uses it "
        "(images: alpine:3.20, busybox:1.35, golang:1.23-bookworm)\n"
    )


# --- pin --check -----------------------------------------------------------------------------
def test_check_passes_on_a_fresh_lock(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    before = (project / "builds.lock").read_bytes()
    assert orch(capsys, "pin", "--check") == (0, "builds.lock is up to date (3 images)\n", "")
    assert (project / "builds.lock").read_bytes() == before  # --check writes nothing


def test_check_without_a_lock_lists_every_missing_image(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = orch(capsys, "pin", "--check")
    assert (code, out) == (1, "")
    df = project / "Dockerfile"
    assert err.splitlines() == [
        "error: builds.lock does not exist; `orchestrator pin` adds missing and drops unused "
        "images; `orchestrator pin --update [IMAGE...]` takes what the registry serves now",
        f"  missing: alpine:3.20: used by extra ({df}:9)",
        f"  missing: busybox:1.35: used by app ({df}:5)",
        f"  missing: golang:1.23-bookworm: used by tools ({df}:3), app ({df}:3)",
    ]
    assert not (project / "builds.lock").exists()


def test_check_reports_missing_unused_and_drift_one_line_each(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    path = project / "builds.lock"
    lock = lockfile.read_lock(path)
    assert lock is not None
    images = dict(lock.images)
    del images["docker.io/library/alpine:3.20"]
    images["docker.io/library/nginx:1.27"] = lockfile.LockEntry("nginx:1.27", _sha("n"), {}, "")
    lockfile.write_lock(path, lockfile.Lock(images))
    old = images["docker.io/library/golang:1.23-bookworm"].digest
    new = registry.push(GOLANG, "go-2")
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 1
    assert err.splitlines()[1:] == [
        f"  missing: alpine:3.20: used by extra ({project / 'Dockerfile'}:9)",
        f"  drift: golang:1.23-bookworm: locked {old}, registry now {new} ({GOLANG})",
        "  unused: nginx:1.27: in builds.lock, but no target uses it",
    ]
    assert err.startswith("error: builds.lock is out of date; ")


def test_check_of_one_target_asks_only_for_its_images(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    registry.push("alpine:3.20", "alpine-2")  # drift, but only `extra` uses it
    registry.asked.clear()
    assert orch(capsys, "pin", "--check", "app")[0] == 0
    assert sorted(registry.asked) == ["busybox:1.35", GOLANG]
    assert orch(capsys, "pin", "--check")[0] == 1


def test_changed_mirror_is_reported_and_the_old_digest_is_not_used(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orch(capsys, "pin")[0] == 0
    other = "localhost:5000/mirror/golang:1.23-bookworm"
    registry.push(other, "go-mirror")
    yaml_path = project / "builds.yaml"
    yaml_path.write_text(BUILDS.replace(GOLANG, other), encoding="utf-8")
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 1
    assert (
        f"  moved: golang:1.23-bookworm: locked from {GOLANG}, builds.yaml now pulls it from {other}"
        in err.splitlines()
    )
    # The plan does not combine the new mirror with the digest locked from the old one.
    lock = lockfile.read_lock(project / "builds.lock")
    assert lock is not None
    tools = resolve(yaml_path, ["tools"], lock=lockfile.lock_view(lock)).target("tools")
    assert tools.build_contexts == {"golang:1.23-bookworm": f"docker-image://{other}"}
    assert tools.base_images[0].digest is None
    # Plain `pin` resolves the new source (the old pin is for bytes no build pulls any more).
    code, out, _ = orch(capsys, "pin")
    assert code == 0
    assert f"locked: golang:1.23-bookworm {registry.tags[other]} ({other}; was {GOLANG})" in out
    assert orch(capsys, "pin", "--check")[0] == 0


def test_registry_error_is_one_line_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the real executor.index_digest: buildx answers 503 every time.
    calls: list[list[str]] = []
    real_run = subprocess.run

    def unavailable(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        if "imagetools" not in argv:
            return real_run(argv, *args, **kwargs)
        calls.append(list(argv))
        return subprocess.CompletedProcess(
            argv, 1, "", "ERROR: unexpected status: 503 Service Unavailable\n"
        )

    monkeypatch.setattr(subprocess, "run", unavailable)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    code, out, err = orch(capsys, "pin")
    assert (code, out) == (2, "")
    retries = "".join(
        f"registry error, retrying resolving alpine:3.20 ({n}/4): "
        "ERROR: unexpected status: 503 Service Unavailable\n"
        for n in (2, 3, 4)
    )
    assert err == retries + (
        "error: resolving alpine:3.20: ERROR: unexpected status: 503 Service Unavailable "
        "(gave up after 4 attempts)\n"
    )
    assert len(calls) == 4  # transient errors were retried
    assert calls[0][-4:] == ["inspect", "alpine:3.20", "--format", "{{json .Manifest}}"]
    assert not (project / "builds.lock").exists()


def test_corrupt_lock_says_how_to_fix_it(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "builds.lock").write_text("images:\n<<<<<<< HEAD\n  x: [\n", encoding="utf-8")
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 2
    assert "not a valid lock file" in err
    assert "fix it (a merge conflict?), or delete it and run `orchestrator pin`" in err


def test_corrupt_lock_error_is_worded_by_the_python_parser(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    # LibYAML reads lock files; for this text it would say only "did not find expected ',' or ']'".
    (project / "builds.lock").write_text("images: [a\nb: 1\n", encoding="utf-8")
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 2
    assert "not a valid lock file (line 2: expected ',' or ']', but got ':')" in err


def test_concurrent_pins_are_serialised_by_the_flock(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "builds.lock"
    codes: list[int] = []
    with lockfile.locked(path):
        worker = threading.Thread(target=lambda: codes.append(main(["pin"])))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive()  # waiting for the flock: nothing read, nothing written
        assert not path.exists()
        assert registry.asked == []
    worker.join(timeout=10)
    assert codes == [0]
    assert lockfile.read_lock(path) is not None


# --- pin --write ------------------------------------------------------------------------------
def test_write_rewrites_from_and_arg_lines_minimally(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    df = project / "Dockerfile"
    df.write_bytes(DOCKERFILE.replace("\n", "\r\n").encode())  # line endings are kept
    df.chmod(0o640)
    code, out, _ = orch(capsys, "pin", "--write")
    assert code == 0
    go, bb, al = registry.tags[GOLANG], registry.tags["busybox:1.35"], registry.tags["alpine:3.20"]
    expected = (
        DOCKERFILE.replace(
            "ARG GO_IMAGE=golang:1.23-bookworm", f"ARG GO_IMAGE=golang:1.23-bookworm@{go}"
        )
        .replace("FROM busybox:1.35 AS", f"FROM busybox:1.35@{bb} AS")
        .replace("FROM alpine:3.20 AS", f"FROM alpine:3.20@{al} AS")
        .replace("\n", "\r\n")
    )
    assert df.read_bytes().decode() == expected
    assert df.stat().st_mode & 0o777 == 0o640
    assert out.splitlines()[-3:] == [
        f"{df}:2: ARG GO_IMAGE=golang:1.23-bookworm -> ARG GO_IMAGE=golang:1.23-bookworm@{go}",
        f"{df}:5: FROM busybox:1.35 AS runtime -> FROM busybox:1.35@{bb} AS runtime",
        f"{df}:9: FROM alpine:3.20 AS extra -> FROM alpine:3.20@{al} AS extra",
    ]
    # Still consistent: the pins in the file are the lock's, and builds keep the mirror.
    assert orch(capsys, "pin", "--check")[0] == 0
    lock = lockfile.read_lock(project / "builds.lock")
    assert lock is not None
    app = resolve(project / "builds.yaml", ["app"], lock=lockfile.lock_view(lock)).target("app")
    assert app.build_contexts[f"golang:1.23-bookworm@{go}"] == f"docker-image://{GOLANG}@{go}"
    # Running it again changes nothing.
    code, out, _ = orch(capsys, "pin", "--write")
    assert (code, out) == (0, "builds.lock unchanged (3 images)\n")
    # After an --update the file pins are stale until --write runs again.
    new = registry.push("busybox:1.35", "busybox-2")
    assert orch(capsys, "pin", "--update", "busybox:1.35")[0] == 0
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 1
    assert f"stale pin: busybox:1.35: app ({df}:5) pins {bb}, builds.lock has {new}" in err
    assert orch(capsys, "pin", "--write")[0] == 0
    assert f"FROM busybox:1.35@{new} AS runtime" in df.read_text(encoding="utf-8")
    assert orch(capsys, "pin", "--check")[0] == 0


def test_write_leaves_stage_names_variables_and_continuations_alone() -> None:
    d = "sha256:" + "a" * 64
    text = (
        "ARG BASE\n"
        "FROM ${BASE} AS busybox\n"
        "FROM busybox AS two\n"
        "COPY --from=busybox /a /b\n"
        "FROM \\\n  busybox:1.35\n"
        "RUN echo FROM busybox:1.35\n"
    )
    digests = {"docker.io/library/busybox:latest": d, "docker.io/library/busybox:1.35": d}
    assert pinning.rewrite(text, digests) == (text, [])
    new, changes = pinning.rewrite("from  --platform=$BUILDPLATFORM  busybox  as b\n", digests)
    assert new == f"from  --platform=$BUILDPLATFORM  busybox:latest@{d}  as b\n"
    assert [c.line for c in changes] == [1]
    assert pinning.rewrite("COPY --chown=1 --from=busybox:1.35 /a /b\n", digests)[0] == (
        f"COPY --chown=1 --from=busybox:1.35@{d} /a /b\n"
    )
    assert (
        pinning.rewrite("ARG A=1 B='busybox:1.35'\n", digests)[0]
        == f"ARG A=1 B='busybox:1.35@{d}'\n"
    )


# --- policies ---------------------------------------------------------------------------------
DIGEST = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("ref", "policy", "locked", "expected"),
    [
        ("golang", "minor", None, "golang floats (tag 'latest'); pin at least major.minor"),
        (
            "golang:latest",
            "minor",
            None,
            "golang:latest floats (tag 'latest'); pin at least major.minor",
        ),
        (
            "golang:alpine3.21",
            "minor",
            None,
            "golang:alpine3.21 floats (tag 'alpine3.21'); pin at least major.minor",
        ),
        ("golang:1", "minor", None, "golang:1 floats (tag '1'); pin at least major.minor"),
        ("golang:1.25", "minor", None, None),
        ("golang:1.25-alpine", "minor", None, None),
        (
            "golang:1.25",
            "patch",
            None,
            "golang:1.25 pins only the minor version; pin the patch (and OS) version",
        ),
        (
            "golang:1.25-alpine3.21",
            "patch",
            None,
            "golang:1.25-alpine3.21 pins only the minor version; pin the patch (and OS) version",
        ),
        ("golang:1.25.3-alpine3.21", "patch", None, None),
        (
            "golang:1.25.3-alpine3.21",
            "digest",
            None,
            "golang:1.25.3-alpine3.21 is not pinned to a digest and has no lock entry",
        ),
        (f"golang:1.25.3-alpine3.21@{DIGEST}", "digest", None, None),
        (f"golang@{DIGEST}", "patch", None, None),
        ("golang:latest", "digest", DIGEST, None),  # a lock entry satisfies every level
        ("golang:latest", "patch", DIGEST, None),
        ("scratch", "digest", None, None),
        ("golang:latest", "none", None, None),
        (
            "Golang:1.25",
            "minor",
            None,
            "invalid image reference 'Golang:1.25': repository must be lowercase",
        ),
    ],
)
def test_policy_violations(ref: str, policy: str, locked: str | None, expected: str | None) -> None:
    assert pinning.violation(ref, policy, locked) == expected


def test_image_key_normalises_and_drops_a_written_digest() -> None:
    assert image_key("golang:1.23") == "docker.io/library/golang:1.23"
    assert image_key(f"golang:1.23@{DIGEST}") == "docker.io/library/golang:1.23"
    assert image_key("golang") == image_key("docker.io/library/golang:latest")
    assert image_key(f"golang@{DIGEST}") == f"docker.io/library/golang@{DIGEST}"
    assert image_key("localhost:5000/x/y:1") == "localhost:5000/x/y:1"


def test_lock_keys_are_normalised_when_read(tmp_path: Path) -> None:
    path = tmp_path / "builds.lock"
    path.write_text(
        f"version: 1\nimages:\n  golang:1.23:\n    digest: {DIGEST}\n", encoding="utf-8"
    )
    lock = lockfile.read_lock(path)
    assert lock is not None
    assert lockfile.lock_view(lock) == LockView(
        {"docker.io/library/golang:1.23": ("golang:1.23", DIGEST)}
    )


OTHER = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("first", "second", "line"),
    [
        ("golang:1.23", "golang:1.23", 5),  # both sides of a merge conflict kept
        ("golang:1.23", "docker.io/library/golang:1.23", 5),  # one image, two spellings
        ("'golang:1.23'", "golang:1.23", 5),  # not the line format `pin` writes: YAML reads it
    ],
)
def test_an_image_locked_twice_is_refused_naming_its_line(
    tmp_path: Path, first: str, second: str, line: int
) -> None:
    # Either entry could be the one meant: silently keeping the last would build another
    # digest than the reviewer of the lock saw.
    path = tmp_path / "builds.lock"
    path.write_text(
        f"version: 1\nimages:\n  {first}:\n    digest: {DIGEST}\n"
        f"  {second}:\n    digest: {OTHER}\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError) as caught:
        lockfile.read_lock(path)
    message = caught.value.message
    assert re.search(rf"(line |builds\.lock:){line}\b", message)
    assert "golang:1.23" in message
    assert "twice" in message or "duplicate" in message


def test_build_of_a_digest_target_without_lock_stops_before_anything_runs(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []

    def forbidden(name: str) -> Any:
        def record(*_a: object, **_k: object) -> Any:
            called.append(name)
            raise AssertionError(f"{name} must not run")

        return record

    for name in ("engine_info", "bake_with_retry", "bake", "spawn", "index_digest", "manifest"):
        monkeypatch.setattr(executor, name, forbidden(name))
    code, out, err = orch(capsys, "build", "app")
    assert called == []
    assert (code, out) == (2, "")
    df = project / "Dockerfile"
    fix = (
        "run `orchestrator pin` to lock it (builds use the locked digest), or write the digest "
        "in the FROM line"
    )
    assert err.splitlines() == [
        "error: 2 problem(s) before building; nothing was started",
        f"  {df}:3: app (pin: digest): golang:1.23-bookworm is not pinned to a digest and has no lock entry; {fix}",
        f"  {df}:5: app (pin: digest): busybox:1.35 is not pinned to a digest and has no lock entry; {fix}",
    ]
    assert not (project / ".orchestrator" / "runs").exists()


def test_images_pinned_in_the_file_only_stay_out_of_the_lock(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "Dockerfile").write_text(f"FROM busybox:1.35@{DIGEST} AS app\n", encoding="utf-8")
    (project / "builds.yaml").write_text(
        "version: 1\nproject: {name: demo, image: localhost:5000/demo}\n"
        "targets:\n  app: {pin: digest}\n",
        encoding="utf-8",
    )
    assert orch(capsys, "pin") == (0, "wrote builds.lock (0 images)\n", "")
    assert orch(capsys, "pin", "--check") == (0, "builds.lock is up to date (0 images)\n", "")
    assert orch(capsys, "pin", "--update")[1] == "builds.lock unchanged (0 images)\n"
    assert registry.asked == []
    # Named explicitly, it is locked, and the file's digest must then agree with the lock.
    code, out, _ = orch(capsys, "pin", "--update", "busybox:1.35")
    assert code == 0
    assert out.startswith(f"locked: busybox:1.35 {registry.tags['busybox:1.35']} ")
    code, _, err = orch(capsys, "pin", "--check")
    assert code == 1
    assert "stale pin: busybox:1.35: app (" in err


def test_write_names_images_that_come_from_builds_yaml_args(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.push("golang:1.24", "go-1.24")
    text = BUILDS.replace(
        "    stage: builder\n", "    stage: builder\n    args: {GO_IMAGE: golang:1.24}\n"
    )
    (project / "builds.yaml").write_text(text, encoding="utf-8")
    code, out, _ = orch(capsys, "pin", "tools", "--write")
    assert code == 0
    df = project / "Dockerfile"
    assert out.splitlines()[-1] == (
        f"{df}: golang:1.24 is not written literally there (a build arg from builds.yaml?); "
        "the lock still applies to it at build time"
    )
    assert df.read_text(encoding="utf-8") == DOCKERFILE  # the default golang:1.23 is not used


def test_a_failure_half_way_says_nothing_was_locked(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """An image resolved before the failing one was reported `locked:` though builds.lock was
    never written."""
    assert orch(capsys, "pin")[0] == 0
    last = registry.asked[-1]  # the image resolved last: every other one succeeds before it
    (project / "builds.lock").unlink(missing_ok=True)
    registry.asked.clear()
    del registry.tags[last]
    code, out, err = orch(capsys, "pin")
    assert code == 2
    assert len(registry.asked) > 1
    assert "locked:" not in out
    assert f"{last}: not found" in err
    assert not (project / "builds.lock").exists()


def test_write_keeps_the_non_utf8_bytes_of_a_dockerfile(
    project: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Latin-1 comment (BuildKit builds such a file): --write changes the FROM lines only."""
    df = project / "Dockerfile"
    df.write_bytes(b"# Auteur: Fran\xe7ois\n" + DOCKERFILE.encode())
    assert orch(capsys, "pin", "--write")[0] == 0
    bb = registry.tags["busybox:1.35"]
    written = df.read_bytes()
    assert written.startswith(b"# Auteur: Fran\xe7ois\n")
    assert f"FROM busybox:1.35@{bb} AS".encode() in written


@pytest.mark.parametrize("version", ["true", "2", '"1"', "1.0"])
def test_a_lock_of_another_version_is_refused(tmp_path: Path, version: str) -> None:
    """`version: true` was read as version 1 (True == 1 in Python)."""
    lock = tmp_path / "builds.lock"
    lock.write_text(f"version: {version}\nimages: {{}}\n", encoding="utf-8")
    with pytest.raises(UserError, match="is not supported"):
        lockfile.read_lock(lock)


def test_a_lock_of_version_1_is_read(tmp_path: Path) -> None:
    lock = tmp_path / "builds.lock"
    lock.write_text("version: 1\nimages: {}\n", encoding="utf-8")
    assert lockfile.read_lock(lock) is not None
