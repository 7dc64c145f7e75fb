"""The only module that talks to docker and buildx.

Short queries (versions, builder and engine info, registry manifests, tagging) go through
python-on-whales, which maps flags 1:1 and parses inspect JSON into models. The long build runs
`docker buildx bake` on a generated definition through `spawn()`, our one process seam: python-on-
whales' streaming runner gives no handle on the child, and we need one to stop buildx's whole
process group on SIGTERM and to read the `rawjson` progress stream (not in its types).

Every buildx command starts the buildx plugin binary the way the docker CLI would (buildx()),
without the CLI's own start-up and plugin-metadata round trip in front of it.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import importlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from orchestrator import console, registry, usercache
from orchestrator.errors import PreflightError, UserError

RETRYABLE = (
    "500 Internal Server Error",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "connection reset by peer",
    "i/o timeout",
    "EOF",
)
NOT_RETRYABLE = ("401 Unauthorized", "403 Forbidden", "denied", "unauthorized")


# Where the docker CLI looks for its plugins, after its config dir and `cliPluginsExtraDirs`
# (docker/cli, cli-plugins/manager, unix).
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
# The docker CLI sets this when it runs a plugin; a plugin started with it behaves as if the CLI
# had started it (the CLI plugin spec: `docker-NAME [GLOBAL OPTIONS] NAME [ARGS]`).
PLUGIN_ENV = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
DIRECT_ENV = "ORCH_BUILDX_DIRECT"


@functools.cache
def buildx_plugin() -> str | None:
    """The buildx plugin binary `docker buildx` would run, found as the docker CLI finds it.

    `docker buildx X` starts the CLI, which runs `docker-buildx docker-cli-plugin-metadata`
    and then `docker-buildx buildx X`: ~0.03-0.05 s of every buildx call, measured, and a build
    makes three on its critical path (inspect, bake, tagging). Running the plugin the way the
    CLI does skips the first two processes. None (callers use `docker buildx`) when it is not
    found or ORCH_BUILDX_DIRECT=0, e.g. for a `docker` wrapper that must see every call.
    """
    if os.environ.get(DIRECT_ENV, "1") == "0":
        return None
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    extra: list[str] = []
    with contextlib.suppress(OSError, ValueError, AttributeError):
        found = json.loads((config / "config.json").read_text(encoding="utf-8"))
        extra = [str(d) for d in found.get("cliPluginsExtraDirs") or [] if isinstance(d, str)]
    for folder in (str(config / "cli-plugins"), *extra, *SYSTEM_PLUGIN_DIRS):
        path = Path(folder) / "docker-buildx"
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def buildx(
    *args: str, engine: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str] | None]:
    """argv and environment (None: ours) that run `docker buildx ARGS`; `engine` overrides
    the variables that choose the engine (DOCKER_HOST / DOCKER_CONTEXT) for a fan-out node."""
    plugin = buildx_plugin()
    base = node_env(engine) if engine else None
    if plugin is None:
        return ["docker", "buildx", *args], base
    return [plugin, "buildx", *args], {**(base or os.environ), PLUGIN_ENV: "docker"}


def node_env(engine: Mapping[str, str]) -> dict[str, str]:
    """Our environment pointed at another engine: DOCKER_HOST or DOCKER_CONTEXT, never both
    (the CLI refuses the pair)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env.update(engine)
    return env


TIMEOUT_ENV = "ORCH_QUERY_TIMEOUT"
TIMEOUT_DEFAULT = 60.0


def query_timeout() -> float:
    """Seconds a registry or engine query may take (a server that accepts and never answers
    would otherwise hold the run forever); ORCH_QUERY_TIMEOUT changes it."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, "") or TIMEOUT_DEFAULT)
    except ValueError:
        return TIMEOUT_DEFAULT
    return value if 0 < value < 86400 else TIMEOUT_DEFAULT


def query(
    argv: Sequence[str],
    what: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """One bounded query process: killed, and one line naming `what`, when it outlives the
    timeout. Every docker/buildx call that is not a build goes through here."""
    limit = query_timeout()
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=limit,
            input=stdin,
        )
    except subprocess.TimeoutExpired:
        raise _no_answer(what, limit) from None


def _no_answer(what: str, limit: float) -> UserError:
    return UserError(
        f"{what}: no answer within {limit:g} s (is the registry or engine reachable? "
        f"{TIMEOUT_ENV}=SECONDS waits longer)"
    )


def run_buildx(
    *args: str, what: str = "", engine: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv, env = buildx(*args, engine=engine)
    return query(argv, what or f"docker buildx {' '.join(args[:2])}", env)


def _whales() -> Any:
    """python-on-whales for buildx commands, started the same way as buildx() starts them."""
    # Imported lazily: python-on-whales costs ~0.1 s to import and `plan` must stay fast.
    from python_on_whales import DockerClient

    plugin = buildx_plugin()
    if plugin is None:
        return DockerClient()
    # It runs `CLIENT_CALL buildx ...`; `env` sets the variable for that process only.
    return DockerClient(client_call=["env", f"{PLUGIN_ENV}=docker", plugin])


def preload() -> None:
    """Import the registry client (python-dxf, requests: ~0.15 s) in the background while the
    caller waits on processes (the engine query, the bake): resolving tag-referenced bases,
    tagging and read-backs need it. Only the first call starts it.

    The import is CPU work, but the bake's wait releases the GIL, so it costs the run nothing.
    Not a daemon thread: interpreter exit waits for it rather than killing it mid-import.
    """
    if registry.enabled() and not _PRELOADING:
        _PRELOADING.append(True)
        threading.Thread(target=_import, args=("dxf",)).start()


_PRELOADING: list[bool] = []  # started once per process, however many callers ask


PRELOAD_CPU: list[float] = []  # CPU seconds of each background import (the report's cpu)


def _import(name: str) -> None:
    started = time.thread_time()  # this thread's own CPU: the import, not the bake's parsing
    importlib.import_module(name)
    PRELOAD_CPU.append(time.thread_time() - started)


@dataclass(frozen=True)
class Engine:
    """What the engine and the current builder can do; read once per run for preflight."""

    server_version: str
    buildx_version: str
    driver: str
    containerd_store: bool
    platforms: tuple[str, ...]
    builder: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _not_running(detail: str, engine: Mapping[str, str] | None = None) -> UserError:
    where = engine or os.environ
    host = where.get("DOCKER_HOST") or where.get("DOCKER_CONTEXT") or "the default socket"
    first = detail.strip().splitlines()[-1] if detail.strip() else "no answer"
    return PreflightError(
        f"docker engine not reachable at {host}: {first} "
        "(start it with `make engine`, then `. .engine/env`)"
    )


def docker_json(args: Sequence[str], engine: Mapping[str, str] | None = None) -> Any:
    """Run a docker query that prints JSON (the bits python-on-whales has no model for)."""
    proc = query(
        ["docker", *args], f"docker {' '.join(args[:2])}", node_env(engine) if engine else None
    )
    if proc.returncode != 0:
        raise (
            _not_running(proc.stderr, engine)
            if "Cannot connect" in proc.stderr or ("connect:" in proc.stderr)
            else UserError(f"docker {' '.join(args[:2])}: {proc.stderr.strip()}")
        )
    return json.loads(proc.stdout)


def _docker_info(engine: Mapping[str, str] | None) -> Any:
    """What `docker info --format '{{json .}}'` prints: the daemon's answer and the CLI's plugins.

    Asked of the daemon's socket directly when the CLI would ask that socket too (_daemon_info)
    and the buildx plugin is run directly as well: `docker info` lists every CLI plugin by
    running it, ~0.05 s of CPU and ~0.06-0.1 s of wall time on every build's critical path
    (the engine query outlasts the checks beside it), measured; the socket answers in ~0.01 s.
    """
    plugin = buildx_plugin()
    env = node_env(engine) if engine else os.environ
    server = _daemon_info(env) if plugin is not None else None
    if server is None or plugin is None:
        return docker_json(["info", "--format", "{{json .}}"], engine)
    version = _plugin_version(plugin)
    if version is None:
        return docker_json(["info", "--format", "{{json .}}"], engine)
    return {**server, "ClientInfo": {"Plugins": [{"Name": "buildx", "Version": version}]}}


DEFAULT_SOCKET = "/var/run/docker.sock"
INFO_LIMIT = 4 << 20  # bytes; the daemon's /info is a few kilobytes


def _daemon_socket(env: Mapping[str, str]) -> str | None:
    """The unix socket the docker CLI would talk to with `env`, or None when it would use a
    context, TCP or SSH (the CLI alone knows how to reach those). Its order: DOCKER_HOST, then
    DOCKER_CONTEXT, then config.json's currentContext, then the default socket."""
    host = env.get("DOCKER_HOST")
    if host:
        return host.removeprefix("unix://") if host.startswith("unix:///") else None
    if env.get("DOCKER_CONTEXT") not in (None, "", "default"):
        return None
    config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        current = json.loads(config.read_text(encoding="utf-8")).get("currentContext")
    except FileNotFoundError:
        current = None
    except (OSError, ValueError, AttributeError):
        return None  # the CLI will say what is wrong with it
    return DEFAULT_SOCKET if current in (None, "", "default") else None


def _daemon_info(env: Mapping[str, str]) -> dict[str, Any] | None:
    """GET /info on the daemon's unix socket (the same document `docker info` shows as its
    server part), or None for the CLI to ask: not a unix socket, no answer, not 200, not JSON.
    The CLI then reports a daemon that is down in its own words."""
    path = _daemon_socket(env)
    if path is None:
        return None
    limit = query_timeout()
    chunks: list[bytes] = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(limit)
            sock.connect(path)
            # HTTP/1.0: the daemon answers with the whole body and closes; no chunking.
            sock.sendall(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n")
            while (chunk := sock.recv(65536)) and sum(map(len, chunks)) < INFO_LIMIT:
                chunks.append(chunk)
    except TimeoutError:
        raise _no_answer("docker info", limit) from None  # the CLI would wait as long again
    except OSError:
        return None
    if sum(map(len, chunks)) >= INFO_LIMIT:
        return None  # not the daemon's few kilobytes: let the CLI make sense of it
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
        return None
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) and found.get("ServerVersion") else None


PLUGIN_VERSIONS = "plugin-versions"  # the user cache's kind (usercache.py)


def _plugin_version(plugin: str) -> str | None:
    """The buildx plugin's version as `docker info` lists it (its metadata's Version),
    remembered per binary: a file of the same path, size, mtime and inode is the same build."""
    try:
        st = Path(plugin).stat()
    except OSError:
        return None
    stamp = f"{plugin}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
    name = hashlib.sha256(stamp.encode()).hexdigest()
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # RuntimeError: no home
        stored = (usercache.directory(PLUGIN_VERSIONS) / name).read_text(encoding="utf-8")
        if stored.strip():
            return stored.strip()
    proc = query([plugin, "docker-cli-plugin-metadata"], "docker-buildx docker-cli-plugin-metadata")
    try:
        version = json.loads(proc.stdout).get("Version") if proc.returncode == 0 else None
    except (ValueError, AttributeError):
        version = None
    if not isinstance(version, str) or not version.strip():
        return None
    with contextlib.suppress(OSError, RuntimeError):
        usercache.store(PLUGIN_VERSIONS, name, version.strip(), 64)
    return version.strip()


# What the engine query answers depends on these: a query started with other values of them
# is not the one a caller asks for (engine_info_early).
_ENGINE_ENV = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "BUILDX_BUILDER",
    "BUILDX_CONFIG",
    DIRECT_ENV,
    "PATH",
    "HOME",
)
_EARLY: dict[tuple[str | None, tuple[str | None, ...]], concurrent.futures.Future[Engine]] = {}
_EARLY_LOCK = threading.Lock()


def _early_key(builder: str | None) -> tuple[str | None, tuple[str | None, ...]]:
    return builder, tuple(os.environ.get(name) for name in _ENGINE_ENV)


def engine_info_early(builder: str | None) -> None:
    """Start engine_info(builder) now, in the background; the engine_info() call that asks the
    same question later (same builder, same environment) takes its answer, or its error.

    `build` calls this before it imports its modules and reads builds.yaml (main.py):
    `buildx inspect`'s round trip to the daemon (~0.05-0.1 s, little CPU) then overlaps the
    imports instead of outlasting the checks on the critical path. An answer nobody asks for
    (the manifest names another builder, the build stops first) is dropped: the queries have
    no side effects. A daemon thread: exit never waits for it.
    """
    key = _early_key(builder)
    with _EARLY_LOCK:
        if key in _EARLY:
            return
        future: concurrent.futures.Future[Engine] = concurrent.futures.Future()
        _EARLY[key] = future

    def work() -> None:
        try:
            future.set_result(_engine_info(builder, None))
        except BaseException as exc:  # handed to whoever takes the answer
            future.set_exception(exc)

    threading.Thread(target=work, name="engine-query", daemon=True).start()


def engine_info(builder: str | None = None, engine: Mapping[str, str] | None = None) -> Engine:
    """Versions, driver and platforms of `builder` (default: the current builder); the answer
    of engine_info_early() when that asked the same question."""
    if engine is None:
        with _EARLY_LOCK:
            early = _EARLY.pop(_early_key(builder), None)
        if early is not None:
            return early.result()
    return _engine_info(builder, engine)


def _engine_info(builder: str | None, engine: Mapping[str, str] | None) -> Engine:
    """The daemon's info and `docker buildx inspect` are independent, so they run side by side:
    each is a process start-up (or a socket) plus a daemon round trip, and preflight is on
    every build's critical path."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        info_future = pool.submit(_docker_info, engine)
        inspect_future = pool.submit(
            functools.partial(run_buildx, engine=engine), "inspect", *([builder] if builder else [])
        )
        try:
            info = info_future.result()
        except FileNotFoundError:
            raise PreflightError("docker CLI not found on PATH (run `make engine`)") from None
        inspect = inspect_future.result()
    if info.get("ServerErrors") or not info.get("ServerVersion"):
        raise _not_running("; ".join(info.get("ServerErrors") or []), engine)
    driver_status = {k: v for k, v in (info.get("DriverStatus") or []) if isinstance(k, str)}
    containerd = "snapshotter" in str(driver_status.get("driver-type", "")) or str(
        info.get("Driver", "")
    ).startswith(("overlayfs", "stargz"))
    if inspect.returncode != 0:
        raise PreflightError(
            f"docker buildx not usable: {inspect.stderr.strip() or 'no output'} "
            "(install the buildx plugin; `make engine` does)"
        )
    name, driver, platforms = _parse_inspect(inspect.stdout)
    # The CLI lists its plugins with their versions: no separate `docker buildx version` call.
    plugins = (info.get("ClientInfo") or {}).get("Plugins") or []
    buildx: dict[str, Any] = next((p for p in plugins if p.get("Name") == "buildx"), {})
    return Engine(
        server_version=str(info.get("ServerVersion")),
        buildx_version=str(buildx.get("Version", "unknown")),
        driver=driver,
        containerd_store=containerd,
        platforms=platforms,
        builder=name,
    )


def _parse_inspect(text: str) -> tuple[str, str, tuple[str, ...]]:
    """`docker buildx inspect` has no JSON output (buildx 0.13); its lines are stable enough."""
    name = driver = ""
    platforms: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "Name" and not name:
            name = value
        elif key == "Driver" and not driver:
            driver = value
        elif key == "Platforms":
            platforms += [p.strip().rstrip("*") for p in value.split(",") if p.strip()]
    return name, driver, tuple(dict.fromkeys(platforms))


# --- the process seam -------------------------------------------------------------------
@dataclass
class Running:
    proc: subprocess.Popen[bytes]

    def chunks(self) -> Iterator[str]:
        """stderr as text in the pieces the pipe gives: each read takes all that is there (up
        to READ_SIZE), so a pretty-printed SolveStatus of twenty lines is one piece, not twenty
        (progress.Tracker.feed cuts the objects out). Invalid UTF-8 becomes U+FFFD."""
        if self.proc.stderr is None:
            return
        fd = self.proc.stderr.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ended = _EndWatch(self.proc.pid)
        try:
            while data := os.read(fd, READ_SIZE):
                if text := decoder.decode(data):
                    yield text
                if len(data) < READ_SIZE:  # all there was: let more gather, unless it ends
                    ended.wait(COALESCE_S)
        finally:
            ended.close()
        self.proc.stderr.close()  # at its end only: a bake being stopped may still write
        if text := decoder.decode(b"", final=True):
            yield text

    def stop(self, grace: float = 10.0) -> None:
        """SIGINT the whole group (buildx cancels the solve cleanly), then SIGKILL after `grace`."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def spawn(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Running:
    """Start `argv` in its own process group with stderr piped (buildx writes progress there)."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        bufsize=0,  # read by Running.chunks, straight from the pipe
        start_new_session=True,  # our own group: a SIGTERM to us can end all of buildx
        env=dict(os.environ if env is None else env),
    )
    _widen(proc.stderr)
    return Running(proc)


READ_SIZE = 1 << 16
# How long output may gather in the pipe before it is read. buildx writes each SolveStatus on
# its own (~1,800 writes for a bake of 30 targets); read as they come, every write woke this
# process, and the wake-ups, not the parsing, were most of its CPU while a bake ran (measured:
# 0.34 s of the reading thread's CPU, against 0.14 s reading at most ten times a second, where
# replaying the same stream costs 0.03 s). A tenth of a second is below what a progress
# display shows; the wait ends at once when the process does (_EndWatch), so it adds nothing
# to a bake's time.
COALESCE_S = 0.1
# The pipe's capacity while output gathers: Linux's default is 64 KiB, and a writer that fills
# it waits. 1 MiB is the most an unprivileged process may set (fs.pipe-max-size).
PIPE_SIZE = 1 << 20


class _EndWatch:
    """Waits up to a time for a process to end (a Linux pidfd, polled). Where there is none
    (another system, an old kernel, a process already reaped), wait() returns at once: output
    is then read as it comes, as before."""

    def __init__(self, pid: int) -> None:
        self._fd: int | None = None
        self._poll: select.poll | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._fd = os.pidfd_open(pid)
            poll = select.poll()
            poll.register(self._fd, select.POLLIN)
            self._poll = poll  # only once it watches something: an empty poll would sleep

    def wait(self, seconds: float) -> None:
        if self._poll is not None:
            self._poll.poll(seconds * 1000)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._poll = None


def _widen(pipe: IO[bytes] | None) -> None:
    if pipe is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


# A line of buildx's own text among the progress objects (`ERROR: ...`, a warning): not blank,
# not indented, not a brace (an object's first or last line, or a compact object).
_TEXT_LINE = re.compile(r"^[^ \t\r\n{}].*", re.MULTILINE)


class _Tail:
    """The last lines of buildx's own text in a stream read in pieces (BakeRun.other_lines)."""

    KEEP = 41

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._partial = ""

    def add(self, text: str) -> None:
        whole, newline, self._partial = (self._partial + text).rpartition("\n")
        if newline:
            self._lines += (m.rstrip() for m in _TEXT_LINE.findall(whole))
            del self._lines[: -self.KEEP]

    def lines(self) -> list[str]:
        last = [self._partial.rstrip()] if _TEXT_LINE.match(self._partial) else []
        return [*self._lines, *last][-self.KEEP :]


@dataclass
class BakeRun:
    returncode: int
    metadata: dict[str, Any]
    other_lines: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0  # wall time of this bake (bake_many: per node)


def bake_with_retry(
    definition_file: Path,
    targets: Sequence[str],
    metadata_file: Path,
    on_output: Callable[[str], None],
    *,
    builder: str | None = None,
    attempts: int = 3,
    backoff: float = 2.0,
) -> BakeRun:
    """Run bake; when it failed only because the registry answered 5xx, run it again.

    Everything built is cached, so a retry costs the push, not the build. Auth errors and build
    errors are never retried.
    """
    run = bake(definition_file, targets, metadata_file, on_output, builder=builder)
    for attempt in range(1, attempts):
        text = "\n".join(run.other_lines[-20:])
        if run.returncode == 0 or run.interrupted or not _transient(text):
            break
        # Printed, not fed to the progress parser: a retry must show in the log, also on success.
        console.plain(f"registry error, retrying bake ({attempt + 1}/{attempts})")
        time.sleep(backoff * attempt)
        run = bake(definition_file, targets, metadata_file, on_output, builder=builder)
    return run


def bake(
    definition_file: Path,
    targets: Sequence[str],
    metadata_file: Path,
    on_output: Callable[[str], None],
    *,
    builder: str | None = None,
) -> BakeRun:
    argv, env = buildx(
        "bake",
        "--file",
        str(definition_file),
        "--metadata-file",
        str(metadata_file),
        "--progress",
        "rawjson",
        *(["--builder", builder] if builder else []),
        *targets,
    )
    return _stream(argv, env, metadata_file, on_output)


def build(
    build_args: Sequence[str],
    metadata_file: Path,
    on_output: Callable[[str], None],
    *,
    builder: str | None = None,
) -> BakeRun:
    """`docker buildx build BUILD_ARGS` (argv.build_argv without `docker buildx build`), for a
    target whose keys a bake file of this buildx cannot hold (argv.bake_lacks)."""
    argv, env = buildx(
        "build",
        "--metadata-file",
        str(metadata_file),
        "--progress",
        "rawjson",
        *(["--builder", builder] if builder else []),
        *build_args,
    )
    return _stream(argv, env, metadata_file, on_output)


def _stream(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    metadata_file: Path,
    on_output: Callable[[str], None],
) -> BakeRun:
    running = spawn(argv, env)
    interrupted = False
    tail = _Tail()

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        for text in running.chunks():
            on_output(text)
            tail.add(text)
        running.proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        running.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    metadata: dict[str, Any] = {}
    if metadata_file.is_file() and metadata_file.stat().st_size:
        with contextlib.suppress(json.JSONDecodeError):
            metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    return BakeRun(running.proc.returncode, metadata, tail.lines(), interrupted=interrupted)


@dataclass(frozen=True)
class BakeJob:
    """One bake of a fan-out build: a node's definition, run on that node's engine."""

    node: str
    definition: Path
    targets: tuple[str, ...]
    metadata: Path
    engine: Mapping[str, str]


def bake_many(jobs: Sequence[BakeJob], on_output: Callable[[str, str], None]) -> dict[str, BakeRun]:
    """Run several bakes at once, each on its own engine; `on_output(node, text)` sees all of each
    one's output, in the pieces it is read in (Running.chunks).

    All processes are started and stopped from this (the main) thread, where SIGTERM can be
    caught; one reader thread per process feeds `on_output` under a lock, so the caller's progress
    state is never updated by two threads at once. Interrupted: every bake is stopped.
    """
    lock = threading.Lock()
    running: dict[str, Running] = {}
    tails = {job.node: _Tail() for job in jobs}

    began: dict[str, float] = {}
    ended: dict[str, float] = {}

    def read(job: BakeJob) -> None:
        for text in running[job.node].chunks():
            with lock:
                on_output(job.node, text)
            tails[job.node].add(text)
        ended[job.node] = time.monotonic()  # stderr closed: that bake is over

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    interrupted = False
    readers: list[threading.Thread] = []
    try:
        for job in jobs:
            argv, env = buildx(
                "bake",
                "--file",
                str(job.definition),
                "--metadata-file",
                str(job.metadata),
                "--progress",
                "rawjson",
                *job.targets,
                engine=job.engine,
            )
            began[job.node] = time.monotonic()
            running[job.node] = spawn(argv, env or node_env(job.engine))
            reader = threading.Thread(target=read, args=(job,), daemon=True)
            reader.start()
            readers.append(reader)
        for reader in readers:
            while reader.is_alive():
                reader.join(timeout=0.2)  # short waits: a signal is handled between them
        for run in running.values():
            run.proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        for run in running.values():
            run.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    out: dict[str, BakeRun] = {}
    for job in jobs:
        metadata: dict[str, Any] = {}
        if job.metadata.is_file() and job.metadata.stat().st_size:
            with contextlib.suppress(json.JSONDecodeError):
                metadata = json.loads(job.metadata.read_text(encoding="utf-8"))
        proc = running[job.node].proc if job.node in running else None
        code = proc.returncode if proc is not None and proc.returncode is not None else 1
        seconds = ended.get(job.node, time.monotonic()) - began.get(job.node, time.monotonic())
        out[job.node] = BakeRun(
            code,
            metadata,
            tails[job.node].lines(),
            interrupted=interrupted,
            seconds=round(seconds, 3),
        )
    return out


def print_bake(definition_file: Path, targets: Sequence[str]) -> dict[str, Any]:
    """`docker buildx bake --print`: buildx's own reading of our definition."""
    result: dict[str, Any] = _whales().buildx.bake(
        targets=list(targets), files=[str(definition_file)], print=True
    )
    return result


def bake_definition(source: Path, targets: Sequence[str] = ()) -> dict[str, Any]:
    """`docker buildx bake -f SOURCE --print [TARGETS]`, run in SOURCE's folder.

    buildx reads HCL, JSON and compose files, applies `inherits`, variables and functions, and
    prints the resolved definition without building: `orchestrator import` reads only that.
    In the file's folder, because bake resolves relative contexts from the working directory.
    """
    argv, env = buildx("bake", "--file", source.name, "--print", *targets)
    try:
        proc = subprocess.run(
            argv,
            cwd=source.parent,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",  # buildx quotes the file's bytes in its errors, UTF-8 or not
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{source}: docker buildx bake --print did not run: {exc}") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        why = lines[-1].removeprefix("ERROR: ") if lines else f"exit {proc.returncode}"
        raise UserError(f"{source}: docker buildx bake --print: {why}")
    try:
        definition: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise UserError(f"{source}: docker buildx bake --print gave no JSON") from None
    return definition


# --- registry ---------------------------------------------------------------------------
def _transient(text: str) -> bool:
    """A registry hiccup worth another try (5xx, reset), never an auth refusal."""
    return any(s in text for s in RETRYABLE) and not any(s in text for s in NOT_RETRYABLE)


class CommandFailed(Exception):
    """A docker/skopeo command run by us failed; `text` is its output for the retry decision."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _with_retry(action: Callable[[], Any], what: str, attempts: int = 4) -> Any:
    """Retry transient registry failures with backoff; auth failures are final at once.

    `action` fails by raising python-on-whales' DockerException or our CommandFailed.
    """
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except CommandFailed as exc:
            text = exc.text
            last = text.strip().splitlines()[-1] if text.strip() else "failed"
        except Exception as exc:
            # Imported only here: actions that never touch python-on-whales must not pay for it.
            from python_on_whales.exceptions import DockerException

            if not isinstance(exc, DockerException):
                raise
            text = (exc.stderr or "") + (exc.stdout or "")
            last = text.strip().splitlines()[-1] if text.strip() else str(exc)
        if not _transient(text):
            raise UserError(f"{what}: {last}") from None
        if attempt == attempts:
            raise UserError(f"{what}: {last} (gave up after {attempts} attempts)") from None
        console.plain(f"registry error, retrying {what} ({attempt + 1}/{attempts}): {last}")
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _imagetools_create(sources: Sequence[str], tags: Sequence[str], what: str) -> None:
    """`imagetools create`, bounded like every registry query (ORCH_QUERY_TIMEOUT): it only
    moves manifests, never layers, so a registry that stops answering must not hold the run.
    python-on-whales' call has no timeout, hence the plain buildx process here."""

    def create() -> None:
        flags = [f for tag in tags for f in ("--tag", tag)]
        proc = run_buildx("imagetools", "create", *flags, *sources, what=what)
        if proc.returncode != 0:
            raise CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")

    _with_retry(create, what)


def _http(action: Callable[[], Any]) -> Any:
    """`action` through the registry's HTTP API (registry.py), or `_FALLBACK` when that client
    cannot answer as buildx would: the caller then runs the buildx process."""
    if not registry.enabled():
        return _FALLBACK
    try:
        return action()
    except registry.Fallback:
        return _FALLBACK


_FALLBACK = object()


def publish(tags: Sequence[str], source: str) -> None:
    """Point `tags` at `source` (repo@digest). A tag in the source's own repository is one PUT
    of the manifest bytes (registry.py); others (another repository or registry, whose blobs
    must be copied) are a one-source `imagetools create`, a carbon copy."""
    what = f"tagging {source}"
    limit = query_timeout()
    local = [
        t for t in tags if _http(functools.partial(registry.same_repository, source, t)) is True
    ]
    if local and _http(lambda: registry.tag(source, local, what, limit)) is _FALLBACK:
        local = []
    rest = [t for t in tags if t not in local]
    if rest:
        _imagetools_create([source], rest, what)


def merge(sources: Sequence[str], tag: str) -> None:
    """One index at `tag` of every manifest of `sources` (repo@digest of part indexes): the
    platforms and their attestation manifests, in the order given. Same sources, same order,
    same index bytes, so the same digest."""
    _imagetools_create(sources, [tag], f"merging {len(sources)} parts into {tag}")


def manifest(ref: str) -> dict[str, Any]:
    """The raw manifest or index of `ref` in its registry (dict form of the JSON)."""
    what = f"inspecting {ref}"
    got = _http(lambda: registry.get(ref, what, query_timeout()))
    if got is not _FALLBACK:
        data = got.json()
        if not isinstance(data, dict):
            raise UserError(f"{what}: the registry's answer is not a manifest")
        return data

    def ask() -> str:  # the raw JSON, through query(): python-on-whales' call has no timeout
        proc = run_buildx("imagetools", "inspect", "--raw", ref, what=what)
        if proc.returncode != 0:
            raise CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")
        return proc.stdout

    try:
        data = json.loads(str(_with_retry(ask, what)))
    except json.JSONDecodeError:
        raise UserError(f"{what}: the registry's answer is not JSON") from None
    if not isinstance(data, dict):
        raise UserError(f"{what}: the registry's answer is not a manifest")
    return data


def platform_digests(ref: str) -> dict[str, str]:
    """`os/arch[/variant]` -> manifest digest, without attestation manifests."""
    data = manifest(ref)
    out: dict[str, str] = {}
    for entry in data.get("manifests") or []:
        plat = entry.get("platform") or {}
        os_, arch = plat.get("os"), plat.get("architecture")
        if not os_ or os_ == "unknown":
            continue  # provenance/SBOM attestation manifests are `unknown/unknown`
        key = f"{os_}/{arch}" + (f"/{plat['variant']}" if plat.get("variant") else "")
        out[key] = str(entry.get("digest"))
    return out


def image_digest(ref: str) -> str | None:
    """Digest of a loaded image in the engine's store, or None."""
    return image_digests([ref]).get(ref)


def image_digests(refs: Sequence[str]) -> dict[str, str]:
    """Digests of loaded images in the engine's store, all in one `docker image inspect`; {}
    when any of them is missing (its answers would no longer line up with `refs`)."""
    if not refs:
        return {}
    proc = query(
        ["docker", "image", "inspect", "--format", "{{.Id}}", *refs], "docker image inspect"
    )
    ids = proc.stdout.split()
    if proc.returncode != 0 or len(ids) != len(refs):
        return {}
    return dict(zip(refs, ids, strict=True))


def index_digest(ref: str) -> str:
    """The digest `ref` resolves to in its registry now: the index digest of a multi-platform
    image, else its manifest digest. `manifest()` cannot give it: python-on-whales parses `--raw`
    into a model, and the digest is computed over the exact bytes, so ask buildx for the
    descriptor instead (a plain CLI call: the up-to-date check runs it before any build, where
    python-on-whales' import would be most of its cost). One HEAD when registry.py can ask."""
    got = _http(lambda: registry.head(ref, f"resolving {ref}", query_timeout()))
    if got is not _FALLBACK:
        return str(got)

    def ask() -> str:
        proc = run_buildx(
            "imagetools", "inspect", ref, "--format", "{{json .Manifest}}", what=f"resolving {ref}"
        )
        if proc.returncode != 0:
            raise CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")
        return proc.stdout

    text = _with_retry(ask, f"resolving {ref}")
    try:
        digest = json.loads(str(text)).get("digest")
    except (json.JSONDecodeError, AttributeError):
        digest = None
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise UserError(f"resolving {ref}: the registry answered without a digest")
    return digest


def copy_archive(argv: Sequence[str], what: str) -> None:
    """Run a `skopeo copy` of an OCI archive (argv from argv.copy_argv), retrying 5xx."""

    def copy() -> None:
        try:
            proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PreflightError(
                "skopeo not found: reproducible pushes copy the OCI archive with it "
                "(apt-get install skopeo; `make engine` does)"
            ) from None
        if proc.returncode != 0:
            raise CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")

    _with_retry(copy, what)


def builder_nodes(name: str) -> list[str] | None:
    """Node names of builder `name`, or None when it does not exist."""
    proc = run_buildx("inspect", name)
    if proc.returncode != 0:
        return None
    nodes: list[str] = []
    in_nodes = False
    for line in proc.stdout.splitlines():
        if line.strip() == "Nodes:":
            in_nodes = True
        elif in_nodes and line.startswith("Name:"):
            nodes.append(line.partition(":")[2].strip())
    return nodes


def ensure_builder(argvs: Sequence[Sequence[str]]) -> None:
    """Run the `docker buildx create` commands builders.create_argvs() chose."""
    for argv in argvs:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
            raise PreflightError(f"creating builder ({' '.join(argv[3:])}): {detail}")


# --- cosign and attestations ------------------------------------------------------------
# cosign talks to the registry itself; the local registry is plain HTTP on loopback, and offline
# there is no transparency log: signatures are made with --tlog-upload=false and verified with
# --insecure-ignore-tlog (the key is the trust anchor, see docs/SECURITY.md).
def _cosign_flags(ref: str) -> list[str]:
    host = ref.split("/", 1)[0]
    local = host.split(":")[0] in ("localhost", "127.0.0.1") or host.startswith("127.")
    return ["--allow-insecure-registry"] if local else []


def _cosign(args: Sequence[str], env: Mapping[str, str] | None = None) -> CommandFailed | str:
    try:
        proc = subprocess.run(
            ["cosign", *args],
            capture_output=True,
            text=True,
            check=False,
            env=dict(os.environ if env is None else env),
            timeout=300,
        )
    except FileNotFoundError:
        raise PreflightError(
            "cosign not found: signing and verify need it (`make engine` installs it)"
        ) from None
    if proc.returncode != 0:
        return CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")
    return proc.stdout


def cosign_sign(ref: str, key: str, password: str) -> None:
    """Sign `ref` (repo@digest: never a tag, which could move between resolve and sign)."""
    env = {**os.environ, "COSIGN_PASSWORD": password}
    args = ["sign", "--yes", "--key", key, "--tlog-upload=false", *_cosign_flags(ref), ref]

    def sign() -> None:
        result = _cosign(args, env)
        if isinstance(result, CommandFailed):
            raise result

    _with_retry(sign, f"signing {ref}")


def signature_ref(ref: str) -> str:
    """Where cosign stores the signature of `ref` (`cosign triangulate`: REPO:sha256-….sig)."""
    result = _cosign(["triangulate", *_cosign_flags(ref), ref])
    if isinstance(result, CommandFailed):
        raise UserError(f"cosign triangulate {ref}: {result.text.splitlines()[-1]}")
    return result.strip()


def cosign_verify(ref: str, public_key: str) -> tuple[bool, str]:
    """(valid, last line of cosign's answer): a signature on `ref` made with the key's pair."""
    args = ["verify", "--key", public_key, "--insecure-ignore-tlog", *_cosign_flags(ref), ref]
    result = _cosign(args)
    if isinstance(result, CommandFailed):
        lines = [x for x in result.text.splitlines() if x.strip() and "WARNING" not in x]
        last = lines[-1].removeprefix("error during command execution: ") if lines else ""
        return False, last or "verification failed"
    return True, "signature valid"


def imagetools_json(ref: str, field_name: str) -> Any:
    """`imagetools inspect --format '{{json .FIELD}}'` (Provenance, SBOM, Image): per-platform
    maps for an index; None when the registry has no such data."""

    def ask() -> str:
        proc = run_buildx("imagetools", "inspect", ref, "--format", f"{{{{json .{field_name}}}}}")
        if proc.returncode != 0:
            raise CommandFailed(proc.stderr.strip() or f"exit {proc.returncode}")
        return proc.stdout

    text = str(_with_retry(ask, f"inspecting {ref}")).strip()
    return json.loads(text) if text else None


WARM_TIMEOUT = 10.0


def warm_manifest(ref: str) -> dict[str, Any] | None:
    """Read `ref` (repo@digest) ahead of need, into the registry client's by-digest memo, or
    None: one attempt, nothing printed, no buildx process. It only moves a read-back earlier
    (readahead.py, while the bake still runs): whatever fails here is read again,
    with retries and fallback, when the answer is needed."""
    if not registry.enabled():
        return None
    try:
        limit = min(query_timeout(), WARM_TIMEOUT)  # a run never waits long on optional reads
        found = registry.get(ref, f"reading {ref}", limit, attempts=1).json()
    # Broad on purpose: any failure of an optional early read only means the later one runs.
    except Exception:
        return None
    return found if isinstance(found, dict) else None


def raw_manifest(ref: str) -> dict[str, Any]:
    """The manifest or index bytes the registry serves for `ref`, parsed (annotations kept)."""
    return manifest(ref)
