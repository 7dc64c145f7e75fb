"""The `org.opencontainers.image.*` labels every image gets, metadata-action's set from git.

metadata-action asks GitHub's API for the repository's name, description, URL and license; we
read the manifest's `project:` and the checkout, so any CI (or none) gives the same labels:

| label        | from                                                                  |
|--------------|-----------------------------------------------------------------------|
| title        | project.name                                                          |
| description  | project.description (omitted when unset)                              |
| url          | project.url, else the source URL                                      |
| source       | project.source, else the `origin` remote as https, credentials removed |
| version      | VERSION (git-derived; metadata-action uses the first tag instead)     |
| revision     | the full commit (GIT_COMMIT_FULL)                                     |
| created      | the commit time, not the build time: the same commit gives the same bytes |
| licenses     | project.licenses (omitted when unset)                                 |
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

OCI = "org.opencontainers.image"
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$")
_URL = re.compile(
    r"^(?P<scheme>https?|ssh|git|git\+ssh)://(?:[^@/]*@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>\S+)$"
)


def source_url(remote: str) -> str:
    """A browsable https URL for a git remote, "" for a local path.

    `git@github.com:o/r.git` and `ssh://git@host:22/o/r` become `https://host/o/r`;
    `https://user:token@host/o/r.git` loses its credentials: the label is public.
    """
    remote = remote.strip()
    found = _URL.match(remote)
    if found:
        host, path = found["host"], found["path"]
        scheme = "http" if found["scheme"] == "http" else "https"
    else:
        found = _SCP.match(remote)
        if not found or remote.startswith(("/", ".", "file:")):
            return ""
        host, path, scheme = found["host"], found["path"], "https"
    path = path.removesuffix("/").removesuffix(".git")
    return f"{scheme}://{host}/{path}"


def labels(
    name: str,
    values: Mapping[str, str],
    *,
    source: str | None = None,
    description: str | None = None,
    url: str | None = None,
    licenses: str | None = None,
) -> dict[str, str]:
    epoch = int(values.get("SOURCE_DATE_EPOCH") or 0)
    created = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {
        f"{OCI}.title": name,
        f"{OCI}.version": values.get("VERSION", ""),
        f"{OCI}.revision": values.get("GIT_COMMIT_FULL", ""),
        f"{OCI}.created": created,
    }
    source = source or values.get("GIT_REMOTE_URL", "")
    optional = {
        "source": source,
        "url": url or source,
        "description": description,
        "licenses": licenses,
    }
    out.update({f"{OCI}.{key}": value for key, value in optional.items() if value})
    return dict(sorted(out.items()))


def with_labels(
    annotations: Sequence[str],
    labels: Mapping[str, str],
    levels: Sequence[str],
    *,
    multi_platform: bool,
) -> tuple[str, ...]:
    """A target's annotations plus, at `levels` (`label-annotations: [manifest, index]`), the
    OCI labels as annotations, as metadata-action's `annotations` output. An annotation the
    target writes itself for the same key wins. The index levels apply to multi-platform
    targets only: BuildKit refuses "index annotations not supported for single platform
    export" (the one-platform image is a plain manifest)."""
    if not multi_platform:
        levels = [level for level in levels if not level.startswith("index")]
    if not levels:
        return tuple(annotations)
    written = {a.split("=", 1)[0].rpartition(":")[2] for a in annotations}
    # One entry per level: buildx 0.13.1 takes `manifest,index:KEY` for a key named that.
    extra = [
        f"{level}:{key}={value}"
        for level in levels
        for key, value in sorted(labels.items())
        if key.startswith(f"{OCI}.") and key not in written
    ]
    return (*annotations, *extra)
