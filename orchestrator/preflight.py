"""Everything checked before buildx starts: each shortfall is one line with its fix, exit 2."""

from __future__ import annotations

import argparse
import http.client
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator import argv, pinning, refs
from orchestrator.errors import PreflightError
from orchestrator.plan import Plan, TargetPlan

if TYPE_CHECKING:
    from orchestrator.commands.common import Loaded
    from orchestrator.executor import Engine

CONTAINERD_FIX = (
    'enable the containerd image store (daemon.json: {"features": {"containerd-snapshotter": '
    "true}}; `make engine` does) or use a docker-container builder"
)


def _mount_opts(mount: str) -> dict[str, str]:
    out = {}
    for part in mount.split(","):
        key, _, value = part.partition("=")
        out[key.strip().lower()] = value.strip()
    return out


def undeclared_mounts(plan: Plan) -> list[str]:
    """Secret mounts in the stages a target builds that builds.yaml does not declare."""
    out: list[str] = []
    for t in plan.targets:
        parsed = t.model()
        declared = {s.id for s in t.secrets}
        for stage in parsed.built_stages(t.stage, t.args, t.platforms):
            for ins in stage.instructions:
                if ins.keyword != "RUN":
                    continue
                for mount in ins.flag_all("mount"):
                    opts = _mount_opts(mount)
                    if opts.get("type") != "secret":
                        continue
                    sid = opts.get("id") or Path(opts.get("target", "")).name or "?"
                    if sid not in declared and opts.get("required", "false") == "true":
                        out.append(
                            f"{t.dockerfile}:{ins.line}: {t.name}: secret {sid!r} is mounted "
                            "(required=true) but not declared under `secrets:` in builds.yaml"
                        )
                    elif sid not in declared and sid not in t.skipped_secrets:
                        out.append(
                            f"{t.dockerfile}:{ins.line}: {t.name}: secret {sid!r} is mounted but "
                            "not declared under `secrets:` in builds.yaml"
                        )
    return out


def pin_problems(plan: Plan) -> list[str]:
    out = []
    for t in plan.targets:
        for base in t.base_images:
            why = pinning.violation(base.ref, t.pin, base.digest)
            if why:
                fix = pinning.fix_for(base.ref, t.pin) or ""
                place = f"{base.file or t.dockerfile}:{base.line}"
                out.append(f"{place}: {t.name} (pin: {t.pin}): {why}; {fix}")
    return out


def run_checks(loaded: Loaded, args: argparse.Namespace) -> None:
    """Dockerfile checks before building (see `orchestrator check`)."""
    from orchestrator.commands import check

    check.gate(loaded, args)


def _emulation_fix(platform: str) -> str:
    """How to get `platform`'s RUN steps to run: QEMU only emulates Linux CPUs."""
    os_ = platform.split("/", 1)[0]
    if os_ == "linux":
        return "enable QEMU binfmt (`make engine` does) or add a native node"
    if os_ in ("wasi", "wasip1", "js"):
        return (
            "nothing executes Wasm RUN steps: compile on FROM --platform=$BUILDPLATFORM and COPY "
            "the .wasm into a FROM scratch stage"
        )
    return (
        f"a Linux builder cannot run {os_} steps: add a {os_} node, or cross-compile on "
        "FROM --platform=$BUILDPLATFORM"
    )


def _needs_emulation(t: TargetPlan, platform: str, native: str) -> list[int]:
    """Lines of RUN steps that would execute under `platform` on a `native` builder."""
    if platform == native:
        return []
    parsed = t.model()
    lines = []
    for stage in parsed.stages_for(t.stage, t.args, platform):
        if stage.platform and "BUILDPLATFORM" in stage.platform:
            continue  # this stage runs natively and cross-compiles
        lines += [ins.line for ins in stage.instructions if ins.keyword == "RUN"]
    return lines


MIN_BUILDX = (0, 11)  # --provenance/--sbom flags, attest in bake files, --progress=rawjson
MIN_ENGINE = (24, 0)  # the containerd image store without experimental flags


def _version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_problems(engine: Engine) -> list[str]:
    """Versions too old for what the plans use; unknown versions are given the benefit of doubt."""
    out = []
    buildx = _version(engine.buildx_version)
    if buildx is not None and buildx < MIN_BUILDX:
        out.append(
            f"buildx {engine.buildx_version} is too old: need {'.'.join(map(str, MIN_BUILDX))} "
            "or newer (attestations, rawjson progress); `make engine` installs 0.13"
        )
    server = _version(engine.server_version)
    if server is not None and server < MIN_ENGINE and engine.driver == "docker":
        out.append(
            f"Docker Engine {engine.server_version} is too old for the docker driver: need "
            f"{'.'.join(map(str, MIN_ENGINE))} or newer, or a docker-container builder"
        )
    return out


def check_engine(plan: Plan, engine: Engine) -> None:
    out: list[str] = version_problems(engine)
    docker_driver = engine.driver == "docker"
    native = engine.platforms[0] if engine.platforms else "linux/amd64"
    consumed = {d for t in plan.targets for d in t.depends_on}
    # One /v2/ probe per registry host, not per target: a monorepo pushes 30 targets to one.
    probed: dict[str, str | None] = {}
    for t in plan.targets:
        lacks = argv.bake_lacks(t, engine.buildx_version)
        if lacks and (t.depends_on or t.name in consumed):
            # `docker buildx build` (the fallback for these keys) has no target: contexts.
            out.append(
                f"{t.name}: {', '.join(lacks)} needs `docker buildx build` with buildx "
                f"{engine.buildx_version or '(unknown)'} (its bake drops the key), which cannot "
                "read or feed a target: context; drop the key or the context, or use buildx "
                "0.18 or newer"
            )
        if docker_driver and not engine.containerd_store:
            if len(t.platforms) > 1:
                out.append(
                    f"{t.name}: multi-platform build needs more than the docker driver "
                    f"without the containerd image store: {CONTAINERD_FIX}"
                )
            if t.cache_to and not all(c.startswith("type=inline") for c in t.cache_to):
                out.append(
                    f"{t.name}: cache export is not supported by the docker driver "
                    f"without the containerd image store: {CONTAINERD_FIX}"
                )
        for cache in (*t.cache_from, *t.cache_to):
            if cache.startswith("type=gha") and not os.environ.get("ACTIONS_RUNTIME_TOKEN"):
                out.append(
                    f"{t.name}: {cache.split(',')[0]} cache needs GitHub Actions "
                    "(ACTIONS_RUNTIME_TOKEN is not set); use type=registry or type=local"
                )
        for platform in t.platforms:
            base = "/".join(platform.split("/")[:2])
            supported = {"/".join(p.split("/")[:2]) for p in engine.platforms}
            if base in supported:
                continue
            runs = _needs_emulation(t, platform, native)
            if runs:
                out.append(
                    f"{t.name}: builder {engine.builder!r} cannot run {platform} steps "
                    f"(RUN at {t.dockerfile}:{runs[0]}); it supports "
                    f"{', '.join(engine.platforms) or 'nothing'}: {_emulation_fix(platform)}"
                )
        if t.push:
            host = _host(t.repository)
            if host not in probed:
                probed[host] = registry_problem(t.repository)
            problem = probed[host]
            if problem:
                out.append(f"{t.name}: {problem}")
    if out:
        raise PreflightError(f"{len(out)} preflight problem(s); nothing was started", problems=out)


def _host(repository: str) -> str:
    return refs.parse_reference(repository).domain or "registry-1.docker.io"


def registry_problem(repository: str) -> str | None:
    """None when the registry answers /v2/ at all (200 or 401 both mean it is there)."""
    host = _host(repository)
    local = host.split(":")[0] in ("localhost", "127.0.0.1") or host.startswith("127.")
    conn: http.client.HTTPConnection
    conn = (http.client.HTTPConnection if local else http.client.HTTPSConnection)(host, timeout=5)
    try:
        conn.request("GET", "/v2/")
        status = conn.getresponse().status
    except OSError as exc:
        reason = exc.strerror or exc
        return f"registry {host} is not reachable ({reason}); start it or check the name"
    finally:
        conn.close()
    if status >= 500:
        return f"registry {host} answered HTTP {status}"
    return None
