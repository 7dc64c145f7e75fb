"""Rules about build steps: ADD, package managers, secrets in ARG/ENV, cache-friendly order."""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterator

from orchestrator.checks import CheckContext, Hit, rule
from orchestrator.dockerfile import WHOLE_TREE, Instruction, sources

_URL = re.compile(r"^(?:https?://|git@|git://|ssh://)", re.IGNORECASE)
_ARCHIVE = re.compile(r"\.(?:tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$", re.I)


def _cache_mounted(ins: Instruction, *paths: str) -> bool:
    """A RUN --mount=type=cache on one of `paths`: BuildKit keeps that out of the layer."""
    for mount in ins.flag_all("mount"):
        opts = dict(part.partition("=")[::2] for part in mount.split(","))
        target = opts.get("target") or opts.get("dst") or opts.get("destination") or ""
        if opts.get("type") == "cache" and any(target.rstrip("/") == p for p in paths):
            return True
    return False


@rule(
    "OR005",
    "add-url",
    "ADD downloads a URL (or git repository) at build time.",
    "download explicitly: RUN curl -fsSL <url> | tar -xz (errors visible, nothing cached in a "
    "layer); if you keep ADD, add --checksum=sha256:...",
    development="warning",
    production="error",
)
def add_url(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.stages:
        for ins in stage.instructions:
            if ins.keyword != "ADD":
                continue
            for src in sources(ins):
                if not _URL.match(src):
                    continue
                if ins.flag("checksum"):
                    yield Hit(ins.line, f"ADD {src} (verified by --checksum)", severity="info")
                else:
                    yield Hit(ins.line, f"ADD fetches {src} unverified, at every cache miss")


@rule(
    "OR006",
    "add-archive",
    "ADD of a local tar archive, which ADD silently extracts.",
    "COPY the archive and extract it explicitly in a RUN, or COPY the extracted files",
    development="warning",
    production="warning",
)
def add_archive(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.stages:
        for ins in stage.instructions:
            if ins.keyword == "ADD" and not ins.flag("from"):
                for src in sources(ins):
                    if _ARCHIVE.search(src) and not _URL.match(src):
                        yield Hit(ins.line, f"ADD {src} auto-extracts the archive (implicit)")


_OPTS = r"(?:(?:-\S+|\S+=\S+)\s+)*"
APT_UPDATE = re.compile(rf"\bapt(?:-get)?\s+{_OPTS}update\b")
APT_INSTALL = re.compile(rf"\bapt(?:-get)?\s+{_OPTS}(?:install|upgrade|dist-upgrade)\b")
# `apt-get dist-clean` (apt 2.7+, Debian trixie / Ubuntu noble) empties the lists as `rm` does.
_APT_LISTS_RM = re.compile(r"\brm\s+[^;&|]*?/var/lib/apt/lists|\bapt(?:-get)?\s+dist-clean\b")
APK_ADD = re.compile(rf"\bapk\s+{_OPTS}add\b")


@rule(
    "OR007",
    "apt-update-own-layer",
    "`apt-get update` runs in a different RUN (layer) from the `apt-get install` using it.",
    "update, install and clean up in one RUN: apt-get update && apt-get install -y ... "
    "&& rm -rf /var/lib/apt/lists/*",
    development="warning",
    production="warning",
)
def apt_update_own_layer(ctx: CheckContext) -> Iterator[Hit]:
    # A cached `update` layer is reused forever: a later install then reads stale lists.
    for stage in ctx.stages:
        runs = [i for i in stage.instructions if i.keyword == "RUN"]
        for n, ins in enumerate(runs):
            if APT_UPDATE.search(ins.args) and not APT_INSTALL.search(ins.args):
                later = next((r for r in runs[n + 1 :] if APT_INSTALL.search(r.args)), None)
                where = f"; apt-get install is at line {later.line}" if later else ""
                yield Hit(ins.line, f"apt-get update without an install in the same RUN{where}")


@rule(
    "OR008",
    "apt-lists-kept",
    "A RUN in the shipped image installs with apt but leaves /var/lib/apt/lists in the layer.",
    "end the same RUN with `&& rm -rf /var/lib/apt/lists/*` (or use a cache mount on "
    "/var/lib/apt/lists)",
    development="warning",
    production="warning",
    supersedes=("DL3009",),
)
def apt_lists_kept(ctx: CheckContext) -> Iterator[Hit]:
    # Only stages whose layers ship: in a build stage the lists are discarded with the stage.
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword != "RUN" or not APT_UPDATE.search(ins.args):
                continue
            if _APT_LISTS_RM.search(ins.args) or _cache_mounted(
                ins, "/var/lib/apt/lists", "/var/lib/apt"
            ):
                continue
            yield Hit(ins.line, "apt package lists stay in this layer (tens of MB)")


@rule(
    "OR009",
    "apk-cache-kept",
    "`apk add` without --no-cache in the shipped image leaves the package index in the layer.",
    "use `apk add --no-cache ...` (or a cache mount on /var/cache/apk)",
    development="warning",
    production="warning",
    supersedes=("DL3019",),
)
def apk_cache_kept(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.final:
        for ins in stage.instructions:
            if ins.keyword != "RUN" or not APK_ADD.search(ins.args):
                continue
            if "--no-cache" in ins.args or _cache_mounted(ins, "/var/cache/apk", "/etc/apk/cache"):
                continue
            yield Hit(ins.line, "apk add without --no-cache keeps the index in the layer")


# Whole words of a variable name (split at `_`), so AUTHOR or PASSAGE_DIR do not look secret and
# GPG_KEY (a public fingerprint in many official images) is not flagged for its KEY.
SECRET_WORDS = re.compile(
    r"(?i)(?:^|_)(?:PASSW(?:OR)?D|PASS|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?"
    r"|ACCESS_?KEY|AUTH|PAT)(?:_|$)"
)
# A last word that makes the name a setting *about* a secret, not the secret: where it is
# (POSTGRES_PASSWORD_FILE, the common "read it from this file" convention; TOKEN_URL), how it is
# sent (API_KEY_HEADER), what it must be like (PASSWORD_MIN_LENGTH, TOKEN_TTL, JWT_SECRET_ALGORITHM)
# or what it is called (SECRET_NAME). A secret's own value has no such word after it.
_NOT_A_SECRET = re.compile(
    r"(?i)_(?:FILE|PATH|DIR|URL|URI|ENDPOINT|HOST|HEADER|PARAM|LENGTH|LEN|TTL|EXPIRY|EXPIRES"
    r"|EXPIRATION|LIFETIME|TIMEOUT|ALGORITHM|ALG|TYPE|NAME|ENABLED|REQUIRED)$"
)
# ENV values that cannot be a secret: an on/off flag (Rails' SECRET_KEY_BASE_DUMMY=1) or a URL
# with no credentials or query in it. Only ENV's: its value as written is what the image ships,
# while an ARG's default is only a default (the build may pass the real token).
_NOT_A_SECRET_VALUE = re.compile(
    r"(?i)0|1|true|false|yes|no|on|off|https?://[^\s@/?#$]+(?:/[^\s@?#$]*)?"
)


def declared_names(ins: Instruction) -> list[str]:
    """Variable names an ARG or ENV instruction declares (ENV's legacy `ENV K V` form too)."""
    return [name for name, _ in declared(ins)]


def declared(ins: Instruction) -> list[tuple[str, str | None]]:
    """(name, value as written or None) for each variable an ARG or ENV instruction declares."""
    words = _words(ins.args)
    if not words:
        return []
    if ins.keyword == "ENV" and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    found: list[tuple[str, str | None]] = []
    for word in words:
        name, eq, value = word.partition("=")
        if name.isidentifier():
            found.append((name, value if eq else None))
    return found


@functools.lru_cache(maxsize=1024)
def _words(args: str) -> tuple[str, ...]:
    """`args` split as a shell would, else at whitespace. By text: every target and platform
    of a Dockerfile asks again about the same instructions, and shlex is slow."""
    try:
        return tuple(shlex.split(args, posix=True))
    except ValueError:
        return tuple(args.split())


def _norm(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


@rule(
    "OR010",
    "secret-in-arg-env",
    "An ARG or ENV looks like a secret by its name, or carries a secret declared in builds.yaml.",
    "declare it under `secrets:` in builds.yaml and read it in RUN --mount=type=secret,id=...; "
    "ARG and ENV values are kept in the image history (ENV also in the image config)",
    development="warning",
    production="error",
)
def secret_in_arg_env(ctx: CheckContext) -> Iterator[Hit]:
    secret_names = {_norm(s.id): s.id for s in ctx.target.secrets}
    secret_names |= {_norm(s.name): s.id for s in ctx.target.secrets if s.source == "env"}
    final = {s.index for s in ctx.final}
    for stage in ctx.stages:
        for ins in stage.instructions:
            if ins.keyword not in ("ARG", "ENV"):
                continue
            for name, value in declared(ins):
                if _NOT_A_SECRET.search(name):
                    continue
                norm = _norm(name)
                sid = next((i for k, i in secret_names.items() if len(k) > 2 and k in norm), None)
                if sid is None and not SECRET_WORDS.search(name):
                    continue
                if (
                    sid is None
                    and ins.keyword == "ENV"
                    and value is not None
                    and _NOT_A_SECRET_VALUE.fullmatch(value)
                ):
                    continue  # a flag or a plain URL: a setting, whatever its name says
                why = f"carries secret {sid!r} from builds.yaml" if sid else "looks like a secret"
                # An ENV in the shipped image is readable by anyone who pulls it: always an error.
                shipped = ins.keyword == "ENV" and stage.index in final
                yield Hit(
                    ins.line,
                    f"{ins.keyword} {name} {why}",
                    severity="error" if shipped else None,
                )


# Steps that download dependencies (cargo-chef's `cook` builds them from its recipe.json, the
# manifests only: the layer a later `COPY . .` and `cargo build` reuse).
_DEPS = re.compile(
    r"\b(go\s+mod\s+download|npm\s+(?:ci|install|i)\b|yarn(?:\s+install)?\b|pnpm\s+install"
    r"|pip3?\s+install\s+(?:-\S+\s+)*-r|poetry\s+install|pipenv\s+install|uv\s+sync"
    r"|cargo\s+chef\s+cook"
    r"|bundle\s+install|cargo\s+fetch|composer\s+install|mvnw?(?:\s+-\S+)*\s+\S*dependency:|dotnet\s+restore"
    r"|gradle\S*\s+dependencies|mix\s+deps\.get)"
)
# Build steps that download the dependencies themselves when nothing fetched them before:
# `mvn package`, `cargo build`, `dotnet publish` (an implicit restore), `gradle build`.
_FETCHING_BUILD = re.compile(
    r"\b((?:\./)?mvnw?\b(?:\s+-\S+)*\s+(?:\S+\s+)*?(?:package|install|verify|compile)"
    r"|cargo\s+(?:build|install)|dotnet\s+(?:publish|build)(?![^;&|]*--no-restore)"
    r"|(?:\./)?gradlew?\b(?:\s+-\S+)*\s+(?:build|assemble|bootJar|installDist))\b"
)
# Package caches a `RUN --mount=type=cache` can keep across builds: then nothing is downloaded
# again when the source changes, whatever the order.
_PACKAGE_CACHES = (
    "/root/.m2",
    "/root/.m2/repository",
    "/usr/local/cargo/registry",
    "/root/.cargo/registry",
    "/root/.nuget/packages",
    "/root/.npm",
    "/root/.cache/pip",
    "/root/.cache/uv",
    "/go/pkg/mod",
    "/root/go/pkg/mod",
    "/root/.gradle",
    "/root/.gradle/caches",
    "/usr/local/share/.cache/yarn",
)


@rule(
    "OR011",
    "source-before-dependencies",
    "The whole source tree is copied before dependencies are downloaded, so every code change "
    "re-downloads them.",
    "copy the dependency manifests first (COPY go.mod go.sum ./, COPY pom.xml ./, COPY "
    "Cargo.toml Cargo.lock ./, COPY *.csproj ./), download, then COPY the source; or keep the "
    "package cache in a RUN --mount=type=cache",
    development="warning",
    production="warning",
)
def source_before_dependencies(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.stages:
        copy: Instruction | None = None
        fetched = False  # a dependency step ran before the source came in
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and not ins.flag("from") and copy is None:
                if any(src in WHOLE_TREE for src in sources(ins)):
                    copy = ins
                continue
            if ins.keyword != "RUN" or _cache_mounted(ins, *_PACKAGE_CACHES):
                continue
            found = _DEPS.search(ins.args)
            if copy is None:
                fetched = fetched or found is not None
                continue
            if found is None and not fetched:
                found = _FETCHING_BUILD.search(ins.args)
            if found is not None:
                yield Hit(
                    copy.line,
                    f"{copy.keyword} of the whole context comes before `{found.group(1)}` "
                    f"(line {ins.line}): any source edit busts the dependency cache",
                )
                break


# `curl ... | sh`, `wget -qO- ... | bash`, `sh -c "$(curl ...)"`, `bash <(curl ...)`.
_PIPED = re.compile(
    r"\b(?:curl|wget)\b(?P<args>[^|;&]*?)\|\s*(?:sudo\s+)?(?:-\S+\s+)*(?:ba|z|da|k)?sh\b"
    r"|\b(?:ba|z|da)?sh\s+(?:-c\s+)?[\"']?(?:\$\(|<\()\s*(?:curl|wget)\b(?P<args2>[^)]*)\)"
)
_URL_IN = re.compile(r"https?://[^\s\"')]+")
# A URL that names a version or a commit serves the same script tomorrow; others move.
_FIXED_URL = re.compile(r"(?:^|[/=@_-])v?\d+\.\d+(?:\.\d+)?(?:[/._-]|$)|[0-9a-f]{40}")


@rule(
    "OR021",
    "pipe-to-shell",
    "A RUN pipes a downloaded script into a shell (curl ... | sh) from a URL that names no "
    "version: every build may run a different script, unverified.",
    "download a versioned release, check its sha256 (`echo '<sum>  f' | sha256sum -c`), then "
    "run it; or install the tool from a package manager or a pinned image (COPY --from=...)",
    development="warning",
    production="warning",
)
def pipe_to_shell(ctx: CheckContext) -> Iterator[Hit]:
    for stage in ctx.stages:
        for ins in stage.instructions:
            if ins.keyword != "RUN":
                continue
            for found in _PIPED.finditer(ins.args):
                words = found.group("args") or found.group("args2") or ""
                url = _URL_IN.search(words)
                if url is None or _FIXED_URL.search(url.group(0).split("://", 1)[1]):
                    continue
                yield Hit(
                    ins.line,
                    f"{url.group(0)} is piped into a shell: the script can change between builds "
                    "and nothing verifies it",
                )
                break
