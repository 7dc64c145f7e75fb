"""builds.yaml: the schema (pydantic models) and loading with file:line breadcrumbs.

Every problem becomes one line `builds.yaml:12: targets.production.tagz: unknown key (did you
mean 'tags'?)`, all problems at once, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orchestrator import platforms, refs, yamlsrc
from orchestrator.errors import ManifestError
from orchestrator.tagrules import FlavorSpec, TagRuleSpec

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
PinPolicy = Literal["none", "minor", "patch", "digest"]
ArgValue = str | int | bool


def _kebab(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=_kebab, populate_by_name=True
    )


class SecretSpec(_Model):
    """A BuildKit secret: the value comes from an env var or a file, only its id is ever shown."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="id used by RUN --mount=type=secret")
    env: str | None = Field(None, description="environment variable holding the value")
    file: str | None = Field(None, description="file holding the value (~ and relative ok)")
    required: bool = Field(True, description="false: skip silently when the source is missing")

    @model_validator(mode="after")
    def _one_source(self) -> SecretSpec:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class SshSpec(_Model):
    """An ssh agent socket or key files forwarded to RUN --mount=type=ssh."""

    id: str = Field("default", pattern=r"^[A-Za-z0-9_.-]+$")
    paths: list[str] = Field(default_factory=list, description="keys or agent sockets")
    required: bool = Field(True, description="false: skip when no agent/key is available")


class CacheSpec(_Model):
    """Cache policy. Shorthands expand to buildx entries; `from`/`to` are passed as written.

    * `registry: REF` -> per-branch cache `REF-<branch>`, imported with a fallback to the default
      branch's cache, exported with mode=max (the export CI runs on the next commit can reuse).
    * `local: DIR`    -> a directory cache for laptops (type=local, mode=max).
    * `inline: true`  -> cache metadata inside the pushed image (type=inline).

    The two exports the shorthands write compress new layers with `compression` (zstd unless
    set): only BuildKit (0.10 and later) ever reads a cache, and zstd packs the layers a warm
    rebuild adds several times faster than gzip (measured: 0.2 s of a 2.2 s rebuild of the
    sample). Layers that already have a gzip blob, the base images' for instance, keep it.
    """

    registry: str | None = Field(None, description="registry cache ref, e.g. ${REGISTRY}/app")
    local: str | None = Field(None, description="local cache directory")
    inline: bool = False
    default_branch: str = Field("main", description="whose cache a new branch starts from")
    compression: Literal["zstd", "gzip", "uncompressed"] = Field(
        "zstd", description="compression of new layers in registry/local cache exports"
    )
    from_: list[str] = Field(default_factory=list, description="--cache-from entries")
    to: list[str] = Field(default_factory=list, description="--cache-to entries")

    @field_validator("from_", "to")
    @classmethod
    def _typed(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not re.match(r"^type=[a-z]+(,|$)", entry):
                raise ValueError(f"{entry!r}: expected 'type=registry|local|inline|gha,...'")
        return entries


CODE_PATTERN = r"^(?:OR|DL|SC)\d{3,4}$"


class IgnoreSpec(_Model):
    """A finding the team accepts, with the reason a reviewer can read (see docs/checks.md)."""

    code: str = Field(pattern=CODE_PATTERN, description="OR013, DL3008, SC2086, ...")
    reason: str = Field(description="why it is accepted (required)")
    path: str | None = Field(
        None, description="only in files matching this glob, relative to builds.yaml"
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why the finding is accepted")
        return value


class ChecksSpec(_Model):
    """The check gate: what fails `check` and `build`, per-code severities, accepted findings."""

    fail_on: Literal["error", "warning", "never"] | None = Field(
        None, description="the lowest severity that fails (default: error)"
    )
    severity: dict[str, Literal["error", "warning", "info", "off"]] | None = Field(
        None, description="per-code severity: OR013: warning, DL3008: off"
    )
    ignore: list[IgnoreSpec] | None = None
    baseline: str | None = Field(
        None, description="baseline file, relative to builds.yaml (.orchestrator-baseline.json)"
    )

    @field_validator("severity", mode="before")
    @classmethod
    def _off(cls, values: Any) -> Any:
        # YAML 1.1 reads a bare `off` as false: `OR014: off` means what it says.
        if isinstance(values, dict):
            return {k: "off" if v is False else v for k, v in values.items()}
        return values

    @field_validator("severity")
    @classmethod
    def _codes(cls, values: dict[str, str] | None) -> dict[str, str] | None:
        for code in values or {}:
            if not re.fullmatch(CODE_PATTERN, code):
                raise ValueError(f"{code!r} is not a check code (OR013, DL3008, SC2086, ...)")
        return values


def check_platforms(values: Sequence[str]) -> None:
    """ValueError unless `values` are platforms, each named once (`linux/arm64/v8` is
    `linux/arm64`)."""
    for value in values:
        refs.parse_platform(value)
    if len(set(values)) != len(values):
        raise ValueError("platforms are listed twice")
    twice = platforms.duplicates(values)
    if twice:
        raise ValueError(f"{twice[0]} (listed twice)")


class TargetSpec(_Model):
    """Settings of one target; `defaults:` has the same shape (without `stage`)."""

    description: str | None = None
    stage: str | None = Field(
        None,
        description="Dockerfile stage (--target); default: the stage of the target's name, "
        "else the last stage (no --target)",
    )
    name: str | None = Field(
        None, description="with matrix: name template of each expansion, e.g. app-${variant}"
    )
    matrix: dict[str, list[ArgValue]] | None = Field(
        None, description="one target per combination of values; ${KEY} in every string"
    )
    contexts: dict[str, str] | None = Field(
        None,
        description="named contexts: DIR, docker-image://REF, oci-layout://PATH, a git or "
        "https URL, or target:OTHER (OTHER's result)",
    )
    image: str | None = Field(None, description="repository, overrides project.image")
    context: str | None = None
    dockerfile: str | None = None
    args: dict[str, ArgValue] | None = None
    labels: dict[str, str] | None = None
    platforms: list[str] | None = None
    tags: list[str | TagRuleSpec] | None = Field(
        None, description="semver | latest | sha | branch | a template | a rule {type: ...}"
    )
    flavor: FlavorSpec | None = Field(None, description="latest: auto|true|false, prefix, suffix")
    secrets: list[SecretSpec] | None = None
    ssh: list[SshSpec] | None = None
    cache: CacheSpec | None = None
    outputs: list[str] | None = Field(None, description="load | push | oci:PATH | local:DIR")
    provenance: str | bool | None = Field(None, description="false | min | max (true means min)")
    sbom: bool | None = None
    sbom_generator: str | None = Field(
        None, description="SBOM scanner image (BuildKit's protocol); `make engine` builds one"
    )
    sign: bool | None = Field(None, description="sign the pushed index with `signing:` (cosign)")
    pin: PinPolicy | None = None
    no_cache: bool | None = None
    reproducible: bool | None = Field(None, description="SOURCE_DATE_EPOCH + rewrite-timestamp")
    network: Literal["default", "none", "host"] | None = Field(
        None, description="network of RUN steps (host implies the network.host entitlement)"
    )
    extra_hosts: dict[str, str] | None = Field(None, description="host name -> IP for RUN steps")
    shm_size: str | None = Field(
        None, pattern=r"^[0-9]+[bkmgBKMG]?$", description="size of /dev/shm in RUN, e.g. 128m"
    )
    ulimits: list[str] | None = Field(None, description="NAME=SOFT[:HARD], e.g. nofile=1024:2048")
    entitlements: list[Literal["network.host", "security.insecure"]] | None = Field(
        None, description="privileges RUN steps may ask for (buildx --allow)"
    )
    annotations: list[str] | None = Field(
        None, description="OCI annotations, [TYPE[,TYPE][PLATFORM]:]KEY=VALUE"
    )
    label_annotations: (
        list[Literal["manifest", "index", "manifest-descriptor", "index-descriptor"]] | None
    ) = Field(None, description="also write the org.opencontainers.image.* labels as annotations")
    no_cache_filter: list[str] | None = Field(None, description="stages built without cache")
    pull: bool | None = Field(None, description="always pull base images anew")
    images: list[str] | None = Field(
        None, description="repositories: the same tags pushed to each (first: the image's own)"
    )
    checks: ChecksSpec | None = Field(None, description="this target's check gate (see checks:)")

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, values: list[str] | None) -> list[str] | None:
        # `${PLATFORM}` or a matrix value: judged by plan once it is interpolated.
        if values is not None and not any("$" in value for value in values):
            check_platforms(values)
        return values

    @field_validator("labels")
    @classmethod
    def _label_keys(cls, values: dict[str, str] | None) -> dict[str, str] | None:
        for key in values or {}:
            # buildx splits `--label k=v` at the first `=`: such a key would not be this key.
            if not key.strip() or "=" in key or "\n" in key:
                raise ValueError(f"label key {key!r}: must be non-empty, without '=' or newline")
        return values

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            kind, _, dest = value.partition(":")
            if kind in ("load", "push") and not dest:
                continue
            if kind in ("oci", "docker", "tar", "local") and dest:
                continue
            raise ValueError(
                f"{value!r}: expected load, push, oci:PATH, docker:PATH, tar:PATH, local:DIR"
            )
        return values

    @field_validator("provenance")
    @classmethod
    def _provenance(cls, value: str | bool | None) -> str | bool | None:
        if value is None or isinstance(value, bool) or value in ("min", "max"):
            return value
        raise ValueError(f"{value!r}: expected false, true (= min), min or max")

    @field_validator("ulimits")
    @classmethod
    def _ulimits(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            if not re.fullmatch(r"[a-z]+=-?[0-9]+(:-?[0-9]+)?", value):
                raise ValueError(f"{value!r}: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048")
        return values

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            if "=" not in value or value.startswith("="):
                raise ValueError(f"{value!r}: expected [TYPE:]KEY=VALUE")
        return values

    @field_validator("extra_hosts")
    @classmethod
    def _hosts(cls, values: dict[str, str] | None) -> dict[str, str] | None:
        for host, address in (values or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9.-]+", host) or not re.fullmatch(
                r"[0-9A-Fa-f.:]+|host-gateway", address
            ):
                raise ValueError(f"{host}: {address!r}: expected HOST: IP (or host-gateway)")
        return values

    @field_validator("contexts")
    @classmethod
    def _context_names(cls, values: dict[str, str] | None) -> dict[str, str] | None:
        for name, value in (values or {}).items():
            if not name or not value:
                raise ValueError(f"{name!r}: a named context needs a name and a value")
        return values

    @field_validator("matrix")
    @classmethod
    def _matrix(cls, values: dict[str, list[ArgValue]] | None) -> dict[str, list[ArgValue]] | None:
        for key, items in (values or {}).items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a valid matrix key (letters, digits, _)")
            if not items:
                raise ValueError(f"{key}: a matrix key needs at least one value")
            if len(set(items)) != len(items):
                raise ValueError(f"{key}: values are listed twice")
        return values

    @model_validator(mode="after")
    def _name_needs_matrix(self) -> TargetSpec:
        if self.name is not None and self.matrix is None:
            raise ValueError("'name' names the expansions of a matrix: add 'matrix:' or drop it")
        return self

    @field_validator("args")
    @classmethod
    def _arg_names(cls, values: dict[str, ArgValue] | None) -> dict[str, ArgValue] | None:
        for name in values or {}:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid build-arg name")
        return values


class SigningSpec(_Model):
    """The cosign key that signs targets with `sign: true` and that `verify` checks against.

    The private key comes from a file or an env var (cosign's `env://VAR`), its password from an
    env var; only their names are ever shown. Keyless (OIDC) signing is CI's path: see
    docs/SECURITY.md.
    """

    key: str | None = Field(None, description="cosign private key file (~ and relative ok)")
    key_env: str | None = Field(None, description="env var holding the private key (PEM)")
    password_env: str = Field("COSIGN_PASSWORD", description="env var holding the key password")
    public_key: str | None = Field(
        None, description="public key file for verify (default: the key file with .pub)"
    )

    @model_validator(mode="after")
    def _one_key(self) -> SigningSpec:
        if (self.key is None) == (self.key_env is None):
            raise ValueError("give exactly one of 'key' or 'key-env'")
        if self.key_env is not None and self.public_key is None:
            raise ValueError("'key-env' needs 'public-key' (the file verify checks against)")
        return self


class BaseVerifySpec(_Model):
    """A base image that must carry a cosign signature valid for `key`."""

    key: str = Field(description="cosign public key file (~ and relative ok)")


class NodeSpec(_Model):
    """One BuildKit node of a builder: where it runs and which platforms it builds natively."""

    name: str = Field(pattern=NAME_PATTERN)
    endpoint: str | None = Field(
        None, description="docker context/host, tcp://host:1234 (remote), or none (kubernetes)"
    )
    platforms: list[str] = Field(default_factory=list)
    driver_opts: dict[str, str] = Field(default_factory=dict)

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, values: list[str]) -> list[str]:
        for value in values:
            refs.parse_platform(value)
        return values


class BuilderSpec(_Model):
    """A buildx builder to use, created if missing (`docker` means the engine's own).

    `fan-out` is not a buildx driver: its nodes are independent engines (a DOCKER_HOST such as
    `ssh://…`, `tcp://…`, `unix://…`, or a docker context name) that no buildx builder can join;
    `build` runs each node's platforms there at the same time and merges the parts (parts.py).
    """

    name: str = Field(pattern=NAME_PATTERN)
    driver: Literal["docker", "docker-container", "remote", "kubernetes", "fan-out"] = (
        "docker-container"
    )
    driver_opts: dict[str, str] = Field(default_factory=dict)
    buildkitd_flags: str | None = None
    config: str | None = Field(None, description="buildkitd.toml for the builder")
    nodes: list[NodeSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _endpoints(self) -> BuilderSpec:
        if self.driver == "remote":
            for node in self.nodes or []:
                if not node.endpoint:
                    raise ValueError(f"node {node.name!r}: the remote driver needs an endpoint")
            if not self.nodes:
                raise ValueError("the remote driver needs nodes with endpoints")
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError("node names must be unique")
        if self.driver == "fan-out":
            if not self.nodes:
                raise ValueError("a fan-out builder needs nodes (engines with their platforms)")
            owner: dict[str, str] = {}
            for node in self.nodes:
                if not node.endpoint or not node.platforms:
                    raise ValueError(
                        f"node {node.name!r}: a fan-out node needs an endpoint and platforms"
                    )
                for platform in node.platforms:
                    key = refs.parse_platform(platform)
                    if key in owner:
                        raise ValueError(
                            f"{platform} is on nodes {owner[key]!r} and {node.name!r}: "
                            "each platform is built on one node"
                        )
                    owner[key] = node.name
        return self


class Project(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    image: str = Field(description="image repository, e.g. ${REGISTRY}/app (templates allowed)")
    context: str = Field(".", description="build context, relative to builds.yaml")
    dockerfile: str = Field("Dockerfile", description="relative to the context")
    source: str | None = Field(
        None, description="org.opencontainers.image.source (default: the origin remote)"
    )
    description: str | None = Field(None, description="org.opencontainers.image.description")
    url: str | None = Field(None, description="org.opencontainers.image.url (default: source)")
    licenses: str | None = Field(None, description="SPDX expression, e.g. MIT")
    allow_outside: bool = Field(
        False, description="allow contexts and output paths outside this file's directory"
    )


class Manifest(_Model):
    version: Literal[1] = 1
    project: Project
    variables: dict[str, str] = Field(default_factory=dict)
    mirrors: dict[str, str] = Field(
        default_factory=dict, description="upstream image -> the copy to build from"
    )
    builder: BuilderSpec | None = Field(None, description="buildx builder (default: current)")
    signing: SigningSpec | None = Field(None, description="cosign key for `sign: true` targets")
    verify: dict[str, BaseVerifySpec] = Field(
        default_factory=dict,
        description="base image (as the Dockerfile names it) -> the key its signature must match",
    )
    defaults: TargetSpec = Field(default_factory=TargetSpec)
    targets: dict[str, TargetSpec] = Field(min_length=1)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    checks: ChecksSpec = Field(
        default_factory=ChecksSpec, description="the check gate for every target"
    )

    @field_validator("version", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        # pydantic's lax mode reads `version: true` (and "1") as 1: the number, as written.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected 1, the manifest format (a number), got {value!r}")  # noqa: TRY004 (pydantic reports ValueError)
        return value

    @field_validator(
        "variables", "mirrors", "verify", "defaults", "groups", "checks", mode="before"
    )
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        # `verify:` with its only entry commented out (the README's example) is YAML's null:
        # an empty section, as an empty `args:` of a target already is.
        return {} if value is None else value

    @field_validator("variables")
    @classmethod
    def _var_names(cls, values: dict[str, str]) -> dict[str, str]:
        for name in values:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid variable name")
        return values

    @field_validator("mirrors")
    @classmethod
    def _mirror_refs(cls, values: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for upstream, copy in values.items():
            parsed = refs.parse_reference(upstream).normalized()
            refs.parse_reference(copy)
            key = str(parsed) if parsed.tag or parsed.digest else f"{parsed}:latest"
            if key in seen:
                raise ValueError(
                    f"{upstream!r} and {seen[key]!r} are the same image: one mirror each"
                )
            seen[key] = upstream
        return values

    @field_validator("verify")
    @classmethod
    def _verify_refs(cls, values: dict[str, BaseVerifySpec]) -> dict[str, BaseVerifySpec]:
        for upstream in values:
            refs.parse_reference(upstream)
        return values

    @field_validator("targets")
    @classmethod
    def _names(cls, values: dict[str, Any]) -> dict[str, Any]:
        for name in values:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"{name!r}: names are letters, digits, '-' and '_'")
        return values

    @field_validator("defaults")
    @classmethod
    def _no_default_stage(cls, value: TargetSpec) -> TargetSpec:
        for key in ("stage", "matrix", "name"):
            if getattr(value, key) is not None:
                raise ValueError(f"{key!r} belongs to a target, not to defaults")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, values: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        if "targets" not in info.data:
            return values  # targets failed on their own; membership can't be judged
        targets = info.data["targets"]
        for group, members in values.items():
            if not re.fullmatch(NAME_PATTERN, group):
                raise ValueError(f"{group!r}: names are letters, digits, '-' and '_'")
            if group in targets:
                raise ValueError(f"{group!r}: a target has the same name")
            for member in members:
                if member not in targets and member not in values:
                    known = ", ".join([*targets, *values])
                    raise ValueError(
                        f"{group}: {member!r} is neither a target nor a group (known: {known})"
                    )
        return values


# --- loading ---------------------------------------------------------------------------------
def _fields_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that owns the last key of `loc` (for did-you-mean suggestions)."""
    model: type[BaseModel] = Manifest
    i = 0
    while i < len(loc) - 1:
        key = loc[i]
        field = next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)
        if field is None:
            return None
        nested = _nested_model(field.annotation)
        if nested is None:
            return None
        model = nested
        # dict[str, Model] and list[Model] have one more path element (the key or index)
        if _is_container(field.annotation):
            i += 1
        i += 1
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _is_container(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    if origin in (dict, list):
        return True
    return any(_is_container(a) for a in getattr(annotation, "__args__", ()) or ())


def _message(err: Any) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        owner = _model_at(loc)
        known = _fields_of(owner) if owner else []
        import difflib  # only for an unknown key: not on every start-up

        close = difflib.get_close_matches(key, known, n=1)
        hint = (
            f" (did you mean {close[0]!r}?)"
            if close
            else (f" (known: {', '.join(known)})" if known else "")
        )
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if loc == ("version",) and kind == "literal_error":
        return f"this orchestrator reads manifests of version 1{_got(err.get('input'))}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        # pydantic's "a valid dictionary or instance of Project" names our classes.
        return f"expected a mapping of keys{_got(err.get('input'))}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg.removeprefix("Value error, ")  # our validators already name the value
    return msg + _got(err.get("input"))


def _got(value: Any) -> str:
    """` (got 'x')` for a plain value the user wrote, nothing for a mapping."""
    if isinstance(value, str | int | float | bool | list) and not isinstance(value, dict):
        return f" (got {value!r})"
    return ""


def _as_written(loc: tuple[str | int, ...], located: yamlsrc.Located) -> tuple[str | int, ...]:
    """pydantic's location in the file's spelling: a key the file has is kept as written (an
    unknown `not_a_key`, a target named `my_target`); a field name it lacks is its YAML alias."""
    out: tuple[str | int, ...] = ()
    for part in loc:
        written = (*out, part) in located.lines
        out = (*out, part if written or not isinstance(part, str) else _kebab(part))
    return out


def errors_to_lines(exc: ValidationError, located: yamlsrc.Located, prefix: str = "") -> list[str]:
    """One line per problem, in file order; union alternatives collapse into one line."""
    found: dict[tuple[str | int, ...], tuple[int, str]] = {}
    for err in exc.errors():
        loc = _as_written(tuple(err["loc"]), located)
        if err["type"] not in ("extra_forbidden", "missing"):
            # Trailing parts that name no key of the file are pydantic's union branches.
            while loc and loc not in located.lines:
                loc = loc[:-1]
        if loc in found:
            continue
        found[loc] = (located.line_of(loc), _message(err))
    ordered = sorted(found.items(), key=lambda item: item[1][0])
    return [
        f"{located.path}:{line}: {prefix}{yamlsrc.dotted(loc)}: {msg}"
        for loc, (line, msg) in ordered
    ]


EXTENSION_PREFIX = "x-"


def validate(located: yamlsrc.Located) -> Manifest:
    if not isinstance(located.data, dict):
        raise ManifestError(f"{located.path}:1: the manifest must be a mapping of keys")
    # Top-level keys starting with `x-` hold YAML anchors for merge keys (`x-common: &common`,
    # then `<<: *common` in a target), as compose files do: not part of the model, not checked.
    data = {k: v for k, v in located.data.items() if not str(k).startswith(EXTENSION_PREFIX)}
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        lines = errors_to_lines(exc, located)
        raise ManifestError(f"{located.path}: {len(lines)} problem(s)", problems=lines) from None


def load(path: Path) -> tuple[Manifest, yamlsrc.Located]:
    located = yamlsrc.load(path)
    return validate(located), located


def json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["patternProperties"] = {f"^{EXTENSION_PREFIX}": {}}  # see validate()
    schema["title"] = "builds.yaml"
    return schema
