"""Plans resolved from in-memory manifests: merge order, variables, tags, mirrors, lock, argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import argv
from orchestrator.errors import ManifestError, UserError
from orchestrator.plan import LockView

from .helpers import BASE, GIT, resolve, write_project

DIGEST = "sha256:" + "a" * 64


def test_default_group_and_group_expansion(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    assert [t.name for t in resolve(path).targets] == ["production"]
    assert [t.name for t in resolve(path, ["all"]).targets] == ["development", "production"]
    with pytest.raises(UserError, match="no target or group named 'nope'"):
        resolve(path, ["nope"])


def test_merge_order_defaults_then_target_then_overrides(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    prod = resolve(path, ["production"]).target("production")
    # mappings merge by key; lists replace
    assert prod.args == {"VERSION": "1.2.3", "GIT_COMMIT": "0123456", "EXTRA": "1"}
    assert prod.platforms == ("linux/amd64", "linux/arm64")
    assert prod.labels["team"] == "core"
    dev = resolve(path, ["development"]).target("development")
    assert dev.platforms == ("linux/amd64",)  # from defaults
    over = resolve(
        path,
        ["production"],
        sets=["production.platforms=linux/arm64", "*.args.EXTRA=2", "production.labels.team=x"],
    ).target("production")
    assert over.platforms == ("linux/arm64",)
    assert over.args["EXTRA"] == "2"
    assert over.labels["team"] == "x"


def test_invalid_override_value_is_reported_with_its_key(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    with pytest.raises(ManifestError) as info:
        resolve(path, ["production"], sets=["production.platforms=linux/arm65"])
    assert info.value.problems == (
        "--set production.platforms=linux/arm65: invalid platform 'linux/arm65': "
        "unknown architecture 'arm65'",
    )
    with pytest.raises(UserError, match="unknown key 'platfrom'"):
        resolve(path, sets=["production.platfrom=x"])
    with pytest.raises(UserError, match="no target matches 'prod'"):
        resolve(path, sets=["prod.tags=x"])


def test_variables_precedence_git_then_manifest_then_env_then_cli(tmp_path: Path) -> None:
    text = BASE.replace("version: 1\n", "version: 1\nvariables:\n  REGISTRY: reg.example:5000\n")
    text = text.replace("image: localhost:5000/app", "image: ${REGISTRY}/app")
    path = write_project(tmp_path, text)
    plan = resolve(path)
    assert plan.target("production").repository == "reg.example:5000/app"
    plan = resolve(path, env={"TOKEN": "x", "REGISTRY": "env.example", "VERSION": "2.0.0"})
    assert plan.target("production").repository == "env.example/app"
    assert plan.variables["VERSION"] == "2.0.0"
    plan = resolve(path, env={"TOKEN": "x", "VERSION": "2.0.0"}, cli={"VERSION": "3.1.0"})
    assert plan.target("production").args["VERSION"] == "3.1.0"
    assert plan.target("production").tags == (
        "reg.example:5000/app:3.1.0",
        "reg.example:5000/app:3.1",
        "reg.example:5000/app:3",
        "reg.example:5000/app:latest",
        "reg.example:5000/app:sha-0123456",
    )


def test_a_given_version_is_a_semantic_version(tmp_path: Path) -> None:
    """A VERSION from the environment or --var went into tags and the version label as given
    (`junk`, `v1.2.3`, `01.2.3`); git's is always a semver, so a given one must be too."""
    path = write_project(tmp_path)
    assert resolve(path, env={"TOKEN": "x", "VERSION": "v2.1"}).variables["VERSION"] == "2.1.0"
    for bad in ("junk", "01.2.3", "1.2.3-"):
        with pytest.raises(ManifestError, match=rf"^VERSION \(from the environment\): '{bad}'"):
            resolve(path, env={"TOKEN": "x", "VERSION": bad})
    with pytest.raises(ManifestError, match=r"^--var VERSION=x: 'x' is not a semantic version"):
        resolve(path, cli={"VERSION": "x"})
    # Exported empty by a CI template: not set.
    assert resolve(path, env={"TOKEN": "x", "VERSION": ""}).variables["VERSION"] == "1.2.3"


def test_sha_outside_a_repository_gives_no_tag(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    outside = GIT.__class__(**{**GIT.__dict__, "commit": "unknown", "short": "unknown"})
    prod = resolve(path, git=outside).target("production")
    assert not any("sha-" in tag for tag in prod.tags)


def test_undeclared_env_var_does_not_override(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    plan = resolve(path, env={"TOKEN": "x", "SOMETHING": "1"})
    assert "SOMETHING" not in plan.variables


def test_prerelease_gets_no_latest_and_no_short_tags(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    prod = resolve(path, cli={"VERSION": "1.3.0-rc.1"}).target("production")
    assert prod.tags == ("localhost:5000/app:1.3.0-rc.1", "localhost:5000/app:sha-0123456")


def test_unknown_variable_names_its_place(tmp_path: Path) -> None:
    path = write_project(tmp_path, BASE.replace("tags: [dev]", 'tags: ["${NOPE}"]'))
    with pytest.raises(ManifestError, match=r"targets.development.tags: .*NOPE"):
        resolve(path, ["development"])


def test_invalid_tag_after_expansion(tmp_path: Path) -> None:
    path = write_project(tmp_path, BASE.replace("tags: [dev]", 'tags: ["bad tag"]'))
    with pytest.raises(
        ManifestError, match=r"builds.yaml:\d+: targets.development.tags: tag 'bad tag'"
    ):
        resolve(path, ["development"])


def test_missing_stage_names_the_manifest_line_and_known_stages(tmp_path: Path) -> None:
    path = write_project(tmp_path, BASE.replace("stage: production", "stage: prod"))
    with pytest.raises(ManifestError) as info:
        resolve(path)
    assert info.value.message == (
        f"{path}:15: targets.production.stage: {tmp_path / 'Dockerfile'}: no stage named 'prod' "
        "(stages: builder, development, production)"
    )


def test_invalid_repository(tmp_path: Path) -> None:
    path = write_project(tmp_path, BASE.replace("localhost:5000/app", "localhost:5000/App!"))
    with pytest.raises(ManifestError, match="invalid image reference"):
        resolve(path)


def test_oci_labels_are_filled_from_git_and_are_reproducible(tmp_path: Path) -> None:
    labels = resolve(write_project(tmp_path)).target("production").labels
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    assert labels["org.opencontainers.image.revision"] == GIT.commit
    assert labels["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"  # commit time
    assert labels["org.opencontainers.image.title"] == "app"


def test_mirror_and_lock_become_named_contexts(tmp_path: Path) -> None:
    text = BASE.replace(
        "version: 1\n",
        "version: 1\nmirrors:\n  golang:1.23-bookworm: localhost:5000/library/golang:1.23-bookworm\n",
    )
    path = write_project(tmp_path, text)
    dev = resolve(path, ["development"]).target("development")
    assert dev.build_contexts == {
        "golang:1.23-bookworm": "docker-image://localhost:5000/library/golang:1.23-bookworm"
    }
    lock = LockView(
        {
            "docker.io/library/golang:1.23-bookworm": (
                "localhost:5000/library/golang:1.23-bookworm",
                DIGEST,
            )
        }
    )
    dev = resolve(path, ["development"], lock=lock).target("development")
    assert dev.build_contexts["golang:1.23-bookworm"] == (
        f"docker-image://localhost:5000/library/golang:1.23-bookworm@{DIGEST}"
    )
    assert dev.base_images[0].digest == DIGEST


def test_only_stages_the_target_builds_contribute_base_images(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path), ["all"])
    assert [(b.ref, b.stage) for b in plan.target("production").base_images] == [
        ("golang:1.23-bookworm", "builder")
    ]
    assert [(b.ref, b.stage) for b in plan.target("development").base_images] == [
        ("golang:1.23-bookworm", "development")
    ]


def test_push_goes_to_a_staging_tag_and_release_tags_are_published_after(tmp_path: Path) -> None:
    prod = resolve(write_project(tmp_path)).target("production")
    assert prod.outputs == (
        "type=image,name=localhost:5000/app:orchestrator-staging-production,push=true",
    )
    cmd = argv.build_argv(prod)
    assert "--tag" not in cmd
    assert argv.publish_argv(prod, DIGEST) == [
        "docker",
        "buildx",
        "imagetools",
        "create",
        "--tag",
        "localhost:5000/app:1.2.3",
        "--tag",
        "localhost:5000/app:1.2",
        "--tag",
        "localhost:5000/app:1",
        "--tag",
        "localhost:5000/app:latest",
        "--tag",
        "localhost:5000/app:sha-0123456",
        f"localhost:5000/app@{DIGEST}",
    ]


def test_exact_build_argv(tmp_path: Path) -> None:
    text = BASE.replace(
        "    outputs: [load]\n",
        "    outputs: [load]\n    provenance: true\n"
        "    cache: {from: ['type=local,src=/c'], to: ['type=local,dest=/c']}\n"
        "    ssh: [{id: default}]\n    no-cache: true\n",
    )
    dev = resolve(write_project(tmp_path, text), ["development"]).target("development")
    assert argv.build_argv(dev) == [
        "docker",
        "buildx",
        "build",
        "--file",
        str(tmp_path / "Dockerfile"),
        "--target",
        "development",
        "--platform",
        "linux/amd64",
        "--build-arg",
        "GIT_COMMIT=0123456",
        "--build-arg",
        "VERSION=1.2.3",
        "--label",
        "org.opencontainers.image.created=2023-11-14T22:13:20Z",
        "--label",
        f"org.opencontainers.image.revision={GIT.commit}",
        "--label",
        "org.opencontainers.image.title=app",
        "--label",
        "org.opencontainers.image.version=1.2.3",
        "--label",
        "team=core",
        "--tag",
        "localhost:5000/app:dev",
        "--ssh",
        "default",
        "--cache-from",
        "type=local,src=/c",
        "--cache-to",
        "type=local,dest=/c",
        "--output",
        "type=docker",
        "--provenance=mode=min",  # `true` means min here, never buildx's max
        "--no-cache",
        str(tmp_path),
    ]


def test_secrets_appear_by_id_and_source_only(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path), env={"TOKEN": "s3cr3t-value"})
    text = json.dumps(plan.to_dict()) + json.dumps(argv.bake_definition(plan))
    assert "id=token,env=TOKEN" in text
    assert "s3cr3t-value" not in text


def test_optional_secret_missing_is_skipped_with_a_note(tmp_path: Path) -> None:
    text = BASE.replace(
        "secrets: [{id: token, env: TOKEN}]", "secrets: [{id: token, env: TOKEN, required: false}]"
    )
    prod = resolve(write_project(tmp_path, text), env={}).target("production")
    assert prod.secrets == ()
    assert prod.notes == ("secret 'token' skipped: env TOKEN not available",)
    assert prod.skipped_secrets == ("token",)
    # Still declared: the Dockerfile's optional mount of it is not an undeclared mount.
    from orchestrator import preflight

    plan = resolve(write_project(tmp_path, text), ["production"], env={})
    assert preflight.undeclared_mounts(plan) == []


def test_bake_definition_matches_build_argv(tmp_path: Path) -> None:
    plan = resolve(write_project(tmp_path), ["all"])
    bake = argv.bake_definition(plan)
    assert bake["group"]["default"]["targets"] == ["development", "production"]
    for t in plan.targets:
        entry = bake["target"][t.name]
        cmd = argv.build_argv(t)
        assert entry["target"] == cmd[cmd.index("--target") + 1]
        assert entry.get("output") == [cmd[i + 1] for i, a in enumerate(cmd) if a == "--output"]
        assert entry.get("secret", []) == [cmd[i + 1] for i, a in enumerate(cmd) if a == "--secret"]
        assert [f"{k}={v}" for k, v in entry.get("args", {}).items()] == [
            cmd[i + 1] for i, a in enumerate(cmd) if a == "--build-arg"
        ]


def test_reproducible_sets_epoch_rewrites_timestamps_and_disables_provenance(
    tmp_path: Path,
) -> None:
    text = BASE.replace(
        "    outputs: [load]\n", "    outputs: ['oci:dist/dev.tar']\n    reproducible: true\n"
    )
    dev = resolve(write_project(tmp_path, text), ["development"]).target("development")
    assert dev.args["SOURCE_DATE_EPOCH"] == "1700000000"
    assert dev.outputs == (
        f"type=oci,dest={tmp_path / 'dist/dev.tar'},name=localhost:5000/app:dev,rewrite-timestamp=true",
    )
    assert dev.provenance == "false"


def test_cache_policy_registry_per_branch_with_default_fallback(tmp_path: Path) -> None:
    text = BASE.replace(
        "    outputs: [push]\n",
        "    outputs: [push]\n    cache: {registry: 'localhost:5000/app:bc', local: /tmp/c, inline: true}\n",
    )
    path = write_project(tmp_path, text)
    on_main = resolve(path).target("production")
    assert on_main.cache_from == (
        "type=registry,ref=localhost:5000/app:bc-main",
        "type=local,src=/tmp/c",
    )
    assert on_main.cache_to == (
        "type=registry,ref=localhost:5000/app:bc-main,mode=max,compression=zstd",
        "type=local,dest=/tmp/c,mode=max,compression=zstd",
        "type=inline",
    )
    feature = resolve(path, cli={"GIT_BRANCH": "feat/x"}).target("production")
    assert feature.cache_from[:2] == (
        "type=registry,ref=localhost:5000/app:bc-feat-x",
        "type=registry,ref=localhost:5000/app:bc-main",
    )
    assert feature.cache_to[0] == (
        "type=registry,ref=localhost:5000/app:bc-feat-x,mode=max,compression=zstd"
    )
    gzip = resolve(path, sets=["production.cache.compression=gzip"]).target("production")
    assert gzip.cache_to[0].endswith(",mode=max,compression=gzip")
    no_tag = resolve(path, sets=["production.cache.registry=localhost:5000/cache"]).target(
        "production"
    )
    assert no_tag.cache_from[0] == "type=registry,ref=localhost:5000/cache:cache-main"


def test_a_set_cache_spec_is_one_spec_commas_and_all(tmp_path: Path) -> None:
    """`--set T.cache.from=type=registry,ref=...` was cut at its commas ('ref=...' is no spec);
    as with buildx's --cache-from, the value is one spec, and repeating the --set lists more."""
    path = write_project(tmp_path)
    one = "production.cache.from=type=registry,ref=localhost:5000/x:cache"
    two = "production.cache.from=type=local,src=/tmp/c"
    target = resolve(path, sets=[one, two, "production.cache.to=type=inline"]).target("production")
    assert target.cache_from[:2] == (
        "type=registry,ref=localhost:5000/x:cache",
        "type=local,src=/tmp/c",
    )
    assert target.cache_to == ("type=inline",)
    cleared = resolve(path, sets=[one, "production.cache.from="]).target("production")
    assert "type=registry,ref=localhost:5000/x:cache" not in cleared.cache_from


def test_reproducible_turns_the_sbom_off_and_says_so(tmp_path: Path) -> None:
    """An SBOM attestation records its scan time: two builds of one commit would get different
    index digests, which is what `reproducible` promises they do not."""
    path = write_project(tmp_path)
    t = resolve(path, ["production"], sets=["production.reproducible=true", "production.sbom=true"])
    target = t.target("production")
    assert target.sbom is False
    assert "reproducible: sbom off (the scanner records its scan time)" in target.notes
    plain = resolve(path, ["production"], sets=["production.sbom=true"]).target("production")
    assert plain.sbom is True


def test_a_pushed_target_without_a_release_tag_says_what_names_it(tmp_path: Path) -> None:
    """`outputs: [push]` and no `tags:` (or rules giving none for this commit): the image is
    pushed, but only its digest and the staging tag name it. Said in the plan's notes, which
    `plan`, the build's report and the CI summary show."""
    path = write_project(tmp_path)
    bare = resolve(path, ["production"], sets=["production.tags="]).target("production")
    assert bare.push
    assert not bare.tags
    assert any(
        "pushed without a release tag" in n and "orchestrator-staging-production" in n
        for n in bare.notes
    )
    tagged = resolve(path, ["production"]).target("production")
    assert tagged.tags
    assert not any("release tag" in n for n in tagged.notes)


def test_push_and_load_give_the_release_tags_to_the_loaded_image_only(tmp_path: Path) -> None:
    """As --tag (bake's `tags`) buildx names every exporter with them: the push went out under
    the release tags during the bake."""
    path = write_project(tmp_path)
    target = resolve(path, sets=["production.outputs=push,load"]).target("production")
    assert (target.push, target.load) == (True, True)
    built = argv.build_argv(target)
    assert "--tag" not in built
    named = [o for o in target.outputs if o.startswith("type=docker")]
    assert named == ['type=docker,"name=' + ",".join(target.tags) + '"']
    assert (
        "tags"
        not in argv.bake_definition(resolve(path, sets=["production.outputs=push,load"]))["target"][
            "production"
        ]
    )
    alone = resolve(path, sets=["production.outputs=load"]).target("production")
    assert argv.build_argv(alone).count("--tag") == len(alone.tags)


def test_two_pushed_targets_may_not_put_the_same_release_tag(tmp_path: Path) -> None:
    text = (
        "version: 1\nproject: {name: d, image: localhost:5000/d}\n"
        "targets:\n"
        "  a: {tags: [latest, x], outputs: [push], args: {X: a}}\n"
        "  b: {tags: [latest, x], outputs: [push], args: {X: b}}\n"
        "  c: {tags: [latest], outputs: [load]}\n"
        "  e: {tags: [latest], image: localhost:5000/e, outputs: [push]}\n"
    )
    path = write_project(tmp_path, text, "FROM busybox:1.35\n")
    with pytest.raises(ManifestError) as caught:
        resolve(path, ["a", "b", "c", "e"], cli={"VERSION": "1.0.0"})
    assert caught.value.problems == (
        "targets a and b both push localhost:5000/d:latest (and 1 more tag(s)): a release tag "
        "names one image; give them different tags or images",
    )
    assert len(resolve(path, ["a", "c", "e"], cli={"VERSION": "1.0.0"}).targets) == 3


def test_a_base_pinned_in_the_dockerfile_shows_its_digest_once() -> None:
    """After `pin --write` the summary said `...:1.35@sha256:c84d…@sha256:c84d…`."""
    from orchestrator import report

    digest = "sha256:" + "c" * 64
    pinned = report.BaseUsed(
        f"busybox:1.35@{digest}", f"localhost:5000/busybox:1.35@{digest}", digest, True
    )
    assert report._base_line(pinned).count(digest) == 2  # the ref and the source, once each
    mirrored = report.BaseUsed("busybox:1.35", "localhost:5000/busybox:1.35", digest, True)
    assert report._base_line(mirrored) == (
        f"busybox:1.35 <- localhost:5000/busybox:1.35@{digest} (locked)"
    )


BLANK_BASE = """\
ARG BASE_IMAGE
FROM busybox:1.36 AS deps
FROM ${BASE_IMAGE} AS production
FROM busybox:1.36 AS tools
"""
BLANK_YAML = """\
version: 1
project: {name: app, image: localhost:5000/app}
targets:
  production: {tags: [dev]}
  tools: {tags: [dev], image: localhost:5000/tools}
"""


@pytest.mark.parametrize("target", ["production", "tools"])
def test_a_from_with_an_arg_that_has_no_value_is_refused_at_its_line(
    tmp_path: Path, target: str
) -> None:
    """BuildKit refuses `FROM ${BASE_IMAGE}` blank in every stage, before it looks at --target:
    `tools` never builds the production stage and fails all the same."""
    path = write_project(tmp_path, BLANK_YAML, BLANK_BASE)
    with pytest.raises(UserError) as caught:
        resolve(path, [target])
    message = caught.value.message
    assert "\n" not in message
    assert "Dockerfile:3: FROM ${BASE_IMAGE}: ARG BASE_IMAGE has no value" in message
    assert f"`args: {{BASE_IMAGE: ...}}` in target {target}" in message
    assert f"--set {target}.args.BASE_IMAGE=..." in message
    given = resolve(path, [target], sets=[f"{target}.args.BASE_IMAGE=alpine:3.21"])
    assert [t.name for t in given.targets] == [target]
