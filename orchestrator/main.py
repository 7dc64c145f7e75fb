"""Command-line entry point: parse arguments and dispatch; every command returns an exit code."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from pathlib import Path

from orchestrator import __version__
from orchestrator.errors import error_handler

DESCRIPTION = """\
Build container images from builds.yaml with docker buildx.

  orchestrator plan production            what would run (no daemon needed)
  orchestrator plan --format bake > p.json && docker buildx bake -f p.json --print
  orchestrator build production           check, build, push, report
  orchestrator build --var VERSION=1.2.3  override a variable derived from git
  orchestrator build --set production.platforms=linux/amd64
  orchestrator pin && orchestrator pin --check   lock base images to digests
  orchestrator check production           the Dockerfile practices, for this target

Exit codes: 0 ok, 1 build failed, 2 bad manifest or usage (nothing ran), 3 bug, 130 interrupted.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        type=Path,
        default=Path("builds.yaml"),
        metavar="PATH",
        help="the manifest (default: ./builds.yaml)",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable, beating git, builds.yaml and the environment (repeatable)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="TARGET.KEY=VALUE",
        help="override a target field like bake --set; TARGET may be '*' (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("plan", help="print the resolved plan; runs nothing")
    _common(p)
    p.add_argument("targets", nargs="*", metavar="TARGET|GROUP")
    p.add_argument(
        "--format",
        choices=("text", "json", "bake"),
        default="text",
        help="text for people; json with each target's exact buildx argv; "
        "bake: a definition for `docker buildx bake -f`",
    )

    b = sub.add_parser("build", help="check, build and push the targets; write a report")
    _common(b)
    b.add_argument("targets", nargs="*", metavar="TARGET|GROUP")
    b.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write the JSON report here (default: .orchestrator/report.json)",
    )
    b.add_argument(
        "--ci",
        action="store_true",
        help="plain progress lines, JSON report, GitHub outputs/summary (automatic when CI=true)",
    )
    b.add_argument("--skip-checks", action="store_true", help="do not run `check` first")
    b.add_argument(
        "--verify-reproducible",
        action="store_true",
        help="build twice without cache and compare digests before tagging "
        "(targets need `reproducible: true`)",
    )
    b.add_argument("--builder", metavar="NAME", help="buildx builder to use")
    b.add_argument(
        "--allow-secret-args",
        action="store_true",
        help="accept build args that look like secrets (they end up in the image "
        "history; use secrets: instead)",
    )

    s = sub.add_parser("schema", help="print the JSON Schema of builds.yaml (for editors)")
    s.add_argument("--output", type=Path, metavar="PATH", help="write to a file instead")

    # These modules register their own options; their heavy imports happen inside run().
    from orchestrator.commands import check, pin, release

    pin.add_parser(sub, _common)
    check.add_parser(sub, _common)
    release.add_parser(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    with error_handler(Path(".orchestrator")) as code:
        args = parser.parse_args(argv)
        code[0] = _dispatch(args)
    return code[0]


def _dispatch(args: argparse.Namespace) -> int:
    # Each command module is imported on demand, so `plan` never pays for docker libraries.
    module = importlib.import_module(f"orchestrator.commands.{args.command}")
    code: int = module.run(args)
    return code
