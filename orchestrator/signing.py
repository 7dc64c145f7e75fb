"""Signing the pushed index digests and reading back what attestations each platform carries.

Order (docs/DESIGN.md, "Signing"): bake pushes each target under its staging tag; then every
`sign: true` target's index digest is signed (by digest, never by tag); only after all of them
are signed do release tags go on. A signing failure therefore leaves no release tag at all,
and certainly none pointing at an unsigned image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator import console, executor, refs
from orchestrator.errors import BuildFailed, PreflightError, UserError
from orchestrator.plan import Plan, SigningPlan, TargetPlan

ATTESTATION = "attestation-manifest"
PREDICATE = "in-toto.io/predicate-type"
SHORT = {
    "https://slsa.dev/provenance/v0.2": "provenance",
    "https://slsa.dev/provenance/v1": "provenance",
    "https://spdx.dev/Document": "sbom",
}


def problems(plan: Plan, environ: Mapping[str, str] | None = None) -> list[str]:
    """What would make signing fail, found before anything is built (one line each)."""
    env = os.environ if environ is None else environ
    signing = plan.signing
    if signing is None or not any(t.sign for t in plan.targets):
        return []
    out = []
    if signing.key.startswith("env://"):
        if not env.get(signing.key.removeprefix("env://")):
            out.append(f"signing.key-env: {signing.key.removeprefix('env://')} is not set")
    elif not Path(signing.key).is_file():
        out.append(f"signing.key: {signing.key} does not exist (`make engine` writes a dev key)")
    if signing.password_env not in env:
        out.append(
            f"signing.password-env: {signing.password_env} is not set (the key's password; "
            "`. .engine/env` sets it for the dev key)"
        )
    return out


def password(signing: SigningPlan) -> str:
    value = os.environ.get(signing.password_env)
    if value is None:
        raise PreflightError(f"signing.password-env: {signing.password_env} is not set")
    return value


def sign(plan: Plan, t: TargetPlan, digest: str) -> str:
    """Sign `t`'s pushed index by digest; the signature's reference (for the report)."""
    signing = plan.signing
    if signing is None:  # the plan refuses `sign: true` without `signing:`
        raise BuildFailed(f"{t.name}: sign is set but builds.yaml has no signing key")
    ref = f"{t.repository}@{digest}"
    console.err.print(f"{t.name}: signing {ref}", markup=False)
    try:
        executor.cosign_sign(ref, signing.key, password(signing))
        return executor.signature_ref(ref)
    except UserError as exc:
        raise BuildFailed(
            f"{t.name}: signing failed; no tags were attached", problems=[exc.message]
        ) from None


def attestation_manifests(index: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(subject platform, attestation manifest digest) of each attestation `index` lists."""
    platforms: dict[str, str] = {}
    for entry in index.get("manifests") or []:
        plat = entry.get("platform") or {}
        if plat.get("os") and plat.get("os") != "unknown":
            platforms[str(entry.get("digest"))] = f"{plat['os']}/{plat.get('architecture')}"
    wanted: list[tuple[str, str]] = []
    for entry in index.get("manifests") or []:
        notes: dict[str, Any] = entry.get("annotations") or {}
        if notes.get("vnd.docker.reference.type") != ATTESTATION:
            continue
        subject = platforms.get(str(notes.get("vnd.docker.reference.digest")), "unknown")
        wanted.append((subject, str(entry.get("digest"))))
    return wanted


def attestations(repository: str, digest: str) -> dict[str, list[str]]:
    """Platform -> the attestation kinds (provenance, sbom, or the predicate type) it carries."""
    index = executor.raw_manifest(f"{repository}@{digest}")
    found: dict[str, list[str]] = {}
    wanted = attestation_manifests(index)
    # One GET per platform's attestation manifest, in the calling thread: publishing reads many
    # targets side by side already, and this thread's registry connection is kept alive. A pool
    # per target started fresh threads, each opening (and closing) a connection of its own:
    # measured, that was most of the publish phase at 30 targets (issue 21).
    manifests = [executor.raw_manifest(f"{repository}@{digest}") for _, digest in wanted]
    for (subject, _), manifest in zip(wanted, manifests, strict=True):
        kinds = [
            SHORT.get(str(p), str(p))
            for layer in manifest.get("layers") or []
            if (p := (layer.get("annotations") or {}).get(PREDICATE))
        ]
        found[subject] = sorted(set(kinds))
    return dict(sorted(found.items()))


def registry_problems(plan: Plan) -> list[str]:
    """Before building: each SBOM generator resolves, each `verify:` base is signed with its key.

    A generator BuildKit cannot pull fails the build only after everything else ran; offline,
    BuildKit's default (docker/buildkit-syft-scanner) can never be pulled.
    """
    out: list[str] = []
    generators: dict[str, list[str]] = {}
    for t in plan.targets:
        if t.sbom:
            generators.setdefault(t.sbom_generator or DEFAULT_GENERATOR, []).append(t.name)
    for image, names in generators.items():
        try:
            executor.index_digest(image)
        except UserError as exc:
            out.append(
                f"{', '.join(names)}: sbom: true, but the SBOM scanner {image} is not reachable "
                f"({exc.message.rsplit(': ', 1)[-1]}); `make engine` builds an offline one: set "
                f"`sbom-generator: {LOCAL_GENERATOR_HINT}`"
            )
    out += base_problems(plan)
    return out


DEFAULT_GENERATOR = "docker.io/docker/buildkit-syft-scanner:stable-1"
LOCAL_GENERATOR_HINT = "localhost:5000/orchestrator/sbom-scanner:syft-<version> (engine/images.env)"


def base_problems(plan: Plan) -> list[str]:
    """Each base image with a `verify:` key must carry a signature valid for that key."""
    out: list[str] = []
    seen: dict[tuple[str, str], str | None] = {}
    for t in plan.targets:
        for b in t.base_images:
            if b.verify_key is None:
                continue
            # By digest when locked: the signature must cover exactly the bytes the build pulls.
            ref = f"{refs.parse_reference(b.source).name}@{b.digest}" if b.digest else b.source
            key = (ref, b.verify_key)
            if key not in seen:
                seen[key] = _base_problem(ref, b.verify_key)
            why = seen[key]
            if why:
                out.append(f"{t.dockerfile}:{b.line}: {t.name}: base {b.ref} ({ref}): {why}")
    return out


def _base_problem(ref: str, key: str) -> str | None:
    if not Path(key).is_file():
        return f"verify key {key} does not exist"
    ok, detail = executor.cosign_verify(ref, key)
    if ok:
        return None
    return f"no signature valid for {key} ({detail})"
