"""The orchestrator role: one swarm of all lab hosts, node labels, the attachable overlay."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]

LABELS = {"lab-host1": {"hostname": "cassandra1"},
          "lab-host2": {"hostname": "cassandra2"},
          "lab-host3": {"hostname": "cassandra3"}}


def nodes(host: Host) -> dict[str, dict]:
    ids = host.check_output("docker node ls -q").split()
    inspected = json.loads(host.check_output("docker node inspect " + " ".join(ids)))
    return {node["Description"]["Hostname"]: node for node in inspected}


def test_one_swarm_of_four_ready_nodes(host: Host) -> None:
    found = nodes(host)
    assert set(found) == {"lab-manager", *LABELS}
    assert all(node["Status"]["State"] == "ready" for node in found.values())
    assert found["lab-manager"]["Spec"]["Role"] == "manager"
    assert all(found[name]["Spec"]["Role"] == "worker" for name in LABELS)


def test_host_labels_are_node_labels(host: Host) -> None:
    found = nodes(host)
    for name, labels in LABELS.items():
        assert found[name]["Spec"].get("Labels", {}) == labels


def test_attachable_overlay(host: Host) -> None:
    network = json.loads(host.check_output("docker network inspect managed"))[0]
    assert network["Driver"] == "overlay"
    assert network["Attachable"] is True
    assert network["IPAM"]["Config"][0]["Subnet"] == "10.42.0.0/16"


@pytest.fixture
def pair(lab_host: Callable[[str], Host]) -> Iterator[tuple[Host, Host]]:
    first, third = lab_host("lab-host1"), lab_host("lab-host3")
    yield first, third
    for member in (first, third):
        member.run("docker rm -f corral-test-ping")


def test_fixed_ips_reach_across_hosts(pair: tuple[Host, Host]) -> None:
    first, third = pair
    image = "172.30.42.1:5000/corral/busybox:stable"
    for member, ip in ((first, "10.42.200.48"), (third, "10.42.200.50")):
        started = member.run(f"docker run -d --name corral-test-ping --network managed --ip {ip} {image} sleep 300")
        assert started.rc == 0, started.stderr
    ping = first.run("docker exec corral-test-ping ping -c 2 -W 5 10.42.200.50")
    assert ping.rc == 0, ping.stdout + ping.stderr
    address = third.check_output("docker exec corral-test-ping ip -4 -o addr show eth0")
    assert "10.42.200.50/16" in address
