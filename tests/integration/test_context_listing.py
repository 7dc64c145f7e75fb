"""The context file set we compute equals what the real BuildKit sends.

Each case writes a tree and a tricky .dockerignore, builds `FROM scratch` + `COPY . /` with
`--output type=local`, and compares the exported tree (files, symlinks, and directories, empty
ones included) with `buildcontext.list_context`. No container runs; the export is the context.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from orchestrator.buildcontext import list_context
from tests.conftest import Engine

TREE = [
    "README.md", "README-secret.md", "CHANGELOG.md", "docs/guide.md", "docs/img/a.png",
    "docsite/index.html", "foo", "sub/foo", "bar", "sub/bar", "baz", "temp", "tempa",
    "somedir/temporary.txt", "somedir/sub/temp.txt", "build/out.bin", "build/keep.txt",
    "dist/app", "dist/keep.txt", "src/main.go", "src/main_test.go", "src/pkg/util.go",
    "src/pkg/util_test.go", "go.mod", "go.sum", "logs/a.log", "logs/x.keep", "logs/deep/y.keep",
    "keep/x/important.log", "keep/x/other.log", "node_modules/m/index.js",
    "web/node_modules/n/index.js", "web/app.js", "a/b", "a/x/y/b", "a/x/bb", "barfoo",
    "file1.txt", "fileA.txt", "spaced.txt", "#notcomment", "*star", ".env", ".git/HEAD",
    "vendor/keep/k.go", "vendor/drop/d.go",
]  # fmt: skip
EMPTY_DIRS = ["emptydir", "build/emptysub"]
SYMLINKS = {"link-to-src": "src", "link-file": "go.mod"}

CASES = {
    "negation-then-exclusion": "*.md\n!README*.md\nREADME-secret.md\n",
    "exclusion-then-negation": "*.md\nREADME-secret.md\n!README*.md\n",
    "double-star": "**/*.log\n**/node_modules\n!keep/**/important.log\na/**/b\n",
    "root-anchoring": "foo\n/bar\n./baz\n*/temp*\nsrc/pkg/\n",
    "directories": "build/\ndist\n!dist/keep.txt\nemptydir\n",
    "allowlist": "*\n!src/\n!go.mod\n**/*_test.go\n",
    "glob-re-include-walks-excluded-dirs": "logs\n!logs/*.keep\n!logs/**/*.keep\n",
    "prefix-and-suffix-quirks": "docs**\n**foo\n",
    "comments-spaces-classes": "# comment\n #notcomment\n  spaced.txt  \nfile[0-9].txt\ntemp?\n",
    "escapes-and-cleaning": "\\*star\nsub/../baz\n.//foo\nvendor/*\n!vendor/keep\n",
    "everything-but-go": "**\n!**/*.go\n",
    "symlinks-and-dotfiles": "link-*\n.git\n!.env\n",
    # `!src` is skipped while walking src/ (nothing excluded it yet), so it is not inherited:
    # src/main.go stays excluded by `**/*.go`, unlike a per-path "last match wins" reading.
    "negation-not-inherited": "**/*.go\n!src\n",
}

# A pool of patterns over TREE's names for seeded random .dockerignore files.
POOL = [
    "*", "**", "*.md", "**/*.go", "src", "!src", "src/pkg", "!src/pkg/util.go", "docs/",
    "!docs/img", "**/keep*", "!**/*.keep", "logs/*", "a/**/b", "temp?", "/foo", "sub/*",
    "!sub/foo", "**/node_modules", "!web/**", "build", "!build/keep.txt", "*/temp*", "*.txt",
    "!file?.txt", "vendor", "!vendor/keep/k.go", "!*.md", "keep", "!keep/x", "**/x", ".*",
    "!go.*", "web/*.js", "emptydir", "!build/emptysub", "dist/**", "!dist", "link-to-src",
]  # fmt: skip


def _write_tree(root: Path) -> None:
    for name in TREE:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n" * (len(name) % 5 + 1))
    for name in EMPTY_DIRS:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name, target in SYMLINKS.items():
        (root / name).symlink_to(target)


def _exported(out: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    files: list[str] = []
    dirs: list[str] = []

    def walk(path: Path, rel: str) -> None:
        for entry in os.scandir(path):
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                dirs.append(name)
                walk(Path(entry.path), name)
            else:
                files.append(name)

    walk(out, "")
    return tuple(sorted(files)), tuple(sorted(dirs))


def _compare(
    engine: Engine, tmp_path: Path, ignore: str, *, dockerfile_inside: bool = False
) -> None:
    ctx = tmp_path / "ctx"
    _write_tree(ctx)
    (ctx / ".dockerignore").write_text(ignore)
    df_dir = ctx if dockerfile_inside else tmp_path / "df"
    df_dir.mkdir(exist_ok=True)
    dockerfile = df_dir / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY . /\n")
    out = tmp_path / "out"
    engine.run(
        "docker", "buildx", "build", "--progress=plain", "-f", str(dockerfile),
        "--output", f"type=local,dest={out}", str(ctx),
    )  # fmt: skip
    listing = list_context(ctx, dockerfile)
    assert (listing.files, listing.dirs) == _exported(out), ignore


@pytest.mark.parametrize("ignore", list(CASES.values()), ids=list(CASES))
def test_listing_matches_buildkit(engine: Engine, tmp_path: Path, ignore: str) -> None:
    _compare(engine, tmp_path, ignore)


@pytest.mark.parametrize("ignore", ["Dockerfile\n.dockerignore\n", "*.tmp\n"])
def test_dockerfile_and_dockerignore_in_the_context(
    engine: Engine, tmp_path: Path, ignore: str
) -> None:
    # Listed: BuildKit leaves them out of the context (it reads the Dockerfile separately).
    # Not listed: both are ordinary context files and `COPY .` copies them.
    _compare(engine, tmp_path, ignore, dockerfile_inside=True)


def test_dockerfile_specific_ignore_file_wins(engine: Engine, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    _write_tree(ctx)
    (ctx / ".dockerignore").write_text("docs\n")
    df_dir = tmp_path / "df"
    df_dir.mkdir()
    dockerfile = df_dir / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY . /\n")
    (df_dir / "app.Dockerfile.dockerignore").write_text("src\n")
    out = tmp_path / "out"
    engine.run(
        "docker", "buildx", "build", "--progress=plain", "-f", str(dockerfile),
        "--output", f"type=local,dest={out}", str(ctx),
    )  # fmt: skip
    listing = list_context(ctx, dockerfile)
    assert "docs/guide.md" in listing.files
    assert not any(f.startswith("src/") for f in listing.files)
    assert (listing.files, listing.dirs) == _exported(out)


@pytest.mark.parametrize("seed", range(16))
def test_random_ignore_files_match_buildkit(engine: Engine, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography
    ignore = "\n".join(rng.sample(POOL, rng.randint(1, 7))) + "\n"
    _compare(engine, tmp_path, ignore)
