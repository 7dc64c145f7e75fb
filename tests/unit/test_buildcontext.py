""".dockerignore as BuildKit reads it (not as git does), the listing, and --explain.

The integration test (tests/integration/test_context_listing.py) holds these against the real
BuildKit; here they are fast and name each rule of the semantics.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.buildcontext import Matcher, explain, list_context, parse_ignore
from orchestrator.errors import UserError


def is_sent(ignore: str, path: str) -> bool:
    """Walk to `path` as fsutil does: parent results flow down, skipped dirs end the walk."""
    matcher = Matcher(parse_ignore(ignore))
    info: tuple[bool, ...] = ()
    parts = path.split("/")
    excluded = False
    for k in range(1, len(parts) + 1):
        current = "/".join(parts[:k])
        excluded, info, _ = matcher.match(current, info)
        if k < len(parts) and excluded and not matcher.enters(current):
            return False
    return not excluded


SEMANTICS = [
    # (why, .dockerignore, path, sent?)
    ("plain names are anchored at the root", "foo", "foo", False),
    ("... unlike .gitignore, not at any depth", "foo", "sub/foo", True),
    ("a leading / changes nothing", "/foo", "foo", False),
    ("./ is cleaned away", "./foo", "foo", False),
    ("a/../b is cleaned to b", "a/../b", "b", False),
    ("a trailing / is cleaned away; the dir takes its contents", "foo/", "foo/bar/baz", False),
    ("* does not cross /", "*.md", "docs/a.md", True),
    ("* matches at the root", "*.md", "a.md", False),
    ("**/ spans any number of dirs", "**/*.md", "a/b/c.md", False),
    ("**/ spans zero dirs", "**/*.md", "c.md", False),
    ("a/**/b matches a/b", "a/**/b", "a/b", False),
    ("a/**/b matches deep", "a/**/b", "a/x/y/b", False),
    ("a/**/b needs the whole name", "a/**/b", "a/x/bb", True),
    ("trailing ** is a string prefix (docs** takes docsite)", "docs**", "docsite/x", False),
    ("leading ** is a string suffix", "**foo", "barfoo", False),
    ("** alone matches everything", "**", "any/path/at/all", False),
    ("*/temp* one level down", "*/temp*", "somedir/temporary.txt", False),
    ("*/temp* not at the root", "*/temp*", "temp", True),
    ("? is one character", "temp?", "tempa", False),
    ("? is exactly one", "temp?", "temp", True),
    ("character classes", "file[0-9].txt", "file5.txt", False),
    ("character classes exclude others", "file[0-9].txt", "fileA.txt", True),
    ("backslash escapes", "\\*star", "*star", False),
    ("matching is case-sensitive", "*.MD", "x.md", True),
    ("a pattern matching the parent dir takes the file", "dir/*", "dir/sub/file", False),
    ("! re-includes", "*.md\n!README.md", "README.md", True),
    (
        "last match wins (docs example 1)",
        "*.md\n!README*.md\nREADME-secret.md",
        "README-secret.md",
        False,
    ),
    (
        "last match wins (docs example 2)",
        "*.md\nREADME-secret.md\n!README*.md",
        "README-secret.md",
        True,
    ),
    ("allowlist: * then !dir", "*\n!src", "src/a/b.go", True),
    ("allowlist keeps out the rest", "*\n!src", "other/x", False),
    ("allowlist, then re-excluded inside", "*\n!src/\n**/*_test.go", "src/x_test.go", False),
    ("re-include one file in an excluded dir", "build\n!build/keep.txt", "build/keep.txt", True),
    ("... and only that file", "build\n!build/keep.txt", "build/other", False),
    ("re-include a subtree", "logs\n!logs/keep", "logs/keep/deep.txt", True),
    ("glob re-include reaches inside", "logs\n!logs/*.keep", "logs/x.keep", True),
    # fsutil hands a dir's per-pattern results to its entries; `!src` was never evaluated for
    # src/ (nothing had excluded it), so its files are not re-included through it.
    ("a ! that src/ did not need is not inherited", "**/*.go\n!src", "src/main.go", False),
    ("... while a direct match still re-includes", "**/*.go\n!src/main.go", "src/main.go", True),
    ("# starts a comment only in column 1", " # not a comment", "# not a comment", False),
    ("comments are ignored", "#comment", "#comment", True),
    ("surrounding spaces are trimmed", "  spaced.txt  ", "spaced.txt", False),
]


@pytest.mark.parametrize(
    ("ignore", "path", "sent"),
    [case[1:] for case in SEMANTICS],
    ids=[case[0] for case in SEMANTICS],
)
def test_dockerignore_semantics(ignore: str, path: str, sent: bool) -> None:
    assert is_sent(ignore, path) is sent


def test_bom_blank_lines_and_line_numbers() -> None:
    patterns = parse_ignore("\ufeff# header\n\nfoo\n  \n!bar/\n")
    assert [(p.text, p.exclusion, p.line) for p in patterns] == [
        ("foo", False, 3),
        ("bar", True, 5),
    ]
    assert patterns[1].source == "!bar/"  # messages quote the line as written


@pytest.mark.parametrize("bad", ["!", "  !  ", "[unclosed"])
def test_invalid_patterns_are_user_errors(bad: str) -> None:
    with pytest.raises(UserError):
        parse_ignore(bad)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def test_listing_files_dirs_bytes_and_largest(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "Dockerfile": "FROM scratch\n",
            ".dockerignore": "build\n!build/keep.txt\nDockerfile\n*.log\n",
            "build/keep.txt": "k",
            "build/out.bin": "x" * 100,
            "src/main.go": "m" * 40,
            "src/big.go": "b" * 60,
            "empty/": "",
            "debug.log": "l" * 500,
        },
    )
    (tmp_path / "link").symlink_to("src/main.go")
    listing = list_context(tmp_path, tmp_path / "Dockerfile")
    # .dockerignore itself is sent unless listed; an excluded Dockerfile is not.
    assert listing.files == (".dockerignore", "build/keep.txt", "link", "src/big.go", "src/main.go")
    assert listing.dirs == ("build", "empty", "src")  # build: brought in by keep.txt
    sent = [tmp_path / f for f in listing.files]
    assert listing.total_bytes == sum(p.lstat().st_size for p in sent) == 39 + 1 + 11 + 60 + 40
    assert listing.largest[:2] == (("src/big.go", 60), ("src/main.go", 40))
    assert listing.ignore_file == tmp_path / ".dockerignore"


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".dockerignore": "a.txt\n",
            "build/prod.Dockerfile": "FROM scratch\n",
            "build/prod.Dockerfile.dockerignore": "b.txt\n",
            "a.txt": "",
            "b.txt": "",
        },
    )
    listing = list_context(tmp_path, tmp_path / "build" / "prod.Dockerfile")
    assert "a.txt" in listing.files
    assert "b.txt" not in listing.files
    assert listing.ignore_file == tmp_path / "build" / "prod.Dockerfile.dockerignore"


def test_sensitive_files_are_reported_once_per_directory(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".git/HEAD": "",
            ".git/objects/ab/cd": "",
            ".env": "",
            ".env.production": "",
            ".env.example": "",
            "keys/id_ed25519": "",
            "keys/id_ed25519.pub": "",
            "tls/server.pem": "",
            ".aws/credentials": "",
            "config/.npmrc": "",
            "main.go": "",
        },
    )
    listing = list_context(tmp_path)
    assert listing.sensitive == (
        ".aws/credentials",
        ".env",
        ".env.production",
        ".git",
        "config/.npmrc",
        "keys/id_ed25519",
        "tls/server.pem",
    )


def test_explain_names_the_deciding_line(tmp_path: Path) -> None:
    _tree(tmp_path, {".dockerignore": "# header\n*.md\n!README.md\nlogs\n!logs/keep\n"})
    assert explain(tmp_path, "x.md") == "x.md: excluded by .dockerignore:2 `*.md`"
    assert explain(tmp_path, "README.md") == (
        "README.md: sent, re-included by .dockerignore:3 `!README.md`"
    )
    assert explain(tmp_path, "logs/b.txt") == (
        "logs/b.txt: excluded by .dockerignore:4 `logs` (through a parent directory)"
    )
    # logs/ is walked (a `!` line reaches inside), logs/a/ is not: nothing there can return.
    assert explain(tmp_path, "logs/a/b.txt").startswith(
        "logs/a/b.txt: excluded: its directory logs/a/ is excluded by .dockerignore:4 `logs`"
    )
    assert explain(tmp_path, "logs/keep/x") == (
        "logs/keep/x: sent, re-included by .dockerignore:5 `!logs/keep` "
        "(through a parent directory)"
    )
    assert explain(tmp_path, "./src/main.go") == (
        "src/main.go: sent (no line of .dockerignore matches it)"
    )


def test_explain_a_skipped_directory_and_no_ignore_file(tmp_path: Path) -> None:
    _tree(tmp_path, {"ctx/.dockerignore": "vendor\n"})
    ctx = tmp_path / "ctx"
    assert "its directory vendor/ is excluded by .dockerignore:1 `vendor`" in explain(
        ctx, "vendor/x/y.go"
    )
    assert explain(tmp_path, "a") == f"a: sent (no .dockerignore in {tmp_path})"
    with pytest.raises(UserError, match="not a path inside the context"):
        explain(ctx, "../outside")
