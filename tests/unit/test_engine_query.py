"""The engine query asks the daemon's socket itself where the docker CLI would ask that socket,
and falls back to `docker info` everywhere else (executor._docker_info)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator import executor
from orchestrator.errors import UserError

INFO = {
    "ServerVersion": "26.1.5",
    "Driver": "overlayfs",
    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", executor.DIRECT_ENV):
        monkeypatch.delenv(name, raising=False)
    executor.buildx_plugin.cache_clear()
    yield
    executor.buildx_plugin.cache_clear()


def serve(path: Path, answer: Callable[[socket.socket], None]) -> threading.Thread:
    """A unix socket at `path` whose one connection `answer` handles."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                answer(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def http(status: str, body: bytes) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n\r\n".encode())
        conn.sendall(body)

    return answer


def test_socket_is_the_one_the_cli_would_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "config")}
    assert executor._daemon_socket(env) == executor.DEFAULT_SOCKET
    assert executor._daemon_socket({**env, "DOCKER_HOST": "unix:///run/x.sock"}) == "/run/x.sock"
    # TCP, SSH and named contexts are the CLI's to reach (TLS, ssh, endpoints in its store)
    assert executor._daemon_socket({**env, "DOCKER_HOST": "tcp://127.0.0.1:2375"}) is None
    assert executor._daemon_socket({**env, "DOCKER_HOST": "ssh://me@host"}) is None
    assert executor._daemon_socket({**env, "DOCKER_CONTEXT": "remote"}) is None
    assert executor._daemon_socket({**env, "DOCKER_CONTEXT": "default"}) == executor.DEFAULT_SOCKET
    config = tmp_path / "config" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"currentContext": "desktop-linux"}), encoding="utf-8")
    assert executor._daemon_socket(env) is None
    # DOCKER_HOST wins over the configured context, as in the CLI
    assert executor._daemon_socket({**env, "DOCKER_HOST": "unix:///run/y.sock"}) == "/run/y.sock"
    config.write_text(json.dumps({"currentContext": "default", "auths": {}}), encoding="utf-8")
    assert executor._daemon_socket(env) == executor.DEFAULT_SOCKET
    config.write_text("{not json", encoding="utf-8")
    assert executor._daemon_socket(env) is None  # the CLI says what is wrong with it


def test_daemon_info_reads_the_socket(tmp_path: Path) -> None:
    sock = tmp_path / "d.sock"
    thread = serve(sock, http("200 OK", json.dumps(INFO).encode()))
    assert executor._daemon_info({"DOCKER_HOST": f"unix://{sock}"}) == INFO
    thread.join(5)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("500 Internal Server Error", b'{"message": "boom"}'),
        ("200 OK", b"<html>not the daemon</html>"),
        ("200 OK", b'{"ServerVersion": ""}'),
        ("200 OK", b"[1, 2]"),
    ],
)
def test_an_odd_answer_leaves_it_to_the_cli(tmp_path: Path, status: str, body: bytes) -> None:
    sock = tmp_path / "d.sock"
    thread = serve(sock, http(status, body))
    assert executor._daemon_info({"DOCKER_HOST": f"unix://{sock}"}) is None
    thread.join(5)


def test_no_socket_leaves_it_to_the_cli(tmp_path: Path) -> None:
    assert executor._daemon_info({"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}) is None


def test_an_endless_answer_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "INFO_LIMIT", 1 << 16)
    sock = tmp_path / "d.sock"

    hung_up = threading.Event()

    def flood(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        try:
            for _ in range(10_000):  # 40 MB, far past the limit
                conn.sendall(b" " * 4096)
        except OSError:
            hung_up.set()  # the client stopped reading once it had had enough

    thread = serve(sock, flood)
    assert executor._daemon_info({"DOCKER_HOST": f"unix://{sock}"}) is None
    thread.join(10)
    assert hung_up.is_set()


def test_a_silent_daemon_is_one_line_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(executor.TIMEOUT_ENV, "0.3")
    sock = tmp_path / "d.sock"
    done = threading.Event()

    def silent(_conn: socket.socket) -> None:
        done.wait(5)

    thread = serve(sock, silent)
    with pytest.raises(UserError, match=r"docker info: no answer within 0\.3 s"):
        executor._daemon_info({"DOCKER_HOST": f"unix://{sock}"})
    done.set()
    thread.join(5)


def fake_plugin(folder: Path, version: str = "0.13.1+ds1") -> tuple[Path, Path]:
    """A docker-buildx that counts its runs and prints plugin metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = folder / "runs"
    path = folder / "docker-buildx"
    meta = json.dumps({"SchemaVersion": "0.1.0", "Vendor": "Docker Inc.", "Version": version})
    path.write_text(f"#!/bin/sh\necho run >> '{runs}'\necho '{meta}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path, runs


def count(runs: Path) -> int:
    return len(runs.read_text(encoding="utf-8").splitlines()) if runs.exists() else 0


def test_plugin_version_is_asked_once_per_binary(tmp_path: Path) -> None:
    plugin, runs = fake_plugin(tmp_path / "bin")
    assert executor._plugin_version(str(plugin)) == "0.13.1+ds1"
    assert executor._plugin_version(str(plugin)) == "0.13.1+ds1"
    assert count(runs) == 1
    # another build of the plugin in the same place is asked again
    plugin.write_text(plugin.read_text(encoding="utf-8").replace("0.13.1", "0.19.0"), "utf-8")
    assert executor._plugin_version(str(plugin)) == "0.19.0+ds1"
    assert count(runs) == 2


def test_a_plugin_that_says_nothing_useful_gives_no_version(tmp_path: Path) -> None:
    plugin = tmp_path / "docker-buildx"
    plugin.write_text("#!/bin/sh\necho oops\nexit 3\n", encoding="utf-8")
    plugin.chmod(0o755)
    assert executor._plugin_version(str(plugin)) is None
    assert executor._plugin_version(str(tmp_path / "absent")) is None


def test_info_from_the_socket_with_the_plugins_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin, _ = fake_plugin(tmp_path / "config" / "cli-plugins")
    sock = tmp_path / "d.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    seen: list[list[str]] = []
    real_query = executor.query

    def recording(argv: list[str], what: str, *args: object, **kw: object) -> object:
        seen.append(list(argv))
        return real_query(argv, what, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(executor, "query", recording)
    thread = serve(sock, http("200 OK", json.dumps(INFO).encode()))
    info = executor._docker_info(None)
    thread.join(5)
    assert info["ServerVersion"] == "26.1.5"
    assert info["ClientInfo"]["Plugins"] == [{"Name": "buildx", "Version": "0.13.1+ds1"}]
    assert seen == [[str(plugin), "docker-cli-plugin-metadata"]]  # no `docker info`


def test_the_cli_answers_where_the_socket_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_plugin(tmp_path / "config" / "cli-plugins")
    seen: list[list[str]] = []

    def cli(argv: list[str], what: str, *args: object, **kw: object) -> object:
        seen.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, json.dumps(INFO), "")

    monkeypatch.setattr(executor, "query", cli)
    for env in ({"DOCKER_HOST": "tcp://127.0.0.1:1"}, {"DOCKER_CONTEXT": "remote"}):
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            assert executor._docker_info(None) == INFO
    # and when the plugin is not run directly, the CLI is asked as before
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/d.sock")
    monkeypatch.setenv(executor.DIRECT_ENV, "0")
    executor.buildx_plugin.cache_clear()
    assert executor._docker_info(None) == INFO
    assert [argv[:2] for argv in seen] == [["docker", "info"]] * 3


def engine(name: str = "default") -> executor.Engine:
    return executor.Engine("26.1.5", "0.13.1", "docker", True, ("linux/amd64",), name)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The engine queries that really ran, by builder."""
    seen: list[str | None] = []

    def query(builder: str | None, node: object) -> executor.Engine:
        seen.append(builder)
        if builder == "broken":
            raise UserError("docker engine not reachable")
        return engine(builder or "default")

    monkeypatch.setattr(executor, "_engine_info", query)
    yield seen
    executor._EARLY.clear()


def test_an_early_query_answers_the_same_question_once(asked: list[str | None]) -> None:
    executor.engine_info_early(None)
    executor.engine_info_early(None)  # already under way: not asked twice
    assert executor.engine_info() == engine()
    assert asked == [None]
    executor.engine_info()  # taken once: a later question is asked afresh
    assert asked == [None, None]


def test_an_early_query_is_not_the_answer_to_another_question(
    asked: list[str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    executor.engine_info_early(None)
    assert executor.engine_info("other") == engine("other")  # the manifest named a builder
    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")  # or the engine moved
    assert executor.engine_info() == engine()
    assert sorted(asked, key=str) == sorted([None, "other", None], key=str)
    assert executor.engine_info(None, {"DOCKER_HOST": "unix:///x"}) == engine()  # a node's


def test_an_early_query_hands_its_error_to_whoever_asks(asked: list[str | None]) -> None:
    executor.engine_info_early("broken")
    with pytest.raises(UserError, match="not reachable"):
        executor.engine_info("broken")


def test_only_the_command_itself_queries_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main() as the tests call it never starts queries behind their patches; entry() does,
    for a build, with --builder's name."""
    from orchestrator import main as cli

    started: list[str | None] = []
    monkeypatch.setattr(executor, "engine_info_early", started.append)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "builds.yaml").write_text("version: 1\n", encoding="utf-8")  # refused: no targets
    assert cli.main(["build"]) == 2
    assert started == []
    assert cli.main(["build", "--builder", "ci"], early=True) == 2
    assert cli.main(["plan"], early=True) == 2
    assert started == ["ci"]
