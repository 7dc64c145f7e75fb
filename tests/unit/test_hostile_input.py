"""Issue 16, crashes and hangs from input: each is one line and an exit code, never exit 3."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator import buildcontext
from orchestrator.main import main
from tests.unit import helpers

DOCKERFILE = "FROM busybox:1.35 AS app\nCOPY . /src\n"
DIGEST = "sha256:" + "a" * 64


def project(tmp: Path, target: str = "", head: str = "") -> Path:
    text = (
        "version: 1\n"
        "project: {name: hostile, image: localhost:5000/hostile" + head + "}\n"
        "targets:\n"
        "  app:\n"
        "    outputs: [load]\n" + target
    )
    return helpers.write_project(tmp, text, DOCKERFILE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "unexpected error" not in err
    return code, out, err


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("ORCH_PLAN_MEMO", "0")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("epoch", ["abc", "1.5", "-1", "99999999999999999", "9" * 5000, " 1"])
def test_a_bad_source_date_epoch_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, epoch: str
) -> None:
    project(tmp_path, "    reproducible: true\n")
    code, _, err = run(capsys, "plan", "-f", "builds.yaml", "--var", f"SOURCE_DATE_EPOCH={epoch}")
    assert code == 2
    assert err.count("\n") == 1
    assert "SOURCE_DATE_EPOCH" in err


def test_a_valid_source_date_epoch_still_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, "    reproducible: true\n")
    code, out, _ = run(capsys, "plan", "-f", "builds.yaml", "--var", "SOURCE_DATE_EPOCH=1700000000")
    assert code == 0
    assert "SOURCE_DATE_EPOCH=1700000000" in out


def test_a_context_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    # 300 levels under a recursion limit of 150 prove the walk does not recurse, without a
    # 1,300-level tree that pytest's own (recursive) cleanup of old temp dirs would choke on.
    deep = tmp_path.joinpath(*(["d"] * 300))
    deep.mkdir(parents=True)
    (deep / "leaf").write_text("x", encoding="utf-8")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        listing = buildcontext.list_context(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert "/".join(["d"] * 300) + "/leaf" in listing.files


def test_special_files_and_vanished_entries_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(tmp_path / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        (tmp_path / "gone").write_text("x", encoding="utf-8")
        (tmp_path / "kept").write_text("x", encoding="utf-8")
        real = os.scandir

        def vanishing(path: str) -> object:
            listing = list(real(path))
            (tmp_path / "gone").unlink(missing_ok=True)  # listed, then removed before stat
            return _Listing(listing)

        monkeypatch.setattr(os, "scandir", vanishing)
        listing = buildcontext.list_context(tmp_path)
    assert "kept" in listing.files
    assert not {"fifo", "sock", "gone"} & set(listing.files)


class _Listing(list[object]):
    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *_a: object) -> None:
        return None


@pytest.mark.parametrize(
    ("name", "data", "command"),
    [
        ("builds.lock", b"\x00\xff\xfe binary", "plan"),
        (".dockerignore", b"\x89PNG\r\n\x1a\n\x00\x00", "check"),
        ("Dockerfile", b"FROM busybox:1.35 AS app\x00\nRUN true\n", "plan"),
        ("builds.lock", "images:\n  \u00e9\xff: x\n".encode("latin-1"), "plan"),
    ],
)
def test_a_binary_text_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, command: str
) -> None:
    project(tmp_path)
    (tmp_path / name).write_bytes(data)
    extra = ["--context", "--no-hadolint"] if command == "check" else []
    code, _, err = run(capsys, command, "-f", "builds.yaml", *extra)
    assert code == 2
    assert err.count("\n") == 1
    assert name in err
    assert "not text" in err or "not UTF-8" in err


@pytest.mark.parametrize("name", ["Dockerfile", ".dockerignore", "builds.lock", "builds.yaml"])
def test_a_fifo_is_refused_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    project(tmp_path)
    (tmp_path / name).unlink(missing_ok=True)
    os.mkfifo(tmp_path / name)  # nobody writes: a blocking open would wait forever
    code, _, err = run(capsys, "check", "-f", "builds.yaml", "--context", "--no-hadolint")
    assert code == 2
    assert "not a regular file" in err


@pytest.mark.parametrize("name", ["Dockerfile", ".dockerignore", "builds.lock"])
def test_a_directory_in_a_files_place_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    project(tmp_path)
    (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / name).mkdir()
    code, _, err = run(capsys, "check", "-f", "builds.yaml", "--context", "--no-hadolint")
    assert code == 2
    assert err.count("\n") == 1
    assert "not a regular file" in err


@pytest.mark.parametrize("command", ["build", "plan"])
def test_a_file_where_the_scratch_directory_goes_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    project(tmp_path)
    (tmp_path / ".orchestrator").write_text("x")  # build wrote a traceback here before
    code, _, err = run(capsys, command, "-f", "builds.yaml")
    assert code == 2
    assert err.count("\n") == 1
    assert ".orchestrator: this tool's scratch directory is not a directory" in err


def test_a_device_as_manifest_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "-f", "/dev/zero")
    assert code == 2
    assert "not a regular file" in err


@pytest.mark.parametrize(
    ("key", "entry"),
    [
        ("UPPER/Case:1", f"{{digest: '{DIGEST}'}}"),
        ("busybox:1.35", "{digest: 'sha256:ABC'}"),
        ("busybox:1.35", f"{{digest: '{DIGEST}', source: 'not a ref'}}"),
    ],
)
def test_a_lock_entry_that_is_not_a_reference_or_digest_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, entry: str
) -> None:
    project(tmp_path)
    (tmp_path / "builds.lock").write_text(f"version: 1\nimages:\n  '{key}': {entry}\n")
    code, _, err = run(capsys, "plan", "-f", "builds.yaml")
    assert code == 2
    assert err.count("\n") == 1
    assert "builds.lock: images." in err


@pytest.mark.parametrize("command", ["check", "schema"])
@pytest.mark.parametrize("where", ["dir", "/dev/full", "missing-parent-is-a-file"])
def test_every_output_path_failure_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, where: str
) -> None:
    project(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "missing-parent-is-a-file").write_text("x")
    target = str(tmp_path / "missing-parent-is-a-file" / "out") if where.startswith("m") else where
    target = str(tmp_path / "dir") if where == "dir" else target
    extra = ["-f", "builds.yaml", "--no-hadolint"] if command == "check" else []
    code, _, err = run(capsys, command, *extra, "--output", target)
    assert code == 1
    assert err.count("\n") == 1
    assert f"cannot write {target}" in err


def test_an_output_path_that_is_a_symlink_is_replaced_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (tmp_path / "schema.json").symlink_to(victim)
    code, _, _ = run(capsys, "schema", "--output", str(tmp_path / "schema.json"))
    assert code == 0
    assert victim.read_text() == "untouched\n"
    assert not (tmp_path / "schema.json").is_symlink()


def test_a_lock_as_pin_writes_it_is_read_without_the_yaml_parser_and_the_same() -> None:
    from orchestrator import lockfile, yamlsrc

    digest = "sha256:" + "c" * 64
    lock = lockfile.Lock(
        {
            f"localhost:5000/img{i}:1.{i}": lockfile.LockEntry(
                f"localhost:5000/mirror/img{i}:1.{i}",
                digest,
                {"linux/amd64": digest, "linux/arm64/v8": digest} if i % 2 else {},
                "2026-01-01T00:00:00+00:00" if i % 3 else "",
            )
            for i in range(20_000)
        }
    )
    text = lockfile.render(lock)
    started = time.monotonic()
    fast = lockfile._fast_load(text)
    took = time.monotonic() - started
    assert fast == yamlsrc.safe_load(text)
    assert took < 5  # the YAML parser: ~10x longer
    # Anything else falls back to YAML (which reports problems with their line).
    assert lockfile._fast_load(text.replace("images:\n", "images: # x\n")) is None
    assert lockfile._fast_load(text + "<<<<<<< HEAD\n") is None


def _two_gib() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_a_secret_file_that_is_no_regular_file_is_a_warning_not_a_hang(tmp_path: Path) -> None:
    """A FIFO named as a secret file hung `plan` (read for masking: nobody writes), /dev/zero
    was read until the memory ran out, a directory crashed it (exit 3). Each is now a warning
    that says what the file is; run as a process with a timeout, so a hang fails the test."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    secrets = (
        "    secrets:\n"
        "      - {id: a, file: fifo}\n"
        "      - {id: b, file: folder}\n"
        "      - {id: c, file: /dev/zero}\n"
        "      - {id: d, file: missing}\n"
    )
    project(tmp_path, secrets)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:1.35 AS app\n"
        "RUN --mount=type=secret,id=a --mount=type=secret,id=b "
        "--mount=type=secret,id=c --mount=type=secret,id=d true\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "plan"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_two_gib,  # /dev/zero read whole fails fast instead of eating the machine
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for name in ("fifo", "folder"):
        assert f"{tmp_path / name}, which is not a regular file" in done.stderr
    assert "/dev/zero, which is not a regular file" in done.stderr
    assert f"{tmp_path / 'missing'}, which does not exist" in done.stderr


@pytest.mark.parametrize("command", ["build", "publish"])
@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_report_path_that_is_no_regular_file_is_refused_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, kind: str
) -> None:
    """`--report /dev/full` was renamed over (the device became a report file); a directory
    there was an 'unexpected error' after the whole build."""
    project(tmp_path)
    where = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(where)
    else:
        where.mkdir()
    extra = ["--from", "part.json"] if command == "publish" else []
    code, _, err = run(capsys, command, "-f", "builds.yaml", *extra, "--report", str(where))
    assert code == 1
    assert err == f"error: cannot write {where}: it exists and is not a regular file\n"
    assert where.is_fifo() if kind == "fifo" else where.is_dir()


class _Refusing:
    """A text stream whose writes fail the way a departed reader's or a full disk's do."""

    def __init__(self, error: OSError) -> None:
        self.error = error
        self.writes = 0

    def write(self, _text: str) -> int:
        self.writes += 1
        raise self.error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "lost"),
    [(BrokenPipeError(32, "Broken pipe"), False), (OSError(28, "No space left on device"), True)],
)
def test_messages_that_cannot_be_written_never_stop_the_run(error: OSError, lost: bool) -> None:
    """`build 2>&1 | head` crashed (exit 3) and abandoned the bake when stderr's reader left;
    `2>/dev/full` the same. Messages are not the result: they are dropped from then on."""
    from orchestrator import masking

    inner = _Refusing(error)
    stream = masking.MaskedStream(inner, diagnostics=True)  # type: ignore[arg-type]
    assert stream.write("progress\n") == len("progress\n")
    stream.write("more\n")
    stream.flush()
    assert inner.writes == 1  # given up after the first failure
    assert stream.lost is lost
    results = masking.MaskedStream(_Refusing(error))  # type: ignore[arg-type]
    with pytest.raises(OSError, match=str(error.strerror)):
        results.write("the result\n")  # stdout: stdout_guard decides (exit 1 or a quiet end)


@pytest.mark.parametrize(
    ("target", "head", "sets"),
    [
        ("    context: loop\n", "", []),
        ("    contexts: {x: ./loop}\n", "", []),
        ('    contexts: {x: "oci-layout://./loop"}\n', "", []),
        ("", "", ["--set", "app.outputs=local:loop/x"]),
        ("    ssh: [{id: default, paths: [loop]}]\n", "", []),
        ("    secrets: [{id: s, file: loop}]\n", "", []),
        ("    sign: true\n", "}\nsigning: {key: loop", []),
    ],
)
def test_a_symlink_loop_where_a_path_goes_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, head: str, sets: list[str]
) -> None:
    """On Python < 3.13 `Path.resolve()` raises RuntimeError for a link to itself: `plan` and
    `check` ended in exit 3 for a context, output, ssh path, secret or signing key that is one."""
    project(tmp_path, target, head)
    (tmp_path / "loop").symlink_to("loop")
    code, _, err = run(capsys, "plan", "-f", "builds.yaml", *sets)
    assert code in (0, 2), err


@pytest.mark.parametrize("link", ["Dockerfile", "nowhere"])
def test_a_dockerfile_that_is_a_dangling_symlink_is_said_to_be_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    """`ln -s Dockerfile Dockerfile` (a loop) or a link to a missing file: not "no Dockerfile"."""
    project(tmp_path)
    (tmp_path / "Dockerfile").unlink()
    (tmp_path / "Dockerfile").symlink_to(link)
    code, _, err = run(capsys, "plan")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: builds.yaml:4: targets.app: Dockerfile is a symlink that leads to no file "
        "(a loop, or its target is missing)"
    ]


@pytest.mark.parametrize("key", ["~", "null"])
def test_a_null_key_is_named_as_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    path = project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + f"  {key}: {{}}\n", encoding="utf-8")
    code, _, err = run(capsys, "plan")
    assert code == 2
    assert "targets: a key is null" in err
    assert "plain scalars" not in err


def test_a_set_of_a_map_key_without_a_name_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path)
    code, _, err = run(capsys, "plan", "--set", "app.args.=1")
    assert code == 2
    assert (
        err.strip() == "error: --set app.args.=1: args.NAME needs a name, e.g. --set app.args.X=1"
    )


@pytest.mark.parametrize(
    "array", ["[" + "1" * 5000 + ', "/x"]', "[" * 20_000 + "]" * 20_000], ids=["int", "deep"]
)
@pytest.mark.parametrize("command", ["plan", "check"])
def test_an_exec_form_json_cannot_hold_is_read_as_shell_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], array: str, command: str
) -> None:
    # BuildKit reads an instruction's arguments as JSON only if they are an array of strings,
    # else as shell form; Python's json raises ValueError (over 4300 digits) or RecursionError.
    project(tmp_path)
    text = "FROM busybox:1.35 AS app\n" + "".join(
        f"{keyword} {array}\n" for keyword in ("COPY", "ADD", "RUN", "SHELL", "ENTRYPOINT", "CMD")
    )
    (tmp_path / "Dockerfile").write_text(text, encoding="utf-8")
    extra = ["--no-hadolint"] if command == "check" else []
    code, _, _ = run(capsys, command, "-f", "builds.yaml", *extra)
    assert code in (0, 1)
