#!/usr/bin/env python3
"""Writes a multi-platform OCI image layout whose bytes depend only on its inputs.

`docker import` stamps the time of the import into each image's config, so every machine (and
every run) made a different digest for the same Debian packages, and a committed builds.lock
could only verify on the machine that wrote it. Here each platform's root folder (or tarball)
becomes one uncompressed layer with its entries sorted by name, every mtime set to --epoch,
owners kept as numbers without names, and no extended headers; the config's dates are --epoch
too. Uncompressed, so no compressor version can change a byte. Same packages -> same digest.

    ociimage.py DIR --ref TAG --epoch N [--env K=V] [--cmd JSON] [--workdir P] [--label K=V]
                [--annotation K=V] [--drop GLOB] --platform linux/amd64=ROOT ...
    ociimage.py DIR --digest            print the index digest of the layout in DIR

Standard library only: it runs with the system's python3 before any virtualenv exists. The
layout is pushed with `skopeo copy --all --preserve-digests`, which keeps every digest.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import stat
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 1 << 20


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _dropped(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _normal(info: tarfile.TarInfo, name: str, epoch: int) -> tarfile.TarInfo:
    out = tarfile.TarInfo(name)
    out.type = info.type
    out.mode = info.mode & 0o7777
    out.uid, out.gid = info.uid, info.gid
    out.uname = out.gname = ""
    out.mtime = epoch
    out.linkname = info.linkname
    out.devmajor, out.devminor = info.devmajor, info.devminor
    out.size = info.size if info.isreg() else 0
    return out


def _entries_from_dir(root: Path) -> list[tuple[str, tarfile.TarInfo, Path | None]]:
    entries: list[tuple[str, tarfile.TarInfo, Path | None]] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for base in [*dirs, *files]:
            path = Path(folder, base)
            name = path.relative_to(root).as_posix()
            st = path.lstat()
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = st.st_mode, st.st_uid, st.st_gid
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, str(path.readlink())
            elif stat.S_ISREG(st.st_mode):
                # Hard links become copies: a link's target could sort after the link.
                info.type, info.size = tarfile.REGTYPE, st.st_size
            else:
                raise SystemExit(f"ociimage: {path}: unsupported file type")
            entries.append((name, info, path if info.isreg() else None))
    return entries


def _layer(root: Path, epoch: int, drop: list[str], out: IO[bytes]) -> None:
    """Writes the normalised tar of ROOT (a folder or a tarball) to OUT."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as layer:
        if root.is_dir():
            for name, info, path in sorted(_entries_from_dir(root), key=lambda e: e[0]):
                if _dropped(name, drop):
                    continue
                if path is None:
                    layer.addfile(_normal(info, name, epoch))
                    continue
                with path.open("rb") as data:
                    layer.addfile(_normal(info, name, epoch), data)
            return
        with tarfile.open(root, mode="r:*") as source:
            members = {}
            for member in source.getmembers():
                name = member.name.removeprefix("./").rstrip("/")
                if name and name != "." and not _dropped(name, drop):
                    members[name] = member
            for name in sorted(members):
                member = members[name]
                if member.islnk():  # a copy of its target, see _entries_from_dir
                    target = members[member.linkname.removeprefix("./")]
                    info = _normal(target, name, epoch)
                    info.mode = member.mode & 0o7777
                    layer.addfile(info, source.extractfile(target))
                    continue
                member_data = source.extractfile(member) if member.isreg() else None
                layer.addfile(_normal(member, name, epoch), member_data)


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, eq, rest = value.partition("=")
        if not eq:
            raise SystemExit(f"ociimage: {flag} {value}: expected KEY=VALUE")
        out[key] = rest
    return out


def _platform_manifest(layout: Path, args: argparse.Namespace, spec: str) -> dict[str, Any]:
    platform, eq, root = spec.partition("=")
    os_name, _, arch = platform.partition("/")
    if not eq or not arch:
        raise SystemExit(f"ociimage: --platform {spec}: expected OS/ARCH=ROOT")
    blobs = layout / "blobs" / "sha256"
    with tempfile.NamedTemporaryFile(dir=blobs, delete=False) as tmp:
        _layer(Path(root), args.epoch, args.drop, tmp)
    layer_digest, layer_size = _sha256_file(Path(tmp.name))
    Path(tmp.name).rename(blobs / layer_digest.removeprefix("sha256:"))
    created = datetime.fromtimestamp(args.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config: dict[str, Any] = {"Env": args.env}
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.workdir:
        config["WorkingDir"] = args.workdir
    if args.label:
        config["Labels"] = _pairs(args.label, "--label")
    image = {
        "architecture": arch,
        "os": os_name,
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": created, "created_by": "engine/base-images.sh"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, **_blob(layout, _json(image))},
        "layers": [{"mediaType": LAYER, "digest": layer_digest, "size": layer_size}],
    }
    described = {"mediaType": MANIFEST, **_blob(layout, _json(manifest))}
    described["platform"] = {"architecture": arch, "os": os_name}
    return described


def write(args: argparse.Namespace) -> str:
    layout: Path = args.layout
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}', encoding="utf-8")
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [_platform_manifest(layout, args, spec) for spec in args.platform],
    }
    if args.annotation:
        index["annotations"] = _pairs(args.annotation, "--annotation")
    top = {"mediaType": INDEX, **_blob(layout, _json(index))}
    top["annotations"] = {"org.opencontainers.image.ref.name": args.ref}
    (layout / "index.json").write_bytes(
        _json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [top]})
    )
    return str(top["digest"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ociimage.py")
    parser.add_argument("layout", type=Path)
    parser.add_argument("--digest", action="store_true", help="print the layout's index digest")
    parser.add_argument("--ref", default="latest")
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--cmd")
    parser.add_argument("--workdir")
    parser.add_argument("--label", action="append", default=[])
    parser.add_argument("--annotation", action="append", default=[])
    parser.add_argument("--drop", action="append", default=[], metavar="GLOB")
    parser.add_argument("--platform", action="append", default=[], metavar="OS/ARCH=ROOT")
    args = parser.parse_args(argv)
    if args.digest:
        index = json.loads((args.layout / "index.json").read_text(encoding="utf-8"))
        print(index["manifests"][0]["digest"])
        return 0
    if not args.platform:
        parser.error("at least one --platform OS/ARCH=ROOT")
    print(write(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
