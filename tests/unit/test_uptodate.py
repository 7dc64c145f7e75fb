"""Build avoidance: which inputs make a target stale, which targets are never skipped, and when
a record is trusted. The engine-facing checks (registry digest, image id) are tested for real in
tests/integration/test_uptodate.py; here they are the two lookups `fresh` is given."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator import uptodate
from orchestrator.errors import UserError
from orchestrator.plan import TargetPlan
from tests.unit import helpers

DIGEST = "sha256:" + "a" * 64
PINNED = f"""\
FROM busybox:1.35@{DIGEST} AS app
COPY hello.txt /hello.txt
"""
BUILDER = ("default", "docker", "unix:///x.sock", "")


def target(tmp: Path, dockerfile: str = PINNED, outputs: str = "[push]") -> TargetPlan:
    text = (
        "version: 1\n"
        "project: {name: avoid, image: localhost:5000/avoid}\n"
        "targets:\n"
        f"  app: {{stage: app, tags: [sha], outputs: {outputs}}}\n"
    )
    path = helpers.write_project(tmp, text, dockerfile)
    (tmp / "hello.txt").write_text("hi\n")
    return helpers.resolve(path, ["app"]).target("app")


def key(t: TargetPlan) -> str | None:
    return uptodate.fingerprint(t, BUILDER).key


def test_same_inputs_same_key_and_each_input_changes_it(tmp_path: Path) -> None:
    t = target(tmp_path)
    first = key(t)
    assert first is not None
    assert key(t) == first
    (tmp_path / "hello.txt").write_text("hi!\n")  # a context file
    second = key(t)
    assert second != first
    (tmp_path / "new.txt").write_text("x")  # a new file, even one the Dockerfile ignores
    third = key(t)
    assert third != second
    assert key(replace(t, args={**t.args, "VERSION": "2.0.0"})) != third  # a build arg
    assert key(replace(t, tags=("localhost:5000/avoid:other",))) != third  # a tag
    assert uptodate.fingerprint(t, ("other", "docker", "", "")).key != third  # the builder
    (tmp_path / "Dockerfile").write_text(PINNED + "LABEL x=1\n")
    assert key(t) != third


@pytest.mark.parametrize(
    ("dockerfile", "outputs", "why"),
    [
        ("FROM busybox:1.35 AS app\n", "[push]", "its tag could not be resolved"),
        (PINNED + "ADD https://example.com/x /x\n", "[push]", "ADD of a URL"),
        (PINNED + "RUN --mount=from=alpine:3,target=/a true\n", "[push]", "mount from alpine:3"),
        ("# syntax=docker/dockerfile:1\n" + PINNED, "[push]", "frontend is not pinned"),
        (PINNED, "['oci:dist/app.tar']", "not a registry push or a load"),
    ],
)
def test_never_skipped(tmp_path: Path, dockerfile: str, outputs: str, why: str) -> None:
    print_ = uptodate.fingerprint(target(tmp_path, dockerfile, outputs), BUILDER)
    assert print_.key is None
    assert why in print_.why


def test_no_cache_and_huge_contexts_are_never_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path)
    assert "no-cache" in uptodate.fingerprint(replace(t, no_cache=True), BUILDER).why
    monkeypatch.setattr(uptodate, "MAX_ENTRIES", 2)
    assert "more than 2 files" in uptodate.fingerprint(t, BUILDER).why


def test_a_context_edited_just_before_the_build_is_not_recorded(tmp_path: Path) -> None:
    t = target(tmp_path)
    print_ = uptodate.fingerprint(t, BUILDER)
    assert not uptodate.recordable(print_, time.time())  # hello.txt was written just now
    old = time.time() - 60
    for path in tmp_path.rglob("*"):
        os.utime(path, (old, old))
    # ctime cannot be set back: the rule looks at both, so a build started later than
    # RACY_SECONDS after the last change is what makes it recordable.
    later = time.time() + uptodate.RACY_SECONDS + 1
    assert uptodate.recordable(uptodate.fingerprint(t, BUILDER), later)


def test_fresh_needs_the_same_key_and_every_output_in_place(tmp_path: Path) -> None:
    t = target(tmp_path)
    print_ = uptodate.fingerprint(t, BUILDER)
    assert print_.key is not None
    prints = {"app": print_}
    registry: dict[str, str] = dict.fromkeys(t.tags, DIGEST)

    def lookup(ref: str) -> str:
        return registry[ref]

    def no_image(ref: str) -> str | None:
        return None

    assert uptodate.fresh([t], prints, tmp_path, lookup, no_image) == {}  # no record yet
    uptodate.write(tmp_path, "app", uptodate.Record(print_.key, DIGEST, t.tags))
    assert set(uptodate.fresh([t], prints, tmp_path, lookup, no_image)) == {"app"}
    registry[t.tags[0]] = "sha256:" + "b" * 64  # someone pushed another image to the tag
    assert uptodate.fresh([t], prints, tmp_path, lookup, no_image) == {}
    registry[t.tags[0]] = DIGEST
    other = {"app": uptodate.Fingerprint("0" * 64)}
    assert uptodate.fresh([t], other, tmp_path, lookup, no_image) == {}  # inputs changed
    uptodate.forget(tmp_path, "app")
    assert uptodate.fresh([t], prints, tmp_path, lookup, no_image) == {}


def test_a_loaded_image_must_still_be_the_recorded_one(tmp_path: Path) -> None:
    t = target(tmp_path, outputs="[load]")
    print_ = uptodate.fingerprint(t, BUILDER)
    assert print_.key is not None
    images = dict.fromkeys(t.tags, "sha256:" + "c" * 64)
    record = uptodate.Record(print_.key, DIGEST, t.tags, loaded=dict(images))
    uptodate.write(tmp_path, "app", record)

    def unused(ref: str) -> str:
        raise AssertionError("a load target has nothing in a registry to check")

    prints = {"app": print_}
    assert set(uptodate.fresh([t], prints, tmp_path, unused, images.get)) == {"app"}
    gone: dict[str, str] = {}
    assert uptodate.fresh([t], prints, tmp_path, unused, gone.get) == {}


def test_targets_sharing_a_context_walk_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(tmp_path)
    other = replace(t, name="other", tags=("localhost:5000/avoid:other",))
    alone = {x.name: uptodate.fingerprint(x, BUILDER) for x in (t, other)}
    walked: list[Path] = []
    real = uptodate._walk

    def counting(top: Path, out: list[list[object]], *rest: Any) -> int:
        walked.append(top)
        return real(top, out, *rest)

    monkeypatch.setattr(uptodate, "_walk", counting)
    together = uptodate.fingerprints([t, other], BUILDER)
    assert walked == [Path(t.context)]
    assert together == alone  # sharing the walk changes no key


def test_a_base_referenced_by_tag_is_keyed_by_the_digest_it_resolves_to(tmp_path: Path) -> None:
    t = target(tmp_path, "FROM busybox:1.35 AS app\nCOPY hello.txt /hello.txt\n")
    assert uptodate.unpinned_bases([t]) == ["busybox:1.35"]
    other = "sha256:" + "b" * 64
    first = uptodate.fingerprint(t, BUILDER, bases={"busybox:1.35": DIGEST})
    again = uptodate.fingerprint(t, BUILDER, bases={"busybox:1.35": DIGEST})
    moved = uptodate.fingerprint(t, BUILDER, bases={"busybox:1.35": other})
    assert first.key is not None
    assert first.key == again.key
    assert moved.key not in (None, first.key)  # the tag moved: a new key, so a rebuild
    assert uptodate.fingerprint(t, BUILDER, bases={}).key is None  # not resolved: built


def test_resolve_bases_asks_each_image_once_and_leaves_out_failures() -> None:
    asked: list[str] = []

    def lookup(ref: str) -> str:
        asked.append(ref)
        if ref.startswith("gone"):
            raise UserError(f"resolving {ref}: not found in the registry")
        return DIGEST

    found = uptodate.resolve_bases(["a:1", "gone:2", "b:3"], lookup)
    assert found == {"a:1": DIGEST, "b:3": DIGEST}
    assert sorted(asked) == ["a:1", "b:3", "gone:2"]
    assert uptodate.resolve_bases([], lookup) == {}


def test_the_tools_own_scratch_directory_is_not_an_input(tmp_path: Path) -> None:
    """Context = the manifest's directory (the common layout): each build writes its report and
    logs to .orchestrator/ there. That must neither change the key nor make it unrecordable."""
    t = target(tmp_path)
    scratch = tmp_path / ".orchestrator"
    (scratch / "runs").mkdir(parents=True)
    keyed = uptodate.fingerprints([t], BUILDER, scratch_dir=scratch)["app"]
    (scratch / "report.json").write_text("{}")  # written during and after every build
    (scratch / "runs" / "1.log").write_text("log")
    again = uptodate.fingerprints([t], BUILDER, scratch_dir=scratch)["app"]
    assert again.key == keyed.key is not None
    assert again.newest_ns == keyed.newest_ns
    # Without the exclusion, the same write is a new key: the test sees the difference.
    assert uptodate.fingerprints([t], BUILDER)["app"].key != keyed.key
    (tmp_path / "other").mkdir()  # a sibling directory still counts
    assert uptodate.fingerprints([t], BUILDER, scratch_dir=scratch)["app"].key != keyed.key


def test_directories_the_ignore_file_excludes_whole_are_not_inputs(tmp_path: Path) -> None:
    """BuildKit never enters them: `git status` rewriting .git/index on every run must not make
    the target stale or unrecordable. A directory with a `!` exception inside is still walked,
    and an ignored file (not a directory) still counts: a superset, never a wrong skip."""
    t = target(tmp_path)
    (tmp_path / ".dockerignore").write_text(".git\nnode_modules\n!node_modules/keep\n*.log\n")
    git = tmp_path / ".git"
    git.mkdir()
    (tmp_path / "node_modules").mkdir()
    first = uptodate.fingerprints([t], BUILDER)["app"]
    (git / "index").write_text("rewritten")
    assert uptodate.fingerprints([t], BUILDER)["app"] == first
    (tmp_path / "node_modules" / "dep.js").write_text("x")  # the exception makes it entered
    second = uptodate.fingerprints([t], BUILDER)["app"]
    assert second.key != first.key
    (tmp_path / "debug.log").write_text("x")  # an excluded file: still an input (superset)
    assert uptodate.fingerprints([t], BUILDER)["app"].key != second.key
    (tmp_path / ".dockerignore").write_text("")  # nothing excluded: .git is walked again
    third = uptodate.fingerprints([t], BUILDER)["app"]
    (git / "index").write_text("rewritten again")
    assert uptodate.fingerprints([t], BUILDER)["app"].key != third.key


@pytest.mark.parametrize("kind", ["fifo", "deep", "digits", "directory"])
def test_a_record_that_is_not_one_of_ours_is_no_record(tmp_path: Path, kind: str) -> None:
    # .orchestrator/state/ is ours, but anything may sit there: the target is simply baked.
    path = tmp_path / ".orchestrator" / "state" / "app.json"
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)  # a plain read would wait for a writer: the build would hang
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("[" * 100_000 + "]" * 100_000 if kind == "deep" else "1" * 5000)
    assert uptodate.read(tmp_path, "app") is None
