"""Load YAML into plain data while remembering where every key and item came from.

PyYAML's loaders throw positions away and silently keep the last of duplicate keys. We compose
the node tree ourselves, so that every validation error can name `file:line` and the key path,
and a duplicated key is an error instead of a surprise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator import inputs, textfile
from orchestrator.errors import ManifestError, UserError

Loc = tuple[str | int, ...]
_RESOLVER: Any = yaml.resolver.Resolver()  # for Located built without a parse (scratch copies)


@dataclass
class Located:
    """Plain data plus `line_of`: key path -> 1-based line."""

    data: Any
    path: Path
    lines: dict[Loc, int] = field(default_factory=dict)
    # Nodes converted so far, aliases counted each time they are expanded; shared with the
    # scratch copies merge keys convert into, so nested merges cannot multiply the work unseen.
    converted: list[int] = field(default_factory=lambda: [0], repr=False)
    # The parse's loader, which knows the tags it resolved (see _Loader); shared by scratch copies.
    loader: Any = field(default=None, repr=False)

    def implicit(self, node: yaml.ScalarNode) -> str:
        """The tag YAML 1.1 gives this plain scalar by itself (node.tag: none was written)."""
        resolver = self.loader if self.loader is not None else _RESOLVER
        tag: str = resolver.resolve(yaml.ScalarNode, node.value, (True, False))
        return tag

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest known prefix of `loc` (errors often point below a key)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1


# LibYAML's parser (PyYAML's C binding, in its wheels) when present: ~5x faster than the pure
# Python one, with the same nodes and marks; a manifest is parsed on every run. Its error texts
# are vaguer, so a file it refuses is parsed again by the Python parser for the message.
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader, remembering each plain scalar's resolved tag for the rest of the parse.

    The parser asks the (pure Python) resolver for the tag of every scalar, and `_convert`
    asks again to tell a tag written out from YAML's own: ~7,000 regex walks for a 200-target
    manifest (a tenth of its parse, measured) where most values are the same few keys. The
    answer depends only on the value and the two implicit flags while no path resolvers are
    registered (none are: they would change the answer with the position), so it is kept per
    loader, that is per parse, and bounded by the document.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.tags: dict[tuple[str, bool, bool], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, *implicit)
        tag = self.tags.get(key)
        if tag is None:
            tag = self.tags[key] = super().resolve(kind, value, implicit)
        return tag


LOADER: Any = _Loader
MAX_NODES = 100_000  # aliases can expand exponentially ("billion laughs"); a manifest is small
MERGE_TAG = "tag:yaml.org,2002:merge"  # what the resolver makes of a plain `<<` key


def _convert(node: yaml.Node, loc: Loc, out: Located) -> Any:
    out.lines.setdefault(loc, node.start_mark.line + 1)
    out.converted[0] += 1
    if out.converted[0] > MAX_NODES:
        raise ManifestError(f"{out.path}: more than {MAX_NODES} values (aliases expanding?)")
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTION_TAGS:
        # `tags: !foo [a]`: a tag we do not know must not be dropped silently, on any node.
        raise ManifestError(
            f"{out.path}:{node.start_mark.line + 1}: {_dotted(loc)}: unknown tag {node.tag!r}"
        )
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        merges: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.append((key_node, value_node))  # below: keys written out win anywhere
                continue
            key = _convert(key_node, (*loc, "<key>"), out)
            out.lines.pop((*loc, "<key>"), None)
            if key is None:  # `~:` or `null:`: a plain scalar, but no name
                raise ManifestError(
                    f"{out.path}:{key_node.start_mark.line + 1}: {_dotted(loc)}: "
                    "a key is null (`~` or `null`); quote it if it is a name"
                )
            if not isinstance(key, str | int | float | bool):
                raise ManifestError(
                    f"{out.path}:{key_node.start_mark.line + 1}: keys must be plain scalars"
                )
            skey = str(key)
            if skey in result:
                raise ManifestError(
                    f"{out.path}:{key_node.start_mark.line + 1}: {_dotted((*loc, skey))}: "
                    "duplicate key (the first one would be silently ignored)"
                )
            out.lines[(*loc, skey)] = key_node.start_mark.line + 1
            result[skey] = _convert(value_node, (*loc, skey), out)
        for key_node, value_node in merges:
            _merge(key_node.start_mark.line + 1, value_node, loc, result, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), out) for i, item in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:float":
        # A build manifest has no real floats, only versions: `GO_VERSION: 1.20` must stay "1.20".
        return str(node.value)
    if isinstance(node, yaml.ScalarNode) and not node.style and node.tag == out.implicit(node):
        core = _core(node.value)
        if core is not _TEXT:
            return core
        if node.tag != "tag:yaml.org,2002:str":
            return str(node.value)  # YAML 1.1 only (on, yes, 017, 1:30, 0x1F, 2001-02-03)
    if node.tag == "tag:yaml.org,2002:str" and isinstance(node, yaml.ScalarNode):
        # A quoted string: what the safe constructor returns (construct_yaml_str), without
        # making a loader for it (~40 us each, thousands in a large manifest).
        return node.value
    # Other scalars: the safe constructor applies the YAML 1.1 core types (int, bool, null...).
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        # Unknown tags (`!foo`), bad `!!binary`, impossible dates (`2001-02-30`), `0x_`...
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(
            f"{out.path}:{node.start_mark.line + 1}: {_dotted(loc)}: invalid value: {problem}"
        ) from None


_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")
_TEXT = object()


def _core(text: str) -> Any:
    """A plain scalar as the YAML 1.2 core schema reads it, narrowed to what a manifest uses:
    null, true/false, and decimal integers without a leading zero. Anything else is text, so
    `on`, `yes`, `017` and `1:30` stay as written instead of YAML 1.1's True, 15 and 90."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    digits = text[1:] if text[:1] in "+-" else text
    if digits.isascii() and digits.isdigit() and (digits == "0" or not digits.startswith("0")):
        return int(text) if len(digits) < 4000 else _TEXT
    return _TEXT


def _merge(line: int, node: yaml.Node, loc: Loc, result: dict[Any, Any], out: Located) -> None:
    """YAML's merge key: `<<: *defaults` or `<<: [*a, *b]` adds the keys of those mappings that
    `result` does not have yet (keys written out win, then earlier mappings over later ones).

    The merged values keep the lines of the anchor they were written under, so an error in one
    points at the text to fix.
    """
    sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for source in sources:
        if not isinstance(source, yaml.MappingNode):
            raise ManifestError(
                f"{out.path}:{line}: {_dotted((*loc, '<<'))}: a merge key "
                "takes a mapping (`<<: *name`) or a list of them (`<<: [*a, *b]`)"
            )
        merged = Located(data=None, path=out.path, converted=out.converted, loader=out.loader)
        values = _convert(source, (), merged)
        added = [key for key in values if key not in result]  # in the anchor's order
        result.update((key, values[key]) for key in added)
        fresh = set(added)
        # One pass over the merged lines (not one per key: a large anchor would be quadratic).
        for sub, written in merged.lines.items():
            if sub and sub[0] in fresh:
                out.lines.setdefault((*loc, *sub), written)


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def dotted(loc: Loc) -> str:
    """`targets.production.tags[2]` for a key path."""
    return _dotted(loc)


class _UniqueKeys:
    """A constructor mixin refusing a mapping key written twice, which PyYAML's constructors
    silently resolve to the last value (yaml.load has no option for it)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            try:
                again = key in seen
            except TypeError:
                continue  # unhashable: the base constructor reports it
            if again:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _UniqueLoader(_UniqueKeys, _Loader):
    pass


class _UniqueSafeLoader(_UniqueKeys, yaml.SafeLoader):
    pass


def _parse(parse: Callable[..., Any], text: str, unique: bool = False) -> Any:
    """`parse` (yaml.compose or yaml.load) with LOADER; a text it refuses is parsed again by the
    Python parser, which raises the same error in clearer words (see LOADER). `unique`: a key
    written twice in a mapping is an error (yaml.load only; compose keeps every pair)."""
    fast, clear = (_UniqueLoader, _UniqueSafeLoader) if unique else (LOADER, yaml.SafeLoader)
    try:
        return parse(text, Loader=fast)
    except yaml.YAMLError:
        return parse(text, Loader=clear)


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """yaml.compose with LOADER (like _parse), also returning the loader (its tag memo)."""
    loader = LOADER(text)
    try:
        return loader.get_single_node(), loader
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return yaml.compose(text, Loader=yaml.SafeLoader), None


def safe_load(text: str, unique: bool = False) -> Any:
    """yaml.safe_load, with LOADER; `unique`: a duplicated key is a yaml.YAMLError."""
    return _parse(yaml.load, text, unique)


def load(path: Path) -> Located:
    """Read `path`; a syntax error becomes one `file:line:col: cause` line."""
    inputs.note(path)
    try:
        text = textfile.read(path, "manifest")
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: no such file (create it, or point --file at your manifest)"
        ) from None
    except UserError as exc:
        raise ManifestError(exc.message) from None
    return loads(text, path)


def loads(text: str, path: Path) -> Located:
    """Parse YAML text that claims to come from `path` (used by tests with in-memory files)."""
    out = Located(data=None, path=path)
    try:
        node, out.loader = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ManifestError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{path}: invalid YAML: nested too deeply") from None
    try:
        out.data = {} if node is None else _convert(node, (), out)
    except RecursionError:
        # An alias inside its own anchor (`&a [*a]`) is an endless structure.
        raise ManifestError(f"{path}: invalid YAML: an alias refers to itself") from None
    return out
