"""The stages we say a target builds are the ones the real BuildKit builds.

Each stage is `FROM scratch` plus a COPY of its own marker file, and the target stage is chosen
through ARG expansion (platform ARGs, `${X:-w}`, `${X:+w}`, `${X-w}`, `${X%%p}`, defaults that
expand earlier ARGs). The exported image holds the markers of its final chain; they must be the
markers of the chain `checks.final_chain` computes, on every platform. No RUN, nothing pulled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import dockerfile
from orchestrator.checks import final_chain
from tests.conftest import Engine
from tests.unit.test_checks_rules import make_target

STAGES = [
    "m-amd64",
    "m-arm64",
    "release-install",
    "git-install",
    "debug-yes",
    "s",
    "sw",
    "m-a",
    "m-b",
]


def _dockerfile(select: str, preamble: str = "") -> str:
    body = "".join(f"FROM scratch AS {name}\nCOPY {name}.txt /{name}\n" for name in STAGES)
    return f"{preamble}{body}FROM {select} AS production\n"


CASES = {
    "platform-arg": ("m-$TARGETARCH", "", {}, ["linux/amd64", "linux/arm64"]),
    "default-unset": ("${SRC:-release}-install", "ARG SRC\n", {}, []),
    "default-given": ("${SRC:-release}-install", "ARG SRC\n", {"SRC": "git"}, []),
    "alternate-set": ("debug-${WITH:+yes}", "ARG WITH\n", {"WITH": "1"}, []),
    "alternate-unset-is-empty": ("s${WITH:+yes}", "ARG WITH\n", {}, []),
    "dash-without-colon-keeps-empty": ("s${X-w}", "ARG X=\n", {}, []),
    "colon-dash-replaces-empty": ("s${X:-w}", "ARG X=\n", {}, []),
    "default-expands-earlier-arg": ("${NAME}", "ARG V=a\nARG NAME=m-${V}\n", {"V": "b"}, []),
    "trim-longest-suffix": ("m-${V%%-*}", "ARG V=a-1-2\n", {}, []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_selected_stages_match_buildkit(engine: Engine, tmp_path: Path, case: str) -> None:
    select, preamble, args, platforms = CASES[case]
    assert isinstance(platforms, list)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name in STAGES:
        (ctx / f"{name}.txt").write_text(name)
    path = ctx / "Dockerfile"
    path.write_text(_dockerfile(select, preamble))
    out = tmp_path / "out"
    argv = ["docker", "buildx", "build", "--progress=plain", "--target", "production"]
    argv += [f"--build-arg={k}={v}" for k, v in args.items()]
    if platforms:
        argv += ["--platform", ",".join(platforms)]
    engine.run(*argv, "--output", f"type=local,dest={out}", str(ctx))

    parsed = dockerfile.parse(path.read_text(), path)
    target = make_target(parsed, platforms=platforms, args=args)
    each: list[str | None] = [*platforms] or [None]
    for platform in each:
        # A multi-platform local export has one directory per platform.
        where = out / platform.replace("/", "_") if platform and len(platforms) > 1 else out
        exported = sorted(p.name for p in where.iterdir())
        chain = final_chain(parsed, target, platform)
        expected = sorted(s.label for s in chain if s.name != "production")
        assert exported == expected, (case, platform)
        # And the stages the checks look at include exactly that chain.
        built = {s.label for s in parsed.stages_for("production", args, platform)}
        assert set(expected) <= built
