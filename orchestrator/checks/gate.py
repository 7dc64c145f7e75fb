"""The gate `check` and `build` share: builds.yaml's `checks:` policy and the baseline.

Order, after the rules ran and pragmas were applied: per-code severities (`severity:`), then
accepted findings (`ignore:`, each with its reason), then the baseline (findings recorded by
`check --write-baseline`); what is left is *new*, and only new findings at or above `fail-on`
fail. A baseline entry is keyed by rule, file and a fingerprint of the content the finding is
about (the text of its instruction, not its line number), so moving code does not make an old
finding new; entries no finding matches any more are reported as fixed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from orchestrator import atomic, inputs, textfile
from orchestrator.checks import SEVERITIES, Finding
from orchestrator.errors import UserError
from orchestrator.manifest import ChecksSpec, IgnoreSpec, Manifest

FailOn = Literal["error", "warning", "never"]
BASELINE = ".orchestrator-baseline.json"
BASELINE_FORMAT = 1


@dataclass(frozen=True)
class Policy:
    fail_on: FailOn = "error"
    severity: Mapping[str, str] = field(default_factory=dict)
    ignore: tuple[IgnoreSpec, ...] = ()


def policy_for(manifest: Manifest, target: str) -> Policy:
    """Top-level `checks:`, then `defaults.checks`, then the target's: a later `fail-on`
    replaces, severities merge by code, ignores add up."""
    specs: list[ChecksSpec] = [manifest.checks]
    for spec in (manifest.defaults.checks, getattr(manifest.targets.get(target), "checks", None)):
        if spec is not None:
            specs.append(spec)
    fail_on: FailOn = "error"
    severity: dict[str, str] = {}
    ignore: list[IgnoreSpec] = []
    for spec in specs:
        fail_on = spec.fail_on or fail_on
        severity.update(spec.severity or {})
        ignore += spec.ignore or []
    return Policy(fail_on, severity, tuple(ignore))


def baseline_path(manifest: Manifest, root: Path) -> Path:
    return root / (manifest.checks.baseline or BASELINE)


# --- fingerprints --------------------------------------------------------------------------
def _relative(path: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix() if Path(path).is_absolute() else path
    except ValueError:
        return path


def _content(finding: Finding, lines_of: Mapping[str, list[str]]) -> str:
    """What a finding is about, without where it is: its instruction's text (whitespace
    collapsed), or for a finding without a line its message with numbers taken out."""
    text = lines_of.get(finding.file)
    if finding.line is not None and text is not None and 0 < finding.line <= len(text):
        return " ".join(text[finding.line - 1].split())
    # Counts and sizes change with every file added ("all 12 files (1.2 MB)"): not the problem.
    return re.sub(r"\d+(?:\.\d+)?(?:\s*[KMG]?B\b)?", "#", finding.message)


def fingerprints(findings: Sequence[Finding], root: Path) -> list[dict[str, str]]:
    """One key per finding: rule, file (relative to root), target and a content hash. Equal
    keys (the same problem twice in one file) get an occurrence number so each counts."""
    lines_of: dict[str, list[str]] = {}
    for finding in findings:
        if finding.file not in lines_of:
            inputs.note(finding.file)
            try:
                # errors="replace": a stray Latin-1 byte (BuildKit builds such a file) must
                # not drop the file's content hashes.
                text = Path(finding.file).read_text(encoding="utf-8", errors="replace")
                lines_of[finding.file] = text.splitlines()
            except OSError:
                lines_of[finding.file] = []
    seen: dict[tuple[str, ...], int] = {}
    out = []
    for finding in findings:
        content = _content(finding, lines_of)
        digest = hashlib.sha256(f"{finding.code}\n{content}".encode()).hexdigest()[:16]
        key = (finding.code, _relative(finding.file, root), finding.target, digest)
        seen[key] = seen.get(key, 0) + 1
        out.append(
            {
                "code": key[0],
                "file": key[1],
                "target": key[2],
                "fingerprint": f"{digest}-{seen[key]}",
            }
        )
    return out


# --- the gate ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    new: tuple[Finding, ...]  # what the report shows and the gate judges
    baselined: int
    ignored: tuple[tuple[Finding, str], ...]  # with the reason from builds.yaml
    fixed: tuple[Mapping[str, str], ...]  # baseline entries no finding matches any more
    failing: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return bool(self.failing)


def _fails(finding: Finding, fail_on: FailOn) -> bool:
    if fail_on == "never":
        return False
    return SEVERITIES.index(finding.severity) <= SEVERITIES.index(fail_on)


def _ignored(finding: Finding, rules: Iterable[IgnoreSpec], root: Path) -> str | None:
    for item in rules:
        if item.code != finding.code:
            continue
        if item.path is None or fnmatch.fnmatch(_relative(finding.file, root), item.path):
            return item.reason
    return None


def apply_policy(
    findings: Sequence[Finding], policies: Mapping[str, Policy], root: Path
) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """Severity overrides, then ignores: (kept, ignored with their reason)."""
    kept: list[Finding] = []
    ignored: list[tuple[Finding, str]] = []
    for found in findings:
        policy = policies.get(found.target, Policy())
        wanted = policy.severity.get(found.code)
        if wanted == "off":
            continue
        finding = found
        if wanted is not None and wanted in SEVERITIES:
            # Looked up in SEVERITIES so the value is typed as a Severity, not a str.
            finding = replace(found, severity=SEVERITIES[SEVERITIES.index(wanted)])
        reason = _ignored(finding, policy.ignore, root)
        if reason is not None:
            ignored.append((finding, reason))
        else:
            kept.append(finding)
    return kept, ignored


def judge(
    findings: Sequence[Finding],
    policies: Mapping[str, Policy],
    root: Path,
    baseline: Sequence[Mapping[str, str]] = (),
) -> Verdict:
    kept, ignored = apply_policy(findings, policies, root)
    keys = fingerprints(kept, root)
    remaining: dict[tuple[str, ...], int] = {}
    for entry in baseline:
        if policies and entry["target"] not in policies:
            continue  # a target not checked this time: neither matched nor fixed
        key = (entry["code"], entry["file"], entry["target"], entry["fingerprint"])
        remaining[key] = remaining.get(key, 0) + 1
    new: list[Finding] = []
    baselined = 0
    for finding, key_dict in zip(kept, keys, strict=True):
        key = (key_dict["code"], key_dict["file"], key_dict["target"], key_dict["fingerprint"])
        if remaining.get(key, 0) > 0:
            remaining[key] -= 1
            baselined += 1
        else:
            new.append(finding)
    # A recorded finding that still occurs but builds.yaml now silences (severity off, an
    # `ignore:` entry) is not fixed: it is only not shown.
    silenced = (
        {
            (k["code"], k["file"], k["target"], k["fingerprint"].rpartition("-")[0])
            for k in fingerprints(findings, root)
        }
        if any(remaining.values()) and len(kept) < len(findings)
        else set()
    )
    fixed = tuple(
        {"code": k[0], "file": k[1], "target": k[2], "fingerprint": k[3]}
        for k, n in remaining.items()
        if (*k[:3], k[3].rpartition("-")[0]) not in silenced
        for _ in range(n)
    )
    failing = tuple(f for f in new if _fails(f, policies.get(f.target, Policy()).fail_on))
    return Verdict(tuple(new), baselined, tuple(ignored), fixed, failing)


# --- the baseline file ---------------------------------------------------------------------
def read_baseline(path: Path, *, rewriting: bool = False) -> list[dict[str, str]]:
    """The recorded findings; none when the file does not exist. `rewriting`: for
    --write-baseline, which replaces a baseline of another format (read as empty) but never a
    file that is no baseline at all."""
    inputs.note(path)
    try:
        # textfile: a FIFO or device is refused, never read (a read would wait for a writer).
        data: Any = json.loads(textfile.read(path, "check baseline"))
    except FileNotFoundError:
        return []
    except (UserError, ValueError, RecursionError) as exc:
        # ValueError: bad JSON or a 5000-digit number; RecursionError: `[[[[…` past the stack.
        why = exc.message.removeprefix(f"{path}: ") if isinstance(exc, UserError) else exc
        if isinstance(exc, RecursionError):
            why = "nested too deeply"
        if rewriting:
            raise UserError(
                f"{path}: cannot read it as a check baseline ({why}); not overwritten: move "
                "it, or point checks.baseline at another file"
            ) from None
        raise UserError(f"{path}: cannot read the check baseline: {why}") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list) or "version" not in data:
        raise UserError(
            f"{path}: not a check baseline (no `version` and `findings`)"
            + (
                "; not overwritten: move it, or point checks.baseline at another file"
                if rewriting
                else "; point checks.baseline at the baseline file"
            )
        )
    if data["version"] != BASELINE_FORMAT:
        if rewriting:
            return []
        raise UserError(
            f"{path}: a check baseline of format {data['version']!r}, this orchestrator reads "
            f"format {BASELINE_FORMAT}; rewrite it with `orchestrator check --write-baseline`"
        )
    out = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("code", "file", "target", "fingerprint")
        ):
            raise UserError(f"{path}: findings[{n}]: expected code, file, target, fingerprint")
        out.append({k: entry[k] for k in ("code", "file", "target", "fingerprint")})
    return out


def write_baseline(
    path: Path, findings: Sequence[Finding], root: Path, targets: Iterable[str]
) -> int:
    """Record `findings` of `targets` (info excluded: it never fails), keeping the entries of
    targets not checked this time; sorted, so the file diffs well. Returns how many are new."""
    checked = set(targets)
    kept = [e for e in read_baseline(path, rewriting=True) if e["target"] not in checked]
    recorded = fingerprints([f for f in findings if f.severity != "info"], root)
    entries = sorted(
        kept + recorded, key=lambda e: (e["file"], e["code"], e["target"], e["fingerprint"])
    )
    body = {"version": BASELINE_FORMAT, "findings": entries}
    try:
        # `checks: baseline: ci/baseline.json` in a fresh checkout: its folder is made, as an
        # --output's is (outfile.write).
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(body, indent=2) + "\n", mode=0o644, fsync=True)
    except OSError as exc:
        raise UserError(f"cannot write the baseline {path}: {exc.strerror or exc}") from None
    return len(recorded)
