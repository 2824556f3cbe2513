"""Restore into a new stack (the restore-into-a-new-cluster case), on the lab's three hosts beside the source stack.

Run after tests/lab/restore on stack-current's 5.0.8 stack CassandraDB: a backup of it (a new name each run); a
second stack, CassandraDBRestored (rdb1-3 on the same hosts, their own addresses, data directories and superuser), deployed by
playbooks/stack.yml as a brand-new cluster, which gives it the same token layout (the stack role computes evenly spaced
tokens by node order, per data centre: the backup's token map is checked against it, node by node); then
`restore.yml -e restore_tables=all -e stack=CassandraDBRestored -e from_stack=CassandraDB`: every table of the users,
row counts and a checksum of every row equal to the source's, read at ALL on both. The new stack is removed with its
data at the end. First, a restore whose topology does not fit: backup r2 (tests/lab/restore) of three nodes into a
one-node stack, refused before any change.

Besides whatever the tests before it left (restoretest.t, and upgrade_test.rows of the QUORUM client), it writes its
own keyspace first: a table named by a CQL keyword (the driver's schema export quotes it, `newstack."rows"`; the first
lab run was refused on upgrade_test.rows for that), a user type, a clustering order and an index, so that the restore
of each is shown whatever ran before.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import superuser_password
from refusal import refused, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
SOURCE, TARGET = "CassandraDB", "CassandraDBRestored"
# A name of its own each run: Medusa refuses a backup name the node already holds.
BACKUP = "n" + time.strftime("%Y%m%d%H%M%S")
STACK_VARS = Path(__file__).resolve().parent / "stack.yml"
ONE_NODE_VARS = Path(__file__).resolve().parent / "one_node_stack.yml"


def cql(host: Host, node: str, ip: str, stack: str, statement: str) -> str:
    command = (
        f"docker exec -e CQLPW={shlex.quote(superuser_password(stack))} {node} sh -c "
        + shlex.quote(f'cqlsh -u admin -p "$CQLPW" {ip} -e {shlex.quote("CONSISTENCY ALL; " + statement)}')
    )
    result = host.run(command)
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


NEWSTACK_ROWS = 200


def write_own_tables(host: Host) -> None:
    inserts = "".join(
        f"INSERT INTO newstack.\"rows\" (id, at, home, v) VALUES ({i % 20}, {i}, {{street: 'street {i}', city: 'c{i % 7}'}}, "
        f"'v{i % 11}');"
        for i in range(NEWSTACK_ROWS)
    )
    cql(host, "cdb1", "10.42.0.48", SOURCE,
        "CREATE KEYSPACE IF NOT EXISTS newstack WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};"
        "CREATE TYPE IF NOT EXISTS newstack.address (street text, city text);"
        "CREATE TABLE IF NOT EXISTS newstack.\"rows\" (id int, at int, home frozen<address>, v text, "
        "PRIMARY KEY (id, at)) WITH CLUSTERING ORDER BY (at DESC);"
        "CREATE INDEX IF NOT EXISTS rows_by_v ON newstack.\"rows\" (v);" + inserts)


def users_tables(host: Host) -> list[str]:
    out = cql(host, "cdb1", "10.42.0.48", SOURCE, "SELECT keyspace_name, table_name FROM system_schema.tables;")
    # cqlsh pads each column to its widest value.
    found = re.findall(r"^\s*(\w+)\s+\|\s+(\w+)\s*$", out, flags=re.M)
    return sorted(f"{keyspace}.{table}" for keyspace, table in found
                  if not keyspace.startswith("system") and keyspace != "keyspace_name")


def rows(host: Host, node: str, ip: str, stack: str, table: str) -> dict[str, Any]:
    """Every row of the table at ALL: the count and a SHA-256 of the rows as cqlsh prints them, sorted.

    cqlsh prints the header first, then one line a row, the columns separated by ' | ' (every table here has two
    columns or more)."""
    keyspace, name = table.split(".")
    out = cql(host, node, ip, stack, f'SELECT * FROM "{keyspace}"."{name}";')
    body = sorted(line.strip() for line in [line for line in out.splitlines() if " | " in line][1:])
    return {"count": len(body), "sha256": hashlib.sha256("\n".join(body).encode()).hexdigest()}


def test_a_backup_of_three_nodes_into_a_one_node_stack_is_refused(lab_host: Callable[[str], Host]) -> None:
    deployed = run_playbook("playbooks/stack.yml", {}, "--extra-vars", f"@{ONE_NODE_VARS}")
    try:
        assert deployed.rc == 0, deployed.output
        output = refused(lab_host, "restore.yml", {"backup_name": "r2", "restore_tables": "restoretest.t",
                                                   "stack": "CassandraDBOneNode", "from_stack": SOURCE},
                         "Refuse what cannot be restored")
        tables = cql(lab_host("lab-host1"), "odb1", "10.42.0.63", "CassandraDBOneNode",
                     "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'restoretest';")
    finally:
        run_playbook("remove.yml", {"stack": "CassandraDBOneNode", "delete_data": True})
    assert ("backup 'r2' holds 3 nodes (10.42.0.48, 10.42.0.49, 10.42.0.50), the stack 1 (10.42.0.63): "
            "the topology does not fit") in output, output
    assert "(0 rows)" in tables, tables


@pytest.fixture(scope="module")
def restored(lab_host: Callable[[str], Host]) -> Iterator[dict[str, Any]]:
    host1 = lab_host("lab-host1")
    write_own_tables(host1)
    tables = users_tables(host1)
    source = {table: rows(host1, "cdb1", "10.42.0.48", SOURCE, table) for table in tables}
    assert run_playbook("backup.yml", {"backup_name": BACKUP}).rc == 0
    deployed = run_playbook("playbooks/stack.yml", {}, "--extra-vars", f"@{STACK_VARS}")
    try:
        assert deployed.rc == 0, deployed.output
        run = run_playbook("restore.yml", {"backup_name": BACKUP, "restore_tables": "all", "stack": TARGET,
                                           "from_stack": SOURCE})
        target = {table: rows(host1, "rdb1", "10.42.0.60", TARGET, table) for table in tables}
        yield {"tables": tables, "source": source, "target": target, "run": run}
    finally:
        run_playbook("remove.yml", {"stack": TARGET, "delete_data": True})


def test_every_table_is_restored_into_the_new_stack_row_for_row(restored: dict[str, Any]) -> None:
    run = restored["run"]
    assert run.rc == 0, run.output
    for task in run.tasks:
        if task["name"].endswith(("Show the restore's plan", "Show what each node loaded")):
            for result in task["hosts"].values():
                print("\n".join(result.get("msg") or []))
    assert restored["tables"], "the source stack has no table of the users"
    print({table: figures["count"] for table, figures in restored["source"].items()})
    assert all(figures["count"] > 0 for figures in restored["source"].values()), restored["source"]
    assert restored["source"]["newstack.rows"]["count"] == NEWSTACK_ROWS
    assert restored["target"] == restored["source"]


def test_the_index_and_the_type_work_in_the_new_stack(restored: dict[str, Any], lab_host: Callable[[str], Host]) -> None:
    """The index the restore created answers from the imported rows (nodetool import builds it)."""
    out = cql(lab_host("lab-host1"), "rdb1", "10.42.0.60", TARGET,
              "SELECT id, at, home FROM newstack.\"rows\" WHERE v = 'v3';")
    expected = sorted(i for i in range(NEWSTACK_ROWS) if i % 11 == 3)
    found = sorted(int(match[1]) for match in re.finditer(r"^\s*\d+\s+\|\s+(\d+)\s+\|\s+\{street", out, flags=re.M))
    assert found == expected, out
