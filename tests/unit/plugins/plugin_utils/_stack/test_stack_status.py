"""The cluster table printed at the end of a run and by playbooks/status.yml."""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.status import status_rows, status_table

NODES = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48", "dc": "dc1", "rack": "rack1"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49", "dc": "dc1", "rack": "rack1"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50", "dc": "dc1", "rack": "rack1"},
]
STACK = {"name": "CassandraDB", "cluster_name": "CassandraDB", "image": "reg:5000/corral/cassandra:3.9", "nodes": NODES}

HEADER = "--  Address     Load       Tokens  Owns (effective)  Host ID  Rack"


def ring(*rows: str) -> str:
    return "\n".join(["Datacenter: dc1", "===============", HEADER, *rows])


def container(
    node: dict[str, Any], running: bool = True, image: str = "reg:5000/corral/cassandra:3.9"
) -> dict[str, Any]:
    return {"item": node, "exists": True, "container": {"State": {"Running": running}, "Config": {"Image": image}}}


def view(node: dict[str, Any], stdout: str, rc: int = 0) -> dict[str, Any]:
    return {"item": node, "rc": rc, "stdout": stdout}


def test_all_up() -> None:
    full = ring(
        "UN  10.42.0.48  108.6 KiB  256  100.0%  h1  rack1",
        "UN  10.42.0.49  99.1 KiB  256  100.0%  h2  rack1",
        "UN  10.42.0.50  101 KiB  256  100.0%  h3  rack1",
    )
    lines = status_table(STACK, [container(n) for n in NODES], [view(n, full) for n in NODES])
    # One string per line: a debug msg that is a list prints one line per row with Ansible's defaults.
    assert isinstance(lines, list) and not any("\n" in line for line in lines)
    assert lines[0] == "Stack CassandraDB: cluster 'CassandraDB', image reg:5000/corral/cassandra:3.9"
    assert lines[1].split() == [
        "NODE",
        "SEED",
        "HOST",
        "IP",
        "VERSION",
        "CONTAINER",
        "STATE",
        "LOAD",
        "OWNS",
        "DC/RACK",
    ]
    assert lines[2].split() == [
        "cdb1",
        "yes",
        "lab-host1",
        "10.42.0.48",
        "3.9",
        "running",
        "UN",
        "108.6",
        "KiB",
        "100.0%",
        "dc1/rack1",
    ]
    # Aligned: every column starts at the same offset on every line.
    assert len({line.index("10.42.0.") for line in lines[2:5]}) == 1
    assert lines[1].index("IP") == lines[2].index("10.42.0.48")
    assert lines[-1] == "3 of 3 nodes Up/Normal as all their peers see them"


def test_down_node_and_disagreement_and_strangers() -> None:
    seen_by_1 = ring(
        "UN  10.42.0.48  1 KiB  256  66%  h1  rack1",
        "DN  10.42.0.50  ?  256  66%  h3  rack1",
        "DN  10.42.0.77  ?  256  0%  h7  rack1",
    )
    seen_by_2 = ring("UN  10.42.0.48  1 KiB  256  66%  h1  rack1", "UN  10.42.0.50  3 KiB  256  66%  h3  rack1")
    containers = [
        container(NODES[0]),
        {"item": NODES[1], "exists": False, "container": None},
        container(NODES[2], running=False),
    ]
    rows = status_rows(
        STACK, containers, [view(NODES[0], seen_by_1), view(NODES[1], seen_by_2), {"item": NODES[2], "skipped": True}]
    )
    by_node = {row["IP"]: row for row in rows}
    assert by_node["10.42.0.49"]["CONTAINER"] == "absent"
    assert by_node["10.42.0.49"]["STATE"] == "?"
    assert by_node["10.42.0.49"]["VERSION"] == "-"
    assert by_node["10.42.0.50"]["CONTAINER"] == "stopped"
    assert by_node["10.42.0.50"]["STATE"] == "UN, DN by cdb1"
    assert by_node["10.42.0.77"]["NODE"] == "(not in the stack)"
    assert by_node["10.42.0.77"]["STATE"] == "DN"


def test_failed_nodetool_is_ignored() -> None:
    rows = status_rows(STACK, [container(n) for n in NODES], [view(NODES[0], "error", rc=1)])
    assert {row["STATE"] for row in rows} == {"?"}
