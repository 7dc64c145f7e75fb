"""The plan: a pure, frozen, printable resolution of builds.yaml. Needs no daemon.

Merge order, as bake does it: defaults -> target -> command-line overrides (--set) -> normalise
(variables interpolated, tags expanded, OCI labels added, mirrors and lock applied, outputs turned
into buildx exporter specs). `plan` prints this; `build` runs exactly this.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator import dockerfile, inputs, refs, specs, tags, variables, yamlsrc
from orchestrator.errors import ManifestError, UserError
from orchestrator.gitinfo import GitInfo
from orchestrator.manifest import Manifest, TargetSpec
from orchestrator.overrides import Override

OCI = "org.opencontainers.image"
REPRODUCIBLE_NOTE = "reproducible: provenance off (it records build times)"


@dataclass(frozen=True)
class SecretRef:
    """A secret by id and where its value comes from; never the value itself."""

    id: str
    source: str  # "env" or "file"
    name: str  # env var name or absolute file path

    def spec(self) -> str:
        return specs.build(("id", self.id), ("env" if self.source == "env" else "src", self.name))


@dataclass(frozen=True)
class SshRef:
    id: str
    paths: tuple[str, ...] = ()

    def spec(self) -> str:
        return specs.ssh(self.id, self.paths)


@dataclass(frozen=True)
class BaseImage:
    """An image a target's stages pull, as written after ARG expansion, and what it resolves to."""

    ref: str  # as the Dockerfile says, e.g. golang:1.23-bookworm
    stage: str
    line: int
    source: str  # what BuildKit will pull: the mirror copy or the ref itself
    digest: str | None  # locked digest, when the lock has one
    context: str | None  # --build-context value that redirects the FROM, if any


@dataclass(frozen=True)
class TargetPlan:
    name: str
    context: str
    dockerfile: str
    stage: str
    platforms: tuple[str, ...]
    repository: str
    tags: tuple[str, ...]  # full references repository:tag
    args: Mapping[str, str]
    labels: Mapping[str, str]
    secrets: tuple[SecretRef, ...]
    ssh: tuple[SshRef, ...]
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]
    outputs: tuple[str, ...]  # buildx --output specs
    push: bool  # pushed by digest, tags published only after every target built
    load: bool
    provenance: str | None  # "false", "mode=min", "mode=max" or None (buildx default)
    sbom: bool
    pin: str
    no_cache: bool
    reproducible: bool
    build_contexts: Mapping[str, str]
    base_images: tuple[BaseImage, ...]
    notes: tuple[str, ...] = ()
    # Declared `required: false` and left out because their source is missing: still declared.
    skipped_secrets: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from orchestrator import argv  # local: argv imports this module for the types

        data = asdict(self)
        data["argv"] = argv.build_argv(self)
        data["copy"] = argv.copy_argv(self)
        data["publish"] = argv.publish_argv(self, "<digest>")
        return data


@dataclass(frozen=True)
class Plan:
    manifest: str
    root: str
    project: str
    variables: Mapping[str, str]
    targets: tuple[TargetPlan, ...]
    notes: tuple[str, ...] = field(default=())

    def target(self, name: str) -> TargetPlan:
        return next(t for t in self.targets if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        # A variable named like a secret's environment variable holds that secret's value.
        hidden = {s.name for t in self.targets for s in t.secrets if s.source == "env"}
        return {
            "manifest": self.manifest,
            "project": self.project,
            "variables": {k: "<secret>" if k in hidden else v for k, v in self.variables.items()},
            "targets": [t.to_dict() for t in self.targets],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class LockView:
    """What the plan needs from builds.lock: normalised reference -> (resolved source, digest)."""

    entries: Mapping[str, tuple[str, str]] = field(default_factory=dict)


# --- selection -----------------------------------------------------------------------------
def select(manifest: Manifest, names: Sequence[str]) -> list[str]:
    """Targets for the names given (targets or groups); default group, else every target."""
    if not names:
        names = ["default"] if "default" in manifest.groups else list(manifest.targets)
    out: list[str] = []

    def add(name: str, trail: tuple[str, ...]) -> None:
        if name in manifest.targets:
            if name not in out:
                out.append(name)
        elif name in manifest.groups:
            if name in trail:
                raise ManifestError(f"group cycle: {' -> '.join((*trail, name))}")
            for member in manifest.groups[name]:
                add(member, (*trail, name))
        else:
            known = ", ".join([*manifest.targets, *manifest.groups])
            raise UserError(f"no target or group named {name!r} (known: {known})")

    for name in names:
        add(name, ())
    return out


# --- merging -------------------------------------------------------------------------------
def _merged(defaults: TargetSpec, target: TargetSpec, extra: Mapping[str, Any]) -> dict[str, Any]:
    """defaults -> target -> overrides; mappings (args, labels) merge by key, the rest replace."""
    base = defaults.model_dump(by_alias=True, exclude_none=True)
    for key, value in target.model_dump(by_alias=True, exclude_none=True).items():
        if key in ("args", "labels") and key in base:
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    for key, value in extra.items():
        if key in ("args", "labels") or key == "cache":
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return base


def _interp(text: str, values: Mapping[str, str], where: str) -> str:
    try:
        return variables.interpolate(text, values)
    except variables.UnknownVariableError as exc:
        raise ManifestError(
            f"{where}: unknown variable ${{{exc.name}}} "
            "(define it under `variables:`, in the environment, or with --var)"
        ) from None
    except variables.InterpolationError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def _abs(base: Path, text: str) -> Path:
    return (base / Path(text).expanduser()).resolve()


def _oci_labels(manifest: Manifest, values: Mapping[str, str]) -> dict[str, str]:
    epoch = _epoch(values.get("SOURCE_DATE_EPOCH") or "0")
    # `created` is the commit time, not now: the same commit must give the same image bytes.
    created = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {
        f"{OCI}.title": manifest.project.name,
        f"{OCI}.version": values.get("VERSION", ""),
        f"{OCI}.revision": values.get("GIT_COMMIT_FULL", ""),
        f"{OCI}.created": created,
    }
    source = manifest.project.source or values.get("GIT_REMOTE_URL", "")
    if source:
        labels[f"{OCI}.source"] = source
    return labels


EPOCH_MAX = 253402300799  # 9999-12-31T23:59:59Z: the last second an RFC 3339 date can name


def _epoch(text: str) -> int:
    """SOURCE_DATE_EPOCH as the reproducible-builds spec defines it: decimal whole seconds."""
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) > EPOCH_MAX:
        raise UserError(
            f"SOURCE_DATE_EPOCH {text[:40]!r} is not a whole number of seconds since 1970 "
            f"(0 to {EPOCH_MAX}); fix or unset it"
        )
    return int(text)


def oci_archive(root: Path, target: str) -> Path:
    """Where a reproducible push target's OCI archive is written before it is copied."""
    return root / ".orchestrator" / "oci" / f"{target}.tar"


def staging_tag(target: str) -> str:
    return f"orchestrator-staging-{target}"


def _outputs(
    kinds: Sequence[str],
    repository: str,
    full_tags: Sequence[str],
    root: Path,
    reproducible: bool,
    target: str,
) -> tuple[list[str], bool, bool]:
    out: list[str] = []
    push = load = False
    stamp = [("rewrite-timestamp", "true")] if reproducible else []
    for kind in kinds:
        name, _, dest = kind.partition(":")
        if name == "push" and reproducible:
            push = True
            # rewrite-timestamp conflicts with the docker driver's image exporter ("conflicts
            # with unpack"), so a reproducible push exports an OCI archive with clamped
            # timestamps and copies it with skopeo, which keeps the digests (see publish_argv).
            out.append(
                specs.build(
                    ("type", "oci"),
                    ("dest", str(oci_archive(root, target))),
                    ("name", f"{repository}:{staging_tag(target)}"),
                    *stamp,
                )
            )
        elif name == "push":
            push = True
            # Pushed under a per-target staging tag; release tags are attached (by digest, from the
            # metadata file) only after every target built, so a failed or interrupted run never
            # moves a release tag. The docker driver cannot push-by-digest, hence the staging tag.
            out.append(
                specs.build(
                    ("type", "image"),
                    ("name", f"{repository}:{staging_tag(target)}"),
                    ("push", "true"),
                )
            )
        elif name == "load":
            load = True
            out.append("type=docker")
        elif name in ("oci", "docker"):
            ref = [("name", full_tags[0])] if full_tags else []
            out.append(specs.build(("type", name), ("dest", str(_abs(root, dest))), *ref, *stamp))
        elif name in ("tar", "local"):
            out.append(specs.build(("type", name), ("dest", str(_abs(root, dest)))))
    return out, push, load


def resolve(
    manifest: Manifest,
    located: yamlsrc.Located,
    git: GitInfo,
    *,
    names: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    cli_vars: Mapping[str, str] | None = None,
    overrides: Sequence[Override] = (),
    lock: LockView | None = None,
    extra_builtins: Mapping[str, str] | None = None,
) -> Plan:
    env = dict(os.environ if environ is None else environ)
    manifest_path = located.path
    root = manifest_path.parent.resolve()
    builtins = {**git.variables(), **(extra_builtins or {})}
    values = variables.resolve(
        builtins,
        {
            k: _interp(
                v, builtins, f"{manifest_path}:{located.line_of(('variables', k))}: variables.{k}"
            )
            for k, v in manifest.variables.items()
        },
        env,
        cli_vars or {},
    )
    lock = lock or LockView()
    selected = select(manifest, names)
    for override in overrides:
        override.check_targets(list(manifest.targets))
    plans: list[TargetPlan] = []
    failed: list[ManifestError] = []
    for name in selected:  # every target's problems at once, not only the first target's
        try:
            plans.append(
                _resolve_target(manifest, located, name, values, env, overrides, lock, root)
            )
        except ManifestError as exc:
            failed.append(exc)
    if len(failed) == 1:
        raise failed[0]
    if failed:
        lines = [line for exc in failed for line in exc.lines()]
        raise ManifestError(f"{manifest_path}: {len(lines)} problem(s)", problems=lines)
    return Plan(
        manifest=str(manifest_path),
        root=str(root),
        project=manifest.project.name,
        variables=values,
        targets=tuple(plans),
    )


def _resolve_target(
    manifest: Manifest,
    located: yamlsrc.Located,
    name: str,
    values: Mapping[str, str],
    env: Mapping[str, str],
    overrides: Sequence[Override],
    lock: LockView,
    root: Path,
) -> TargetPlan:
    where_line = located.line_of(("targets", name))
    where = f"{located.path}:{where_line}: targets.{name}"
    extra: dict[str, Any] = {}
    for override in overrides:
        if override.applies_to(name):
            override.merge_into(extra)
    raw = _merged(manifest.defaults, manifest.targets[name], extra)
    try:
        spec = TargetSpec.model_validate(raw)
    except ValidationError as exc:
        # Only overrides can make a valid manifest invalid here: say which --set did it.
        raise ManifestError(
            f"targets.{name}: invalid after --set overrides",
            problems=_override_errors(exc, name, overrides, located),
        ) from None

    notes: list[str] = []
    stage = spec.stage or name

    def origin(key: str) -> str:
        return _origin(manifest, located, name, key, overrides)

    context = _abs(
        root, _interp(spec.context or manifest.project.context, values, origin("context"))
    )
    df_path = context / _interp(
        spec.dockerfile or manifest.project.dockerfile, values, origin("dockerfile")
    )
    args = {k: _arg_text(v) for k, v in (spec.args or {}).items()}
    args = {k: _interp(v, values, f"{where}.args.{k}") for k, v in args.items()}
    reproducible = bool(spec.reproducible)
    if reproducible:
        args.setdefault("SOURCE_DATE_EPOCH", values.get("SOURCE_DATE_EPOCH", "0"))

    try:
        parsed = dockerfile.load(df_path)
    except UserError as exc:
        raise ManifestError(f"{origin('dockerfile')}: {exc.message}") from None
    try:
        stages = parsed.stages_for(stage)
    except UserError as exc:
        line = located.line_of(("targets", name, "stage"))
        raise ManifestError(f"{located.path}:{line}: targets.{name}.stage: {exc.message}") from None

    repository = _interp(spec.image or manifest.project.image, values, origin("image"))
    try:
        repo_ref = refs.parse_reference(repository)
    except refs.InvalidReferenceError as exc:
        raise ManifestError(f"{origin('image')}: {exc}") from None
    if repo_ref.tag or repo_ref.digest:
        raise ManifestError(f"{origin('image')}: {repository!r} must be a repository without a tag")
    try:
        tag_list = tags.expand(spec.tags or [], values)
    except (ValueError, variables.UnknownVariableError) as exc:
        line = located.line_of(("targets", name, "tags"))
        why = (
            f"unknown variable ${{{exc.name}}} (define it under `variables:`, or with --var)"
            if isinstance(exc, variables.UnknownVariableError)
            else exc
        )
        raise ManifestError(f"{located.path}:{line}: targets.{name}.tags: {why}") from None
    full_tags = [f"{repository}:{t}" for t in tag_list]

    labels = _oci_labels(manifest, values)
    labels.update(
        {k: _interp(v, values, f"{where}.labels") for k, v in (spec.labels or {}).items()}
    )

    secrets = _secrets(spec, root, env, notes)
    ssh = _ssh(spec, root, env, notes)
    base_images, contexts = _bases(parsed, stages, args, manifest.mirrors, lock)

    try:
        outputs, push, load = _outputs(
            [_interp(o, values, f"{where}.outputs") for o in (spec.outputs or ["load"])],
            repository,
            full_tags,
            root,
            reproducible,
            name,
        )
        # A value buildx could not read back as one field is refused here, not when printed.
        [*(s.spec() for s in secrets), *(s.spec() for s in ssh)]
    except specs.SpecError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    provenance: str | None
    if reproducible:
        provenance = "false"
        notes.append(REPRODUCIBLE_NOTE)
    elif spec.provenance is None:
        provenance = None
    elif spec.provenance is False:
        provenance = "false"
    else:
        # `true` alone would mean mode=max to buildx, which records build-arg values: never implied.
        provenance = "mode=max" if spec.provenance == "max" else "mode=min"
    cache_from, cache_to = _cache(spec, values, where)
    return TargetPlan(
        name=name,
        context=str(context),
        dockerfile=str(df_path),
        stage=stage,
        platforms=tuple(spec.platforms or []),
        repository=repository,
        tags=tuple(full_tags),
        args=args,
        labels=labels,
        secrets=secrets,
        ssh=ssh,
        cache_from=tuple(cache_from),
        cache_to=tuple(cache_to),
        outputs=tuple(outputs),
        push=push,
        load=load,
        provenance=provenance,
        sbom=bool(spec.sbom),
        pin=spec.pin or "none",
        no_cache=bool(spec.no_cache),
        reproducible=reproducible,
        build_contexts=contexts,
        base_images=tuple(base_images),
        notes=tuple(notes),
        skipped_secrets=tuple(
            s.id for s in spec.secrets or [] if s.id not in {ref.id for ref in secrets}
        ),
    )


def _origin(
    manifest: Manifest,
    located: yamlsrc.Located,
    name: str,
    key: str,
    overrides: Sequence[Override],
) -> str:
    """Where target `name`'s `key` was written: the --set that set it, else the target, the
    defaults or the project, as `file:line: key.path` (an error names what to edit)."""
    culprit = next(
        (o for o in reversed(overrides) if o.applies_to(name) and o.key.split(".")[0] == key),
        None,
    )
    if culprit is not None:
        return f"--set {culprit.text}"
    if getattr(manifest.targets[name], key, None) is not None:
        loc: tuple[str, ...] = ("targets", name, key)
    elif getattr(manifest.defaults, key, None) is not None:
        loc = ("defaults", key)
    else:
        loc = ("project", key)
    return f"{located.path}:{located.line_of(loc)}: {'.'.join(loc)}"


def _override_errors(
    exc: ValidationError, name: str, overrides: Sequence[Override], located: yamlsrc.Located
) -> list[str]:
    lines = []
    for err in exc.errors():
        head = str(err["loc"][0]).replace("_", "-").rstrip("-") if err["loc"] else ""
        culprit = next(
            (o for o in reversed(overrides) if o.applies_to(name) and o.key.split(".")[0] == head),
            None,
        )
        msg = str(err["msg"]).removeprefix("Value error, ")
        if culprit is not None:
            lines.append(f"--set {culprit.text}: {msg}")
        else:
            line = located.line_of(("targets", name, head))
            lines.append(f"{located.path}:{line}: targets.{name}.{head}: {msg}")
    return lines


def _cache(spec: TargetSpec, values: Mapping[str, str], where: str) -> tuple[list[str], list[str]]:
    """Expand the cache shorthands (see manifest.CacheSpec), then the raw entries."""
    cache = spec.cache
    if cache is None:
        return [], []
    cache_from: list[str] = []
    cache_to: list[str] = []
    if cache.registry:
        text = _interp(cache.registry, values, f"{where}.cache.registry")
        try:
            ref = refs.parse_reference(text)
        except refs.InvalidReferenceError as exc:
            raise ManifestError(f"{where}.cache.registry: {exc}") from None
        prefix = f"{ref.tag}-" if ref.tag else "cache-"
        branch = refs.sanitize_tag(values.get("GIT_BRANCH") or cache.default_branch)
        default = refs.sanitize_tag(cache.default_branch)

        def at(name: str) -> str:
            return f"{ref.name}:{prefix}{name}"[: len(ref.name) + 129]

        cache_from.append(specs.build(("type", "registry"), ("ref", at(branch))))
        if branch != default:  # a new branch starts warm from the default branch's cache
            cache_from.append(specs.build(("type", "registry"), ("ref", at(default))))
        cache_to.append(
            specs.build(
                ("type", "registry"),
                ("ref", at(branch)),
                ("mode", "max"),
                ("compression", cache.compression),
            )
        )
    if cache.local:
        path = _interp(cache.local, values, f"{where}.cache.local")
        cache_from.append(specs.build(("type", "local"), ("src", path)))
        cache_to.append(
            specs.build(
                ("type", "local"),
                ("dest", path),
                ("mode", "max"),
                ("compression", cache.compression),
            )
        )
    if cache.inline:
        cache_to.append("type=inline")
    cache_from += [_raw_spec(c, values, f"{where}.cache.from") for c in cache.from_]
    cache_to += [_raw_spec(c, values, f"{where}.cache.to") for c in cache.to]
    return cache_from, cache_to


def _raw_spec(text: str, values: Mapping[str, str], where: str) -> str:
    """A cache entry written as a buildx spec: read as buildx reads it, after interpolation."""
    spec = _interp(text, values, where)
    try:
        return specs.check_raw(spec)
    except specs.SpecError as exc:
        raise ManifestError(f"{where}: {text!r}: {exc}") from None


def _arg_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _secrets(
    spec: TargetSpec, root: Path, env: Mapping[str, str], notes: list[str]
) -> tuple[SecretRef, ...]:
    out: list[SecretRef] = []
    for secret in spec.secrets or []:
        if secret.env is not None:
            present = secret.env in env
            ref = SecretRef(secret.id, "env", secret.env)
        else:
            path = _abs(root, secret.file or "")
            inputs.note(path)
            present = path.is_file()
            ref = SecretRef(secret.id, "file", str(path))
        if present or secret.required:
            out.append(ref)  # a missing required one is reported by sources.check() before builds
        else:
            notes.append(f"secret {secret.id!r} skipped: {ref.source} {ref.name} not available")
    return tuple(out)


def _ssh(
    spec: TargetSpec, root: Path, env: Mapping[str, str], notes: list[str]
) -> tuple[SshRef, ...]:
    out: list[SshRef] = []
    for entry in spec.ssh or []:
        paths = tuple(str(_abs(root, p)) for p in entry.paths)
        for path in paths:
            inputs.note(path)
        available = (
            all(Path(p).exists() for p in paths) if paths else bool(env.get("SSH_AUTH_SOCK"))
        )
        if available or entry.required:
            out.append(SshRef(entry.id, paths))
        else:
            notes.append(f"ssh {entry.id!r} skipped: no agent socket or key available")
    return tuple(out)


def _bases(
    parsed: dockerfile.Dockerfile,
    stages: Sequence[dockerfile.Stage],
    args: Mapping[str, str],
    mirrors: Mapping[str, str],
    lock: LockView,
) -> tuple[list[BaseImage], dict[str, str]]:
    mirror_by_key = {image_key(k): v for k, v in mirrors.items()}
    images: list[BaseImage] = []
    contexts: dict[str, str] = {}
    for stage in stages:
        for ref, line in parsed.external_images(stage, args):
            if "@" in ref:  # a digest written in FROM must be one: never silently "unpinned"
                try:
                    refs.parse_reference(ref)
                except refs.InvalidReferenceError as exc:
                    raise UserError(f"{parsed.path}:{line}: FROM {ref}: {exc}") from None
            key = image_key(ref)
            source = mirror_by_key.get(key, ref)
            locked = lock.entries.get(key)
            if locked and image_key(locked[0]) != image_key(source):
                # Locked from another source (the mirror changed since): those are not the bytes
                # this build pulls. `pin --check` reports it; `pin` resolves the new source.
                locked = None
            # A digest written in the FROM line wins over the lock: the file is explicit.
            digest = _written_digest(ref) or (locked[1] if locked else None)
            context = None
            if locked or key in mirror_by_key:
                # A named context redirects this FROM without editing the Dockerfile: the file
                # keeps a readable tag, BuildKit pulls exactly the mirror copy / locked bytes.
                target = refs.parse_reference(source)
                pinned = target.with_digest(digest) if digest else target
                context = f"docker-image://{pinned}"
                contexts[ref] = context
            images.append(BaseImage(ref, stage.label, line, source, digest, context))
    return images, contexts


def image_key(ref: str) -> str:
    """The key of `ref` in mirrors and builds.lock: normalised, `:latest` made explicit, and
    without a digest written after a tag (`golang:1.23@sha256:…` is still `golang:1.23`)."""
    try:
        parsed = refs.parse_reference(ref).normalized()
    except refs.InvalidReferenceError:
        return ref
    if parsed.tag and parsed.digest:
        parsed = refs.Reference(parsed.domain, parsed.path, parsed.tag, None)
    elif not parsed.tag and not parsed.digest:
        parsed = refs.Reference(parsed.domain, parsed.path, "latest", None)
    return str(parsed)


def _written_digest(ref: str) -> str | None:
    try:
        return refs.parse_reference(ref).digest
    except refs.InvalidReferenceError:
        return None
