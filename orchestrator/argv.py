"""Plan -> the exact buildx command lines and the equivalent bake definition.

Flag mapping follows python-on-whales' rule: one flag per field, `None`/`False`/empty simply drops
the flag. Both renderings come from the same TargetPlan, and a unit test checks they agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestrator import specs
from orchestrator.plan import Plan, TargetPlan, staging_tag


def _repeat(flag: str, values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out += [flag, value]
    return out


def build_argv(t: TargetPlan, *, metadata_file: str | None = None) -> list[str]:
    """`docker buildx build ...` for one target; secrets by id and source name only."""
    argv = ["docker", "buildx", "build", "--file", t.sent]
    if t.stage is not None:  # None: the last stage, which BuildKit builds without --target
        argv += ["--target", t.stage]
    if t.platforms:
        argv += ["--platform", ",".join(t.platforms)]
    argv += _repeat("--build-arg", [f"{k}={v}" for k, v in sorted(t.args.items())])
    argv += _repeat("--label", [f"{k}={v}" for k, v in sorted(t.labels.items())])
    if t.load and not t.push:  # beside a push the load output names itself (plan._outputs)
        argv += _repeat("--tag", list(t.tags))
    argv += _repeat(
        "--build-context", [specs.context(k, v) for k, v in sorted(t.build_contexts.items())]
    )
    argv += _repeat("--secret", [s.spec() for s in t.secrets])
    argv += _repeat("--ssh", [s.spec() for s in t.ssh])
    argv += _repeat("--cache-from", list(t.cache_from))
    argv += _repeat("--cache-to", list(t.cache_to))
    argv += _repeat("--output", list(t.outputs))
    if t.provenance is not None:
        argv.append(f"--provenance={t.provenance}")
    if t.sbom:
        argv.append(f"--sbom=generator={t.sbom_generator}" if t.sbom_generator else "--sbom=true")
    if t.no_cache:
        argv.append("--no-cache")
    argv += _repeat("--no-cache-filter", list(t.no_cache_filter))
    if t.pull:
        argv.append("--pull")
    if t.network is not None:
        argv += ["--network", t.network]
    argv += _repeat("--add-host", [f"{h}:{ip}" for h, ip in sorted(t.extra_hosts.items())])
    if t.shm_size is not None:
        argv += ["--shm-size", t.shm_size]
    argv += _repeat("--ulimit", list(t.ulimits))
    argv += _repeat("--allow", list(t.entitlements))
    argv += _repeat("--annotation", list(t.annotations))
    if metadata_file:
        argv += ["--metadata-file", metadata_file]
    argv.append(t.context)
    return argv


def oci_archive_of(t: TargetPlan) -> str | None:
    """The OCI archive a reproducible push target exports before it is copied, if any."""
    for spec in t.outputs:
        fields = specs.fields(spec)
        if fields.get("type") == "oci" and fields.get("name", "").endswith(
            f":{staging_tag(t.name)}"
        ):
            return fields.get("dest")
    return None


def copy_argv(t: TargetPlan) -> list[str]:
    """skopeo copy of the OCI archive to the staging tag; --all keeps the index digest."""
    archive = oci_archive_of(t)
    if archive is None:
        return []
    host = t.repository.split("/", 1)[0]
    insecure = host.startswith(("localhost", "127.")) or host.split(":")[0] == "localhost"
    return [
        "skopeo",
        "copy",
        "--all",
        "--preserve-digests",
        *(["--dest-tls-verify=false"] if insecure else []),
        f"oci-archive:{archive}",
        f"docker://{t.repository}:{staging_tag(t.name)}",
    ]


def publish_argv(t: TargetPlan, digest: str) -> list[str]:
    """Attach the tags to the staged image by digest: a carbon copy, the digest is unchanged."""
    if not t.push or not t.tags:
        return []
    return [
        "docker",
        "buildx",
        "imagetools",
        "create",
        *_repeat("--tag", list(t.tags)),
        f"{t.repository}@{digest}",
    ]


def bake_target(t: TargetPlan) -> dict[str, Any]:
    data: dict[str, Any] = {"context": t.context, "dockerfile": t.sent}
    if t.stage is not None:
        data["target"] = t.stage
    if t.platforms:
        data["platforms"] = list(t.platforms)
    if t.args:
        data["args"] = dict(sorted(t.args.items()))
    if t.labels:
        data["labels"] = dict(sorted(t.labels.items()))
    if t.load and t.tags and not t.push:
        data["tags"] = list(t.tags)
    if t.build_contexts:
        data["contexts"] = dict(sorted(t.build_contexts.items()))
    if t.secrets:
        data["secret"] = [s.spec() for s in t.secrets]
    if t.ssh:
        data["ssh"] = [s.spec() for s in t.ssh]
    if t.cache_from:
        data["cache-from"] = list(t.cache_from)
    if t.cache_to:
        data["cache-to"] = list(t.cache_to)
    if t.outputs:
        data["output"] = list(t.outputs)
    attest = []
    if t.provenance is not None:
        attest.append(
            "type=provenance,disabled=true"
            if t.provenance == "false"
            else f"type=provenance,{t.provenance}"
        )
    if t.sbom:
        generator = f",generator={t.sbom_generator}" if t.sbom_generator else ""
        attest.append(f"type=sbom{generator}")
    if attest:
        data["attest"] = attest
    if t.no_cache:
        data["no-cache"] = True
    if t.no_cache_filter:
        data["no-cache-filter"] = list(t.no_cache_filter)
    if t.pull:
        data["pull"] = True
    if t.shm_size is not None:
        data["shm-size"] = t.shm_size
    if t.ulimits:
        data["ulimits"] = list(t.ulimits)
    if t.annotations:
        data["annotations"] = list(t.annotations)
    # Spelled as buildx reads them from 0.18 (network), 0.17 (entitlements) and 0.25
    # (extra-hosts, a mapping); older bake files have no such keys: see BAKE_LACKS.
    if t.network is not None:
        data["network"] = t.network
    if t.entitlements:
        data["entitlements"] = list(t.entitlements)
    if t.extra_hosts:
        data["extra-hosts"] = dict(sorted(t.extra_hosts.items()))
    return data


# Keys a bake file can hold only from these buildx versions on (older bake drops them silently:
# 0.13.1's Target struct has no field for them): BAKE_SINCE and bake_lacks.
BAKE_SINCE = {"network": (0, 18), "entitlements": (0, 17), "extra-hosts": (0, 25)}


def needs_buildx_build(t: TargetPlan) -> list[str]:
    """The BAKE_SINCE keys `t` uses."""
    used = {"network": t.network is not None, "entitlements": bool(t.entitlements)}
    used["extra-hosts"] = bool(t.extra_hosts)
    return [k for k in BAKE_SINCE if used[k]]


def bake_lacks(t: TargetPlan, buildx_version: str) -> list[str]:
    """Keys of `t` that bake of `buildx_version` would drop: such a target is built with
    `docker buildx build` (build_argv) instead. An unreadable version counts as old."""
    match = re.match(r"v?(\d+)\.(\d+)", buildx_version)
    version = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    return [k for k in needs_buildx_build(t) if version < BAKE_SINCE[k]]


def bake_definition(plan: Plan) -> dict[str, Any]:
    """A bake JSON file; `docker buildx bake -f FILE --print` accepts it unchanged."""
    return {
        "group": {"default": {"targets": [t.name for t in plan.targets]}},
        "target": {t.name: bake_target(t) for t in plan.targets},
    }
