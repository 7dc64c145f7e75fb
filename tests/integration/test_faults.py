"""Faults, each survived or refused with a one-line cause, on the real engine.

* engine not running              -> exit 2, one line naming the socket, before anything runs
* registry refusing connections   -> preflight, exit 2, one line, nothing built
* registry answering 503 for a while -> bounded retries with backoff, logged, then success
* registry answering 401 / 403    -> no retry, exit 1, the cause shown, no tag anywhere
* SIGTERM / SIGINT mid-build      -> exit 130, buildx's process group gone, the step cancelled,
  the report says which target was built and which was not finished, no release tag
* platform the builder cannot run -> preflight, exit 2, one line, nothing built

The failing registries are a small threaded HTTP proxy started by the test on 127.0.0.1 in
front of the real one (127.0.0.1:5000). Images name it `localhost:<port>`: for localhost,
BuildKit falls back from https to plain http (a 127.0.0.1:<port> name gets https only).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator import executor
from tests.conftest import ROOT, Engine
from tests.integration.orchestrate import run_cli

DOCKERFILE = """\
FROM busybox:1.35 AS app
RUN {run}
USER 10001:10001
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_project(
    root: Path, engine: Engine, image: str, *, run: str = "echo ok > /ok", extra: str = ""
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(DOCKERFILE.format(run=run), encoding="utf-8")
    (root / ".dockerignore").write_text("*\n", encoding="utf-8")
    (root / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: faults, image: '{image}'}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        "targets:\n"
        "  app:\n"
        "    tags: [v1]\n"
        "    outputs: [push]\n"
        "    provenance: false\n" + extra,
        encoding="utf-8",
    )
    return root


def env_for(engine: Engine, **extra: str) -> dict[str, str]:
    return {
        **engine.env,
        "PYTHONPATH": str(ROOT),
        "CI": "true",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **extra,
    }


def orchestrator(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_cli(env, cwd, *args, timeout=timeout)


def error_lines(stderr: str) -> list[str]:
    """The lines of our error block: `error: ...` and its indented problems."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    return [lines[start], *[x for x in lines[start + 1 :] if x.startswith("  ")]]


def registry_tags(repo: str) -> list[str]:
    """Tags of `localhost:5000/<path>` (or of any 127.0.0.1 registry) straight from the API."""
    host, _, path = repo.partition("/")
    port = host.rpartition(":")[2] if ":" in host else "5000"
    url = f"http://127.0.0.1:{port}/v2/{path}/tags/list"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return list(json.load(response).get("tags") or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the repository was never created
            return []
        raise


# --- engine and registry unreachable ----------------------------------------------------------
def test_engine_not_running_is_one_line_exit_2(engine: Engine, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", engine, engine.unique_repo("faults"))
    socket_path = tmp_path / "no-engine" / "docker.sock"
    env = env_for(engine, DOCKER_HOST=f"unix://{socket_path}")
    out = orchestrator(env, project, "build", "app", "--skip-checks")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(f"error: docker engine not reachable at unix://{socket_path}: ")
    assert line.endswith("(start it with `make engine`, then `. .engine/env`)")
    assert not (project / ".orchestrator" / "runs").exists()  # nothing was started


def test_registry_refusing_connections_fails_preflight(engine: Engine, tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there now
    project = write_project(tmp_path / "p", engine, f"127.0.0.1:{port}/faults/app")
    out = orchestrator(env_for(engine), project, "build", "app")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert error_lines(out.stderr) == [
        "error: 1 preflight problem(s); nothing was started",
        f"  app: registry 127.0.0.1:{port} is not reachable (Connection refused); "
        "start it or check the name",
    ]
    assert not (project / ".orchestrator" / "runs").exists()


# --- a registry that fails: 5xx transiently, or 401 always -----------------------------------
@dataclass
class Rule:
    """Answer `status` to the first `times` requests whose `METHOD path` matches `pattern`."""

    pattern: str
    status: int
    times: int
    until: threading.Event | None = None  # once set, the rule stops applying
    hits: int = 0

    def take(self, line: str) -> bool:
        if self.until is not None and self.until.is_set():
            return False
        if self.hits < self.times and re.search(self.pattern, line):
            self.hits += 1
            return True
        return False


@dataclass
class Faulty:
    port: int
    rules: list[Rule]
    seen: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, line: str) -> int | None:
        with self.lock:
            self.log.append(line)
            for rule in self.rules:
                if rule.take(line):
                    self.seen[f"{rule.status} {rule.pattern}"] += 1
                    return rule.status
            self.seen["forwarded"] += 1
            return None


def _handler(state: Faulty) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60

        def log_message(self, *_args: object) -> None:
            return  # the test reads `state.log`, not stderr noise

        def handle(self) -> None:
            # BuildKit tries https first even for localhost and falls back to http only when the
            # answer starts with "HTTP/" (containerd's docker.HTTPFallback). Go's server says
            # "HTTP/1.0 400"; Python's would answer a TLS hello HTTP/0.9-style: say it like Go.
            if self.request.recv(1, socket.MSG_PEEK) == b"\x16":
                self.request.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            super().handle()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    chunk = self.rfile.read(size)
                    self.rfile.readline()
                    if size == 0:
                        return data
                    data += chunk
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(self, status: int) -> None:
            code = {401: "UNAUTHORIZED", 403: "DENIED"}.get(status, "UNAVAILABLE")
            body = json.dumps({"errors": [{"code": code, "message": "test proxy"}]}).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="faults-test"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _forward(self) -> None:
            body = self._body()
            status = state.decide(f"{self.command} {self.path}")
            if status is not None:
                self._answer(status)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", 5000, timeout=60)
            try:
                # Header by header: clients send several `Accept:` lines, and the registry
                # hides an OCI manifest from a client that does not accept its type.
                upstream.putrequest(self.command, self.path, skip_host=True)
                for key, value in self.headers.items():
                    if key.lower() not in ("transfer-encoding", "content-length"):
                        upstream.putheader(key, value)
                if body or self.command in ("PUT", "POST", "PATCH"):
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body)
                response = upstream.getresponse()
                data = response.read()
            finally:
                upstream.close()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            length = response.getheader("Content-Length")
            head = self.command == "HEAD"
            self.send_header("Content-Length", length if head and length else str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

        # http.server dispatches on these names
        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

    return Handler


@pytest.fixture
def faulty_registry() -> Iterator[Callable[[list[Rule]], Faulty]]:
    servers: list[ThreadingHTTPServer] = []

    def start(rules: list[Rule]) -> Faulty:
        state = Faulty(0, rules)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
        server.daemon_threads = True
        state.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_transient_5xx_is_retried_with_backoff_then_succeeds(
    engine: Engine, tmp_path: Path, faulty_registry: Callable[[list[Rule]], Faulty]
) -> None:
    """The push answers 503 until bake has given up once (the engine retries a push on its own
    first), then tagging answers 503 twice; every other request reaches the real registry."""
    first_bake_failed = threading.Event()
    proxy = faulty_registry(
        [
            Rule(r"^PUT /v2/.*/manifests/orchestrator-staging-app$", 503, 50, first_bake_failed),
            Rule(r"^PUT /v2/.*/manifests/v1$", 503, 2),
        ]
    )
    repo = f"localhost:{proxy.port}/test-{uuid.uuid4().hex[:8]}/app"
    project = write_project(tmp_path / "p", engine, repo)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "build", "app"],
        cwd=project,
        env=env_for(engine),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    with proc:
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # ends when the process closes stderr (bounded below)
                lines.append(line)
                if "registry error, retrying bake" in line:
                    first_bake_failed.set()
                if time.monotonic() - started > 150:
                    break
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    elapsed = time.monotonic() - started
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr[-4000:]
    staging, tagging = proxy.rules
    assert staging.hits >= 1  # the first bake's push was refused (the engine retried it too)
    assert tagging.hits == 2
    assert stderr.count("registry error, retrying bake (2/3)") == 1
    assert "retrying bake (3/3)" not in stderr
    assert stderr.count("registry error, retrying tagging ") == 2
    assert "(2/4): " in stderr
    assert "(3/4): " in stderr
    assert "503 Service Unavailable" in stderr
    assert elapsed >= 2.0 + 0.5 + 1.0  # the backoffs really waited (bake 2 s; tags 0.5 s, 1 s)
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    (target,) = report["targets"]
    assert (report["status"], target["status"], target["pushed"]) == ("ok", "ok", True)
    assert "v1" in registry_tags(repo.replace(f"localhost:{proxy.port}", "localhost:5000"))


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusal_is_not_retried(
    engine: Engine, tmp_path: Path, faulty_registry: Callable[[list[Rule]], Faulty], status: int
) -> None:
    proxy = faulty_registry([Rule(".", status, 10_000)])  # every request, /v2/ included
    repo = f"localhost:{proxy.port}/test-{uuid.uuid4().hex[:8]}/app"
    project = write_project(tmp_path / "p", engine, repo)
    started = time.monotonic()
    out = orchestrator(env_for(engine), project, "build", "app")
    assert out.returncode == 1, out.stderr[-4000:]
    assert time.monotonic() - started < 30  # no backoff was waited out
    assert "Traceback" not in out.stderr
    assert "retrying" not in out.stderr
    lines = error_lines(out.stderr)
    assert lines[0] == "error: build failed; no tags were pushed"
    reason = "401 Unauthorized" if status == 401 else "403 Forbidden"
    assert any(reason in line for line in lines[1:]), lines
    assert proxy.rules[0].hits >= 2  # the preflight ping and the push: both refused
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed"
    assert registry_tags(repo.replace(f"localhost:{proxy.port}", "localhost:5000")) == []


def test_a_failed_run_with_push_and_load_publishes_no_release_tag(
    engine: Engine, tmp_path: Path
) -> None:
    """`outputs: [push, load]` gave the release tags to buildx as --tag, which names every
    exporter: the push went out under them during the bake, so another target's failure left
    them published (and the two exporters raced to name one image: "already exists")."""
    repo = engine.unique_repo("pushload")
    project = write_project(tmp_path / "p", engine, repo)
    text = (project / "builds.yaml").read_text(encoding="utf-8")
    (project / "builds.yaml").write_text(
        text.replace("    outputs: [push]\n", "    stage: app\n    outputs: [push, load]\n")
        + "  bad:\n    stage: bad\n    image: "
        + repo
        + "-bad\n    outputs: [push]\n",
        encoding="utf-8",
    )
    (project / "Dockerfile").write_text(
        DOCKERFILE.format(run="echo ok > /ok") + "FROM busybox:1.35 AS bad\nRUN sleep 3; false\n",
        encoding="utf-8",
    )
    out = orchestrator(env_for(engine), project, "build", "--skip-checks", "app", "bad")
    assert out.returncode == 1, out.stderr[-4000:]
    assert error_lines(out.stderr)[0] == "error: build failed; no tags were pushed"
    assert registry_tags(repo) == ["orchestrator-staging-app"]
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    bad = {t["name"]: t for t in report["targets"]}["bad"]
    assert bad["status"] == "failed"
    assert "RUN sleep 3; false" in bad["error"]  # the step and BuildKit's reason, for CI
    assert "exit code: 1" in bad["error"]
    again = orchestrator(env_for(engine), project, "build", "--skip-checks", "app")
    assert again.returncode == 0, again.stderr[-4000:]
    assert sorted(registry_tags(repo)) == ["orchestrator-staging-app", "v1"]
    loaded = engine.run("docker", "image", "inspect", f"{repo}:v1", "--format", "{{.Id}}")
    assert loaded.stdout.startswith("sha256:")  # the load output carries the release tag


# --- interrupt -----------------------------------------------------------------------------------
def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, cmdline) for every process we can read."""
    out: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(entry.name)] = (int(fields[1]), int(fields[2]), cmd.strip())
    return out


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@contextlib.contextmanager
def _build_process(
    engine: Engine, project: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`orchestrator build ARGS` in a session of its own, its stderr read into a list as it
    comes; the test signals it meanwhile. Whatever is left of it afterwards is killed."""
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "build", *args],
        cwd=project,
        env=env_for(engine),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the test can clean up everything it started
    ) as proc:
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
        reader.start()
        try:
            yield proc, lines
            reader.join(timeout=10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


INTERRUPT_DOCKERFILE = """\
FROM busybox:1.35 AS quick
RUN echo {token} > /quick
USER 10001:10001

FROM busybox:1.35 AS slow
RUN sleep 60; echo {token}
USER 10001:10001
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupt_mid_build(engine: Engine, tmp_path: Path, signum: signal.Signals) -> None:
    """`quick` has been built and pushed under its staging tag, `slow` is in `sleep 60`:
    exit 130, buildx's group gone, the report says which is which, no release tag anywhere."""
    token = f"interrupt-{uuid.uuid4().hex[:12]}"
    repo = engine.unique_repo("interrupt")
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text(INTERRUPT_DOCKERFILE.format(token=token), encoding="utf-8")
    (project / ".dockerignore").write_text("*\n", encoding="utf-8")
    (project / "builds.yaml").write_text(
        "version: 1\n"
        f"project: {{name: faults, image: '{repo}'}}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        "defaults: {tags: [v1], outputs: [push], provenance: false}\n"
        "targets:\n"
        f"  quick: {{image: '{repo}-quick'}}\n"
        f"  slow: {{image: '{repo}-slow'}}\n",
        encoding="utf-8",
    )
    with _build_process(engine, project, "quick", "slow") as (proc, lines):
        # `slow` has started when its shell runs (BuildKit runs it on this host), and
        # `quick` has finished when its push is reported done.
        _wait(
            lambda: (
                any(token in c and "sleep" in c for _, _, c in _processes().values())
                and any(" done " in x and "staging-quick with" in x for x in list(lines))
            ),
            60,
            "the sleep step to start and the quick target to be pushed",
        )
        table = _processes()
        buildx = [pid for pid, (ppid, _, cmd) in table.items() if ppid == proc.pid]
        # One child: buildx bake, started the way executor.buildx() starts it.
        first = executor.buildx_plugin() or "docker"
        assert [table[pid][2].split()[:3] for pid in buildx] == [[first, "buildx", "bake"]]
        groups = {table[pid][1] for pid in buildx}
        assert proc.pid not in groups  # buildx runs in a process group of its own
        members = {pid for pid, (_, pgid, _) in table.items() if pgid in groups}
        started = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=30)
        assert time.monotonic() - started < 20
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "error: interrupted; no tags were pushed (see the report for what finished)" in stderr
    # When we exit, every process of buildx's group has ended already.
    assert not any(map(_group_alive, groups)), [_processes().get(pid) for pid in members]
    _wait(
        lambda: not any(token in c for _, _, c in _processes().values()),
        30,
        "BuildKit to cancel the RUN step",
    )
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "interrupted"
    status = {t["name"]: (t["status"], t["pushed"], t["digest"]) for t in report["targets"]}
    assert status == {"quick": ("built", False, None), "slow": ("not finished", False, None)}
    assert "  quick: built," in stderr
    assert "  slow: not finished," in stderr
    # Nothing under a release tag: quick only has its staging tag, slow has nothing at all.
    assert registry_tags(f"{repo}-quick") == ["orchestrator-staging-quick"]
    assert registry_tags(f"{repo}-slow") == []


# Enough tag PUTs that the signal lands while they go on: with 40, the HTTP tagging sometimes
# finished before the signal arrived (about 1 run in 10), and the run ended ok, not 130.
TAGS = 200


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_tagging_lets_the_tagging_finish(
    engine: Engine, tmp_path: Path, signum: int
) -> None:
    """Stopped half way through the tag PUTs, some release tags had moved and others not, and
    no report said which (SIGTERM: no message at all). The tagging now finishes first, the
    report is written, and the run ends with exit 130."""
    repo = engine.unique_repo("tagint")
    many = ", ".join(f"t{n}" for n in range(TAGS))
    project = write_project(tmp_path / "p", engine, repo)
    text = (project / "builds.yaml").read_text(encoding="utf-8")
    (project / "builds.yaml").write_text(text.replace("tags: [v1]", f"tags: [{many}]"))
    with _build_process(engine, project, "--skip-checks") as (proc, lines):
        _wait(lambda: any(": tagging " in x for x in list(lines)), 120, "the tagging")
        proc.send_signal(signum)
        proc.wait(timeout=60)
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "error: interrupted while publishing: it was finished first, every tag is on" in stderr
    assert sorted(registry_tags(repo)) == sorted(
        ["orchestrator-staging-app", *(f"t{n}" for n in range(TAGS))]
    )
    report = json.loads((project / ".orchestrator" / "report.json").read_text(encoding="utf-8"))
    assert (report["status"], report["targets"][0]["pushed"]) == ("ok", True)


# --- a platform the builder cannot run ---------------------------------------------------------
def _unsupported_platform(engine: Engine) -> str:
    inspect = engine.run("docker", "buildx", "inspect").stdout
    supported = {
        p.strip().rstrip("*")
        for line in inspect.splitlines()
        if line.strip().startswith("Platforms:")
        for p in line.split(":", 1)[1].split(",")
    }
    for candidate in ("linux/s390x", "linux/ppc64le", "linux/riscv64", "linux/mips64le"):
        if candidate not in supported:
            return candidate
    pytest.fail(f"the builder runs every platform we could test with: {sorted(supported)}")


def test_unsupported_platform_fails_preflight(engine: Engine, tmp_path: Path) -> None:
    platform = _unsupported_platform(engine)
    project = write_project(
        tmp_path / "p", engine, engine.unique_repo("faults"), extra=f"    platforms: [{platform}]\n"
    )
    out = orchestrator(env_for(engine), project, "build", "app")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = error_lines(out.stderr)
    assert lines[0] == "error: 1 preflight problem(s); nothing was started"
    assert lines[1].startswith(
        f"  app: builder 'default' cannot run {platform} steps (RUN at {project / 'Dockerfile'}:2)"
    )
    assert len(lines) == 2
    assert not (project / ".orchestrator" / "runs").exists()


def test_unsupported_platform_without_run_steps_builds(engine: Engine, tmp_path: Path) -> None:
    """The check is precise: a cross-built stage plus COPY needs no emulation, so it builds."""
    platform = _unsupported_platform(engine)
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text(
        "FROM --platform=$BUILDPLATFORM busybox:1.35 AS build\n"
        "ARG TARGETARCH\n"
        "RUN echo $TARGETARCH > /arch\n"
        "FROM scratch AS app\n"
        "COPY --from=build /arch /arch\n"
        "USER 10001:10001\n",
        encoding="utf-8",
    )
    (project / ".dockerignore").write_text("*\n", encoding="utf-8")
    (project / "builds.yaml").write_text(
        "version: 1\n"
        "project: {name: faults, image: localhost:5000/faults/cross}\n"
        f"mirrors: {{'busybox:1.35': '{engine.images['BUSYBOX_IMAGE']}'}}\n"
        "targets:\n"
        "  app:\n"
        f"    platforms: [{platform}]\n"
        "    outputs: ['local:out']\n",
        encoding="utf-8",
    )
    out = orchestrator(env_for(engine), project, "build", "app")
    assert out.returncode == 0, out.stderr[-3000:]
    assert (project / "out" / "arch").read_text(encoding="utf-8").strip() == platform.split("/")[1]
