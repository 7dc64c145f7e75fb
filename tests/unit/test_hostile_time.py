"""Issue 16, hangs: .dockerignore matching runs in linear time, with BuildKit's semantics."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.buildcontext import Glob, Matcher, parse_ignore
from orchestrator.errors import UserError


def test_a_backtracking_pattern_is_answered_at_once() -> None:
    pattern = "a*" * 30 + "b"  # 61 bytes: Python's re took minutes on 40 a's
    (compiled,) = parse_ignore(pattern)
    started = time.monotonic()
    assert not compiled.matches("a" * 40)
    assert compiled.matches("a" * 40 + "b")
    assert time.monotonic() - started < 1


def test_many_patterns_against_a_long_name_stay_fast() -> None:
    matcher = Matcher(parse_ignore("\n".join(["*a*a*a*a*a*b", "**/x*y*z*q", "!c*d*e*f"] * 20)))
    started = time.monotonic()
    for _ in range(50):
        matcher.match("a" * 200 + "/" + "x" * 200)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("pattern", ["[", "a[b", "[z-a]", "x/[^"])
def test_a_broken_character_class_is_one_line(pattern: str) -> None:
    with pytest.raises(UserError, match=r"\.dockerignore:1: bad pattern .*BuildKit refuses"):
        parse_ignore(pattern)


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("[abc]x", "bx", True),
        ("[^abc]x", "dx", True),
        ("[^abc]x", "ax", False),
        ("[a-c]*", "cat", True),
        ("[]]", "]", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/bb", False),
        ("**/*.go", "x/y/z.go", True),
        ("a?c", "a/c", False),
        ("x\\*y", "x*y", True),
        ("x\\*y", "xzy", False),
    ],
)
def test_classes_and_globs_as_patternmatcher_reads_them(pattern: str, path: str, hit: bool) -> None:
    (compiled,) = parse_ignore(pattern)
    assert compiled.matches(path) is hit


@settings(max_examples=400, derandomize=True, database=None)
@given(
    st.lists(st.sampled_from(["a", "b", "/", "*", "?", "**", "[ab]", "[^a]", "."]), max_size=8),
    st.text(alphabet="ab/.", max_size=10),
)
def test_the_automaton_agrees_with_a_regexp_engine(parts: list[str], path: str) -> None:
    (compiled,) = parse_ignore("".join(parts) or "a")
    if compiled.kind != "regexp" or compiled.regex is None:
        return
    regex = _regex_of(compiled.regex)
    assert compiled.regex.match(path) == (re.fullmatch(regex, path, re.DOTALL) is not None)


def _regex_of(glob: Glob) -> str:
    """The tokens back as a Python regexp (small inputs only: this one may backtrack)."""
    out = []
    for kind, chars, negated in glob.tokens:
        if kind == 0:
            out.append(re.escape(chars))
        elif kind == 1:
            body = "".join(re.escape(c) for c in chars)
            out.append(f"[{'^' if negated else ''}{body}]")
        elif kind == 2:
            out.append("[^/]*")
        elif kind == 3:
            out.append(".*")
        elif kind == 4:
            out.append("(?:(?=)")  # opens the optional (.*/) group closed after its '/'
        else:
            out.append("(?!)")
    text = "".join(out)
    # `(.*/)?` was tokenised as marker, `.*`, `/`: rebuild the group.
    return text.replace("(?:(?=).*/", "(?:.*/)?")
