"""The supply-chain part of the plan: signing key, per-target `sign`/`sbom-generator`, base keys.

Pure like the rest of the plan: names and paths only, never a key or a password. `plan.resolve`
calls `signing_plan` once and `apply` on each target after the target itself is resolved.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator import variables, yamlsrc
from orchestrator.errors import ManifestError
from orchestrator.manifest import Manifest

if TYPE_CHECKING:
    from orchestrator.plan import SigningPlan, TargetPlan


def _text(
    located: yamlsrc.Located, loc: tuple[str, ...], text: str, values: Mapping[str, str]
) -> str:
    try:
        return variables.interpolate(text, values)
    except variables.UnknownVariableError as exc:
        raise ManifestError(
            f"{located.path}:{located.line_of(loc)}: {yamlsrc.dotted(loc)}: unknown variable "
            f"${{{exc.name}}} ({variables.unknown_hint(exc.name)})"
        ) from None


def _path(root: Path, text: str) -> str:
    return os.path.realpath(root / Path(text).expanduser())  # not resolve(): see plan._abs


def signing_plan(
    manifest: Manifest, located: yamlsrc.Located, values: Mapping[str, str], root: Path
) -> SigningPlan | None:
    from orchestrator.plan import SigningPlan  # local: plan imports this module

    spec = manifest.signing
    if spec is None:
        return None
    if spec.key_env is not None:
        key = f"env://{spec.key_env}"
    else:
        key = _path(root, _text(located, ("signing", "key"), spec.key or "", values))
    if spec.public_key is not None:
        public = _path(root, _text(located, ("signing", "public-key"), spec.public_key, values))
    else:
        public = str(Path(key).with_suffix(".pub"))
    return SigningPlan(key=key, password_env=spec.password_env, public_key=public)


def apply(
    manifest: Manifest,
    located: yamlsrc.Located,
    t: TargetPlan,
    values: Mapping[str, str],
    root: Path,
    signing: SigningPlan | None,
) -> TargetPlan:
    """`t` checked for signing, with its SBOM generator interpolated and base-image keys set.

    `t.sign` and `t.sbom_generator` come from the merged spec (defaults, target, --set)."""
    sign = t.sign
    loc = ("targets", t.name, "sign")
    if sign and signing is None:
        raise ManifestError(
            f"{located.path}:{located.line_of(loc)}: targets.{t.name}.sign: needs a top-level "
            "`signing:` with the cosign key"
        )
    if sign and not t.push:
        raise ManifestError(
            f"{located.path}:{located.line_of(loc)}: targets.{t.name}.sign: only pushed images "
            "are signed (add `push` to outputs)"
        )
    generator = t.sbom_generator
    if generator is not None:
        where: tuple[str, ...] = ("targets", t.name, "sbom-generator")
        if manifest.targets[t.name].sbom_generator is None:
            where = ("defaults", "sbom-generator")
        generator = _text(located, where, generator, values)
    keys = {_key(upstream): spec.key for upstream, spec in manifest.verify.items()}
    bases = tuple(
        dataclasses.replace(
            b,
            verify_key=_path(
                root, _text(located, ("verify", _upstream(manifest, b.ref)), keys[k], values)
            ),
        )
        if (k := _key(b.ref)) in keys
        else b
        for b in t.base_images
    )
    return dataclasses.replace(
        t,
        sbom_generator=generator,
        base_images=bases,
    )


def _key(ref: str) -> str:
    from orchestrator.plan import image_key  # local: plan imports this module

    return image_key(ref)


def _upstream(manifest: Manifest, ref: str) -> str:
    return next(u for u in manifest.verify if _key(u) == _key(ref))
