"""Refuse build args and labels that would carry a secret into the image.

`ARG` values are recorded in the image config history and, with provenance mode=max, in the
attestation; BuildKit secrets are not. So a build arg whose name or value looks like a secret, or
whose value equals a declared secret, stops the build unless the user explicitly allows it.
Messages name the arg, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from orchestrator import inputs, masking
from orchestrator.plan import Plan, SecretRef

# Whole words of the name (split at _ and -), so AUTHOR or TOKENIZER_MODEL are not flagged,
# while GITHUB_TOKEN, NPM_AUTH_TOKEN, DB_PASSWORD and AWS_SECRET_ACCESS_KEY are.
SECRET_NAME = re.compile(
    r"(?i)(?:^|[_-])(passw(?:or)?d|pass|pwd|secrets?|tokens?|api[_-]?keys?|private[_-]?keys?"
    r"|credentials?|creds|access[_-]?keys?|auth)(?:$|[_-])"
)
SECRET_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{20,}|\bglpat-[A-Za-z0-9_-]{20,}"
    r"|\bAKIA[0-9A-Z]{16}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsk-[A-Za-z0-9]{20,}"
    r"|[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@)"  # a URL with user:password@
)


def _secret_value(secret: SecretRef, env: Mapping[str, str]) -> str | None:
    if secret.source == "env":
        return env.get(secret.name) or None
    inputs.note(secret.name)
    # Regular files only, bounded: a FIFO named as a secret file hung the run, /dev/zero ate
    # the memory. sources.problems() says what is wrong with such a file.
    return masking.read_secret_file(Path(secret.name))


def secret_values(plan: Plan, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the declared secrets that are available (for masking output)."""
    env = os.environ if environ is None else environ
    found = {_secret_value(s, env) for t in plan.targets for s in t.secrets}
    # Longest first, so a secret that contains another is masked whole.
    return sorted((v for v in found if v and len(v) >= MASK_MIN), key=len, reverse=True)


MASK_MIN = 4  # shorter values would mask ordinary words; no real secret is that short


def mask(text: str, values: Iterable[str]) -> str:
    """`text` with every secret value replaced by `***`, as CI systems mask their logs."""
    for value in values:
        text = text.replace(value, "***")
    return text


def problems(plan: Plan, environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    out: list[str] = []
    for t in plan.targets:
        values = {s.id: _secret_value(s, env) for s in t.secrets}
        # Labels land in the image config just like args land in its history; label names
        # (org.opencontainers.image.authors...) are not judged, only their values.
        for kind, items in (("build arg", t.args), ("label", t.labels)):
            for name, value in items.items():
                if name == "SOURCE_DATE_EPOCH":
                    continue
                if kind == "build arg" and SECRET_NAME.search(name):
                    out.append(f"{t.name}: build arg {name} looks like a secret by its name")
                elif SECRET_VALUE.search(value):
                    out.append(f"{t.name}: {kind} {name} has a value that looks like a credential")
                for sid, secret_value in values.items():
                    if secret_value and secret_value in value:
                        out.append(f"{t.name}: {kind} {name} carries the value of secret {sid!r}")
    return out


FIX = (
    "build args and labels are stored in the image; declare a `secrets:` entry and use "
    "RUN --mount=type=secret instead (or pass --allow-secret-args if this is not a secret)"
)
