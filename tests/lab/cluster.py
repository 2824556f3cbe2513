"""Helpers for the lab suites: CQL and nodetool inside the lab's Cassandra containers."""
from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

from testinfra.host import Host

STACK = "CassandraDB"
SUPERUSER = "admin"
# node -> (inventory host, swarm label of that host, fixed IP, data container)
NODES = {
    "cdb1": ("lab-host1", "hostname=cassandra1", "10.42.0.48", "data1"),
    "cdb2": ("lab-host2", "hostname=cassandra2", "10.42.0.49", "data2"),
    "cdb3": ("lab-host3", "hostname=cassandra3", "10.42.0.50", "data3"),
}
CITIES = ["Sapporo", "Tokyo", "Osaka", "Hakata", "Naha"]


def superuser_password(stack: str = STACK) -> str:
    path = Path.home() / ".config" / "corral-cassandra" / f"{stack}.credentials"
    return path.read_text().split()[0]


def cql(host: Host, node: str, statement: str, *, user: str = SUPERUSER, password: str | None = None,
        consistency: str | None = None) -> tuple[int, str]:
    """Run CQL with cqlsh inside the node's container, against the node's own address."""
    secret = superuser_password() if password is None else password
    script = f"CONSISTENCY {consistency};\n{statement}" if consistency else statement
    command = (
        f"docker exec -e CQLPW={shlex.quote(secret)} {node} sh -c "
        + shlex.quote(f'cqlsh -u {user} -p "$CQLPW" {NODES[node][2]} -e {shlex.quote(script)}')
    )
    result = host.run(command)
    return result.rc, result.stdout + result.stderr


def write_rows(host: Host, node: str, keyspace: str, rows: int) -> None:
    """Rows 0..rows-1 of table keyspace.t (replicated to 3 in dc1), written at QUORUM through one node."""
    inserts = "".join(f"INSERT INTO {keyspace}.t (id, v) VALUES ({i}, 'row {i}');" for i in range(rows))
    rc, out = cql(
        host, node,
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{'class': 'NetworkTopologyStrategy', 'dc1': 3}};"
        f"CREATE TABLE IF NOT EXISTS {keyspace}.t (id int PRIMARY KEY, v text);" + inserts,
        consistency="QUORUM",
    )
    assert rc == 0, out


def nodetool(host: Host, node: str, *args: str) -> str:
    return host.check_output(f"docker exec {node} nodetool {' '.join(args)}")


def up_normal(host: Host, node: str) -> list[str]:
    """The addresses that `nodetool status` on this node shows as UN."""
    return re.findall(r"^UN\s+(\S+)", nodetool(host, node, "status"), flags=re.M)


def wait_until_up_normal(host: Host, node: str, count: int, timeout: float = 300) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            seen = up_normal(host, node)
        except AssertionError:
            seen = []
        if len(seen) == count:
            return seen
        time.sleep(5)
    raise AssertionError(f"{node} saw {seen} Up/Normal after {timeout} s, not {count} nodes")


def select_count(output: str) -> int:
    match = re.search(r"^\s*(\d+)\s*$", output, flags=re.M)
    assert match, output
    return int(match.group(1))
