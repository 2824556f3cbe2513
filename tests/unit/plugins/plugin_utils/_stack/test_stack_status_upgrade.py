"""The cluster table while an upgrade is under way: which nodes are upgraded, whether rollback is available."""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.status import status_rows, status_table

REPO = "reg:5000/corral/cassandra"
NODES = [
    {"name": f"cdb{n}", "seed": n == 1, "host": f"lab-host{n}", "ip": f"10.42.0.{47 + n}", "dc": "dc1", "rack": "r1"}
    for n in (1, 2, 3)
]
STACK = {"name": "CassandraDB", "cluster_name": "CassandraDB", "image": f"{REPO}:3.10", "nodes": NODES}


def info(node: dict[str, Any], version: str | None, running: bool = True) -> dict[str, Any]:
    if version is None:
        return {"item": node, "exists": False, "container": None}
    return {
        "item": node,
        "exists": True,
        "container": {"State": {"Running": running}, "Config": {"Image": f"{REPO}:{version}"}},
    }


def test_no_upgrade_column_without_rollback_copies() -> None:
    containers = [info(node, "3.10") for node in NODES]
    copies = [info(node, None) for node in NODES]
    assert "UPGRADE" not in status_table(STACK, containers, [], copies)[1]
    assert "UPGRADE" not in status_rows(STACK, containers, [], copies)[0]


def test_upgrade_column_during_an_upgrade() -> None:
    containers = [info(NODES[0], "3.10"), info(NODES[1], "3.10"), info(NODES[2], "3.9")]
    copies = [info(NODES[0], "3.9", running=False), info(NODES[1], None), info(NODES[2], None)]
    rows = status_rows(STACK, containers, [], copies)
    assert [row["UPGRADE"] for row in rows] == [
        "upgraded from 3.9, rollback available",
        "at 3.10, no rollback copy",
        "not upgraded yet",
    ]
    header = status_table(STACK, containers, [], copies)[1]
    assert header.split()[-1] == "UPGRADE"


def node_result(node: dict[str, Any], version: str | None, copy: str | None, state: str = "running") -> dict[str, Any]:
    """A cassandra_node result: the node's container and its rollback copy, as the module returns them."""
    container = {"id": f"id-{node['name']}", "image": f"{REPO}:{version}", "state": state} if version else None
    rollback = {"id": "id-copy", "image": f"{REPO}:{copy}", "state": "stopped"} if copy else None
    return {"item": node, "cassandra_container": container, "rollback_copy": rollback, "actions": []}


def test_node_module_results_stand_for_new_reads() -> None:
    """The plan and the bring-up already read the containers: the table takes them, the last result of a node winning."""
    before = [info(NODES[0], "3.9"), info(NODES[1], "3.9", running=False), info(NODES[2], None)]
    applied = [node_result(NODES[1], "3.10", "3.9"), node_result(NODES[2], "3.10", None, state="stopped")]
    rows = status_rows(STACK, before + applied, [], [info(NODES[0], None), *applied])
    assert [(row["VERSION"], row["CONTAINER"]) for row in rows] == [("3.9", "running"), ("3.10", "running"), ("3.10", "stopped")]
    assert [row["UPGRADE"] for row in rows] == [
        "not upgraded yet",
        "upgraded from 3.9, rollback available",
        "at 3.10, no rollback copy",
    ]


def test_node_module_result_without_container() -> None:
    rows = status_rows(STACK, [node_result(NODES[0], None, None)], [], [node_result(NODES[0], None, None)])
    assert rows[0]["CONTAINER"] == "absent" and rows[0]["VERSION"] == "-"
    assert "UPGRADE" not in rows[0]
