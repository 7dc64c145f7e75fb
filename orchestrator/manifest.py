"""builds.yaml: the schema (pydantic models) and loading with file:line breadcrumbs.

Every problem becomes one line `builds.yaml:12: targets.production.tagz: unknown key (did you
mean 'tags'?)`, all problems at once, never a traceback.
"""

from __future__ import annotations

import difflib
import re
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


class TargetSpec(_Model):
    """Settings of one target; `defaults:` has the same shape (without `stage`)."""

    description: str | None = None
    stage: str | None = Field(None, description="Dockerfile stage (--target); default: the name")
    image: str | None = Field(None, description="repository, overrides project.image")
    context: str | None = None
    dockerfile: str | None = None
    args: dict[str, ArgValue] | None = None
    labels: dict[str, str] | None = None
    platforms: list[str] | None = None
    tags: list[str] | None = None
    secrets: list[SecretSpec] | None = None
    ssh: list[SshSpec] | None = None
    cache: CacheSpec | None = None
    outputs: list[str] | None = Field(None, description="load | push | oci:PATH | local:DIR")
    provenance: str | bool | None = Field(None, description="false | min | max (true means min)")
    sbom: bool | None = None
    pin: PinPolicy | None = None
    no_cache: bool | None = None
    reproducible: bool | None = Field(None, description="SOURCE_DATE_EPOCH + rewrite-timestamp")

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            refs.parse_platform(value)
        if values is not None and len(set(values)) != len(values):
            raise ValueError("platforms are listed twice")
        twice = platforms.duplicates(values or [])
        if twice:
            raise ValueError(f"{twice[0]} (listed twice)")
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
            raise ValueError(f"{value!r}: expected load, push, oci:PATH, docker:PATH, local:DIR")
        return values

    @field_validator("provenance")
    @classmethod
    def _provenance(cls, value: str | bool | None) -> str | bool | None:
        if value is None or isinstance(value, bool) or value in ("min", "max"):
            return value
        raise ValueError(f"{value!r}: expected false, true (= min), min or max")

    @field_validator("args")
    @classmethod
    def _arg_names(cls, values: dict[str, ArgValue] | None) -> dict[str, ArgValue] | None:
        for name in values or {}:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid build-arg name")
        return values


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
    """A buildx builder to use, created if missing (`docker` means the engine's own)."""

    name: str = Field(pattern=NAME_PATTERN)
    driver: Literal["docker", "docker-container", "remote", "kubernetes"] = "docker-container"
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
        return self


class Project(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    image: str = Field(description="image repository, e.g. ${REGISTRY}/app (templates allowed)")
    context: str = Field(".", description="build context, relative to builds.yaml")
    dockerfile: str = Field("Dockerfile", description="relative to the context")
    source: str | None = Field(None, description="URL for org.opencontainers.image.source")
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
    defaults: TargetSpec = Field(default_factory=TargetSpec)
    targets: dict[str, TargetSpec] = Field(min_length=1)
    groups: dict[str, list[str]] = Field(default_factory=dict)

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
        if value.stage is not None:
            raise ValueError("a stage belongs to a target, not to defaults")
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
        close = difflib.get_close_matches(key, known, n=1)
        hint = (
            f" (did you mean {close[0]!r}?)"
            if close
            else (f" (known: {', '.join(known)})" if known else "")
        )
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg.removeprefix("Value error, ")  # our validators already name the value
    value = err.get("input")
    if isinstance(value, str | int | float | bool | list) and not isinstance(value, dict):
        msg += f" (got {value!r})"
    return msg


def errors_to_lines(exc: ValidationError, located: yamlsrc.Located, prefix: str = "") -> list[str]:
    """One line per problem, in file order; union alternatives collapse into one line."""
    found: dict[tuple[str | int, ...], tuple[int, str]] = {}
    for err in exc.errors():
        loc = tuple(_kebab(p) if isinstance(p, str) else p for p in err["loc"])
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
