"""Integration fixtures shared by the tests that build the repository's own builds.yaml."""

from __future__ import annotations

import pytest

from tests.conftest import Engine

from .orchestrate import orchestrator


@pytest.fixture(scope="session", autouse=True)
def root_lock(engine: Engine) -> None:
    """builds.lock must match this machine's registry before production (pin: digest) builds.

    The base images here are made locally by engine/base-images.sh, so their digests differ
    from machine to machine; on a machine other than the one that wrote the committed lock,
    re-pin (what `make demo` does too). With upstream images the lock is stable.
    """
    if orchestrator(engine, "pin", "--check", check=False).returncode != 0:
        orchestrator(engine, "pin", "--update")
