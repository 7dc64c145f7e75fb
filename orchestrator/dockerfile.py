"""A read-only model of a Dockerfile: stages, their bases, and which stages a target needs.

Tokenising (line continuations, escape directive, comments) is dockerfile-parse's job; this module
adds the build-graph view buildx has and the parser lacks: `FROM` bases after ARG expansion
(BuildKit's lexer, wordexpand.py, with its automatic platform ARGs, platformargs.py),
stage dependencies via `FROM <stage>`, `COPY --from` and `RUN --mount=from=`, and the set of
stages a `--target` actually builds (BuildKit skips the rest, so checks and pins must too).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from orchestrator import heredoc, inputs, platformargs, textfile, wordexpand
from orchestrator.errors import UserError

_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")  # the names `$X` / `${X...}` read
_FLAG_RE = re.compile(r"^--(?P<name>[a-z-]+)(?:=(?P<value>\S*))?$")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: RUN, COPY, ...
    line: int  # 1-based first line
    end_line: int
    flags: tuple[tuple[str, str], ...]  # leading --name=value options, in order
    args: str  # the rest after the flags
    content: str  # the raw text, continuation lines included

    def flag(self, name: str) -> str | None:
        for key, value in self.flags:
            if key == name:
                return value
        return None

    def flag_all(self, name: str) -> list[str]:
        return [value for key, value in self.flags if key == name]


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None  # lower-cased `AS` name
    base: str  # FROM argument as written, e.g. `${GO_IMAGE}` or `scratch`
    platform: str | None  # --platform value as written
    line: int
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass(frozen=True)
class Comment:
    line: int
    text: str  # without the leading '#', stripped


# What an answer about the build graph depends on besides the stage: the build args the global
# ARGs read, and the platform (the native one when a target names none).
_Scope = tuple[tuple[tuple[str, str], ...], str]


@dataclass
class _Memo:
    """Answers of a Dockerfile's graph queries: a plan asks the same ones for each target of a
    file, and again for each check, and every answer expands ARGs. Kept out of equality."""

    scope: dict[_Scope, dict[str, str]] = field(default_factory=dict)
    dependencies: dict[tuple[int, _Scope], list[Stage]] = field(default_factory=dict)
    stages_for: dict[tuple[str | None, _Scope], list[Stage]] = field(default_factory=dict)
    external: dict[tuple[int, _Scope], list[tuple[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    global_args: Mapping[str, str | None]
    stages: tuple[Stage, ...]
    comments: tuple[Comment, ...] = field(default=())
    directives: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # syntax, escape, check
    _memo: _Memo = field(default_factory=_Memo, compare=False, repr=False)

    # -- lookups ----------------------------------------------------------------------------
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages if s.name]

    def find_stage(self, ref: str) -> Stage | None:
        key = ref.lower()
        for stage in self.stages:
            if stage.name == key or (stage.name is None and str(stage.index) == key):
                return stage
        if key.isdigit() and int(key) < len(self.stages):
            return self.stages[int(key)]
        return None

    def target_stage(self, target: str | None) -> Stage:
        if not self.stages:
            raise UserError(f"{self.path}: no FROM instruction")
        if target is None:
            return self.stages[-1]
        stage = self.find_stage(target)
        if stage is None or stage.name is None:
            known = ", ".join(self.stage_names()) or "none"
            raise UserError(f"{self.path}: no stage named {target!r} (stages: {known})")
        return stage

    def dependencies(
        self, stage: Stage, args: Mapping[str, str] | None = None, platform: str | None = None
    ) -> list[Stage]:
        """Stages `stage` reads from directly (its base, COPY --from, RUN --mount from=), each
        reference expanded as BuildKit does for `platform` (see `scope`)."""
        if not self._owns(stage):
            return self._dependencies(stage, args or {}, platform)
        key = (stage.index, self._scope_key(args, platform))
        found = self._memo.dependencies.get(key)
        if found is None:
            found = self._memo.dependencies[key] = self._dependencies(stage, args or {}, platform)
        return list(found)

    def _dependencies(
        self, stage: Stage, args: Mapping[str, str], platform: str | None
    ) -> list[Stage]:
        refs = [stage.base]
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and ins.flag("from"):
                refs.append(ins.flag("from") or "")
            if ins.keyword == "RUN":
                for mount in ins.flag_all("mount"):
                    opts = dict(_kv(part) for part in mount.split(","))
                    if "from" in opts:
                        refs.append(opts["from"])
        values = self._scope(args, platform)
        out: list[Stage] = []
        for ref in refs:
            dep = self.find_stage(self._expand(ref, values))
            if dep is not None and dep.index < stage.index and dep not in out:
                out.append(dep)
        return out

    def stages_for(
        self,
        target: str | None,
        args: Mapping[str, str] | None = None,
        platform: str | None = None,
    ) -> list[Stage]:
        """Every stage BuildKit builds for `--target target` on `platform`, in file order.

        A FROM chosen through an ARG (`FROM bin-$TARGETOS`) can select other stages on each
        platform, so callers ask once per platform of the target."""
        key = (target, self._scope_key(args, platform))
        found = self._memo.stages_for.get(key)
        if found is None:
            found = self._memo.stages_for[key] = self._stages_for(target, args, platform)
        return list(found)

    def _stages_for(
        self, target: str | None, args: Mapping[str, str] | None, platform: str | None
    ) -> list[Stage]:
        wanted: set[int] = set()
        todo = [self.target_stage(target)]
        while todo:
            stage = todo.pop()
            if stage.index in wanted:
                continue
            wanted.add(stage.index)
            todo.extend(self.dependencies(stage, args, platform))
        return [s for s in self.stages if s.index in wanted]

    def built_stages(
        self, target: str | None, args: Mapping[str, str], platforms: Sequence[str]
    ) -> list[Stage]:
        """The stages built on any of `platforms` (none: the engine's), in file order."""
        wanted: set[int] = set()
        each: list[str | None] = [*platforms] or [None]
        for platform in each:
            wanted.update(s.index for s in self.stages_for(target, args, platform))
        return [s for s in self.stages if s.index in wanted]

    def external_images(
        self, stage: Stage, args: Mapping[str, str], platform: str | None = None
    ) -> list[tuple[str, int]]:
        """Registry images this stage pulls: its base and `COPY --from=<image>`, ARGs expanded."""
        if not self._owns(stage):
            return self._external_images(stage, args, platform)
        key = (stage.index, self._scope_key(args, platform))
        found = self._memo.external.get(key)
        if found is None:
            found = self._memo.external[key] = self._external_images(stage, args, platform)
        return list(found)

    def _external_images(
        self, stage: Stage, args: Mapping[str, str], platform: str | None
    ) -> list[tuple[str, int]]:
        values = self._scope(args, platform)
        found: list[tuple[str, int]] = []
        base = self._expand(stage.base, values)
        if self.find_stage(base) is None and base.lower() != "scratch":
            found.append((base, stage.line))
        for ins in stage.instructions:
            source = ins.flag("from") if ins.keyword in ("COPY", "ADD") else None
            if source:
                image = self._expand(source, values)
                if self.find_stage(image) is None:
                    found.append((image, ins.line))
        return found

    def blank_base(
        self, args: Mapping[str, str], platform: str | None = None
    ) -> tuple[Stage, list[str]] | None:
        """The first stage whose FROM expands to nothing (`FROM ${BASE}`, ARG BASE without a
        default or value), with the variables it reads that have no value; None if none.

        BuildKit expands every stage's FROM before it looks at --target and refuses a blank
        one (`base name (${BASE}) should not be blank`): a stage the target never builds fails
        the build as well, so every stage is asked, not only those of `stages_for`."""
        values = self._scope(args, platform)
        for stage in self.stages:
            if not self._expand(stage.base, values):
                names = [n for n in _VAR_RE.findall(stage.base) if not values.get(n)]
                return stage, list(dict.fromkeys(names))
        return None

    def scope(self, args: Mapping[str, str], platform: str | None = None) -> dict[str, str]:
        """The variables a FROM line sees, as BuildKit sets them: the automatic platform ARGs
        for `platform` (default: the engine's), then each global ARG in file order: a build arg
        of its name, else its default (itself expanded with the ARGs above it), else unset. A
        global `ARG TARGETOS` without a default keeps the automatic value."""
        return dict(self._scope(args, platform))

    def _scope(self, args: Mapping[str, str], platform: str | None) -> dict[str, str]:
        """`scope`, computed once per key: the dict is shared, callers must not change it."""
        key = self._scope_key(args, platform)
        found = self._memo.scope.get(key)
        if found is None:
            found = self._memo.scope[key] = self._new_scope(args, platform)
        return found

    def _new_scope(self, args: Mapping[str, str], platform: str | None) -> dict[str, str]:
        values = platformargs.values(platform)
        for name, default in self.global_args.items():
            if name in args:
                values[name] = args[name]
            elif default is not None:
                values[name] = self._expand(default, values)
            elif name not in platformargs.NAMES:
                values.pop(name, None)
        return values

    def expand(self, text: str, args: Mapping[str, str], platform: str | None = None) -> str:
        """Expand every `$VAR`/`${VAR...}` form the way FROM does (see `scope`)."""
        return self._expand(text, self._scope(args, platform))

    def _scope_key(self, args: Mapping[str, str] | None, platform: str | None) -> _Scope:
        given = args or {}
        used = tuple((name, given[name]) for name in self.global_args if name in given)
        return used, platform or platformargs.native()

    def _owns(self, stage: Stage) -> bool:
        """`stage` is this file's own (answers are kept by stage index)."""
        return 0 <= stage.index < len(self.stages) and self.stages[stage.index] is stage

    def _expand(self, text: str, values: Mapping[str, str]) -> str:
        escape = self.directives.get("escape", ("\\", 0))[0][:1] or "\\"
        try:
            return wordexpand.expand(text, values, escape)
        except UserError as exc:
            raise UserError(f"{self.path}: {text}: {exc.message}") from None


def _kv(part: str) -> tuple[str, str]:
    key, _, value = part.partition("=")
    return key.strip().lower(), value.strip()


def _split_flags(value: str) -> tuple[tuple[tuple[str, str], ...], str]:
    flags: list[tuple[str, str]] = []
    rest = value.strip()
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        match = _FLAG_RE.match(token)
        if match is None:
            break
        flags.append((match.group("name"), match.group("value") or ""))
        rest = remainder.strip()
    return tuple(flags), rest


# BuildKit's rule for a stage name (instructions/parse.go), checked after lower-casing it.
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")


def _parse_from(args: str, where: str) -> tuple[str, str | None]:
    """FROM's image and stage name, or BuildKit's refusal of the line in its words: it splits
    the words on blanks before expanding any `${...}` in them, then wants `IMAGE [AS NAME]`."""
    parts = args.split()
    if len(parts) == 3 and parts[1].lower() == "as":
        name = parts[2].lower()
        if not _STAGE_NAME.fullmatch(name):
            raise UserError(
                f"{where}: invalid name for build stage: {parts[2]!r}, name can't start with a "
                "number or contain symbols"
            )
        return parts[0], name
    if len(parts) != 1:
        hint = (
            "; a ${...} with a blank inside is split there (BuildKit splits FROM's words "
            "before it expands them): write it without blanks"
            if re.search(r"\$\{[^}]*\s", args)
            else ""
        )
        raise UserError(
            f"{where}: FROM requires either one or three arguments "
            f"(FROM [--platform=...] IMAGE [AS NAME]), got {len(parts)}{hint}"
        )
    return parts[0], None


def parse(text: str, path: Path) -> Dockerfile:
    # BuildKit drops a UTF-8 byte order mark (editors on Windows write one); so do we, or the
    # first instruction is `\ufeffFROM` and the file "has no FROM".
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    # dockerfile-parse does not know heredocs: it is given the file with their bodies emptied
    # (same line numbers), and each instruction that opens one gets its lines back below.
    bodies = {body.opener + 1: body for body in heredoc.bodies(lines)}
    source = "\n".join(heredoc.masked(lines, list(bodies.values()))) if bodies else text
    # A text fileobj, not bytes: dockerfile-parse passes str lines through as they are, so a
    # stray non-UTF-8 byte textfile.read kept (a lone surrogate) reaches us unchanged.
    parser = DockerfileParser(fileobj=io.StringIO(source))
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    comments: list[Comment] = []
    directives: dict[str, tuple[str, int]] = {}
    current: dict[str, object] | None = None
    body: list[Instruction] = []
    seen_instruction = False

    def close() -> None:
        if current is not None:
            stages.append(Stage(instructions=tuple(body), **current))  # type: ignore[arg-type]

    for item in parser.structure:
        keyword = str(item["instruction"]).upper()
        line = int(item["startline"]) + 1
        value = str(item["value"])
        if keyword == "COMMENT":
            comments.append(Comment(line, value.strip()))
            directive = re.match(r"^\s*([a-z]+)\s*=\s*(.+?)\s*$", value, re.IGNORECASE)
            # Parser directives only count above the first instruction and before other comments.
            if directive and not seen_instruction and len(comments) == len(directives) + 1:
                directives[directive.group(1).lower()] = (directive.group(2), line)
            continue
        seen_instruction = True
        flags, rest = _split_flags(value)
        end, content = int(item["endline"]) + 1, str(item["content"])
        doc = bodies.get(end)
        if doc is not None:
            end = doc.last + 1
            content = "\n".join(lines[line - 1 : end]) + "\n"
            if keyword == "RUN":  # the script is what runs: rules read it with the command
                rest = "\n".join([rest, *doc.texts])
        ins = Instruction(keyword, line, end, flags, rest, content)
        if keyword == "FROM":
            close()
            base, name = _parse_from(rest, f"{path}:{line}")
            current = {
                "index": len(stages),
                "name": name,
                "base": base,
                "platform": ins.flag("platform"),
                "line": line,
            }
            body = []
        elif current is None:
            if keyword == "ARG":
                for decl in rest.split():
                    name, eq, default = decl.partition("=")
                    global_args[name] = default.strip("\"'") if eq else None
        else:
            body.append(ins)
    close()
    seen: dict[str, int] = {}
    for stage in stages:
        if stage.name and stage.name in seen:  # BuildKit refuses the file; a FROM would guess
            raise UserError(
                f"{path}:{stage.line}: duplicate stage name {stage.name!r} "
                f"(first at line {seen[stage.name]}); rename one"
            )
        if stage.name:
            seen[stage.name] = stage.line
    return Dockerfile(path, global_args, tuple(stages), tuple(comments), directives)


# Parsed files of this process by (path, text): reading is cheap, parsing is not, and keying on
# the text (not the mtime, whose tick is coarse on some filesystems) can never serve a stale
# model. Bounded: a long-lived process (tests) sees many files.
_MEMO: dict[tuple[str, str], Dockerfile] = {}
_MEMO_SIZE = 64


def load(path: Path) -> Dockerfile:
    inputs.note(path)
    try:
        text = textfile.read(path, "Dockerfile")
    except FileNotFoundError:
        raise UserError(f"{path}: Dockerfile not found") from None
    key = (str(path), text)
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        found = _MEMO[key] = parse(text, path)
    return found


# COPY/ADD sources that take the whole build context.
WHOLE_TREE = frozenset({".", "./", "*", "./*", "/", "${PWD}"})


def sources(ins: Instruction) -> list[str]:
    """COPY/ADD sources (everything but the destination), shell or JSON form."""
    text = ins.args.strip()
    items: list[str] = []
    if text.startswith("["):
        try:
            loaded = json.loads(text)
            items = [str(x) for x in loaded] if isinstance(loaded, list) else []
        except (ValueError, RecursionError):  # not JSON, a 5000-digit number, `[[[[…`
            items = text.split()
    else:
        items = text.split()
    # `ADD "https://..." /x`: BuildKit removes the quotes; so must we before matching. A
    # heredoc (`COPY <<EOF /etc/motd`) is text written in the instruction, not a source.
    return [item.strip("\"'") for item in items[:-1] if not heredoc.words(item) or text[:1] == "["]
