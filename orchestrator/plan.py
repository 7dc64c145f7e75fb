"""The plan: a pure, frozen, printable resolution of builds.yaml. Needs no daemon.

Merge order, as bake does it: defaults -> target -> command-line overrides (--set) -> normalise
(variables interpolated, tags expanded, OCI labels added, mirrors and lock applied, outputs turned
into buildx exporter specs). `plan` prints this; `build` runs exactly this.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator import (
    cievent,
    contexts,
    dockerfile,
    gitinfo,
    inputs,
    matrix,
    ocilabels,
    refs,
    scratch,
    specs,
    supply,
    tags,
    variables,
    yamlsrc,
)
from orchestrator import manifest as manifest_mod
from orchestrator.dockerfile import Dockerfile as ParsedDockerfile
from orchestrator.errors import ManifestError, UserError
from orchestrator.gitinfo import GitInfo
from orchestrator.manifest import Manifest, TargetSpec
from orchestrator.overrides import Override

OCI = "org.opencontainers.image"
REPRODUCIBLE_NOTE = "reproducible: provenance off (it records build times)"
# The SBOM attestation records when the scanner ran: two builds of one commit would differ in
# their index digests (measured: same platform manifests, different indexes).
REPRODUCIBLE_SBOM_NOTE = "reproducible: sbom off (the scanner records its scan time)"


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
    file: str | None = None  # builds.yaml, for a `docker-image://` named context (line: its line)
    verify_key: str | None = None  # cosign public key its signature must match (`verify:`)


@dataclass(frozen=True)
class TargetPlan:
    name: str
    context: str
    dockerfile: str
    stage: str | None  # None: the last stage, built without --target
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
    # The build graph: targets whose results this one reads (`contexts: {x: target:OTHER}`).
    depends_on: tuple[str, ...] = ()
    input_only: bool = False  # built only as another target's input: exported as cache only
    network: str | None = None
    extra_hosts: Mapping[str, str] = field(default_factory=dict)
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    no_cache_filter: tuple[str, ...] = ()
    pull: bool = False
    # The copy of `dockerfile` buildx is given when the context would send the tool's own
    # `.orchestrator/` (scratch.sent_dockerfile): its Dockerfile-specific ignore file leaves it
    # out. None: `dockerfile` itself is sent.
    dockerfile_sent: str | None = None
    # The Dockerfile as parsed once for this run (stages, bases, mounts): preflight, checks and
    # build avoidance read this instead of parsing again. Not part of the printed plan.
    parsed: ParsedDockerfile | None = field(default=None, compare=False, repr=False)

    @property
    def sent(self) -> str:
        """The Dockerfile buildx is given: the copy when there is one (`dockerfile_sent`)."""
        return self.dockerfile_sent or self.dockerfile

    @property
    def left_out(self) -> str | None:
        """The directory build keeps out of this target's context, relative to it (the tool's
        own, when `dockerfile_sent`), for listings that say what BuildKit gets."""
        if self.dockerfile_sent is None:
            return None
        return scratch.left_out(Path(self.context), Path(self.dockerfile_sent))

    def model(self) -> ParsedDockerfile:
        """The parsed Dockerfile (parsed here only for plans built without resolve())."""
        return self.parsed if self.parsed is not None else dockerfile.load(Path(self.dockerfile))

    sign: bool = False  # sign the pushed index digest with the plan's `signing` key
    sbom_generator: str | None = None  # scanner image for `sbom: true` (None: BuildKit's default)

    def to_dict(self) -> dict[str, Any]:
        from orchestrator import argv  # local: argv imports this module for the types

        data = asdict(replace(self, parsed=None))
        del data["parsed"]
        data["argv"] = argv.build_argv(self)
        data["copy"] = argv.copy_argv(self)
        data["publish"] = argv.publish_argv(self, "<digest>")
        return data


@dataclass(frozen=True)
class SigningPlan:
    """Where the cosign key and its password come from: names and paths, never the values."""

    key: str  # a file path, or env://VAR (cosign reads the key from that variable)
    password_env: str
    public_key: str


@dataclass(frozen=True)
class Plan:
    manifest: str
    root: str
    project: str
    variables: Mapping[str, str]
    targets: tuple[TargetPlan, ...]
    notes: tuple[str, ...] = field(default=())
    signing: SigningPlan | None = None

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
            "signing": asdict(self.signing) if self.signing else None,
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
    seen: set[str] = set()  # `name in out` would be quadratic in a 200-target group

    def add(name: str, trail: tuple[str, ...]) -> None:
        if name in manifest.targets:
            if name not in seen:
                seen.add(name)
                out.append(name)
        elif name in manifest.groups:
            if name in trail:
                raise ManifestError(f"group cycle: {' -> '.join((*trail, name))}")
            for member in manifest.groups[name]:
                add(member, (*trail, name))
        else:
            raise UserError(unknown_name(name, [*manifest.targets, *manifest.groups]))

    for name in names:
        add(name, ())
    return out


def unknown_name(name: str, known: Sequence[str]) -> str:
    """One line for a name that is neither a target nor a group: a few close names, never all
    200 of a monorepo, and how to see them all."""
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"no target or group named {name!r} ({hint}"
        f"`orchestrator plan --list` lists all {len(known)})"
    )


# --- merging -------------------------------------------------------------------------------
MERGED_KEYS = ("args", "labels", "contexts", "extra-hosts")  # mappings: merged key by key


def _merged(defaults: TargetSpec, target: TargetSpec, extra: Mapping[str, Any]) -> dict[str, Any]:
    """defaults -> target -> overrides; mappings (args, labels) merge by key, the rest replace."""
    base = defaults.model_dump(by_alias=True, exclude_none=True)
    for key, value in target.model_dump(by_alias=True, exclude_none=True).items():
        if key in MERGED_KEYS and key in base:
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    for key, value in extra.items():
        if key in MERGED_KEYS or key == "cache":
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return base


def _interp(text: str, values: Mapping[str, str], where: str) -> str:
    try:
        return variables.interpolate(text, values)
    except variables.UnknownVariableError as exc:
        raise ManifestError(
            f"{where}: unknown variable ${{{exc.name}}} ({variables.unknown_hint(exc.name)})"
        ) from None
    except variables.InterpolationError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def _variable(
    text: str, builtins: Mapping[str, str], declared: Mapping[str, str], where: str
) -> str:
    """A `variables:` value, which reads built-ins only. A `${B}` naming another entry (or
    itself) would otherwise be "unknown ... define it under `variables:`", where it already is."""
    try:
        return variables.interpolate(text, builtins)
    except variables.UnknownVariableError as exc:
        if exc.name in declared:
            raise ManifestError(
                f"{where}: ${{{exc.name}}} is a `variables:` entry; a variable's value may "
                "refer to built-ins only (${GIT_BRANCH}, ${VERSION}, ...): write the value out"
            ) from None
    except variables.InterpolationError:
        pass
    return _interp(text, builtins, where)  # raises the usual error line


def _abs(base: Path, text: str) -> Path:
    # os.path.realpath, not Path.resolve(): before Python 3.13 that raises RuntimeError on a
    # symlink loop (exit 3); realpath leaves the loop in the path, which then fails to open
    # or is not a directory, in one line where it is used.
    return Path(os.path.realpath(base / Path(text).expanduser()))


def _oci_labels(manifest: Manifest, values: Mapping[str, str]) -> dict[str, str]:
    project = manifest.project
    return ocilabels.labels(
        project.name,
        values,
        source=project.source,
        description=project.description,
        url=project.url,
        licenses=project.licenses,
    )


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
    pushing = any(kind.partition(":")[0] == "push" for kind in kinds)
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
        elif name == "load" and pushing and full_tags:
            load = True
            # Beside a push, the release tags name the loaded image only: given as --tag (bake's
            # `tags`) buildx gives them to every exporter, and the push went out under them
            # during the bake (a failed run left them published, and the two exporters raced
            # to name the same image: "already exists").
            out.append(specs.build(("type", "docker"), ("name", ",".join(full_tags))))
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
    event = cievent.detect(env, git)
    builtins = {**git.variables(), **event.variables(), **(extra_builtins or {})}
    values = variables.resolve(
        builtins,
        {
            k: _variable(
                v,
                builtins,
                manifest.variables,
                f"{manifest_path}:{located.line_of(('variables', k))}: variables.{k}",
            )
            for k, v in manifest.variables.items()
        },
        cievent.own_variables(env, event),
        cli_vars or {},
    )
    gitinfo.settle(values, builtins)
    _given_version(values, builtins, env, cli_vars or {}, manifest, located)
    # Read as a number by tag rules and labels: refused in one line before either uses it.
    _epoch(values.get("SOURCE_DATE_EPOCH") or "0")
    lock = lock or LockView()
    expanded = matrix.expand(manifest, located)
    manifest = expanded.manifest
    ordered, inputs_only = contexts.order(
        manifest, select(manifest, names), located, expanded.origin
    )
    for override in overrides:
        override.check_targets([*manifest.targets, *expanded.origin.values()])
    plans: list[TargetPlan] = []
    failed: list[ManifestError] = []
    for name in ordered:  # every target's problems at once, not only the first target's
        try:
            plans.append(
                _resolve_target(
                    manifest,
                    located,
                    _Origin(name, expanded.origin.get(name, name), name in inputs_only),
                    {**values, **expanded.values.get(name, {})},
                    env,
                    overrides,
                    lock,
                    root,
                )
            )
        except ManifestError as exc:
            failed.append(exc)
    if len(failed) == 1:
        raise failed[0]
    if failed:
        lines = [line for exc in failed for line in exc.lines()]
        raise ManifestError(f"{manifest_path}: {len(lines)} problem(s)", problems=lines)
    for t in plans:
        # Only a --set contexts.NAME=target:X can add an edge the graph lacks; one to a target
        # that is planned anyway (itself, too) was let through, out of order or a cycle.
        written = set(contexts.edges(manifest, t.name).values())
        missing = [d for d in t.depends_on if d not in written]
        if missing:
            raise UserError(
                f"{t.name}: contexts target:{missing[0]} set with --set: write it in builds.yaml"
            )
    _refuse_shared_tags(plans, manifest_path)
    signing = supply.signing_plan(manifest, located, values, root)
    plans = [supply.apply(manifest, located, t, values, root, signing) for t in plans]
    return Plan(
        manifest=str(manifest_path),
        root=str(root),
        project=manifest.project.name,
        variables=values,
        targets=tuple(plans),
        signing=signing,
    )


@dataclass(frozen=True)
class _Origin:
    name: str  # the target's name (a matrix expansion's own)
    key: str  # its key in builds.yaml (the matrix target's, for an expansion)
    input_only: bool  # not selected: built only because a selected target consumes it


def _resolve_target(
    manifest: Manifest,
    located: yamlsrc.Located,
    origin: _Origin,
    values: Mapping[str, str],
    env: Mapping[str, str],
    overrides: Sequence[Override],
    lock: LockView,
    root: Path,
) -> TargetPlan:
    name, key = origin.name, origin.key
    where_line = located.line_of(("targets", key))
    where = f"{located.path}:{where_line}: targets.{key}"
    extra: dict[str, Any] = {}
    for override in overrides:
        if override.applies_to(name) or override.applies_to(key):
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

    def origin_of(field: str, entry: str | None = None) -> str:
        return _origin(manifest, located, name, key, field, overrides, entry)

    platform_list = _platform_list(spec.platforms or [], values, origin_of("platforms"))

    context = _abs(
        root, _interp(spec.context or manifest.project.context, values, origin_of("context"))
    )
    df_path = context / _interp(
        spec.dockerfile or manifest.project.dockerfile, values, origin_of("dockerfile")
    )
    args = {k: _arg_text(v) for k, v in (spec.args or {}).items()}
    args = {k: _interp(v, values, origin_of("args", k)) for k, v in args.items()}
    reproducible = bool(spec.reproducible)
    if reproducible:
        args.setdefault("SOURCE_DATE_EPOCH", values.get("SOURCE_DATE_EPOCH", "0"))

    try:
        parsed = dockerfile.load(df_path)
    except UserError as exc:
        # A missing file is the key's problem; a file BuildKit would refuse is the target's
        # (the message names its line).
        if df_path.exists():  # there, but BuildKit would refuse it (or it is no file)
            raise ManifestError(f"{where}: {exc.message}") from None
        if not context.is_dir():
            what = "is not a directory" if context.exists() else "directory not found"
            raise ManifestError(
                f"{origin_of('context')}: {_shown(context, root)}: {what}"
            ) from None
        written = origin_of("dockerfile")
        default = written.endswith(": project.dockerfile") and (
            "dockerfile" not in manifest.project.model_fields_set
        )
        if df_path.is_symlink():  # there, as a link to nothing: a loop, or a missing target
            raise ManifestError(
                f"{where if default else written}: {_shown(df_path, root)} is a symlink that "
                "leads to no file (a loop, or its target is missing)"
            ) from None
        if default:
            # Nobody wrote `dockerfile:`: the default was looked for; the target is what to fix.
            rel = _shown(df_path, root)
            raise ManifestError(
                f"{where}: no Dockerfile at {rel} (the default `Dockerfile` of its context); "
                "set `dockerfile:` in the target or `project.dockerfile`"
            ) from None
        raise ManifestError(f"{written}: {exc.message}") from None
    try:
        stage = _stage(parsed, _interp(spec.stage, values, where) if spec.stage else None, key)
        # Resolved here so a missing stage or a failing `${X:?}` names the manifest key.
        built = parsed.built_stages(stage, args, platform_list)
        _refuse_blank_base(parsed, args, platform_list, key)
    except UserError as exc:
        # No stage written (an empty file, no FROM): the target is what the error is about.
        at = origin_of("stage") if spec.stage else where  # a --set names itself
        raise ManifestError(f"{at}: {exc.message}") from None

    repositories = _repositories(
        spec, manifest, values, origin_of("images" if spec.images else "image")
    )
    repository = repositories[0]
    try:
        tag_list = tags.expand(spec.tags or [], values, spec.flavor)
    except (ValueError, variables.UnknownVariableError) as exc:
        why = (
            f"unknown variable ${{{exc.name}}} ({variables.unknown_hint(exc.name)})"
            if isinstance(exc, variables.UnknownVariableError)
            else exc
        )
        raise ManifestError(f"{origin_of('tags')}: {why}") from None  # a --set names itself
    full_tags = [f"{repo}:{t}" for repo in repositories for t in tag_list]

    labels = _oci_labels(manifest, values)
    labels.update(
        {k: _interp(v, values, f"{where}.labels") for k, v in (spec.labels or {}).items()}
    )

    secrets = _secrets(spec, root, env, notes)
    ssh = _ssh(spec, root, env, notes)
    named = {
        k: contexts.local_value(root, _interp(v, values, f"{where}.contexts.{k}"))
        for k, v in (spec.contexts or {}).items()
    }
    base_images, build_contexts = _bases(
        parsed, stage, args, platform_list, manifest.mirrors, lock, set(named)
    )
    for context_name, value in named.items():
        line = located.line_of(("targets", key, "contexts", context_name))
        resolved, image = _context_image(
            context_name, value, manifest.mirrors, lock, f"{located.path}:{line}"
        )
        build_contexts[context_name] = resolved
        if image is not None:
            base_images.append(image)
    # Keys a bake file holds only in newer buildx (argv.BAKE_SINCE): said in the notes.
    late = {"network": spec.network is not None, "entitlements": bool(spec.entitlements)}
    late["extra-hosts"] = bool(spec.extra_hosts)
    bake_lacks = [k for k, used in late.items() if used]
    if bake_lacks:
        notes.append(
            f"{', '.join(bake_lacks)}: bake of buildx before 0.18 (network), 0.17 "
            "(entitlements), 0.25 (extra-hosts) drops it; build then runs the line below"
        )
    depends_on = tuple(other for _, other in contexts.consumed(named))
    if depends_on:
        notes.append(
            f"built after {', '.join(depends_on)} in the same bake (target: contexts); "
            "the buildx build line alone cannot express that"
        )

    try:
        # Built only as another target's input: nothing is exported unless the target itself says
        # where its result goes (`outputs:` written on it); `type=cacheonly` keeps it in the cache.
        own_outputs = manifest.targets[name].outputs is not None or "outputs" in extra
        input_only = origin.input_only and not own_outputs
        if input_only:
            outputs, push, load = ["type=cacheonly"], False, False
            full_tags = []
            notes.append("an input of other targets only: exported as cache (type=cacheonly)")
        else:
            outputs, push, load = _outputs(
                [_interp(o, values, f"{where}.outputs") for o in (spec.outputs or ["load"])],
                repository,
                full_tags,
                root,
                reproducible,
                name,
            )
            if push and not refs.is_valid_tag(staging_tag(name)):
                # Refused here: buildx would fail at the push with "invalid reference format".
                raise ManifestError(
                    f"{where}: a pushed target's name is at most "
                    f"{128 - len(staging_tag(''))} characters (it is pushed first as "
                    f"{staging_tag('NAME')}, and a tag is at most 128)"
                )
            if push and not full_tags:
                # No `tags:`, or rules that give none for this commit (semver off a tag): the
                # image is pushed, but nothing a user would pull by name points at it.
                notes.append(
                    f"pushed without a release tag (`tags:` gave none for this commit): only "
                    f"its digest and the staging tag {staging_tag(name)} name it"
                )
        # A value buildx could not read back as one field is refused here, not when printed.
        [*(s.spec() for s in secrets), *(s.spec() for s in ssh)]
    except specs.SpecError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    provenance: str | None
    if reproducible:
        provenance = "false"
        notes.append(REPRODUCIBLE_NOTE)
        if spec.sbom:
            notes.append(REPRODUCIBLE_SBOM_NOTE)
    elif spec.provenance is None:
        provenance = None
    elif spec.provenance is False:
        provenance = "false"
    else:
        # `true` alone would mean mode=max to buildx, which records build-arg values: never implied.
        provenance = "mode=max" if spec.provenance == "max" else "mode=min"
    cache_from, cache_to = _cache(spec, values, where)
    sent = scratch.sent_dockerfile(root, name, context, df_path, built)
    if sent is not None:
        notes.append(
            f"{scratch.NAME}/ is kept out of the context by {sent}.dockerignore, beside a copy "
            "of the Dockerfile (the context's ignore file does not exclude it)"
        )
    return TargetPlan(
        name=name,
        context=str(context),
        dockerfile=str(df_path),
        stage=stage,
        platforms=tuple(platform_list),
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
        sbom=bool(spec.sbom) and not reproducible,
        sign=bool(spec.sign),
        sbom_generator=spec.sbom_generator,  # interpolated by supply.apply
        pin=spec.pin or "none",
        no_cache=bool(spec.no_cache),
        reproducible=reproducible,
        build_contexts=build_contexts,
        base_images=tuple(base_images),
        notes=tuple(notes),
        skipped_secrets=tuple(
            s.id for s in spec.secrets or [] if s.id not in {ref.id for ref in secrets}
        ),
        depends_on=depends_on,
        input_only=input_only,
        network=spec.network,
        extra_hosts=dict(spec.extra_hosts or {}),
        shm_size=spec.shm_size,
        ulimits=tuple(spec.ulimits or ()),
        entitlements=tuple(spec.entitlements or ()),
        annotations=ocilabels.with_labels(
            [_interp(a, values, f"{where}.annotations") for a in spec.annotations or ()],
            labels,
            spec.label_annotations or [],
            multi_platform=len(platform_list) > 1,
        ),
        no_cache_filter=tuple(spec.no_cache_filter or ()),
        pull=bool(spec.pull),
        dockerfile_sent=str(sent) if sent else None,
        parsed=parsed,
    )


def _stage(parsed: dockerfile.Dockerfile, written: str | None, name: str) -> str | None:
    """The --target of a target: the stage written, else the stage of its name, else None
    (the last stage, as BuildKit builds a file without --target)."""
    if written is None:
        return name if name.lower() in parsed.stage_names() else None
    found = parsed.find_stage(written)
    if found is not None and found.name is None:
        raise UserError(
            f"{parsed.path}:{found.line}: stage {found.index} has no name and BuildKit targets "
            f"stages by name only: name it (`FROM {found.base} AS NAME`) and set stage: NAME"
            + ("" if found.index < len(parsed.stages) - 1 else ", or drop stage: (last stage)")
        )
    parsed.target_stage(written)  # the error for an unknown name, with the known ones
    return written


def _refuse_blank_base(
    parsed: dockerfile.Dockerfile, args: Mapping[str, str], platforms: Sequence[str], name: str
) -> None:
    """BuildKit's `base name (${BASE}) should not be blank`, before the build: it is checked
    for every stage of the file on every platform, the target's or not (see `blank_base`)."""
    each: list[str | None] = [*platforms] or [None]
    for platform in each:
        found = parsed.blank_base(args, platform)
        if found is None:
            continue
        stage, names = found
        if not names:  # `FROM ${X:+y}` and the like: no one variable to give
            raise UserError(f"{parsed.path}:{stage.line}: FROM {stage.base} expands to nothing")
        arg = names[0]
        which = f"ARG {', '.join(names)} " + ("has" if len(names) == 1 else "have")
        raise UserError(
            f"{parsed.path}:{stage.line}: FROM {stage.base}: {which} no value (no default "
            "in the Dockerfile, none given) and BuildKit refuses a blank base image in any "
            f"stage: give it in builds.yaml (`args: {{{arg}: ...}}` in target {name}) or with "
            f"--set {name}.args.{arg}=..."
        )


def _repositories(
    spec: TargetSpec, manifest: Manifest, values: Mapping[str, str], where: str
) -> list[str]:
    """`images:` (every repository the tags go to), else `image:`, else the project's; `where`
    names where the value was written (`file:line: key.path`, or the --set)."""
    written = spec.images or [spec.image or manifest.project.image]
    out: list[str] = []
    for text in written:
        repository = _interp(text, values, where)
        try:
            repo_ref = refs.parse_reference(repository)
        except refs.InvalidReferenceError as exc:
            raise ManifestError(f"{where}: {exc}") from None
        if repo_ref.tag or repo_ref.digest:
            raise ManifestError(f"{where}: {repository!r} must be a repository without a tag")
        if repository in out:
            raise ManifestError(f"{where}: {repository!r} is listed twice")
        out.append(repository)
    return out


def _context_image(
    name: str, value: str, mirrors: Mapping[str, str], lock: LockView, where: str
) -> tuple[str, BaseImage | None]:
    """A `docker-image://` context gets the mirror and the locked digest a FROM line would.
    `where` is `builds.yaml:LINE` of the context."""
    if not value.startswith(contexts.IMAGE):
        return value, None
    ref = value.removeprefix(contexts.IMAGE)
    key = image_key(ref)
    mirror_by_key = {image_key(k): v for k, v in mirrors.items()}
    source = mirror_by_key.get(key, ref)
    locked = lock.entries.get(key)
    if locked and image_key(locked[0]) != image_key(source):
        locked = None
    digest = _written_digest(ref) or (locked[1] if locked else None)
    try:
        target = refs.parse_reference(source)
    except refs.InvalidReferenceError as exc:
        raise ManifestError(f"{where}: contexts.{name}: {exc}") from None
    pinned = target.with_digest(digest) if digest else target
    path, _, line = where.rpartition(":")
    context = f"docker-image://{pinned}"
    return context, BaseImage(ref, f"context {name}", int(line), source, digest, context, path)


def _refuse_shared_tags(plans: Sequence[TargetPlan], manifest_path: Path) -> None:
    """Two pushed targets of one run may not put the same release tag: whichever is tagged
    last wins, `verify` then fails the other, and build avoidance moves the tag back and forth
    between them on every run."""
    owner: dict[str, str] = {}
    shared: dict[tuple[str, str], list[str]] = {}
    for t in plans:
        if not t.push:
            continue
        for tag in t.tags:
            first = owner.setdefault(tag, t.name)
            if first != t.name:
                shared.setdefault((first, t.name), []).append(tag)
    if shared:
        problems = [
            f"targets {a} and {b} both push {tags[0]}"
            + (f" (and {len(tags) - 1} more tag(s))" if len(tags) > 1 else "")
            + ": a release tag names one image; give them different tags or images"
            for (a, b), tags in shared.items()
        ]
        raise ManifestError(f"{manifest_path}: {len(problems)} problem(s)", problems=problems)


def _given_version(
    values: dict[str, str],
    builtins: Mapping[str, str],
    env: Mapping[str, str],
    cli: Mapping[str, str],
    manifest: Manifest,
    located: yamlsrc.Located,
) -> None:
    """A VERSION given instead of git's is a semantic version, as git's always is (tags, the
    `semver` rule and the version label read it as one): `v1.2.3` and `v1.2` are read as a
    version tag is, anything else is refused in one line. An empty VERSION in the environment
    counts as not set (CI templates export it empty); an empty --var does not."""
    given = values.get("VERSION", "")
    if given == builtins.get("VERSION", ""):
        return
    if "VERSION" in cli:
        where = f"--var VERSION={given}"
    elif "VERSION" in env:
        if not given:
            values["VERSION"] = builtins.get("VERSION", "")
            return
        where = "VERSION (from the environment)"
    elif "VERSION" in manifest.variables:
        where = f"{located.path}:{located.line_of(('variables', 'VERSION'))}: variables.VERSION"
    else:
        return
    normal = gitinfo.tag_version(given)
    if normal is None or tags.parse_version(normal) is None:
        raise ManifestError(
            f"{where}: {given!r} is not a semantic version (1.2.3, 1.2.3-rc.1; a leading v is "
            "dropped): tags and the version label read VERSION as one"
        )
    values["VERSION"] = normal


def _platform_list(written: Sequence[str], values: Mapping[str, str], where: str) -> list[str]:
    """The target's platforms with `${...}` interpolated (a variable, a matrix value already
    substituted), then judged as builds.yaml judges written ones."""
    if not any("$" in p for p in written):
        return list(written)  # judged when builds.yaml was read
    out = [_interp(p, values, where) for p in written]
    try:
        manifest_mod.check_platforms(out)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    return out


def _shown(path: Path, root: Path) -> str:
    """`path` as a user reads it in an error: relative to builds.yaml's directory if inside."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def key_origin(
    manifest: Manifest,
    located: yamlsrc.Located,
    overrides: Sequence[Override],
    name: str,
    key: str,
    entry: str | None = None,
) -> str:
    """_origin() for a check made on the finished plan (destinations.py): `name` may be a
    matrix expansion, found again here. Only on an error's path: it expands the matrix anew."""
    expanded = matrix.expand(manifest, located)
    yaml_key = expanded.origin.get(name, name)
    return _origin(expanded.manifest, located, name, yaml_key, key, overrides, entry)


def _origin(
    manifest: Manifest,
    located: yamlsrc.Located,
    name: str,
    yaml_key: str,
    key: str,
    overrides: Sequence[Override],
    entry: str | None = None,
) -> str:
    """Where target `name`'s `key` was written: the --set that set it, else the target, the
    defaults or the project, as `file:line: key.path` (an error names what to edit). With
    `entry`, the same for that entry of the merged mapping `key` (`args.NAME`): the entry's
    own line under the target or the defaults, else the target's mapping."""
    wanted = None if entry is None else f"{key}.{entry}"
    culprit = next(
        (
            o
            for o in reversed(overrides)
            if (o.applies_to(name) or o.applies_to(yaml_key))
            and (o.key == wanted if wanted else o.key.split(".")[0] == key)
        ),
        None,
    )
    if culprit is not None:
        return f"--set {culprit.text}"

    def written_in(spec: object) -> bool:
        value = getattr(spec, key, None)
        return value is not None if entry is None else entry in (value or {})

    tail = (key,) if entry is None else (key, entry)
    if written_in(manifest.targets[name]):
        loc: tuple[str, ...] = ("targets", yaml_key, *tail)
    elif written_in(manifest.defaults):
        loc = ("defaults", *tail)
    else:
        loc = ("project", key) if entry is None else ("targets", yaml_key, key)
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
            # Empty is not there: a CI secret a job does not get (a pull request from a fork)
            # is an empty variable, and BuildKit would mount an empty file.
            present = bool(env.get(secret.env))
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


def _external(
    parsed: dockerfile.Dockerfile,
    stage: str | None,
    args: Mapping[str, str],
    platforms: Sequence[str],
) -> list[tuple[dockerfile.Stage, str, int]]:
    """Every image the target pulls on any of its platforms: a FROM chosen through a platform
    ARG pulls different images (or builds different stages) per platform."""
    found: list[tuple[dockerfile.Stage, str, int]] = []
    each: list[str | None] = [*platforms] or [None]
    for platform in each:
        for built in parsed.stages_for(stage, args, platform):
            for ref, line in parsed.external_images(built, args, platform):
                if not any(r == ref and n == line for _, r, n in found):
                    found.append((built, ref, line))
    return sorted(found, key=lambda item: (item[0].index, item[2]))


def _bases(
    parsed: dockerfile.Dockerfile,
    stage_name: str | None,
    args: Mapping[str, str],
    platforms: Sequence[str],
    mirrors: Mapping[str, str],
    lock: LockView,
    named: set[str] | None = None,
) -> tuple[list[BaseImage], dict[str, str]]:
    mirror_by_key = {image_key(k): v for k, v in mirrors.items()}
    images: list[BaseImage] = []
    redirects: dict[str, str] = {}
    for stage, ref, line in _external(parsed, stage_name, args, platforms):
        if ref in (named or set()):
            continue  # a named context of the target replaces this image (BuildKit's rule)
        # As BuildKit parses it once expanded: `busybox:${TAG}` with TAG empty, `Alpine:3` or
        # a malformed digest fail its build, so they fail the plan, at their line (a digest
        # that is not one is never silently "unpinned").
        problem = _reference_problem(ref)
        if problem:
            written = f" FROM {stage.base}:" if line == stage.line else ""  # else COPY --from...
            raise UserError(f"{parsed.path}:{line}:{written} {problem}")
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
            redirects[ref] = context
        images.append(BaseImage(ref, stage.label, line, source, digest, context))
    return images, redirects


@functools.lru_cache(maxsize=4096)
def _reference_problem(ref: str) -> str | None:
    """Why `ref` is no image reference, or None (cached: the same few bases in every target)."""
    try:
        refs.parse_reference(ref)
    except refs.InvalidReferenceError as exc:
        return str(exc)
    return None


# Pure, and asked for every FROM, mirror and lock entry of every target: the same few images
# over and over in a monorepo, each a full reference parse.
@functools.lru_cache(maxsize=4096)
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
