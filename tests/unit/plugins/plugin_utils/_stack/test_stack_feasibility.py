"""Feasibility: the cluster name and partitioner a node's data holds, a host's memory and its ports."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.feasibility import (
    feasibility,
    from_describecluster,
    from_sstabledump,
    heap_bytes,
    identity_request,
    saved_addresses,
    saved_cluster_name,
    saved_identity,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    DEFAULT_NODES,
    StackError,
    SwarmHost,
    build_stack,
)

DESCRIBE = """Cluster Information:
\tName: CassandraDB
\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch
\tDynamicEndPointSnitch: enabled
\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
\tSchema versions:
\t\t86afa796-d883-3932-aa73-6b017cef0d19: [10.42.0.48, 10.42.0.49, 10.42.0.50]
"""
GIB_KIB = 1 << 20
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "identity"


def dump(*cells: tuple[str, str, str | None], row_stamp: str = "2026-12-06T05:00:00.000Z") -> str:
    """sstabledump's JSON for system.local with the given (name, value, cell timestamp) cells."""
    rendered = [{"name": name, "value": value, **({"tstamp": stamp} if stamp else {})} for name, value, stamp in cells]
    partition = {
        "partition": {"key": ["local"], "position": 0},
        "rows": [{"type": "row", "position": 40, "liveness_info": {"tstamp": row_stamp}, "cells": rendered}],
    }
    return json.dumps([partition], indent=2)


def lab_stack(**settings: Any) -> dict[str, Any]:
    hosts = [
        SwarmHost(f"id-{n}", f"lab-host{n}", {"hostname": f"cassandra{n}"}, "ready", "active", f"lab-host{n}")
        for n in (1, 2, 3)
    ]
    base = {
        "name": "CassandraDB",
        "nodes": copy.deepcopy(DEFAULT_NODES),
        "cluster_name": "CassandraDB",
        "image_repository": "cassandra",
        "version": "3.9",
        "network": "managed",
        "superuser_name": "admin",
        "max_heap_size": "512M",
        "heap_newsize": "128M",
    }
    base.update(settings)
    return build_stack(base, hosts, [{"Subnet": "10.42.0.0/16"}]).to_dict()


def host_read(nodes: dict[str, dict[str, Any]] | None = None, memory_kib: int = 24 * GIB_KIB,
              listening: list[list[Any]] | None = None, published: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"mem_total_kib": memory_kib, "listening": listening or [], "published": published or [],
            "nodes": nodes or {}}


def reads(memory_kib: int = 24 * GIB_KIB, **by_host: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every lab host's read; lab_host1=... replaces lab-host1's."""
    every = {f"lab-host{n}": host_read(memory_kib=memory_kib) for n in (1, 2, 3)}
    every.update({host.replace("_", "-"): read for host, read in by_host.items()})
    return every


def running(name: str, text: str = DESCRIBE) -> dict[str, dict[str, str]]:
    return {name: {"source": f"the running node (nodetool describecluster in {name})", "stdout": text}}


def test_describecluster_gives_name_and_partitioner() -> None:
    assert from_describecluster(DESCRIBE) == {
        "cluster_name": "CassandraDB",
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
    }


def test_sstabledump_of_several_sstables_takes_the_latest_value() -> None:
    older = dump(("cluster_name", "Old", None), row_stamp="2026-12-01T00:00:00.000Z")
    newer = dump(("cluster_name", "CassandraDB", None), ("partitioner", "org.apache.cassandra.dht.RandomPartitioner",
                                                         "2026-12-06T06:00:00.000Z"))
    # A log line before the JSON, as a tool may print one.
    assert from_sstabledump(f"INFO something [1]\n{newer}\n{older}\n") == {
        "cluster_name": "CassandraDB",
        "partitioner": "org.apache.cassandra.dht.RandomPartitioner",
    }


def test_sstabledump_without_the_cells_gives_nothing() -> None:
    assert from_sstabledump(dump(("bootstrapped", "COMPLETED", None))) == {}
    assert from_sstabledump("not json") == {}


@pytest.mark.parametrize(("size", "expected"), [("512M", 512 << 20), ("64G", 64 << 30), ("4g", 4 << 30),
                                                ("1024K", 1 << 20), ("1000", 1000)])
def test_heap_bytes(size: str, expected: int) -> None:
    assert heap_bytes(size) == expected


def test_request_names_the_hosts_nodes_and_the_image() -> None:
    assert identity_request(lab_stack(), "lab-host1") == {
        "network": "managed",
        "nodes": [{"name": "cdb1", "data_dir": "/cassandra/data", "images": ["cassandra:3.9"]}],
    }
    assert identity_request(lab_stack(), "lab-manager") == {"network": "managed", "nodes": []}


def test_nothing_to_refuse() -> None:
    stack = lab_stack(published_ports=["9042:9042"])
    lab = reads(lab_host1=host_read(running("cdb1"), listening=[["tcp", 9042], ["tcp", 22]],
                                    published=[{"container": "cdb1", "host_ip": "0.0.0.0", "host_port": 9042,
                                                "proto": "tcp"}]))
    assert feasibility(stack, lab) == {"unread": []}


def test_changed_cluster_name_is_refused_naming_both_and_the_source() -> None:
    stack = lab_stack(cluster_name="Other")
    with pytest.raises(StackError) as refused:
        feasibility(stack, reads(lab_host1=host_read(running("cdb1"))))
    message = str(refused.value)
    assert "node cdb1 on lab-host1: its data holds cluster name 'CassandraDB'" in message
    assert "(read from the running node (nodetool describecluster in cdb1))" in message
    assert "the stack asks for 'Other'" in message


def test_cluster_name_read_offline_is_refused() -> None:
    stack = lab_stack(name="CassandraDB3", cluster_name="CassandraDB3")
    offline = {"cdb2": {"source": "its data directory /cassandra/data, read offline", "stdout": dump(
        ("cluster_name", "CassandraDB", None), ("partitioner", "org.apache.cassandra.dht.Murmur3Partitioner", None))}}
    with pytest.raises(StackError, match="node cdb2 on lab-host2: its data holds cluster name 'CassandraDB' "
                                         r"\(read from its data directory /cassandra/data, read offline\)"):
        feasibility(stack, reads(lab_host2=host_read(offline)))


def test_other_partitioner_is_refused() -> None:
    stack = lab_stack(cassandra_yaml={"partitioner": "org.apache.cassandra.dht.RandomPartitioner"})
    with pytest.raises(StackError, match=re.escape("its data holds partitioner 'org.apache.cassandra.dht.Murmur3Partitioner'")):
        feasibility(stack, reads(lab_host3=host_read(running("cdb3"))))


def test_a_node_not_read_is_said_not_refused() -> None:
    unread = {"cdb2": {"source": "its data directory /cassandra/data", "error": "no image of the node is on this host"}}
    assert feasibility(lab_stack(), reads(lab_host2=host_read(unread))) == {
        "unread": ["node cdb2 on lab-host2: its data directory /cassandra/data: no image of the node is on this host"]
    }


def test_a_host_that_did_not_report_is_refused() -> None:
    lab = reads()
    del lab["lab-host3"]
    with pytest.raises(StackError, match="lab-host3 did not report"):
        feasibility(lab_stack(), lab)


@pytest.mark.parametrize(("memory_gib", "refused"), [(24, True), (64, False), (63, True)])
def test_heap_above_the_hosts_memory_is_refused(memory_gib: int, refused: bool) -> None:
    stack = lab_stack(max_heap_size="64G", heap_newsize="800M")
    lab = reads(memory_kib=128 * GIB_KIB, lab_host1=host_read(memory_kib=memory_gib * GIB_KIB))
    if not refused:
        assert feasibility(stack, lab) == {"unread": []}
        return
    with pytest.raises(StackError) as problem:
        feasibility(stack, lab)
    assert f"lab-host1: the max heap of its nodes (cdb1: 64G each) adds up to 64.0 GiB, more than the host's " \
        f"memory, {memory_gib}.0 GiB (MemTotal in lab-host1's /proc/meminfo)" in str(problem.value)
    assert "lab-host2" not in str(problem.value)


def test_heaps_of_the_nodes_of_one_host_add_up() -> None:
    hosts = [SwarmHost("id-1", "lab-host1", {"hostname": "cassandra1"}, "ready", "active", "lab-host1")]
    nodes = [dict(node, host_label="hostname=cassandra1", data_dir=f"/cassandra/{node['name']}")
             for node in copy.deepcopy(DEFAULT_NODES)]
    settings = {"name": "C", "nodes": nodes, "cluster_name": "C", "image_repository": "cassandra", "version": "3.9",
                "network": "managed", "max_heap_size": "4G", "heap_newsize": "800M", "superuser_name": "admin"}
    stack = build_stack(settings, hosts, [{"Subnet": "10.42.0.0/16"}]).to_dict()
    assert feasibility(stack, {"lab-host1": host_read(memory_kib=12 * GIB_KIB)}) == {"unread": []}
    with pytest.raises(StackError, match=r"\(cdb1, cdb2, cdb3: 4G each\) adds up to 12.0 GiB"):
        feasibility(stack, {"lab-host1": host_read(memory_kib=12 * GIB_KIB - 1)})


def test_port_published_by_another_container_is_refused() -> None:
    stack = lab_stack(published_ports=["9042:9042"])
    taken = [{"container": "porthog", "host_ip": "0.0.0.0", "host_port": 9042, "proto": "tcp"}]
    with pytest.raises(StackError, match="lab-host2: node cdb2 publishes host port 9042/tcp, already published "
                                         "there by container porthog"):
        feasibility(stack, reads(lab_host2=host_read(listening=[["tcp", 9042]], published=taken)))


def test_port_a_host_process_listens_on_is_refused() -> None:
    stack = lab_stack(published_ports=["9042:9042"])
    with pytest.raises(StackError, match="lab-host3: node cdb3 publishes host port 9042/tcp, on which something on "
                                         "lab-host3 already listens"):
        feasibility(stack, reads(lab_host3=host_read(listening=[["tcp", 9042]])))


@pytest.mark.parametrize(("port", "entry"), [
    ("9042:9042/udp", {"container": "x", "host_ip": "0.0.0.0", "host_port": 9042, "proto": "tcp"}),
    ("127.0.0.1:9042:9042", {"container": "x", "host_ip": "172.30.42.11", "host_port": 9042, "proto": "tcp"}),
    ("9043:9042", {"container": "x", "host_ip": "", "host_port": 9042, "proto": "tcp"}),
])
def test_ports_that_do_not_collide(port: str, entry: dict[str, Any]) -> None:
    stack = lab_stack(published_ports=[port])
    assert feasibility(stack, reads(lab_host1=host_read(published=[entry]))) == {"unread": []}


def offline(name: str, cluster_name: str) -> dict[str, dict[str, str]]:
    return {name: {"source": "its data directory /cassandra/data, read offline",
                   "stdout": dump(("cluster_name", cluster_name, None))}}


def test_saved_cluster_name_of_new_directories_is_none() -> None:
    assert saved_cluster_name(lab_stack(cluster_name="Test Cluster"), reads()) == {}


def test_saved_cluster_name_is_the_datas_with_its_source() -> None:
    lab = reads(lab_host1=host_read(running("cdb1")), lab_host2=host_read(offline("cdb2", "CassandraDB")))
    assert saved_cluster_name(lab_stack(cluster_name="Test Cluster"), lab) == {
        "cluster_name": "CassandraDB",
        "source": "the data of cdb1 (the running node (nodetool describecluster in cdb1)), "
                  "cdb2 (its data directory /cassandra/data, read offline)",
    }


def test_saved_cluster_names_that_differ_are_refused() -> None:
    lab = reads(lab_host1=host_read(offline("cdb1", "One")), lab_host2=host_read(offline("cdb2", "Two")))
    with pytest.raises(StackError, match=re.escape("the nodes' data holds different cluster names: 'One' in cdb1")):
        saved_cluster_name(lab_stack(cluster_name="Test Cluster"), lab)


def test_saved_cluster_name_unreadable_is_refused() -> None:
    unread = {"cdb3": {"source": "its data directory /cassandra/data", "error": "no image of the node is on this host"}}
    with pytest.raises(StackError, match="node cdb3 on lab-host3: its data could not be read for its cluster name"):
        saved_cluster_name(lab_stack(cluster_name="Test Cluster"), reads(lab_host3=host_read(unread)))


def test_the_address_of_a_stopped_nodes_data_is_its_latest_broadcast_address_else_its_listen_address() -> None:
    moved = dump(("broadcast_address", "10.42.0.52", None), ("listen_address", "10.42.0.52", None),
                 row_stamp="2026-12-06T06:00:00.000Z")
    before = dump(("cluster_name", "CassandraDB", None), ("broadcast_address", "10.42.0.49", None),
                  row_stamp="2026-12-06T05:00:00.000Z")
    assert saved_identity({"stdout": before + moved}) == {"cluster_name": "CassandraDB", "address": "10.42.0.52"}
    assert saved_identity({"stdout": dump(("listen_address", "10.42.0.50", None))}) == {"address": "10.42.0.50"}
    assert saved_identity({"stdout": dump(("cluster_name", "CassandraDB", None))}) == {"cluster_name": "CassandraDB"}


def test_the_address_of_a_running_node_is_its_containers_even_when_nodetool_fails() -> None:
    assert saved_identity({"stdout": DESCRIBE, "address": "10.42.0.48"})["address"] == "10.42.0.48"
    assert saved_identity({"error": "nodetool: connection refused", "address": "10.42.0.48"}) == {"address": "10.42.0.48"}


def test_saved_addresses_name_the_found_and_the_unread_and_leave_out_new_directories() -> None:
    unread = {"source": "its data directory /cassandra/data", "error": "no image of the node is on this host"}
    running_cdb1 = running("cdb1")
    running_cdb1["cdb1"]["address"] = "10.42.0.48"
    lab = reads(
        lab_host1=host_read(running_cdb1),
        lab_host2=host_read({"cdb2": {"source": "offline", "stdout": dump(("broadcast_address", "10.42.0.52", None))}}),
        lab_host3=host_read({"cdb3": unread}),
    )
    assert saved_addresses(lab_stack(), lab) == {
        "found": {"cdb1": "10.42.0.48", "cdb2": "10.42.0.52"},
        "unread": {"cdb3": "its data directory /cassandra/data: no image of the node is on this host"},
    }
    assert saved_addresses(lab_stack(), reads()) == {"found": {}, "unread": {}}


def test_data_without_an_address_cell_is_unread() -> None:
    lab = reads(lab_host2=host_read(offline("cdb2", "CassandraDB")))
    assert saved_addresses(lab_stack(), lab)["unread"] == {
        "cdb2": "its data directory /cassandra/data, read offline: system.local holds no broadcast_address or "
        "listen_address"
    }


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("system-local-3.9.json", {"cluster_name": "CassandraDB", "address": "10.42.0.49"}),
        ("system-local-5.0.8.json", {"cluster_name": "Test Cluster", "address": "127.0.0.1"}),
    ],
)
def test_the_real_dumps_of_3x_and_5x_give_the_address_and_cluster_name(fixture: str, expected: dict[str, str]) -> None:
    found = saved_identity({"stdout": (FIXTURES / fixture).read_text()})
    assert found == {**expected, "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner"}
