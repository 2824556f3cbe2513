"""The docker_engine role on every lab host, asserted on the host itself."""
from __future__ import annotations

import json

from testinfra.host import Host

LAB_REGISTRY = "172.30.42.1:5000"


def test_engine_enabled_and_running(host: Host) -> None:
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running
    assert host.run("docker info --format '{{.ServerVersion}}'").rc == 0


def test_daemon_json_from_variables(host: Host) -> None:
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert LAB_REGISTRY in daemon["insecure-registries"]
    info = json.loads(host.check_output("docker info --format '{{json .RegistryConfig.IndexConfigs}}'"))
    assert LAB_REGISTRY in info, "the running engine does not use the daemon.json setting"


def test_docker_sdk_for_modules(host: Host) -> None:
    assert host.run("python3 -c 'import docker, requests, yaml'").rc == 0


def test_images_come_from_the_lab_registry(host: Host) -> None:
    pulled = host.run(f"docker pull -q {LAB_REGISTRY}/corral/busybox:stable")
    assert pulled.rc == 0, pulled.stderr
