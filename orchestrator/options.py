"""Every command's options, in one light module: parsing `--help` or `plan` arguments never
imports the heavy modules a command needs only when it runs (docker libraries, the rules).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import __version__
from orchestrator.errors import stdout_guard

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

PUBLISH_DESCRIPTION = """\
Merge the parts of multi-platform targets, each built on its own runner, into one index.

    # one CI job per platform, each on a native runner:
    orchestrator build production --platform linux/amd64 --report amd64.json
    orchestrator build production --platform linux/arm64 --report arm64.json
    # then one job with both reports:
    orchestrator publish production --from amd64.json --from arm64.json

The index keeps every platform's attestation manifest; the release tags are attached by digest
only after it is complete. Refused, with nothing tagged: a missing platform, a platform in two
parts, parts of another commit, version or plan than each other or this checkout.
"""

PIN_DESCRIPTION = """\
Lock the base images the targets use to the digests their registry serves.

    orchestrator pin [TARGET|GROUP...]          add what builds.lock misses, drop what is unused
    orchestrator pin --check                    exit 1 when the lock is missing, unused or drifted
    orchestrator pin [TARGET...] --update [IMAGE...]   re-resolve all (or the named) images
    orchestrator pin --write                    also rewrite FROM/ARG lines to tag@digest

An image is resolved through its mirror (what the plan pulls), so the digest locked is the one
the build will ask BuildKit for. Plain `pin` never moves an existing pin: only `--update` does.
"""

DESCRIPTION = """\
Build container images from builds.yaml with docker buildx.

  orchestrator plan production            what would run (no daemon needed)
  orchestrator plan --format bake > p.json && docker buildx bake -f p.json --print
  orchestrator build production           check, build, push, report
  orchestrator build --var VERSION=1.2.3  override a variable derived from git
  orchestrator build --set production.platforms=linux/amd64
  orchestrator pin && orchestrator pin --check   lock base images to digests
  orchestrator check production           the Dockerfile practices, for this target
  orchestrator verify                     signatures, provenance, SBOMs of what was pushed
  orchestrator build production --platform linux/arm64   one platform: a part to publish
  orchestrator publish production --from amd64.json --from arm64.json

Exit codes: 0 ok, 1 build failed (or the result could not be written to stdout), 2 bad manifest
or usage (nothing ran), 3 bug, 130 interrupted.
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


class _Parser(argparse.ArgumentParser):
    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse drops any write error, so `--help > /dev/full` would "succeed" with nothing
        # written. Help and --version go to stdout: guard them like every other result. (With
        # fd 1 closed, argparse passes file=None, which it would quietly send to stderr.)
        if not message or (file is not sys.stdout and not (file is None and sys.stdout is None)):
            super()._print_message(message, file)
            return
        with stdout_guard():
            print(message, end="", file=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    p.add_argument(
        "--list",
        action="store_true",
        help="print every target and group, a line each (`target NAME`, `group NAME: MEMBERS`; "
        "a matrix's expansions by name), and stop",
    )

    b = sub.add_parser("build", help="check, build and push the targets; write a report")
    _common(b)
    b.add_argument("targets", nargs="*", metavar="TARGET|GROUP")
    _build_flags(b)
    b.add_argument("--skip-checks", action="store_true", help="do not run `check` first")
    b.add_argument(
        "--allow-secret-args",
        action="store_true",
        help="accept build args that look like secrets (they end up in the image "
        "history; use secrets: instead)",
    )

    m = sub.add_parser(
        "publish",
        help="merge per-platform parts (reports of `build --platform`) into one index and tag it",
        description=PUBLISH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(m)
    m.add_argument("targets", nargs="*", metavar="TARGET|GROUP", help="default: every part's")
    m.add_argument(
        "--from",
        dest="reports",
        action="append",
        type=Path,
        required=True,
        metavar="REPORT",
        help="a report.json of `build --platform` (repeatable; one per part)",
    )
    m.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write the JSON report here (default: .orchestrator/report.json)",
    )
    m.add_argument("--ci", action="store_true", help="GitHub outputs/summary (automatic in CI)")

    s = sub.add_parser("schema", help="print the JSON Schema of builds.yaml (for editors)")
    s.add_argument("--output", type=Path, metavar="PATH", help="write to a file instead")

    _pin(sub)
    _check(sub)
    _release(sub)
    _init(sub)
    _import(sub)
    _verify(sub)
    return parser


def _verify(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="check signatures, provenance and SBOMs of pushed images (exit 1 on a failure)",
        description="For each REF (default: every tag the last build pushed): the tag still "
        "points at the recorded digest; a cosign signature valid for the public key; per "
        "platform, a provenance attestation whose commit is the image's revision label; an "
        "SBOM where the target has `sbom: true`. One line per check.",
    )
    _common(p)
    p.add_argument("refs", nargs="*", metavar="REF", help="image references (tag or @digest)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--key",
        type=Path,
        metavar="PATH",
        help="cosign public key (default: signing.public-key, or the key file with .pub)",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="the build report with the recorded digests (default: .orchestrator/report.json)",
    )


def _init(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="write a first builds.yaml for the Dockerfiles in this repository",
        description="Finds the Dockerfiles under the manifest's folder and drafts a target per "
        "production/development stage (or the last stage), multi-platform where the Dockerfile "
        "cross-compiles, tagged semver + sha. Never overwrites builds.yaml without --force.",
    )
    p.add_argument(
        "-f",
        "--file",
        type=Path,
        default=Path("builds.yaml"),
        metavar="PATH",
        help="the manifest to write (default: ./builds.yaml); Dockerfiles are looked for "
        "in its folder",
    )
    p.add_argument("--name", help="project name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="replace an existing manifest")


def _import(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="turn a docker-bake.hcl/.json or compose file into builds.yaml",
        description="Asks `docker buildx bake -f FILE --print` for the resolved definition "
        "(buildx reads HCL, JSON and compose files) and writes it as builds.yaml: every target "
        "and group the file declares, or the TARGETs named; the file's default group stays "
        "builds.yaml's default. Whatever cannot be carried over, or was not named, is listed "
        "on stderr. Never overwrites without --force.",
    )
    p.add_argument("source", type=Path, metavar="FILE", help="docker-bake.hcl/.json or compose")
    p.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="bake targets or groups to carry over (default: all the file declares)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("builds.yaml"),
        metavar="PATH",
        help="the manifest to write (default: ./builds.yaml); - for stdout",
    )
    p.add_argument("--name", help="project name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="replace an existing manifest")


def _check(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="check the Dockerfile practices and the build context for each target",
        description="Rules from the Dockerfile guide, aware of what each target builds, plus "
        "hadolint. Exit 1 when a new finding at or above builds.yaml's `checks: fail-on:` "
        "(default: error) remains; findings recorded in the baseline "
        "(.orchestrator-baseline.json) do not fail (see docs/checks.md for the rules, the "
        "`checks:` policy and the `# orchestrator:ignore=ORxxx` pragma).",
    )
    _common(p)
    p.add_argument("targets", nargs="*", metavar="TARGET|GROUP")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", type=Path, metavar="PATH", help="write the report here")
    p.add_argument(
        "--context",
        action="store_true",
        help="also analyse the build context: files and bytes sent, largest, sensitive",
    )
    p.add_argument(
        "--explain",
        metavar="PATH",
        help="print which .dockerignore line sends or excludes PATH (relative to the context), "
        "then exit",
    )
    p.add_argument("--no-hadolint", action="store_true", help="run only orchestrator's rules")
    p.add_argument(
        "--write-baseline",
        action="store_true",
        help="record today's findings in the baseline file (commit it): afterwards only new "
        "findings fail, and fixed ones are reported",
    )


def _pin(sub: Any) -> None:
    p = sub.add_parser(
        "pin",
        help="lock base images to digests in builds.lock (--check, --update, --write)",
        description=PIN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p)
    p.add_argument(
        "targets", nargs="*", metavar="TARGET|GROUP", help="whose images (default: every target)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 when an image is missing, unused, or its tag moved",
    )
    mode.add_argument(
        "--update",
        nargs="*",
        metavar="IMAGE",
        help="re-resolve every image, or only these (as written, or normalised)",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="also rewrite FROM / ARG default / COPY --from lines to tag@digest",
    )


def _build_flags(p: argparse.ArgumentParser) -> None:
    """What `build` and `release` both take: `release` is a build with more checks first."""
    p.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write the JSON report here (default: .orchestrator/report.json)",
    )
    p.add_argument(
        "--ci",
        action="store_true",
        help="plain progress lines, JSON report, GitHub outputs/summary (automatic when CI=true)",
    )
    p.add_argument(
        "--verify-reproducible",
        action="store_true",
        help="build twice without cache and compare digests before tagging "
        "(targets need `reproducible: true`)",
    )
    p.add_argument("--builder", metavar="NAME", help="buildx builder to use")
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH",
        dest="platforms",
        help="build and push only this platform of each target (repeatable): a part for "
        "`orchestrator publish`, under a staging tag, with no release tag",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="bake every target, also those up to date (unchanged inputs, outputs still in "
        "place; see docs/DESIGN.md)",
    )


def _release(sub: Any) -> None:
    p = sub.add_parser(
        "release",
        help="clean tree + check + pin --check, then build and push (what `make release` runs)",
    )
    _common(p)
    p.add_argument("targets", nargs="*", metavar="TARGET|GROUP")
    p.add_argument("--force", action="store_true", help="release from a dirty working tree")
    _build_flags(p)
