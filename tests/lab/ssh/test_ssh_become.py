"""The foundation as seen over SSH by the unprivileged user, with become restoring what prepare undid."""
from __future__ import annotations

import json

import pytest
from testinfra.host import Host

LAB_REGISTRY = "172.30.42.1:5000"


def test_reached_as_unprivileged_user_with_become(host: Host) -> None:
    assert host.check_output("id -un") == "root"
    assert host.check_output("echo $SUDO_USER") == "corral"
    assert host.ansible.get_variables()["ansible_connection"] == "ssh"


def test_engine_running_with_its_settings(host: Host) -> None:
    assert host.service("docker").is_running
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert LAB_REGISTRY in daemon["insecure-registries"]


def test_labels_restored_by_the_converge(host: Host) -> None:
    if host.check_output("hostname") != "lab-manager":
        pytest.skip("the swarm's labels are read on the manager")
    labels = json.loads(host.check_output("docker node inspect lab-host3 --format '{{json .Spec.Labels}}'"))
    assert labels == {"hostname": "cassandra3"}
