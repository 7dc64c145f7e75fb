"""The build context BuildKit sends: the exact file set under .dockerignore, and why.

.dockerignore is not .gitignore. This transcribes what BuildKit really does, from three sources:
* moby/buildkit `frontend/dockerfile/dockerignore` ReadAll: `#` comments only in column 1, lines
  trimmed, `filepath.Clean`ed, a leading `/` dropped (every pattern is anchored at the root).
* moby/patternmatcher: `*`/`?` never cross `/`, `**` spans directories, the last matching
  pattern wins, `!` re-includes, and a pattern matching a parent directory matches its contents.
* tonistiigi/fsutil `filter.go`: the walk hands each entry its parent's per-pattern results, and
  skips an excluded directory unless a `!` pattern could reach inside it (a `!` pattern with
  glob characters makes it walk every excluded directory).
`<Dockerfile>.dockerignore` next to the Dockerfile beats the context's `.dockerignore`. Excluded
`Dockerfile`/`.dockerignore` are not in the context (the frontend gets the Dockerfile apart).
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator import inputs, textfile
from orchestrator.errors import UserError

_ESCAPE = set(".+()|{}$")  # regexp specials that filepath.Match treats literally
_PREFIX_CHARS = set("*[]?^\\")  # fsutil: a `!` pattern with these cannot be a plain prefix


@dataclass(frozen=True)
class Pattern:
    text: str  # cleaned, without the leading `!`
    exclusion: bool  # a `!` line: re-includes what earlier lines excluded
    line: int  # 1-based line in the ignore file
    kind: str  # exact | prefix | suffix | regexp, as patternmatcher compiles it
    regex: Glob | None
    raw: str = ""  # the line as written (trimmed), for messages

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self.regex is not None and self.regex.match(path)

    @property
    def source(self) -> str:
        return self.raw or ("!" if self.exclusion else "") + self.text


def _clean(path: str) -> str:
    """Go's filepath.Clean (normpath keeps a POSIX `//` prefix; Go does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _compile(text: str, exclusion: bool, line: int, raw: str = "") -> Pattern:
    regex, kind, i = "^", "exact", 0
    while i < len(text):
        ch = text[i]
        if ch == "*" and text[i + 1 : i + 2] == "*":
            i += 2
            if text[i : i + 1] == "/":
                i += 1  # `**/` is `**`
            if i >= len(text):
                regex, kind = (regex, "prefix") if kind == "exact" else (regex + ".*", "regexp")
            else:
                regex, kind = regex + "(.*/)?", "regexp"
            if regex in ("^", "^(.*/)?"):  # `**` opened the pattern
                kind = "suffix"
            continue
        if ch == "*":
            regex, kind = regex + "[^/]*", "regexp"
        elif ch == "?":
            regex, kind = regex + "[^/]", "regexp"
        elif ch in _ESCAPE:
            regex += "\\" + ch
        elif ch == "\\":
            if i + 1 < len(text):
                regex, kind = regex + "\\" + text[i + 1], "regexp"
                i += 1
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex, kind = regex + ch, "regexp"
        else:
            regex += ch  # as Go does: a stray `^` stays an anchor and never matches
        i += 1
    compiled = None
    if kind == "regexp":
        try:
            compiled = Glob(regex)
        except ValueError as exc:
            raise UserError(
                f".dockerignore:{line}: bad pattern {text!r}: {exc} (BuildKit refuses it too)"
            ) from None
    return Pattern(text, exclusion, line, kind, compiled, raw)


# Tokens of a compiled pattern. patternmatcher turns a pattern into a Go regexp, which runs in
# linear time; Python's `re` backtracks (`a*a*...b` against `aaaa...` took minutes). So the
# regexp text built above is read back into these tokens and run as an NFA: every position of
# the path is visited once per token, whatever the pattern.
_LIT, _CLASS, _STAR, _ANY, _DIRS, _NEVER = range(6)
Token = tuple[int, str, bool]  # kind, characters (literal or class members), negated
_CACHE = 4096


class Glob:
    """The regexp subset `_compile` writes (`^`, literals, `\\x`, `[^/]*`, `[^/]`, `[...]`, `.*`,
    `(.*/)?`), anchored at both ends, matched by simulating all positions at once."""

    def __init__(self, regex: str) -> None:
        self.tokens = _tokens(regex)
        self._start = frozenset(self._closure({0}))
        # Transitions already worked out (a DFA built lazily): paths repeat their characters,
        # so most steps are one dict lookup. Bounded: cleared when it grows past _CACHE.
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def match(self, path: str) -> bool:
        states = self._start
        steps = self._steps
        for ch in path:
            key = (states, ch)
            nxt = steps.get(key)
            if nxt is None:
                if len(steps) > _CACHE:
                    steps.clear()
                nxt = steps[key] = self._step(states, ch)
            if not nxt:
                return False
            states = nxt
        return len(self.tokens) in states

    def _step(self, states: frozenset[int], ch: str) -> frozenset[int]:
        tokens = self.tokens
        nxt: set[int] = set()
        for i in states:
            if i == len(tokens):
                continue
            kind, chars, negated = tokens[i]
            if (kind == _LIT and ch == chars) or (kind == _CLASS and (ch in chars) != negated):
                nxt.add(i + 1)
            elif (kind == _STAR and ch != "/") or kind == _ANY:
                nxt.add(i)
        return frozenset(self._closure(nxt))

    def _closure(self, states: set[int]) -> set[int]:
        out, todo = set(states), list(states)
        while todo:
            i = todo.pop()
            kind = self.tokens[i][0] if i < len(self.tokens) else None
            # `*` and `.*` may match nothing; `(.*/)?` (a _DIRS marker, then `.*` and `/`)
            # may be entered or skipped whole.
            skips = [i + 1] if kind in (_STAR, _ANY) else [i + 1, i + 3] if kind == _DIRS else []
            for j in skips:
                if j not in out:
                    out.add(j)
                    todo.append(j)
        return out


def _tokens(regex: str) -> list[Token]:
    out: list[Token] = []
    i, n = 1, len(regex)  # regex[0] is the anchor `^`
    while i < n:
        for text, token in (
            ("[^/]*", (_STAR, "", False)),
            ("[^/]", (_CLASS, "/", True)),
            ("(.*/)?", (_DIRS, "", False)),  # followed by .* and / (see below)
            (".*", (_ANY, "", False)),
        ):
            if regex.startswith(text, i):
                out.append(token)
                if token[0] == _DIRS:
                    out += [(_ANY, "", False), (_LIT, "/", False)]
                i += len(text)
                break
        else:
            ch = regex[i]
            if ch == "\\" and i + 1 < n:
                out.append((_LIT, regex[i + 1], False))
                i += 2
            elif ch == "[":
                token, i = _class(regex, i)
                out.append(token)
            elif ch == "^":  # an anchor after the start never matches, as in Go
                out.append((_NEVER, "", False))
                i += 1
            elif ch == "]":
                out.append((_LIT, ch, False))
                i += 1
            else:
                out.append((_LIT, ch, False))
                i += 1
    return out


def _class(regex: str, i: int) -> tuple[Token, int]:
    """`[...]` at regex[i]: members (ranges expanded lazily as a set), negation, next index."""
    j = i + 1
    negated = regex.startswith("^", j)
    j += negated
    members: list[str] = []
    first = True
    while True:
        if j >= len(regex):
            raise ValueError("missing closing ]")
        ch = regex[j]
        if ch == "]" and not first:
            return (_CLASS, "".join(members), negated), j + 1
        first = False
        if ch == "\\" and j + 1 < len(regex):
            ch = regex[j + 1]
            j += 1
        if regex.startswith("-", j + 1) and j + 2 < len(regex) and regex[j + 2] != "]":
            high = regex[j + 2]
            if high == "\\" and j + 3 < len(regex):
                high = regex[j + 3]
                j += 1
            if ord(high) < ord(ch):
                raise ValueError(f"invalid character class range {ch}-{high}")
            members.extend(chr(c) for c in range(ord(ch), min(ord(high), ord(ch) + 0x10000) + 1))
            j += 3
            continue
        members.append(ch)
        j += 1


# By text: the services of a monorepo mostly share one ignore file's text, and compiling its
# patterns (Glob) costs more than listing a small context. The patterns are immutable (a Glob
# only adds to its own table of worked-out steps), so one answer serves every context.
@functools.lru_cache(maxsize=256)
def parse_ignore(text: str) -> tuple[Pattern, ...]:
    patterns: list[Pattern] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if raw.startswith("#"):  # only column 1: " # x" is a pattern, as in BuildKit
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        body = line[1:].strip() if exclusion else line
        if body:
            body = _clean(body)
            body = body[1:] if len(body) > 1 and body.startswith("/") else body
        elif exclusion:
            raise UserError(f".dockerignore:{number}: illegal exclusion pattern '!'")
        patterns.append(_compile(body, exclusion, number, line))
    return tuple(patterns)


@dataclass(frozen=True)
class IgnoreFile:
    path: Path | None  # None: no ignore file, everything is sent
    patterns: tuple[Pattern, ...]


def read_ignore(context_dir: Path, dockerfile_path: Path | None = None) -> IgnoreFile:
    candidates = [Path(f"{dockerfile_path}.dockerignore")] if dockerfile_path else []
    for path in [*candidates, context_dir / ".dockerignore"]:
        inputs.note(path)  # for the check memo, like every entry the listing looks at
        if path.exists():  # a directory or FIFO of that name is refused, not passed over
            return IgnoreFile(path, parse_ignore(textfile.read(path, "ignore file")))
    return IgnoreFile(None, ())


MatchInfo = tuple[bool, ...]
# The line number of the pattern `leave_out` adds: no line of the user's ignore file.
LEFT_OUT = 0


def _patterns(ignore: IgnoreFile, leave_out: str | None) -> tuple[Pattern, ...]:
    """The ignore file's patterns, plus a last one excluding `leave_out` (a directory relative
    to the context) when given: what build sends for a target it keeps this tool's directory
    away from (scratch.py), so listings and --explain say what BuildKit really gets."""
    if leave_out is None:
        return ignore.patterns
    return (*ignore.patterns, _compile(leave_out, False, LEFT_OUT, leave_out))


class Matcher:
    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.patterns = patterns
        exceptions = [p for p in patterns if p.exclusion]
        self._exception_prefixes = [_without_trailing_glob(p.text) + "/" for p in exceptions]
        self._walk_all = any(
            set(prefix[:-1]) & _PREFIX_CHARS for prefix in self._exception_prefixes
        )

    def match(self, path: str, parent: MatchInfo = ()) -> tuple[bool, MatchInfo, Pattern | None]:
        """patternmatcher.MatchesUsingParentResults, plus the pattern that decided."""
        matched, decided, info = False, None, []
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pattern.exclusion != matched:  # cannot change the outcome: not evaluated
                    info.append(False)
                    continue
                hit = pattern.matches(path)
                if not hit and not parent:  # no walk state: try every parent directory
                    parts = path.split("/")[:-1]
                    hit = any(pattern.matches("/".join(parts[: k + 1])) for k in range(len(parts)))
            info.append(hit)
            if hit:
                matched, decided = not pattern.exclusion, pattern
        return matched, tuple(info), decided

    def enters(self, directory: str) -> bool:
        """Does the walk descend into an excluded directory (fsutil's SkipDir shortcut)?"""
        if self._walk_all:
            return True
        return any(prefix.startswith(directory + "/") for prefix in self._exception_prefixes)

    def skips(self, directory: str, excluded: bool) -> bool:
        """Is `directory` (`excluded` by the patterns, as match() said) left unread by the
        walk, with everything in it (fsutil's SkipDir)? Nothing inside can then be sent."""
        return excluded and not self.enters(directory)


def _without_trailing_glob(text: str) -> str:
    return text.removesuffix("/**").removesuffix("/*")


@dataclass(frozen=True)
class ContextListing:
    root: Path
    ignore_file: Path | None
    files: tuple[str, ...]  # everything not a directory (symlinks included), sorted
    dirs: tuple[str, ...]  # directories sent (empty ones too, and parents of sent files)
    total_bytes: int
    largest: tuple[tuple[str, int], ...]  # top 10 by size
    sensitive: tuple[str, ...]


def list_context(
    context_dir: Path,
    dockerfile_path: Path | None = None,
    *,
    top: int = 10,
    leave_out: str | None = None,
) -> ContextListing:
    ignore = read_ignore(context_dir, dockerfile_path)
    matcher = Matcher(_patterns(ignore, leave_out))
    files: dict[str, int] = {}
    dirs: set[str] = set()

    # A stack, not recursion: a context 1,300 directories deep is still only a walk.
    pending: list[tuple[str, str, MatchInfo]] = [(str(context_dir), "", ())]
    while pending:
        abs_dir, rel_dir, parent = pending.pop()
        inputs.note(abs_dir)  # its mtime moves when an entry is added, removed or renamed
        try:
            with os.scandir(abs_dir) as found:
                entries = sorted(found, key=lambda e: e.name)
        except OSError:  # unreadable, or gone since its parent was listed
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                info_stat = entry.stat(follow_symlinks=False)
            except OSError:  # vanished during the walk (a /proc entry, a temp file)
                continue
            kind = stat.S_IFMT(info_stat.st_mode)
            if kind not in (stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK):
                continue  # sockets, FIFOs and devices: not build context material
            is_dir = kind == stat.S_IFDIR
            excluded, info, _ = matcher.match(rel, parent)
            if not excluded:
                # Its size is in the listing (an excluded entry coming or going changes the
                # mtime of its directory, noted above; what git does inside .git changes nothing).
                inputs.note(entry.path)
                # A sent entry brings its (possibly excluded) parent directories along.
                _add_parents(rel, dirs)
                if is_dir:
                    dirs.add(rel)
                else:
                    files[rel] = info_stat.st_size
            if is_dir and not matcher.skips(rel, excluded):
                pending.append((entry.path, rel, info))
    largest = sorted(files.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ContextListing(
        root=context_dir,
        ignore_file=ignore.path,
        files=tuple(sorted(files)),
        dirs=tuple(sorted(dirs)),
        total_bytes=sum(files.values()),
        largest=tuple(largest),
        sensitive=sensitive_paths([*files, *dirs]),
    )


def _add_parents(rel: str, dirs: set[str]) -> None:
    """Add the parent directories of `rel`, stopping at the first one already there (all of
    its own parents are then there too): linear, where adding every parent of every entry
    was quadratic in the depth."""
    cut = rel.rfind("/")
    while cut > 0:
        parent = rel[:cut]
        if parent in dirs:
            return
        dirs.add(parent)
        cut = rel.rfind("/", 0, cut)


# What must never reach a builder: credentials by name, private keys, VCS history.
_SENSITIVE_NAME = re.compile(
    r"^(\.env(\..+)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|id_(rsa|dsa|ecdsa|ed25519)|\.netrc|\.npmrc"
    r"|\.pypirc|\.git-credentials|credentials\.json|.*\.tfstate(\.backup)?|\.htpasswd)$"
)
_HARMLESS_ENV = re.compile(r"^\.env\.(example|sample|template|dist|defaults)$")
_SENSITIVE_PATH = re.compile(
    r"(^|/)(\.git|\.ssh|\.aws/credentials|\.aws/config|\.docker/config\.json|\.kube/config"
    r"|\.config/gcloud|gcloud/application_default_credentials\.json)$"
)


def sensitive_paths(paths: list[str]) -> tuple[str, ...]:
    """Sensitive entries, a directory standing for everything under it (`.git/` once)."""
    hits = sorted(p for p in paths if _is_sensitive(p))
    out: list[str] = []
    for path in hits:
        if not any(path.startswith(kept + "/") for kept in out):
            out.append(path)
    return tuple(out)


def _is_sensitive(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    if _SENSITIVE_PATH.search(path):
        return True
    return bool(_SENSITIVE_NAME.match(name)) and not _HARMLESS_ENV.match(name)


def _decide(matcher: Matcher, rel: str) -> tuple[bool, Pattern | None, str | None]:
    """(excluded, the deciding pattern, the excluded directory that hides it or None) for the
    relative path `rel`, walked from the top as BuildKit walks the context."""
    info: MatchInfo = ()
    parts = rel.split("/")
    for k in range(1, len(parts) + 1):
        current = "/".join(parts[:k])
        excluded, info, decided = matcher.match(current, info)
        if decided and k < len(parts) and matcher.skips(current, excluded):
            return True, decided, current
        if k == len(parts):
            return excluded, decided, None
    raise AssertionError("unreachable")  # pragma: no cover


def sends_any(context_dir: Path, rels: Iterable[str], dockerfile_path: Path | None = None) -> bool:
    """Would BuildKit send any of `rels` (relative to the context, existing or not)? The
    ignore file is read once for all of them."""
    matcher = Matcher(read_ignore(context_dir, dockerfile_path).patterns)
    return any(not _decide(matcher, rel)[0] for rel in rels)


def explain(
    context_dir: Path,
    path: str,
    dockerfile_path: Path | None = None,
    *,
    leave_out: str | None = None,
) -> str:
    """Whether `path` (relative to the context) is sent, and the .dockerignore line that decides
    (`leave_out`: see _patterns)."""
    ignore = read_ignore(context_dir, dockerfile_path)
    rel = _clean(path.replace(os.sep, "/")).lstrip("/")
    if rel in (".", "") or rel.startswith("../"):
        raise UserError(f"--explain {path}: not a path inside the context {context_dir}")
    where = f"{ignore.path.name}" if ignore.path else ".dockerignore"
    excluded, decided, directory = _decide(Matcher(_patterns(ignore, leave_out)), rel)
    if decided is not None and decided.line == LEFT_OUT:
        return (
            f"{rel}: excluded: {leave_out}/ is this tool's own directory, which build leaves "
            "out of the context (a copy of the Dockerfile with its own ignore file)"
        )
    if ignore.path is None:
        return f"{rel}: sent (no .dockerignore in {context_dir})"
    if directory is not None and decided is not None:
        return (
            f"{rel}: excluded: its directory {directory}/ is excluded by {where}:{decided.line} "
            f"`{decided.source}` and no `!` line can re-include anything inside it"
        )
    if decided is None:
        return f"{rel}: sent (no line of {where} matches it)"
    via = "" if decided.matches(rel) else " (through a parent directory)"
    verdict = "excluded" if excluded else "sent, re-included"
    return f"{rel}: {verdict} by {where}:{decided.line} `{decided.source}`{via}"
