"""The target and group names a bake file declares, in file order, with their lines.

`docker buildx bake --print` prints only what it is asked for (the `default` group when no
name is given) and the buildx here (0.13) has no `--list`, so `orchestrator import` asks for
every name the file declares; these are those names. Only the labels of the top-level
`target "NAME"` and `group "NAME"` blocks are read (HCL labels are literals, never
interpolated): everything else, values, variables, functions and `inherits`, stays buildx's to
read. JSON files are read as JSON, compose files as YAML (a service with `build:` is a target;
buildx puts every one in its `default` group).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Declared:
    kind: str  # "hcl", "json" or "compose"
    # name -> ("target" | "group", line), in the order the file declares them
    names: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add(self, kind: str, name: str, line: int) -> None:
        # A label declared twice is one block to bake (it merges them): the first place counts.
        self.names.setdefault(name, (kind, line))

    def of_kind(self, kind: str) -> list[str]:
        return [n for n, (k, _) in self.names.items() if k == kind]


_WORD = re.compile(r"[A-Za-z_][\w-]*")
_SPACE = re.compile(r"[ \t\r]+")


def _string_end(text: str, i: int) -> int:
    """The index after the string literal that opens at text[i] (`"`), templates included."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "\n":
            return i  # HCL strings end at the line; buildx reports the error, not us
        if c in "$%" and text.startswith("{", i + 1) and not text.startswith(c, i - 1):
            i = _code_end(text, i + 2, "}")
            continue
        i += 1
    return i


def _heredoc_end(text: str, i: int) -> int | None:
    """The index after a heredoc `<<EOF`/`<<-EOF` at text[i], or None if it is not one."""
    match = re.compile(r"<<-?([A-Za-z_][\w-]*)[ \t]*\r?\n").match(text, i)
    if not match:
        return None
    marker = re.compile(rf"^[ \t]*{re.escape(match.group(1))}[ \t]*\r?$", re.M)
    close = marker.search(text, match.end())
    return close.end() if close else len(text)


def _code_end(text: str, i: int, closer: str) -> int:
    """The index after the `closer` that ends the code starting at text[i] (nesting counted)."""
    while i < len(text):
        j = _skip(text, i)
        if j != i:
            i = j
            continue
        c = text[i]
        if c == closer:
            return i + 1
        if c in "{[(":
            i = _code_end(text, i + 1, {"{": "}", "[": "]", "(": ")"}[c])
            continue
        i += 1
    return i


def _skip(text: str, i: int) -> int:
    """Past a comment, string or heredoc at text[i]; i itself when none starts there."""
    if text.startswith(("#", "//"), i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if text.startswith('"', i):
        return _string_end(text, i)
    if text.startswith("<<", i):
        return _heredoc_end(text, i) or i
    return i


def _hcl(text: str) -> Declared:
    declared = Declared("hcl")
    i = 0
    while i < len(text):
        j = _skip(text, i)
        if j != i:
            i = j
            continue
        c = text[i]
        if c in "{[(":
            i = _code_end(text, i + 1, {"{": "}", "[": "]", "(": ")"}[c])
            continue
        word = _WORD.match(text, i)
        if not word or (i and (text[i - 1].isalnum() or text[i - 1] in "_-.")):
            i += 1
            continue
        i = word.end()
        if word.group() not in ("target", "group"):
            continue
        k = i
        space = _SPACE.match(text, k)
        k = space.end() if space else k
        if text.startswith('"', k):
            end = _string_end(text, k)
            label = text[k + 1 : end - 1]
        else:
            ident = _WORD.match(text, k)
            if not ident:
                continue
            end, label = ident.end(), ident.group()
        space = _SPACE.match(text, end)
        if text.startswith("{", space.end() if space else end):
            declared.add(word.group(), label, text.count("\n", 0, word.start()) + 1)
    return declared


def _json(data: dict[str, Any]) -> Declared:
    declared = Declared("json")
    for kind in ("group", "target"):
        blocks = data.get(kind)
        for block in blocks if isinstance(blocks, list) else [blocks]:
            for name in block if isinstance(block, dict) else {}:
                declared.add(kind, str(name), 1)
    return declared


def _compose(data: Any) -> Declared:
    declared = Declared("compose")
    services = data.get("services") if isinstance(data, dict) else None
    for name, service in (services if isinstance(services, dict) else {}).items():
        if isinstance(service, dict) and service.get("build") is not None:
            # buildx's compose reader turns `.` into `_` in a service's target name.
            declared.add("target", str(name).replace(".", "_"), 1)
    return declared


def read(path: Path, text: str) -> Declared:
    """What PATH declares, read the way buildx picks a reader (by extension, else by content)."""
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return _compose(_yaml(text))
    if suffix == ".json":
        return _json(_json_data(text))
    if suffix != ".hcl":
        data = _yaml(text)
        if isinstance(data, dict) and "services" in data:
            return _compose(data)
        if text.lstrip().startswith("{"):
            return _json(_json_data(text))
    return _hcl(text)


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None  # buildx says what is wrong with it


def _json_data(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
