"""Bad stack input is refused in preflight with a message naming the problem, and no container changes.

Each case is a real run of site.yml or playbooks/stack.yml on the deployed lab with bad variables. The
ids, states and start times of every container on every lab host are compared before and after.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import NODES
from refusal import refused
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
# A swarm label the test puts on two hosts for one case, and removes again.
TWIN_LABEL = ("corral-test-twin", "yes")

CLASSIC = [
    {"name": node, "host_label": label, "ip": ip, "seed": node == "cdb1", "data_container": data}
    for node, (_host, label, ip, data) in NODES.items()
]

# Preflight tasks of roles/cassandra_stack: a refusal must come from one of them, before any change.
MODEL_TASK = "Refuse a stack that is not valid"
IMAGES_TASK = "Check that every host has the images"
RUNNING_TASK = "Refuse another version, or a change while an upgrade is under way"
FEASIBILITY_TASK = "Refuse what the nodes' data or the hosts cannot take"
# A throwaway container that holds a host port on lab-host2 for one case.
PORT_HOLDER = ("corral-test-port-holder", 19042)


def nodes_with(index: int, **changes: Any) -> list[dict[str, Any]]:
    nodes = copy.deepcopy(CLASSIC)
    nodes[index].update(changes)
    return nodes


@pytest.fixture
def port_held(lab_host: Callable[[str], Host]) -> Iterator[int]:
    """A host port of lab-host2 published by a container that is not a node, removed afterwards."""
    name, port = PORT_HOLDER
    host = lab_host("lab-host2")
    image = host.check_output("docker inspect -f '{{.Config.Image}}' data2")
    host.check_output(f"docker run -d --name {name} -p {port}:9042 {image} sleep 3600")
    yield port
    host.check_output(f"docker rm -f {name}")


@pytest.fixture
def twin_label(lab_host: Callable[[str], Host]) -> Iterator[str]:
    """The test label on the swarm nodes of lab-host2 and lab-host3, removed afterwards."""
    manager = lab_host("lab-manager")
    key, value = TWIN_LABEL
    for node in ("lab-host2", "lab-host3"):
        manager.check_output(f"docker node update --label-add {key}={value} {node}")
    yield f"{key}={value}"
    for node in ("lab-host2", "lab-host3"):
        manager.check_output(f"docker node update --label-rm {key} {node}")


def test_label_that_matches_no_host(lab_host: Callable[[str], Host]) -> None:
    message = refused(
        lab_host, "site.yml", {"cassandra_stack_nodes": nodes_with(2, host_label="hostname=cassandra9")}, MODEL_TASK
    )
    assert "the Cassandra stack is not valid; nothing was changed" in message
    assert "node cdb3: host_label 'hostname=cassandra9' matches no swarm node" in message


def test_label_that_matches_two_hosts(lab_host: Callable[[str], Host], twin_label: str) -> None:
    message = refused(lab_host, "playbooks/stack.yml", {"cassandra_stack_nodes": nodes_with(2, host_label=twin_label)},
                      MODEL_TASK)
    assert f"node cdb3: host_label '{twin_label}' matches 2 swarm nodes" in message
    assert "lab-host2" in message and "lab-host3" in message


def test_two_nodes_with_one_ip(lab_host: Callable[[str], Host]) -> None:
    message = refused(lab_host, "playbooks/stack.yml", {"cassandra_stack_nodes": nodes_with(2, ip="10.42.0.49")},
                      MODEL_TASK)
    assert "node cdb3 ip=10.42.0.49 is already the address of node cdb2: two nodes cannot share one IP" in message


def test_ip_outside_the_overlay_subnet(lab_host: Callable[[str], Host]) -> None:
    message = refused(lab_host, "playbooks/stack.yml", {"cassandra_stack_nodes": nodes_with(2, ip="10.43.0.50")},
                      MODEL_TASK)
    assert "node cdb3 ip=10.43.0.50 is outside the overlay 'managed' (subnet 10.42.0.0/16)" in message


def test_no_seed(lab_host: Callable[[str], Host]) -> None:
    message = refused(lab_host, "playbooks/stack.yml", {"cassandra_stack_nodes": nodes_with(0, seed=False)},
                      MODEL_TASK)
    assert "no node is a seed: mark at least one node with seed: true" in message


def test_image_that_no_host_can_pull(lab_host: Callable[[str], Host]) -> None:
    """The version the nodes run, from a repository that does not have it."""
    missing = "{{ lab_registry }}/corral/cassandra-missing"
    message = refused(lab_host, "site.yml", {"cassandra_stack_image_repository": missing}, IMAGES_TASK)
    assert "Not every host can pull the images; no container was touched" in message
    for node, (host, _label, _ip, _data) in NODES.items():
        assert f"{host}: " in message and "corral/cassandra-missing:" in message, (node, message)


def test_a_newer_version_goes_through_the_upgrade(lab_host: Callable[[str], Host]) -> None:
    """site.yml does not upgrade: it names both versions and the command that does, before any change."""
    running = lab_host("lab-host1").check_output("docker inspect -f '{{.Config.Image}}' cdb1").rsplit(":", 1)[1]
    message = refused(lab_host, "site.yml", {"cassandra_stack_version": "3.99.1"}, RUNNING_TASK)
    assert f"asks for Cassandra 3.99.1 (cassandra_stack_version), but cdb1, cdb2, cdb3 run {running}" in message
    assert "`ansible-playbook upgrade.yml -e version=3.99.1`" in message


@pytest.mark.parametrize("check", [False, True], ids=["real", "check-mode"])
def test_cluster_name_other_than_the_datas(lab_host: Callable[[str], Host], check: bool) -> None:
    message = refused(lab_host, "site.yml", {"cassandra_stack_cluster_name": "Other"}, FEASIBILITY_TASK,
                      *(["--check"] if check else []))
    assert message.startswith("the Cassandra stack cannot run on what its hosts hold; nothing was changed"), message
    for node, (host, _label, _ip, _data) in NODES.items():
        assert (
            f"node {node} on {host}: its data holds cluster name 'CassandraDB' (read from the running node "
            f"(nodetool describecluster in {node})), the stack asks for 'Other'"
        ) in message, message


def test_heap_above_the_hosts_memory(lab_host: Callable[[str], Host]) -> None:
    memory_kib = int(lab_host("lab-host1").check_output("awk '/^MemTotal:/ {print $2}' /proc/meminfo"))
    heap_gib = memory_kib // (1 << 20) + 8
    message = refused(lab_host, "site.yml",
                      {"cassandra_stack_max_heap_size": f"{heap_gib}G", "cassandra_stack_heap_newsize": "800M"},
                      FEASIBILITY_TASK)
    assert (
        f"lab-host1: the max heap of its nodes (cdb1: {heap_gib}G each) adds up to {heap_gib}.0 GiB, more than the "
        f"host's memory, {memory_kib / (1 << 20):.1f} GiB (MemTotal in lab-host1's /proc/meminfo)"
    ) in message, message
    assert "lower cassandra_stack_max_heap_size" in message


def test_published_port_held_by_another_container(lab_host: Callable[[str], Host], port_held: int) -> None:
    message = refused(lab_host, "playbooks/stack.yml", {"cassandra_stack_published_ports": [f"{port_held}:9042"]},
                      FEASIBILITY_TASK)
    assert (
        f"lab-host2: node cdb2 publishes host port {port_held}/tcp, already published there by container "
        f"{PORT_HOLDER[0]}"
    ) in message, message
    assert "lab-host1" not in message and "lab-host3" not in message, message
