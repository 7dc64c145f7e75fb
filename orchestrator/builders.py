"""Builders from builds.yaml -> the `docker buildx create` commands that make them, idempotently.

BuildKit is the distributed engine: a builder with one node per native platform (an amd64 node
and an arm64 node) builds each platform natively instead of under emulation. This module is
pure; executor.ensure_builder() runs what it returns, only for nodes that do not exist yet.
"""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.manifest import BuilderSpec, NodeSpec


def _opts(flag: str, opts: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key, value in sorted(opts.items()):
        out += [flag, f"{key}={value}"]
    return out


def _node_args(node: NodeSpec) -> list[str]:
    args = ["--node", node.name]
    if node.platforms:
        args += ["--platform", ",".join(node.platforms)]
    args += _opts("--driver-opt", dict(node.driver_opts))
    return args


def create_argvs(spec: BuilderSpec, existing: Collection[str] | None) -> list[list[str]]:
    """Commands that bring builder `spec.name` to its declared nodes.

    `existing` is None when the builder does not exist, else the names of its nodes. Nodes that
    exist are left as they are (buildx has no in-place update; `docker buildx rm` to redo one).
    """
    nodes = spec.nodes or [NodeSpec(name=f"{spec.name}0")]
    argvs: list[list[str]] = []
    for node in nodes:
        if existing is not None and node.name in existing:
            continue
        argv = ["docker", "buildx", "create", "--name", spec.name]
        if existing is None and not argvs:
            argv += ["--driver", spec.driver]
            argv += _opts("--driver-opt", dict(spec.driver_opts))
            if spec.buildkitd_flags:
                argv += ["--buildkitd-flags", spec.buildkitd_flags]
            if spec.config:
                argv += ["--config", spec.config]
        else:
            argv.append("--append")
        argv += _node_args(node)
        if node.endpoint:
            argv.append(node.endpoint)
        argvs.append(argv)
    return argvs
