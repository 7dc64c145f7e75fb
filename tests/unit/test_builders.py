"""Builder creation: the exact `docker buildx create` commands, and idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import builders, manifest, yamlsrc
from orchestrator.errors import ManifestError


def spec(text: str) -> manifest.BuilderSpec:
    doc = "project: {name: a, image: r/a}\ntargets: {t: {}}\nbuilder:\n" + text
    man = manifest.validate(yamlsrc.loads(doc, Path("builds.yaml")))
    assert man.builder is not None
    return man.builder


def test_docker_container_single_node() -> None:
    s = spec(
        "  name: ci\n  driver: docker-container\n  driver-opts: {image: 'localhost:5000/buildkit:v0.13', network: host}\n"
    )
    assert builders.create_argvs(s, None) == [
        [
            "docker",
            "buildx",
            "create",
            "--name",
            "ci",
            "--driver",
            "docker-container",
            "--driver-opt",
            "image=localhost:5000/buildkit:v0.13",
            "--driver-opt",
            "network=host",
            "--node",
            "ci0",
        ]
    ]
    assert builders.create_argvs(s, ["ci0"]) == []  # exists: nothing to do


def test_remote_multi_node_native_platforms() -> None:
    s = spec(
        "  name: farm\n  driver: remote\n  nodes:\n"
        "    - {name: amd64, endpoint: 'tcp://10.1.0.5:1234', platforms: [linux/amd64]}\n"
        "    - name: arm64\n      endpoint: tcp://10.1.0.6:1234\n      platforms: [linux/arm64]\n"
        "      driver-opts: {cacert: /certs/ca.pem}\n"
    )
    append_arm64 = ["docker", "buildx", "create", "--name", "farm", "--append", "--node", "arm64"]
    append_arm64 += ["--platform", "linux/arm64", "--driver-opt", "cacert=/certs/ca.pem"]
    append_arm64 += ["tcp://10.1.0.6:1234"]
    assert builders.create_argvs(s, None) == [
        [
            "docker",
            "buildx",
            "create",
            "--name",
            "farm",
            "--driver",
            "remote",
            "--node",
            "amd64",
            "--platform",
            "linux/amd64",
            "tcp://10.1.0.5:1234",
        ],
        append_arm64,
    ]
    # An existing builder missing its arm64 node only gets that node appended.
    assert builders.create_argvs(s, ["amd64"]) == [
        append_arm64,
    ]


def test_kubernetes_node_per_architecture() -> None:
    s = spec(
        "  name: k8s\n  driver: kubernetes\n  driver-opts: {namespace: buildkit}\n  nodes:\n"
        "    - {name: k-amd64, platforms: [linux/amd64], driver-opts: {nodeselector: kubernetes.io/arch=amd64}}\n"
        "    - {name: k-arm64, platforms: [linux/arm64], driver-opts: {nodeselector: kubernetes.io/arch=arm64}}\n"
    )
    assert builders.create_argvs(s, None) == [
        [
            "docker",
            "buildx",
            "create",
            "--name",
            "k8s",
            "--driver",
            "kubernetes",
            "--driver-opt",
            "namespace=buildkit",
            "--node",
            "k-amd64",
            "--platform",
            "linux/amd64",
            "--driver-opt",
            "nodeselector=kubernetes.io/arch=amd64",
        ],
        [
            "docker",
            "buildx",
            "create",
            "--name",
            "k8s",
            "--append",
            "--node",
            "k-arm64",
            "--platform",
            "linux/arm64",
            "--driver-opt",
            "nodeselector=kubernetes.io/arch=arm64",
        ],
    ]


def test_remote_without_endpoint_is_a_manifest_error() -> None:
    with pytest.raises(ManifestError) as info:
        spec("  name: r\n  driver: remote\n  nodes: [{name: n}]\n")
    assert info.value.problems == (
        "builds.yaml:3: builder: node 'n': the remote driver needs an endpoint",
    )
