"""The filter wrappers: names, plain data out, refusals as {"error": the model's text}."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.filter.stack import FilterModule
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import DEFAULT_NODES

FILTERS = FilterModule().filters()

SWARM_NODES = [
    {
        "ID": f"id{n}",
        "Description": {"Hostname": f"lab-host{n}"},
        "Spec": {"Labels": {"hostname": f"cassandra{n}"}, "Availability": "active"},
        "Status": {"State": "ready"},
    }
    for n in (1, 2, 3)
]
HOST_INFOS = {f"lab-host{n}": {"Name": f"lab-host{n}", "Swarm": {"NodeID": f"id{n}"}} for n in (1, 2, 3)}
SETTINGS: dict[str, Any] = {
    "name": "CassandraDB",
    "nodes": DEFAULT_NODES,
    "cluster_name": "CassandraDB",
    "image_repository": "172.30.42.1:5000/corral/cassandra",
    "version": "3.9",
    "network": "managed",
    "superuser_name": "admin",
}
SUBNETS = [{"Subnet": "10.42.0.0/16", "Gateway": "10.42.0.1"}]


def test_filter_names_are_prefixed() -> None:
    assert all(name.startswith("cassandra_stack_") for name in FILTERS)
    assert {"cassandra_stack_model", "cassandra_stack_swarm_hosts", "cassandra_stack_status_table"} <= set(FILTERS)


def test_model_from_swarm_inspect_output() -> None:
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, HOST_INFOS)
    stack = FILTERS["cassandra_stack_model"](SETTINGS, hosts, SUBNETS)
    assert [(node["name"], node["host"]) for node in stack["nodes"]] == [
        ("cdb1", "lab-host1"),
        ("cdb2", "lab-host2"),
        ("cdb3", "lab-host3"),
    ]
    assert stack["image"] == "172.30.42.1:5000/corral/cassandra:3.9"
    assert isinstance(stack["nodes"][0], dict)


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([{**DEFAULT_NODES[0], "host_label": "hostname=cassandra7"}], "matches no swarm node"),
        ([{**DEFAULT_NODES[0], "seed": False}], "no node is a seed"),
    ],
)
def test_model_errors_become_refusals(nodes: list[dict[str, Any]], message: str) -> None:
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, HOST_INFOS)
    settings = {**SETTINGS, "nodes": copy.deepcopy(nodes)}
    refused = FILTERS["cassandra_stack_model"](settings, hosts, SUBNETS)
    assert list(refused) == ["error"]
    assert refused["error"].startswith("the Cassandra stack is not valid; nothing was changed:\n")
    assert message in refused["error"]


def test_swarm_hosts_refusal_is_handed_on_by_the_model() -> None:
    infos = {"a": {"Swarm": {"NodeID": "id1"}}, "b": {"Swarm": {"NodeID": "id1"}}}
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, infos)
    assert hosts == {"error": "inventory hosts a and b are the same swarm node id1: list each machine once in the inventory"}
    assert FILTERS["cassandra_stack_model"](SETTINGS, hosts, SUBNETS) == hosts


def test_observe_error_becomes_a_refusal() -> None:
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, HOST_INFOS)
    stack = FILTERS["cassandra_stack_model"](SETTINGS, hosts, SUBNETS)
    plan = [
        {"item": node, "observed": {"data_present": node["name"] != "cdb1", "exists": False, "running": False}}
        for node in FILTERS["cassandra_stack_plan_guess"](stack, True)
    ]
    refused = FILTERS["cassandra_stack_observe_plan"](stack, plan, True)
    assert refused["error"].startswith("the Cassandra stack cannot be brought up; nothing was changed:\n")
    assert "seed nodes cdb1 have an empty data directory" in refused["error"]


def test_auth_state_error_becomes_a_refusal() -> None:
    refused = FILTERS["cassandra_stack_auth_state"]("", {"system_auth_replication": {}})
    assert refused["error"].startswith("cannot read the replication")


def test_superuser_cql_takes_the_password_first() -> None:
    assert "WITH PASSWORD = 'pw'" in FILTERS["cassandra_stack_superuser_cql"]("pw", "admin")
    assert FILTERS["cassandra_stack_superuser_cql"]("pw", "admin", True).startswith("ALTER ROLE")


def test_cql_error_masks_the_secret() -> None:
    result = {"rc": 2, "stderr": "x\n<stdin>:1:SyntaxException: line 1 near 's3cret'\n", "stdout": ""}
    assert FILTERS["cassandra_stack_cql_error"](result, "s3cret") == "<stdin>:1:SyntaxException: line 1 near '********'"


def test_status_table_is_a_list_of_lines() -> None:
    """A debug msg that is a list prints one line per row with Ansible's default callback and result format."""
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, HOST_INFOS)
    stack = FILTERS["cassandra_stack_model"](SETTINGS, hosts, SUBNETS)
    missing = [{"item": node, "exists": False} for node in stack["nodes"]]
    lines = FILTERS["cassandra_stack_status_table"](stack, missing, [])
    assert isinstance(lines, list) and all(isinstance(line, str) and "\n" not in line for line in lines)
    assert lines[0].startswith("Stack CassandraDB:") and lines[1].split()[0] == "NODE"
    assert [line.split()[0] for line in lines[2:5]] == ["cdb1", "cdb2", "cdb3"]
    assert lines[-1] == "0 of 3 nodes Up/Normal as all their peers see them"


def test_topology_refusal_and_removal_check_read_the_look_per_host() -> None:
    hosts = FILTERS["cassandra_stack_swarm_hosts"](SWARM_NODES, HOST_INFOS)
    stack = FILTERS["cassandra_stack_model"](SETTINGS, hosts, SUBNETS)
    running = {"State": {"Running": True}, "Config": {"Image": "x"}}
    observed = FILTERS["cassandra_stack_observe_plan"](
        stack,
        [
            {"item": node, "observed": {"exists": True, "running": True, "image": "x", "data_present": True}}
            for node in stack["nodes"]
        ],
        True,
    )
    leaver = {
        **running,
        "Name": "/cdb4",
        "Config": {"Labels": {"io.corral.service": "cdb4", "io.corral.requested-ip": "10.42.0.51"}},
    }
    reads = {"lab-host3": [leaver]}
    refused = FILTERS["cassandra_stack_topology"](stack, observed, reads, [])
    assert refused["error"].startswith("the nodes of the inventory differ from the nodes that run; nothing was changed:\n")
    assert "set cassandra_stack_remove_nodes: [cdb4]" in refused["error"]
    change = FILTERS["cassandra_stack_topology"](stack, observed, reads, ["cdb4"])
    assert [node["name"] for node in change["leaves"]] == ["cdb4"]
    status = "Datacenter: dc1\n--  Address  Load  Tokens  Owns  Host ID  Rack\n" + "".join(
        f"UN  10.42.0.{n}  1 KiB  256  75%  id{n}  rack1\n" for n in (48, 49, 50, 51)
    )
    idle = {"status": status, "netstats": "Mode: NORMAL\nNot sending any streams.", "compactionstats": "pending tasks: 0"}
    up = {"running": "true", **idle}
    looks = {
        "lab-host1": "".join(f"### cdb1 {part}\n{text}\n" for part, text in up.items()),
        "lab-host2": "### cdb2 running\nfalse\n",
        "lab-host3": "".join(f"### {n} {part}\n{text}\n" for n in ("cdb3", "cdb4") for part, text in up.items()),
    }
    keyspaces = ' {"keyspace_name": "wide", "replication": {"class": "NetworkTopologyStrategy", "dc1": "4"}}\n'
    check = FILTERS["cassandra_stack_removal_check"](change, stack, looks, keyspaces)
    assert check["error"].splitlines() == [
        "the nodes cannot be removed now; nothing was changed:",
        "node cdb2 on lab-host2 is down (its container is not running): start it first",
        "keyspace wide has replication factor 4 in dc1: removing cdb4 leaves 3 node(s) there. "
        "Lower its replication first (ALTER KEYSPACE wide ...)",
    ]
    assert "could not be read" in FILTERS["cassandra_stack_removal_check"](change, stack, looks, "")["error"]
