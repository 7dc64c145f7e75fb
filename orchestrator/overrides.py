"""`--set TARGET.KEY=VALUE` overrides, in the spirit of `docker buildx bake --set`.

TARGET may be `*` (every target). KEY is a manifest key (`platforms`, `tags`, `outputs`, `pin`,
`stage`, `no-cache`, `provenance`, `sbom`, `image`, `reproducible`, `network`, `shm-size`,
`pull`, `images`, `ulimits`, `entitlements`, `annotations`, `no-cache-filter`), a mapping entry
(`args.NAME`, `labels.NAME`, `contexts.NAME`, `extra-hosts.NAME`) or a cache key (`cache.from`,
`cache.to`, `cache.registry`, `cache.local`, `cache.inline`, `cache.compression`). Lists take
comma-separated values, but for `cache.from` and `cache.to` the value is one cache spec
(`type=registry,ref=...`, commas and all, as buildx's `--cache-from` takes it); repeat the
--set for several.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import UserError

LIST_KEYS = (
    "platforms",
    "tags",
    "outputs",
    "images",
    "ulimits",
    "entitlements",
    "annotations",
    "no-cache-filter",
)
MAP_KEYS = ("args", "labels", "contexts", "extra-hosts")
SCALAR_KEYS = (
    "stage",
    "image",
    "context",
    "dockerfile",
    "pin",
    "provenance",
    "sbom",
    "sbom-generator",
    "sign",
    "no-cache",
    "reproducible",
    "description",
    "network",
    "shm-size",
    "pull",
)
BOOL_KEYS = ("sbom", "sign", "no-cache", "reproducible", "pull")
CACHE_KEYS = ("from", "to", "registry", "local", "inline", "compression")


@dataclass(frozen=True)
class Override:
    target: str
    key: str
    value: str
    text: str

    def applies_to(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.target)

    def check_targets(self, names: list[str]) -> None:
        if not any(self.applies_to(n) for n in names):
            raise UserError(f"--set {self.text}: no target matches {self.target!r}")

    def merge_into(self, extra: dict[str, Any]) -> None:
        head, _, sub = self.key.partition(".")
        if head in MAP_KEYS:
            extra.setdefault(head, {})[sub] = self.value
        elif head == "cache" and sub in ("from", "to"):
            # One cache spec per --set (a spec is itself comma-separated: `type=registry,ref=`);
            # several --set of the key make the list, which replaces builds.yaml's; empty: none.
            specs = extra.setdefault("cache", {}).setdefault(sub, [])
            if self.value:
                specs.append(self.value)
            else:
                specs.clear()
        elif head == "cache":
            value: object = _bool(self.value, self.text) if sub == "inline" else self.value
            extra.setdefault("cache", {})[sub] = value
        elif head in LIST_KEYS:
            extra[head] = _split(self.value)
        elif head in BOOL_KEYS:
            extra[head] = _bool(self.value, self.text)
        elif head == "provenance":
            lowered = self.value.lower()
            extra[head] = {"true": True, "false": False}.get(lowered, self.value)
        else:
            extra[head] = self.value


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _bool(value: str, text: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise UserError(f"--set {text}: expected true or false")


def parse(text: str) -> Override:
    target_key, eq, value = text.partition("=")
    target, dot, key = target_key.partition(".")
    if not eq or not dot or not target or not key:
        raise UserError(
            f"--set {text}: expected TARGET.KEY=VALUE, e.g. production.platforms=linux/amd64"
        )
    head, _, sub = key.partition(".")
    valid = (
        (head in MAP_KEYS and sub)
        or (head == "cache" and sub in CACHE_KEYS)
        or (not sub and head in (*LIST_KEYS, *SCALAR_KEYS))
    )
    if head in MAP_KEYS and not sub:
        raise UserError(f"--set {text}: {head}.NAME needs a name, e.g. --set {target}.{head}.X=1")
    if not valid:
        known = ", ".join(
            [
                *LIST_KEYS,
                *SCALAR_KEYS,
                *(f"{k}.NAME" for k in MAP_KEYS),
                "cache." + "|".join(CACHE_KEYS),
            ]
        )
        raise UserError(f"--set {text}: unknown key {key!r} (known: {known})")
    return Override(target, key, value, text)
