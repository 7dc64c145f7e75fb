"""Issue 16, hangs: a registry that accepts connections and never answers.

Real buildx against a socket on 127.0.0.1 that accepts and stays silent: every registry query
(`pin`'s digest and manifest lookups) ends within ORCH_QUERY_TIMEOUT with one line naming the
host, instead of waiting forever.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from orchestrator import executor
from orchestrator.errors import UserError


@pytest.fixture
def silent_registry() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize("call", ["index_digest", "manifest"])
def test_a_silent_registry_is_one_line_within_the_timeout(
    silent_registry: str, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    monkeypatch.setenv("ORCH_QUERY_TIMEOUT", "3")
    ref = f"{silent_registry}/app:1"
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        getattr(executor, call)(ref)
    elapsed = time.monotonic() - started
    assert elapsed < 20
    assert silent_registry in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("call", ["publish", "merge"])
def test_tagging_against_a_silent_registry_is_one_line_within_the_timeout(
    silent_registry: str, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """Tagging and merging move manifests only: bounded like the queries."""
    monkeypatch.setenv("ORCH_QUERY_TIMEOUT", "3")
    source = f"{silent_registry}/app@sha256:{'a' * 64}"
    started = time.monotonic()
    tag = f"{silent_registry}/app:1"

    def action() -> None:
        if call == "publish":
            executor.publish([tag], source)
        else:
            executor.merge([source], tag)

    with pytest.raises(UserError) as caught:
        action()
    assert time.monotonic() - started < 20
    assert "no answer within 3 s" in caught.value.message
    assert "\n" not in caught.value.message
