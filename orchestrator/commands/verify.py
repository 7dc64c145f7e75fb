"""`orchestrator verify REF...`: is what the registry serves what the release made?

Per reference, one line per check:

* digest     the tag still points at the digest the last build recorded (report.json), or at the
             digest written after it (`repo:tag@sha256:…`); else both digests are named;
* signature  a cosign signature on that digest valid for the configured public key;
* provenance per platform: an attestation is present and its git revision equals the image's
             `org.opencontainers.image.revision` label;
* sbom       per platform, when the target asks for one: an SPDX document with packages.

Without REF: every tag the last build's report lists as pushed. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator import console, refs, textfile
from orchestrator.commands.common import load
from orchestrator.errors import EXIT_BUILD_FAILED, UserError, stdout_guard
from orchestrator.plan import Plan, TargetPlan

REVISION = "org.opencontainers.image.revision"
BUILDKIT_METADATA = "https://mobyproject.org/buildkit@v1#metadata"


@dataclass(frozen=True)
class Check:
    ref: str
    check: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.ref} {self.check}: {self.detail}"


def recorded_digests(report_path: Path, *, required: bool = False) -> dict[str, str]:
    """tag -> index digest, for every pushed target of a build report. A missing report is
    empty unless `required` (given with --report: a mistyped path must not quietly skip the
    digest comparison); one that cannot be read as a report is an error either way."""
    try:
        text = textfile.read(report_path, "report")
    except FileNotFoundError:
        if required:
            raise UserError(f"--report {report_path}: no such report file") from None
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{report_path}: not a build report (invalid JSON: {exc})") from None
    except RecursionError:  # `[[[[…` deeper than the interpreter's stack
        raise UserError(f"{report_path}: not a build report (nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets", []), list):
        raise UserError(f"{report_path}: not a build report (no list of targets)")
    out: dict[str, str] = {}
    for t in data.get("targets") or []:
        if isinstance(t, dict) and t.get("pushed") and t.get("digest"):
            for tag in t.get("tags") or []:
                out[str(tag)] = str(t["digest"])
    return out


def targets_for(plan: Plan, ref: str, repository: str) -> list[TargetPlan]:
    """The targets that push `ref`: the one whose tags name it, else all pushing its repository."""
    pushing = [t for t in plan.targets if t.push and t.repository == repository]
    return [t for t in pushing if ref in t.tags] or pushing


def digest_check(ref: str, current: str, expected: str | None, source: str) -> Check:
    if expected is None:
        return Check(ref, "digest", True, f"{current} (no recorded digest to compare with)")
    if current == expected:
        return Check(ref, "digest", True, f"{current} as {source} recorded")
    return Check(
        ref, "digest", False, f"the tag points at {current}, but {source} recorded {expected}"
    )


def _revision(image: Any) -> str:
    config = image.get("config") if isinstance(image, dict) else None
    labels = (config or {}).get("Labels") or {}
    return str(labels.get(REVISION) or "")


def _per_platform(data: Any, platforms: list[str]) -> dict[str, Any]:
    """imagetools answers a map keyed by platform for an index, the bare value otherwise."""
    if not isinstance(data, dict) or not data:
        return {}
    if all("/" in key for key in data):  # keyed by os/arch: a multi-platform answer
        return {p: data[p] for p in platforms if p in data}
    return {platforms[0]: data} if len(platforms) == 1 else {}


def provenance_checks(ref: str, platforms: list[str], provenance: Any, images: Any) -> list[Check]:
    """Per platform: a provenance attestation whose git revision is the image's revision label."""
    found = _per_platform(provenance, platforms)
    configs = _per_platform(images, platforms)
    out = []
    for platform in platforms:
        slsa = (found.get(platform) or {}).get("SLSA")
        name = f"provenance {platform}"
        if not isinstance(slsa, dict):
            out.append(Check(ref, name, False, "no provenance attestation"))
            continue
        vcs = ((slsa.get("metadata") or {}).get(BUILDKIT_METADATA) or {}).get("vcs") or {}
        commit = str(vcs.get("revision") or "")
        label = _revision(configs.get(platform))
        if not commit:
            out.append(Check(ref, name, False, "the attestation records no git revision"))
        elif not label:
            out.append(Check(ref, name, False, f"commit {commit}, but no {REVISION} label"))
        elif commit != label:
            out.append(Check(ref, name, False, f"commit {commit}, but the label says {label}"))
        else:
            out.append(Check(ref, name, True, f"commit {commit} = {REVISION}"))
    return out


def sbom_checks(ref: str, platforms: list[str], sbom: Any) -> list[Check]:
    found = _per_platform(sbom, platforms)
    out = []
    for platform in platforms:
        spdx = (found.get(platform) or {}).get("SPDX")
        name = f"sbom {platform}"
        if not isinstance(spdx, dict):
            out.append(Check(ref, name, False, "no SBOM attestation"))
            continue
        packages = [p for p in spdx.get("packages") or [] if isinstance(p, dict)]
        listed = ", ".join(
            f"{p.get('name')} {p.get('versionInfo')}" for p in packages if p.get("versionInfo")
        )
        if not packages:
            out.append(Check(ref, name, False, f"{spdx.get('spdxVersion')} lists no packages"))
        else:
            out.append(
                Check(
                    ref,
                    name,
                    True,
                    f"{spdx.get('spdxVersion')}, {len(packages)} packages ({listed[:120]})",
                )
            )
    return out


def verify_ref(
    text: str, plan: Plan, recorded: dict[str, str], key: str | None, report_path: Path
) -> list[Check]:
    from orchestrator import executor  # local: --help and argument errors stay light

    try:
        ref = refs.parse_reference(text)
    except refs.InvalidReferenceError as exc:
        raise UserError(f"{text}: {exc}") from None
    tagged = refs.Reference(ref.domain, ref.path, ref.tag, None)
    current = executor.index_digest(str(tagged)) if ref.tag or not ref.digest else ref.digest
    if ref.digest:
        checks = [digest_check(text, current, ref.digest, "the reference")]
    else:
        checks = [digest_check(text, current, recorded.get(str(tagged)), str(report_path))]
    pinned = f"{ref.name}@{current}"
    targets = targets_for(plan, str(tagged), ref.name)
    if key is None:
        # verify proves an image is signed: an unsigned project fails it, and says why.
        why = (
            "no public key (signing: in builds.yaml, or --key)"
            if any(t.sign for t in plan.targets)
            else "not signed: builds.yaml signs no image (signing: and sign: true), "
            "and no --key was given"
        )
        checks.append(Check(text, "signature", False, why))
    elif not Path(key).is_file():
        checks.append(Check(text, "signature", False, f"public key {key} does not exist"))
    else:
        ok, detail = executor.cosign_verify(pinned, key)
        checks.append(
            Check(text, "signature", ok, f"valid for {key}" if ok else f"{detail} ({key})")
        )
    platforms = sorted(executor.platform_digests(pinned))
    provenance = executor.imagetools_json(pinned, "Provenance")
    images = executor.imagetools_json(pinned, "Image")
    checks += provenance_checks(text, platforms, provenance, images)
    if not targets:
        checks.append(
            Check(
                text,
                "target",
                True,
                f"no target in builds.yaml pushes {ref.name}: no SBOM required "
                "(--var REGISTRY=… to match a moved registry)",
            )
        )
    if any(t.sbom for t in targets):
        checks += sbom_checks(text, platforms, executor.imagetools_json(pinned, "SBOM"))
    return checks


def run(args: argparse.Namespace) -> int:
    # Every target: a REF is matched to the target that pushes its repository.
    plan = load(args, every_target=True).plan
    report_path: Path = args.report or Path(plan.root) / ".orchestrator" / "report.json"
    recorded = recorded_digests(report_path, required=args.report is not None)
    wanted = list(args.refs) or sorted(recorded)
    if not wanted:
        raise UserError(
            f"nothing to verify: give REF..., or build first ({report_path} lists no push)"
        )
    key = str(args.key.resolve()) if args.key else None
    if key is None and plan.signing is not None:
        key = plan.signing.public_key
    checks = [c for text in wanted for c in verify_ref(text, plan, recorded, key, report_path)]
    with stdout_guard():
        if args.format == "json":
            print(json.dumps([asdict(c) for c in checks], indent=2))
        else:
            for c in checks:
                print(c.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        console.err.print(f"verify: {len(failed)} of {len(checks)} checks failed", markup=False)
        return EXIT_BUILD_FAILED
    return 0
