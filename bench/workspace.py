"""Copies of sample-go-app to build in, the orchestrator and raw-buildx command lines, engine ops.

Nothing here touches the repository: every case builds in its own git repository under a temp
directory (copied from one template: same files, same commit, so the same VERSION/GIT_COMMIT),
and pushes under its own registry path `<registry>/bench-<run id>/<case>`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import BenchError, Completed, Runner, log

ROOT = Path(__file__).resolve().parent.parent
APP = "sample-go-app"
# Fixed author and dates: the template's commit (so VERSION, GIT_COMMIT and the OCI `created`
# label) is the same on every machine and every run.
EPOCH = 1_700_000_000
GIT_IDENTITY = (
    "-c",
    "user.name=orchestrator bench",
    "-c",
    "user.email=bench@example.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
)
GREETING = re.compile(r'^(const greeting = ")([^"]*)(")\s*$', re.MULTILINE)


def read_env_file(path: Path) -> dict[str, str]:
    """`export KEY=value` / `KEY=value` lines (.engine/env, engine/images.env)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.removeprefix("export ").strip().partition("=")
        # Shell logic (.engine/env's PATH line) is for shells; only plain assignments are data.
        if eq and key.strip().isidentifier():
            out[key.strip()] = value.strip().strip("'\"")
    return out


def bench_env() -> dict[str, str]:
    """The environment of every command: the project's engine, and this checkout's orchestrator.

    `make bench` has already sourced .engine/env; run directly, it is read here. PYTHONPATH makes
    `python -m orchestrator` import this checkout even from a temp directory.
    """
    env = dict(os.environ)
    if "DOCKER_HOST" not in env:
        env.update(read_env_file(ROOT / ".engine" / "env"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("NO_COLOR", "1")
    env.pop("GITHUB_STEP_SUMMARY", None)  # a CI run of the bench must not write job summaries
    env.pop("GITHUB_OUTPUT", None)
    return env


def registry_host(env: Mapping[str, str]) -> str:
    images = read_env_file(ROOT / "engine" / "images.env")
    return env.get("ORCH_REGISTRY") or images.get("REGISTRY") or "localhost:5000"


def git(runner: Runner, repo: Path, *args: str, when: int = EPOCH) -> Completed:
    stamp = f"@{when} +0000"
    return runner.run(
        ["git", *GIT_IDENTITY, "-C", str(repo), *args],
        extra_env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
    )


MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _cache_entries(definition: Mapping[str, Any]) -> list[dict[str, str]]:
    """The `cache-from` entries of every target of a bake definition, as key=value maps."""
    out = []
    for target in (definition.get("target") or {}).values():
        for entry in target.get("cache-from") or []:
            fields = dict(part.partition("=")[::2] for part in str(entry).split(","))
            out.append({k.strip(): v.strip() for k, v in fields.items()})
    return out


def delete_registry_tag(ref: str) -> bool:
    """Delete the manifest `ref` (host/repo:tag) points to; False when there is none.

    Only for the local registry (plain HTTP, no auth), which runs with deletes enabled.
    """
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    if not repo or "/" in tag or "@" in rest:
        raise BenchError(f"cannot delete {ref!r}: expected host/repository:tag")
    if not (host.split(":")[0] == "localhost" or host.startswith("127.")):
        raise BenchError(f"refusing to delete {ref}: not in a local registry")
    conn = http.client.HTTPConnection(host, timeout=15)
    deleted_status = 0
    try:
        conn.request("HEAD", f"/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
        head = conn.getresponse()
        head.read()
        digest = head.getheader("Docker-Content-Digest")
        if head.status == 200 and digest:
            conn.request("DELETE", f"/v2/{repo}/manifests/{digest}")
            deleted = conn.getresponse()
            deleted.read()
            deleted_status = deleted.status
    except OSError as exc:
        raise BenchError(f"registry {host}: {exc}") from None
    finally:
        conn.close()
    if head.status == 404:
        return False
    if head.status != 200 or not digest:
        raise BenchError(f"registry: HEAD {ref} answered HTTP {head.status}")
    if deleted_status not in (200, 202):
        raise BenchError(
            f"registry refused to delete {ref} (HTTP {deleted_status}); the cold cases need "
            "the local registry with deletes enabled (engine/up.sh configures it so)"
        )
    return True


@dataclass
class Engine:
    """Facts about the engine, and the one destructive operation: emptying the build cache."""

    runner: Runner
    builder: str | None = None
    repeated_prunes: int = 0
    restart: bool = False  # the project's own engine (engine/up.sh): may be restarted to prune
    restarts: int = 0

    def _total(self, du: list[str]) -> str:
        """`buildx du`'s total, or "" when the cache is empty."""
        usage = self.runner.run(du, check=False).stdout
        total = re.search(r"^Total:\s*(\S+)", usage, re.MULTILINE)
        return "" if total is None or total.group(1) in ("0B", "0") else total.group(1)

    def prune(self) -> None:
        """Empty builder state: every build cache record *and* cache mount (`-a`), no filter.

        It empties the build cache of everything on this engine, not only the benchmark's.
        On a quiet engine `buildx du` shows 0B right after. When it does not (another client
        is building, or the engine joined a prune another client had started, which can end
        before our last build's records were free), it prunes again, up to four times;
        `repeated_prunes` counts those: a sign of a busy engine and of noisy figures. A cache
        still not empty after that raises BenchError: the case's figures become ERROR rows,
        because a "cold" build on a warm cache measures nothing (it once took 5.9 s where a
        truly cold one takes 57 s, and passed silently).
        """
        argv = ["docker", "buildx", "prune", "-af"]
        du = ["docker", "buildx", "du"]
        if self.builder:
            argv += ["--builder", self.builder]
            du += ["--builder", self.builder]
        self.runner.run(argv, timeout=600)
        left = ""
        for pause in (0.5, 1.0, 2.0, 4.0):
            left = self._total(du)
            if not left:
                return
            self.repeated_prunes += 1
            time.sleep(pause)
            self.runner.run(argv, timeout=600)
        total = self._total(du)
        if total and self.restart:
            # dockerd can hold build cache records after builds (seen after the sample's
            # loaded development image: "Reclaimable: false", no image or container using
            # them) until it restarts. This is the project's own engine, which the cold cases
            # empty anyway: restart it (engine/down.sh, engine/up.sh: seconds, untimed, the
            # registry's data kept), then prune once more.
            log(f"  {total} of build cache left after pruning: restarting the project's engine")
            for script in ("down.sh", "up.sh"):
                self.runner.run(["bash", str(ROOT / "engine" / script)], timeout=600)
            self.restarts += 1
            self.runner.run(argv, timeout=600)
            total = self._total(du)
        if total:
            raise BenchError(
                f"the build cache could not be emptied: {total} left after 5 runs of "
                f"`{' '.join(argv)}` (was {left}): images in the engine's store hold the cache "
                "records they share (with the containerd store every pushed image is kept there "
                "too: see `docker image ls`), or another client is building; a cold figure "
                "would not be cold"
            )

    def remove_images(self, namespace: str) -> None:
        """Remove the images under `namespace` from the engine's store (best effort). With the
        containerd image store the docker driver keeps every image it built, pushed ones too,
        and an image keeps the build cache records it shares: prune cannot empty the cache
        while they are there (105 MB were left once, and a "cold" build ran warm)."""
        listed = self.runner.run(
            ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], check=False
        )
        refs = [line for line in listed.stdout.splitlines() if line.startswith(namespace + "/")]
        if refs:
            self.runner.run(["docker", "image", "rm", *refs], check=False)

    def facts(self) -> dict[str, Any]:
        server = self.runner.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], check=False
        )
        if server.returncode != 0 or not server.stdout.strip():
            raise BenchError(
                "docker engine not reachable: "
                + (server.stderr.strip().splitlines() or ["no answer"])[-1]
                + " (start it with `make engine`, then `. .engine/env`)"
            )
        buildx = self.runner.run(["docker", "buildx", "version"], check=False).stdout.split()
        inspect = self.runner.run(["docker", "buildx", "inspect"], check=False).stdout
        driver = next(
            (
                line.split(":", 1)[1].strip()
                for line in inspect.splitlines()
                if line.strip().startswith("Driver:")
            ),
            "unknown",
        )
        return {
            "server": server.stdout.strip(),
            "buildx": buildx[1] if len(buildx) > 1 else "unknown",
            "driver": driver,
            "docker_host": self.runner.env.get("DOCKER_HOST", ""),
        }


@dataclass
class Bench:
    """What every case shares: runner, engine, temp dir, run id, registry, pin mode."""

    runner: Runner
    engine: Engine
    workdir: Path
    registry: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    base_sets: list[str] = field(default_factory=list)
    pin_mode: str = ""
    template: Path | None = None

    @property
    def namespace(self) -> str:
        return f"{self.registry}/bench-{self.run_id}"

    def prepare_template(self) -> Path:
        """sample-go-app + builds.yaml in a fresh git repository, base images locked if possible."""
        if self.template is not None:
            return self.template
        repo = self.workdir / "template"
        shutil.copytree(
            ROOT / APP,
            repo / APP,
            ignore=shutil.ignore_patterns(".git", "__pycache__", "bin", "dist"),
        )
        shutil.copy2(ROOT / "builds.yaml", repo / "builds.yaml")
        (repo / ".gitignore").write_text(".orchestrator/\n", encoding="utf-8")
        git(self.runner, repo, "init", "-q")
        git(self.runner, repo, "add", "-A")
        git(self.runner, repo, "commit", "-q", "-m", "sample-go-app for the benchmark")
        # The raw side cannot sign (bake has no signing): like for like, the orchestrator's
        # builds here do not sign either. Signing costs a cosign run per signed target.
        self.base_sets = ["production.sign=false"]
        # builds.yaml's production target has `pin: digest`: lock the base images in the copy
        # (`orchestrator pin`); if this version cannot, relax the copy's policy to `minor`.
        pinned = self.runner.run(self._orch_argv("pin", [], []), cwd=repo, check=False)
        if pinned.returncode == 0 and (repo / "builds.lock").is_file():
            git(self.runner, repo, "add", "-A")
            git(self.runner, repo, "commit", "-q", "-m", "builds.lock")
            self.pin_mode = "builds.lock written by `orchestrator pin` in the copy"
        else:
            self.base_sets.append("production.pin=minor")
            why = (pinned.stderr.strip().splitlines() or ["no builds.lock written"])[-1]
            self.pin_mode = f"--set production.pin=minor (`orchestrator pin` unavailable: {why})"
        log(f"base images: {self.pin_mode}")
        checked = self.runner.run(self._orch_argv("check", ["all"], []), cwd=repo, check=False)
        if checked.returncode != 0:
            raise BenchError(
                "`orchestrator check all` fails in the benchmark's copy; every build would stop:\n"
                + checked.stdout[-3000:]
                + checked.stderr[-2000:]
            )
        self.template = repo
        return repo

    def _orch_argv(
        self,
        command: str,
        targets: Sequence[str],
        sets: Sequence[str],
        base_sets: Sequence[str] | None = None,
    ) -> list[str]:
        argv = [sys.executable, "-m", "orchestrator", command, *targets]
        for item in [*(self.base_sets if base_sets is None else base_sets), *sets]:
            argv += ["--set", item]
        return argv

    def generated(self, name: str, generate: Callable[[Path, str], list[str]]) -> Workspace:
        """A workspace whose repository `generate(repo, registry)` writes (bench/monorepo.py),
        committed once with the fixed author and date; no `--set` of the sample's."""
        base = self.workdir / name
        if base.exists():
            shutil.rmtree(base)
        (base / "defs").mkdir(parents=True)
        ws = Workspace(self, name, base, base_sets=[])
        generate(ws.repo, ws.registry)
        git(self.runner, ws.repo, "init", "-q")
        git(self.runner, ws.repo, "add", "-A")
        git(self.runner, ws.repo, "commit", "-q", "-m", f"{name}: generated")
        return ws

    def workspace(self, name: str) -> Workspace:
        template = self.prepare_template()
        base = self.workdir / name
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        shutil.copytree(template, base / "repo", symlinks=True)
        (base / "defs").mkdir()
        return Workspace(self, name, base)


# The local registry (distribution 2.8) rewrites a tag's link file in place, and docker's pusher
# PUTs every manifest of a multi-platform image under the image's tag side by side, with HEADs
# of that tag in between: a HEAD that reads the half-written link gets "500 invalid checksum
# digest format" (seen in the registry's access log, 2026-12-01). A registry on object storage
# does not do this; the bench's does, for both sides. What the orchestrator prints when it runs
# its bake again after a registry 5xx (executor.bake_with_retry):
REGISTRY_RETRY = "registry error, retrying bake"


@dataclass
class Workspace:
    """One case's repository copy, its registry path and its generated bake definitions."""

    bench: Bench
    name: str
    base: Path
    edits: int = 0
    # The `phases` of every `orchestrator build` report in this copy, in order (see phases_note).
    phases: list[dict[str, float]] = field(default_factory=list)
    # ... and its `cpu` (the orchestrator's own CPU seconds: total, bake, per_baked_target).
    cpu: list[dict[str, float]] = field(default_factory=list)
    base_sets: list[str] | None = None  # None: the Bench's (the sample's own --set items)

    @property
    def repo(self) -> Path:
        return self.base / "repo"

    @property
    def app(self) -> Path:
        return self.repo / APP

    @property
    def registry(self) -> str:
        return f"{self.bench.namespace}/{self.name}"

    @property
    def runner(self) -> Runner:
        return self.bench.runner

    def orch_argv(
        self, command: str, targets: Sequence[str], sets: Sequence[str] = ()
    ) -> list[str]:
        argv = self.bench._orch_argv(command, targets, sets, self.base_sets)
        return [*argv, "--var", f"REGISTRY={self.registry}"]

    def orch(self, command: str, targets: Sequence[str], sets: Sequence[str] = ()) -> Completed:
        return self.runner.run(self.orch_argv(command, targets, sets), cwd=self.repo)

    def build(
        self, targets: Sequence[str], sets: Sequence[str] = (), *, rebuild: bool = True
    ) -> Completed:
        """`orchestrator build` as a user runs it (checks, preflight, bake, tags). With `rebuild`
        (the default here) every target is baked: the cases measure builds, and the same source
        built again would otherwise be up to date (uptodate.py) and not baked at all."""
        done = self.orch("build", [*targets, *(["--rebuild"] if rebuild else [])], sets)
        if REGISTRY_RETRY in done.stderr:
            # The registry answered a 500 and the orchestrator retried its bake inside the run,
            # timed in full. A raw bake meeting the same 500 fails and attempt() runs it again,
            # its failed try untimed: every orchestrator build gets the same rule (both sides,
            # every case), or one 500 adds a whole bake to the orchestrator's side only.
            raise BenchError("registry 500 during the bake (retried inside the run)")
        report = self.repo / ".orchestrator" / "report.json"
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads(report.read_text(encoding="utf-8"))
            phases, cpu = data.get("phases"), data.get("cpu")
            if isinstance(phases, dict):
                self.phases.append({str(k): float(v) for k, v in phases.items()})
            if isinstance(cpu, dict):
                self.cpu.append({str(k): float(v) for k, v in cpu.items()})
        return done

    def definition(self, label: str, targets: Sequence[str], sets: Sequence[str] = ()) -> Path:
        """The raw side's bake file: `orchestrator plan --format bake`, generated once, untimed."""
        done = self.runner.run(
            [*self.orch_argv("plan", targets, sets), "--format", "bake"], cwd=self.repo
        )
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise BenchError(f"`orchestrator plan --format bake` printed no JSON: {exc}") from None
        path = self.base / "defs" / f"{label}.json"
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    def bake_argv(self, definition: Path, targets: Sequence[str]) -> list[str]:
        argv = ["docker", "buildx", "bake", "--file", str(definition)]
        if self.bench.engine.builder:
            argv += ["--builder", self.bench.engine.builder]
        return [*argv, *targets]

    def bake(self, definition: Path, targets: Sequence[str]) -> Completed:
        """Raw `docker buildx bake -f definition targets`: what people would otherwise run."""
        return self.runner.run(self.bake_argv(definition, targets), cwd=self.base)

    def cold_reset(self, definition: Path) -> None:
        """Empty builder state and nothing to import: prune -af, then delete every cache the
        definition's targets would import (registry tags, local cache directories). The
        configuration itself is unchanged: imports are attempted and find nothing. The
        benchmark's images go first: they keep build cache records (Engine.remove_images)."""
        self.bench.engine.remove_images(self.bench.namespace)
        self.bench.engine.prune()
        data = json.loads(definition.read_text(encoding="utf-8"))
        for entry in _cache_entries(data):
            kind = entry.get("type", "")
            if kind == "registry" and entry.get("ref"):
                delete_registry_tag(entry["ref"])
            elif kind == "local" and entry.get("src"):
                shutil.rmtree(entry["src"], ignore_errors=True)

    def orchestrator_definitions(self) -> list[dict[str, Any]]:
        """The bake.json files the orchestrator's builds in this copy generated for themselves."""
        runs = self.repo / ".orchestrator" / "runs"
        out: list[dict[str, Any]] = []
        for path in sorted(runs.glob("*/bake.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                out.append(data)
        return out

    def equivalence_note(self, definition: Path) -> str:
        """Evidence that the raw side runs exactly the definition the orchestrator runs."""
        ours = json.loads(definition.read_text(encoding="utf-8"))
        own = self.orchestrator_definitions()
        if not own:
            return f"{definition.name}: no orchestrator run directory to compare with"
        if any(d == ours for d in own):
            return f"raw side's {definition.name} == the bake.json the orchestrator ran"
        last = own[-1]
        differ = sorted(
            f"{name}.{key}"
            for name in set(last.get("target", {})) | set(ours.get("target", {}))
            for key in set(last.get("target", {}).get(name, {}))
            | set(ours.get("target", {}).get(name, {}))
            if last.get("target", {}).get(name, {}).get(key)
            != ours.get("target", {}).get(name, {}).get(key)
        )
        return f"WARNING: {definition.name} differs from the orchestrator's bake.json in {differ}"

    def edit_source(self) -> str:
        """A one-line source change, committed (as it would be in CI): the greeting constant."""
        self.edits += 1
        path = self.app / "cmd" / "server" / "greeting.go"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if GREETING.search(text):
            new = GREETING.sub(
                rf"\g<1>hello from sample-go-app (bench edit {self.edits})\g<3>", text, count=1
            )
            what = f"{path.relative_to(self.repo)}: greeting constant"
        else:  # the sample changed shape: append one line to the first Go file of the command
            path = min((self.app / "cmd").rglob("*.go"), key=str)
            text = path.read_text(encoding="utf-8")
            new = text.rstrip("\n") + f"\n\n// bench edit {self.edits}\n"
            what = f"{path.relative_to(self.repo)}: appended comment line"
        path.write_text(new, encoding="utf-8")
        git(self.runner, self.repo, "commit", "-q", "-am", f"edit {self.edits}", when=self.when)
        return what

    @property
    def when(self) -> int:
        return EPOCH + 60 * self.edits

    def add_file(self, relative: str, text: str, message: str) -> Path:
        path = self.repo / relative
        path.write_text(text, encoding="utf-8")
        git(self.runner, self.repo, "add", relative)
        git(self.runner, self.repo, "commit", "-q", "-m", message, when=self.when)
        return path


def phases_note(chosen: Sequence[Mapping[str, float]]) -> str:
    """Where the orchestrator's time went in these builds (Workspace.phases), by median."""
    if not chosen:
        return "orchestrator phases: no report read"
    names = list(dict.fromkeys(k for p in chosen for k in p))
    parts = [
        f"{name} {statistics.median(p[name] for p in chosen if name in p):.2f} s" for name in names
    ]
    return (
        f"orchestrator phases, median of {len(chosen)} reports: {', '.join(parts)} "
        "(the rest of A: interpreter start, imports, exit)"
    )
