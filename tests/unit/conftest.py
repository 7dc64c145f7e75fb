"""Unit tests never dial a registry: the registry HTTP client (registry.py) is off, so every
registry call is the buildx process, the one seam unit tests patch. tests/unit/test_registry.py
turns it on against its own server on 127.0.0.1; integration tests use it for real."""

from __future__ import annotations

import pytest

from orchestrator import registry


@pytest.fixture(autouse=True)
def _no_registry_http(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.module.__name__.endswith("test_registry"):
        monkeypatch.setenv(registry.SWITCH, "1")
    else:
        monkeypatch.setenv(registry.SWITCH, "0")
