"""Integration fixtures shared by the tests that build the repository's own builds.yaml."""

from __future__ import annotations

import pytest

from tests.conftest import Engine

from .orchestrate import orchestrator


@pytest.fixture(scope="session", autouse=True)
def root_lock(engine: Engine) -> None:
    """The committed builds.lock must verify against this machine's registry.

    `make engine` builds the base images reproducibly (engine/ociimage.py: fixed bytes, so the
    same digests on every machine), so a lock that does not verify is a real change — a base
    image recipe or Debian's package versions moved — and must be committed (`orchestrator pin
    --update`), not re-pinned here behind the tests' back.
    """
    checked = orchestrator(engine, "pin", "--check", check=False)
    if checked.returncode != 0:
        pytest.fail(
            "builds.lock does not verify against the registry's base images; if the change is "
            "intended, run `orchestrator pin --update` and commit builds.lock:\n"
            + checked.stdout
            + checked.stderr
        )
