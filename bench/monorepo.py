"""Generated monorepos for the scale figures (issue 21): many small services, one builds.yaml.

Two shapes, both written as a user would write them (Dockerfiles referencing their base images
by tag, a mirror for the offline registry, no lock file):

* `busybox_services(root, n)`: n tiny services (a config file and a script on busybox), each
  one target, amd64+arm64, pushed. Nothing to compile, so a build's time is BuildKit's fixed
  work per target (solve, export, push), which is exactly where an orchestrator's own cost per
  target shows.
* `go_services(root, n)`: n Go services with a `development` and a `production` stage each, two
  targets per service (2n targets); used for planning and checking, never built. The Dockerfiles
  are one template whose header comment names the service (copied from service to service);
  with `distinct=True` the binary is named after the service too, so no two files are alike.

Everything is deterministic (the same n gives the same bytes), so two runs measure the same
input.
"""

from __future__ import annotations

from pathlib import Path

BUSYBOX = "busybox:1.35"
GOLANG = "golang:1.23-bookworm"

_BUSYBOX_DOCKERFILE = """\
# Service {i:03d}: a config file and a script on busybox, run as nobody.
FROM {base}
COPY --chown=65534:65534 config/ /etc/svc/
COPY --chown=65534:65534 run.sh /usr/local/bin/svc
USER 65534:65534
HEALTHCHECK --interval=30s --timeout=3s CMD ["svc", "--check"]
ENTRYPOINT ["svc"]
"""

_RUN_SH = """\
#!/bin/sh
# Prints the service's greeting; --check is the healthcheck.
[ "$1" = "--check" ] && exit 0
cat /etc/svc/greeting
"""

_GO_DOCKERFILE = """\
# Service {i:03d}: a Go program; `development` has the toolchain, `production` only the binary.
FROM --platform=$BUILDPLATFORM {golang} AS build
WORKDIR /src
COPY go.mod ./
RUN --mount=type=cache,target=/root/.cache/go-build \\
    --mount=type=cache,target=/go/pkg/mod \\
    go mod download
COPY . .
ARG TARGETOS TARGETARCH VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \\
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \\
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/{binary} .

FROM {golang} AS development
WORKDIR /src
COPY . .
USER 65534:65534
CMD ["go", "run", "."]

FROM scratch AS production
COPY --from=build /out/{binary} /{binary}
USER 65534:65534
HEALTHCHECK --interval=30s --timeout=3s CMD ["/{binary}", "-check"]
ENTRYPOINT ["/{binary}"]
"""

_GO_MAIN = """\
package main

import (
\t"flag"
\t"fmt"
)

var version = "dev"

func main() {{
\tcheck := flag.Bool("check", false, "healthcheck")
\tflag.Parse()
\tif *check {{
\t\treturn
\t}}
\tfmt.Println("service {i:03d}", version)
}}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def busybox_services(root: Path, n: int, registry: str, base_mirror: str) -> list[str]:
    """n busybox services under root/services, and root/builds.yaml; returns the target names."""
    names = [f"svc{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        where = root / "services" / name
        _write(where / "Dockerfile", _BUSYBOX_DOCKERFILE.format(i=i, base=BUSYBOX))
        _write(where / "config" / "greeting", f"hello from {name}\n")
        _write(where / "run.sh", _RUN_SH)
        (where / "run.sh").chmod(0o755)
        _write(where / ".dockerignore", "Dockerfile\n.dockerignore\n")
    lines = [
        f"# {n} tiny services, one target each (bench/monorepo.py).",
        "version: 1",
        "project:",
        "  name: bench-monorepo",
        "  image: ${REGISTRY}/svc",
        "variables:",
        f"  REGISTRY: {registry}",
        "mirrors:",
        f"  {BUSYBOX}: {base_mirror}",
        "defaults:",
        "  platforms: [linux/amd64, linux/arm64]",
        "  tags: [sha, latest]",
        "  outputs: [push]",
        "  provenance: min",
        "targets:",
    ]
    for name in names:
        lines += [
            f"  {name}:",
            f"    context: services/{name}",
            f"    image: ${{REGISTRY}}/{name}",
        ]
    lines += ["groups:", f"  default: [{', '.join(names)}]"]
    _write(root / "builds.yaml", "\n".join(lines) + "\n")
    _write(root / ".gitignore", ".orchestrator/\n")
    return names


def go_services(
    root: Path, n: int, registry: str, go_mirror: str, distinct: bool = False
) -> list[str]:
    """n Go services with two targets each (dev-NNN, svcNNN) and root/builds.yaml."""
    names: list[str] = []
    for i in range(n):
        where = root / "services" / f"svc{i:03d}"
        binary = f"svc{i:03d}" if distinct else "svc"
        _write(where / "Dockerfile", _GO_DOCKERFILE.format(i=i, golang=GOLANG, binary=binary))
        _write(where / "go.mod", f"module example.invalid/svc{i:03d}\n\ngo 1.23\n")
        _write(where / "main.go", _GO_MAIN.format(i=i))
        _write(where / ".dockerignore", "Dockerfile\n.dockerignore\n*_test.go\n")
        names += [f"dev-{i:03d}", f"svc{i:03d}"]
    lines = [
        f"# {n} Go services, a development and a production target each (bench/monorepo.py).",
        "version: 1",
        "project:",
        "  name: bench-go-monorepo",
        "  image: ${REGISTRY}/go",
        "variables:",
        f"  REGISTRY: {registry}",
        "mirrors:",
        f"  {GOLANG}: {go_mirror}",
        "defaults:",
        "  args:",
        "    VERSION: ${VERSION}",
        "targets:",
    ]
    for i in range(n):
        lines += [
            f"  dev-{i:03d}:",
            f"    context: services/svc{i:03d}",
            "    stage: development",
            f"    image: ${{REGISTRY}}/svc{i:03d}-dev",
            "    tags: [dev]",
            "    outputs: [load]",
            f"  svc{i:03d}:",
            f"    context: services/svc{i:03d}",
            "    stage: production",
            f"    image: ${{REGISTRY}}/svc{i:03d}",
            "    platforms: [linux/amd64, linux/arm64]",
            "    tags: [semver, sha]",
            "    outputs: [push]",
            "    cache:",
            f"      registry: ${{REGISTRY}}/svc{i:03d}:buildcache",
        ]
    lines += ["groups:", f"  default: [{', '.join(names)}]"]
    _write(root / "builds.yaml", "\n".join(lines) + "\n")
    _write(root / ".gitignore", ".orchestrator/\n")
    return names
