"""The build graph on the real engine (buildx 0.13.1, docker driver, containerd store): a target
built FROM another target through `contexts: {base: target:base}` in one bake, and the new bake
keys as buildx itself reads our bake file."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from orchestrator import uptodate
from tests.conftest import Engine

from .orchestrate import orchestrator

BASE_IMAGE = "localhost:5000/library/busybox:1.35"


def _project(tmp: Path, repo: str, extra: str = "") -> None:
    manifest = textwrap.dedent(f"""\
        version: 1
        project: {{name: graph, image: {repo}}}
        targets:
          base: {{dockerfile: base.Dockerfile}}
          app:
            contexts: {{base: "target:base"}}
            tags: [v1]
            outputs: [push]
        """)
    (tmp / "builds.yaml").write_text(manifest + extra, encoding="utf-8")
    (tmp / "base.Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo from-base > /base.txt\n", encoding="utf-8"
    )
    (tmp / "Dockerfile").write_text(
        'FROM base\nRUN cat /base.txt > /app.txt\nCMD ["cat", "/base.txt", "/app.txt"]\n',
        encoding="utf-8",
    )


def test_a_target_built_from_another_target_in_one_bake(engine: Engine, tmp_path: Path) -> None:
    repo = engine.unique_repo("graph")
    _project(tmp_path, repo)
    report_path = tmp_path / "report.json"
    orchestrator(
        engine, "build", "app", "--skip-checks", "--report", str(report_path), cwd=tmp_path
    )
    report = json.loads(report_path.read_text())
    statuses = {t["name"]: (t["status"], t["tags"]) for t in report["targets"]}
    # base was pulled in as app's input and exported as cache only: no tags, nothing pushed
    assert statuses == {"base": ("ok", []), "app": ("ok", [f"{repo}:v1"])}
    # Nothing of base was pushed: the repository holds app's tags only (base would be pushed
    # to the same repository, the project's image, under its own staging tag).
    host, path = repo.split("/", 1)
    listed = json.loads(engine.run("curl", "-s", f"http://{host}/v2/{path}/tags/list").stdout)
    assert sorted(listed["tags"]) == ["orchestrator-staging-app", "v1"]
    out = engine.run("docker", "run", "--rm", "--pull", "always", f"{repo}:v1").stdout
    assert out.split() == ["from-base", "from-base"]  # base's file, and app's copy of it


def test_bake_reads_our_definition_with_the_new_keys(engine: Engine, tmp_path: Path) -> None:
    _project(
        tmp_path,
        engine.unique_repo("keys"),
        textwrap.indent(
            textwrap.dedent("""\
            keys:
              shm-size: 128m
              ulimits: [nofile=1024:2048]
              annotations: ["index:org.opencontainers.image.title=keys"]
              no-cache-filter: [final]
              pull: true
              network: host
              entitlements: [network.host]
              extra-hosts: {db: 10.0.0.2}
              images: [localhost:5000/a/keys, localhost:5000/b/keys]
              tags: [v1]
              contexts: {base: "target:base", data: ./data, tools: "docker-image://busybox:1.35"}
            matrix-app:
              matrix: {variant: [slim, full]}
              name: "m-${variant}"
              args: {VARIANT: "${variant}"}
            """),
            "  ",
        ),
    )
    plan = orchestrator(engine, "plan", "--format", "bake", "keys", "matrix-app", cwd=tmp_path)
    definition = tmp_path / "bake.json"
    definition.write_text(plan.stdout, encoding="utf-8")
    ours = json.loads(plan.stdout)["target"]
    printed = engine.run(
        "docker",
        "buildx",
        "bake",
        "-f",
        str(definition),
        "--print",
        "keys",
        "m-slim",
        "m-full",
        cwd=tmp_path,
    ).stdout
    theirs = json.loads(printed)["target"]
    for key in (
        "shm-size",
        "ulimits",
        "annotations",
        "no-cache-filter",
        "pull",
        "contexts",
        "tags",
        "output",
    ):
        assert theirs["keys"].get(key) == ours["keys"].get(key), key
    assert theirs["m-slim"]["args"]["VARIANT"] == "slim"
    assert theirs["m-full"]["args"]["VARIANT"] == "full"
    # Facts of buildx 0.13.1 (its bake Target has no field for them): the keys are dropped.
    # This is why targets that use them are built with `docker buildx build` (see argv.py).
    for key in ("network", "entitlements", "extra-hosts"):
        assert key in ours["keys"], key
        assert key not in theirs["keys"], key


def test_network_host_and_extra_hosts_reach_the_run_steps(engine: Engine, tmp_path: Path) -> None:
    """buildx 0.13.1's bake drops `network` and `extra-hosts`: such a target is built with
    `docker buildx build`, next to the bake of the others, and its RUN steps see the host's
    network interfaces and the extra host; a target without them keeps the build sandbox's."""
    net, plain = engine.unique_repo("net"), engine.unique_repo("plain")
    (tmp_path / "builds.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        project: {{name: net, image: {net}}}
        targets:
          host:
            network: host
            extra-hosts: {{db.internal: 10.9.8.7}}
            tags: [v1]
            outputs: [push]
          plain: {{image: {plain}, tags: [v1], outputs: [push]}}
        """),
        encoding="utf-8",
    )
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\n"
        "RUN ls /sys/class/net > /net.txt && cat /etc/hosts >> /net.txt\n"
        'CMD ["cat", "/net.txt"]\n',
        encoding="utf-8",
    )
    proc = orchestrator(engine, "build", "host", "plain", "--skip-checks", "--ci", cwd=tmp_path)
    assert "host: built with `docker buildx build`" in proc.stderr
    host_view = engine.run("docker", "run", "--rm", "--pull", "always", f"{net}:v1").stdout
    sandbox = engine.run("docker", "run", "--rm", "--pull", "always", f"{plain}:v1").stdout
    # the engine's own interfaces, as the RUN step saw them with network: host
    engine_links = engine.run(
        "docker", "run", "--rm", "--network", "host", BASE_IMAGE, "ls", "/sys/class/net"
    ).stdout.split()
    # veth* come and go with other containers on the shared engine; the rest is the host's own
    engine_links = [name for name in engine_links if not name.startswith("veth")]
    assert set(engine_links) <= set(host_view.split())
    assert "10.9.8.7\tdb.internal" in host_view
    assert "db.internal" not in sandbox
    assert set(engine_links) - {"lo", "eth0"}, "the engine host has more than lo and eth0"
    assert not (set(engine_links) - {"lo", "eth0"}) & set(sandbox.split())


def test_a_consumer_is_up_to_date_until_the_target_it_consumes_changes(
    engine: Engine, tmp_path: Path
) -> None:
    repo = engine.unique_repo("graph-avoid")
    project = tmp_path / "p"
    context = project / "ctx"  # not the manifest's directory, which gets .orchestrator/
    context.mkdir(parents=True)
    _project(context, repo)
    manifest = (
        (context / "builds.yaml")
        .read_text()
        .replace("{name: graph,", "{name: graph, context: ctx,")
    )
    (context / "builds.yaml").unlink()
    (project / "builds.yaml").write_text(manifest, encoding="utf-8")
    digest = json.loads(
        engine.run(
            "docker",
            "buildx",
            "imagetools",
            "inspect",
            BASE_IMAGE,
            "--format",
            "{{json .Manifest}}",
        ).stdout
    )["digest"]
    base_file = context / "base.Dockerfile"

    def write_base(text: str) -> None:
        # pinned by digest: a tag can move, and an unpinned base is always built (app too)
        base_file.write_text(
            f"FROM {BASE_IMAGE}@{digest}\nRUN echo {text} > /base.txt\n", encoding="utf-8"
        )
        # Out of the racy-clean window of build avoidance: its rule reads ctime too, which
        # os.utime cannot move, so only waiting makes a fresh edit recordable.
        time.sleep(uptodate.RACY_SECONDS + 0.5)

    def build(n: int) -> dict[str, str]:
        path = tmp_path / f"report-{n}.json"
        orchestrator(engine, "build", "app", "--skip-checks", "--report", str(path), cwd=project)
        return {t["name"]: t["status"] for t in json.loads(path.read_text())["targets"]}

    write_base("from-base")
    assert build(1) == {"base": "ok", "app": "ok"}
    # nothing changed: app is up to date, and base, only app's input, is not even baked
    assert build(2) == {"base": "not needed", "app": "up to date"}
    write_base("changed-base")
    assert build(3) == {"base": "ok", "app": "ok"}  # app's key includes base's
    out = engine.run("docker", "run", "--rm", "--pull", "always", f"{repo}:v1").stdout
    assert out.split() == ["changed-base", "changed-base"]


def test_verify_reproducible_builds_a_buildx_build_target_again_the_same_way(
    engine: Engine, tmp_path: Path
) -> None:
    """A target with extra-hosts is built with `docker buildx build` (bake 0.13 drops the key);
    --verify-reproducible must build it again the same way. Through bake, the second build's
    RUN step saw no extra host, and a reproducible image was called "not reproducible"."""
    repo = engine.unique_repo("verify-direct")
    (tmp_path / "builds.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        project: {{name: vd, image: {repo}}}
        targets:
          app:
            extra-hosts: {{db.internal: 10.9.8.7}}
            reproducible: true
            tags: [v1]
            outputs: [push]
        """),
        encoding="utf-8",
    )
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\n"
        "RUN grep db.internal /etc/hosts > /hosts.txt || echo none > /hosts.txt\n"
        'CMD ["cat", "/hosts.txt"]\n',
        encoding="utf-8",
    )
    (tmp_path / ".dockerignore").write_text(".orchestrator/\n", encoding="utf-8")
    proc = orchestrator(
        engine, "build", "--skip-checks", "--ci", "--verify-reproducible", cwd=tmp_path
    )
    assert "app: built with `docker buildx build`" in proc.stderr
    assert "verify-reproducible: identical digests" in proc.stderr
    shown = engine.run("docker", "run", "--rm", "--pull", "always", f"{repo}:v1").stdout
    assert shown.split() == ["10.9.8.7", "db.internal"]
