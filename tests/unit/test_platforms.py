"""Every OS/arch pair BuildKit accepts is a valid platform; preflight says what the builder
can run and, for a platform QEMU cannot emulate, what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import preflight, refs
from orchestrator.errors import PreflightError
from orchestrator.executor import Engine
from orchestrator.plan import Plan
from tests.unit.helpers import BASE, resolve, write_project

ENGINE = Engine("26", "v0.13", "docker", True, ("linux/amd64", "linux/arm64"), "default")


@pytest.mark.parametrize(
    "platform",
    [
        "wasi/wasm",
        "wasip1/wasm",
        "linux/riscv64",
        "linux/s390x",
        "linux/ppc64le",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/386",
        "windows/amd64",
        "windows/arm64",
        "freebsd/amd64",
        "linux/mips64le",
        "linux/loong64",
    ],
)
def test_buildkit_platforms_are_accepted(platform: str) -> None:
    assert refs.parse_platform(platform) == platform


@pytest.mark.parametrize("platform", ["linux/amd46", "linx/amd64", "wasi/wasm/v1", "linux"])
def test_typos_are_still_refused(platform: str) -> None:
    with pytest.raises(ValueError, match="invalid platform"):
        refs.parse_platform(platform)


def _plan(tmp_path: Path, platforms: str, dockerfile: str) -> Plan:
    # outputs: load, so preflight does not ask the registry anything.
    text = BASE.replace("platforms: [linux/amd64, linux/arm64]", f"platforms: [{platforms}]")
    text = text.replace("outputs: [push]\n    args", "outputs: [load]\n    args")
    return resolve(write_project(tmp_path, text, dockerfile), ["production"])


def test_preflight_names_what_the_builder_runs_and_the_fix_for_wasm(tmp_path: Path) -> None:
    emulated = "FROM busybox:1.36 AS production\nRUN echo hi\n"
    plan = _plan(tmp_path, "linux/amd64, wasi/wasm", emulated)
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, ENGINE)
    (problem,) = info.value.problems
    assert "cannot run wasi/wasm steps" in problem
    assert "it supports linux/amd64, linux/arm64" in problem
    assert "COPY the .wasm into a FROM scratch stage" in problem


def test_wasm_built_by_cross_compiling_passes_preflight(tmp_path: Path) -> None:
    cross = (
        "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\n"
        "RUN GOOS=wasip1 GOARCH=wasm go build -o /app.wasm .\n"
        "FROM scratch AS production\nCOPY --from=build /app.wasm /app.wasm\n"
    )
    plan = _plan(tmp_path, "wasi/wasm", cross)
    preflight.check_engine(plan, ENGINE)


def test_windows_steps_on_a_linux_builder(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "windows/amd64", "FROM busybox:1.36 AS production\nRUN echo hi\n")
    with pytest.raises(PreflightError) as info:
        preflight.check_engine(plan, ENGINE)
    assert "a Linux builder cannot run windows steps" in info.value.problems[0]
