"""The cluster table while an upgrade is under way: which nodes are upgraded, whether rollback is available."""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack_status import status_rows, status_table

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
    assert "UPGRADE" not in status_table(STACK, containers, [], copies).splitlines()[1]
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
    header = status_table(STACK, containers, [], copies).splitlines()[1]
    assert header.split()[-1] == "UPGRADE"
