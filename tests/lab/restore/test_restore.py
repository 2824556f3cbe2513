"""The restore drills, on the stack of the scenario (stack-current: 5.0.8, after tests/lab/backup), one backup for all.

Rows written at QUORUM (restoretest.t, and a keyspace of its own with a table named by a CQL keyword, a user type, a
clustering order and an index), every table of the users read at ALL (count and a checksum of every row), then one
backup, r2. With it:
- a restore whose topology does not fit is refused before any change: r2 holds three nodes, the one-node stack
  CassandraDBOneNode (one_node_stack.yml) one;
- the whole stack restored into a new stack (the restore-into-a-new-cluster case): CassandraDBRestored (new_stack.yml:
  rdb1-3 on the same hosts, their own addresses, data directories and superuser) deployed by playbooks/stack.yml as a
  brand-new cluster, which gives it r2's token layout (the stack role spaces tokens evenly by node order, per data
  centre; restore.yml checks r2's token map against it, node by node); `restore.yml -e restore_tables=all
  -e stack=CassandraDBRestored -e from_stack=CassandraDB`: every table equal to the source's, row for row; the new stack
  is removed with its data at the end;
- restoretest.t dropped and restored from r2 in place while a QUORUM client (tests/lab/upgrade/labclient.py) keeps
  writing and reading: zero failed operations, no node restarted, every row back.
The refusals of a restore in place and the restores with restore_overwrite are tests/lab/restore_overwrite (by hand,
molecule/restore), which uses r2 too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clock import PauseWatch
from cluster import superuser_password
from refusal import Run, containers, refused, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
CASSANDRA_HOSTS = ("lab-host1", "lab-host2", "lab-host3")
SOURCE, TARGET = "CassandraDB", "CassandraDBRestored"
BACKUP = "r2"
TABLE = "restoretest.t"
TABLE_ROWS = 600
NEWSTACK_ROWS = 200
HERE = Path(__file__).resolve().parent
LABCLIENT = HERE.parent / "upgrade" / "labclient.py"
CLIENT_ENV = {"UPGRADE_CLIENT_IMAGE": "172.30.42.1:5000/corral/cassandra:5.0.8"}
CLIENT_ROWS = 2000


def cql(host: Host, node: str, ip: str, stack: str, statement: str, consistency: str = "ALL") -> str:
    command = (
        f"docker exec -e CQLPW={shlex.quote(superuser_password(stack))} {node} sh -c "
        + shlex.quote(f'cqlsh -u admin -p "$CQLPW" {ip} -e {shlex.quote(f"CONSISTENCY {consistency}; " + statement)}')
    )
    result = host.run(command)
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def source_cql(host: Host, statement: str, consistency: str = "ALL") -> str:
    return cql(host, "cdb1", "10.42.0.48", SOURCE, statement, consistency)


def write_tables(host: Host) -> None:
    """restoretest.t, and newstack."rows" (the driver's schema export quotes a keyword: a first lab run was refused
    on a table named rows), with its user type, clustering order and index; replicated to 3 in dc1, at QUORUM."""
    source_cql(host, "CREATE KEYSPACE IF NOT EXISTS restoretest WITH replication = "
               "{'class': 'NetworkTopologyStrategy', 'dc1': 3};"
               f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, v text);"
               + "".join(f"INSERT INTO {TABLE} (id, v) VALUES ({i}, 'row {i} {i * i}');" for i in range(TABLE_ROWS)),
               "QUORUM")
    source_cql(host, "CREATE KEYSPACE IF NOT EXISTS newstack WITH replication = "
               "{'class': 'NetworkTopologyStrategy', 'dc1': 3};"
               "CREATE TYPE IF NOT EXISTS newstack.address (street text, city text);"
               "CREATE TABLE IF NOT EXISTS newstack.\"rows\" (id int, at int, home frozen<address>, v text, "
               "PRIMARY KEY (id, at)) WITH CLUSTERING ORDER BY (at DESC);"
               "CREATE INDEX IF NOT EXISTS rows_by_v ON newstack.\"rows\" (v);"
               + "".join(f"INSERT INTO newstack.\"rows\" (id, at, home, v) VALUES ({i % 20}, {i}, "
                         f"{{street: 'street {i}', city: 'c{i % 7}'}}, 'v{i % 11}');" for i in range(NEWSTACK_ROWS)),
               "QUORUM")


def users_tables(host: Host) -> list[str]:
    out = source_cql(host, "SELECT keyspace_name, table_name FROM system_schema.tables;")
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


def plan_lines(run: Run) -> list[str]:
    """What the restore printed: its plan, then what each node loaded."""
    return [
        line
        for task in run.tasks
        if task["name"].endswith(("Show the restore's plan", "Show what each node loaded"))
        for result in task["hosts"].values()
        if isinstance(result.get("msg"), list)
        for line in result["msg"]
    ]


def labclient(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(LABCLIENT), *args], capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, **CLIENT_ENV},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def source(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    """The tables written, every table of the users read at ALL, then backup r2."""
    host = lab_host("lab-host1")
    write_tables(host)
    tables = users_tables(host)
    figures = {table: rows(host, "cdb1", "10.42.0.48", SOURCE, table) for table in tables}
    backup = run_playbook("backup.yml", {"backup_name": BACKUP})
    assert backup.rc == 0, backup.output
    assert figures[TABLE]["count"] == TABLE_ROWS and figures["newstack.rows"]["count"] == NEWSTACK_ROWS, figures
    return figures


def test_a_backup_of_three_nodes_into_a_one_node_stack_is_refused(lab_host: Callable[[str], Host],
                                                                  source: dict[str, Any]) -> None:
    deployed = run_playbook("playbooks/stack.yml", {}, "--extra-vars", f"@{HERE / 'one_node_stack.yml'}")
    try:
        assert deployed.rc == 0, deployed.output
        output = refused(lab_host, "restore.yml", {"backup_name": BACKUP, "restore_tables": TABLE,
                                                   "stack": "CassandraDBOneNode", "from_stack": SOURCE},
                         "Refuse what cannot be restored")
        tables = cql(lab_host("lab-host1"), "odb1", "10.42.0.63", "CassandraDBOneNode",
                     "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'restoretest';")
    finally:
        run_playbook("remove.yml", {"stack": "CassandraDBOneNode", "delete_data": True})
    assert (f"backup '{BACKUP}' holds 3 nodes (10.42.0.48, 10.42.0.49, 10.42.0.50), the stack 1 (10.42.0.63): "
            "the topology does not fit") in output, output
    assert "(0 rows)" in tables, tables


@pytest.fixture(scope="module")
def new_stack(lab_host: Callable[[str], Host], source: dict[str, Any]) -> Iterator[dict[str, Any]]:
    host1 = lab_host("lab-host1")
    deployed = run_playbook("playbooks/stack.yml", {}, "--extra-vars", f"@{HERE / 'new_stack.yml'}")
    try:
        assert deployed.rc == 0, deployed.output
        run = run_playbook("restore.yml", {"backup_name": BACKUP, "restore_tables": "all", "stack": TARGET,
                                           "from_stack": SOURCE})
        target = {table: rows(host1, "rdb1", "10.42.0.60", TARGET, table) for table in source}
        found = cql(host1, "rdb1", "10.42.0.60", TARGET, "SELECT id, at, home FROM newstack.\"rows\" WHERE v = 'v3';")
        yield {"run": run, "target": target, "found_by_index": found}
    finally:
        run_playbook("remove.yml", {"stack": TARGET, "delete_data": True})


def test_every_table_is_restored_into_the_new_stack_row_for_row(new_stack: dict[str, Any],
                                                                source: dict[str, Any]) -> None:
    run = new_stack["run"]
    assert run.rc == 0, run.output
    print("\n".join(plan_lines(run)))
    print({table: figures["count"] for table, figures in source.items()})
    assert all(figures["count"] > 0 for figures in source.values()), source
    assert new_stack["target"] == source


def test_the_index_and_the_type_work_in_the_new_stack(new_stack: dict[str, Any]) -> None:
    """The index the restore created answers from the imported rows (nodetool import builds it)."""
    expected = sorted(i for i in range(NEWSTACK_ROWS) if i % 11 == 3)
    found = sorted(int(match[1]) for match in
                   re.finditer(r"^\s*\d+\s+\|\s+(\d+)\s+\|\s+\{street", new_stack["found_by_index"], flags=re.M))
    assert found == expected, new_stack["found_by_index"]


def drop_and_restore(host: Host) -> dict[str, Any]:
    """restoretest.t dropped and restored from r2 while the QUORUM client runs."""
    labclient("reset")
    labclient("load", "--rows", str(CLIENT_ROWS))
    labclient("start", "--start-id", "1000000", "--initial-rows", str(CLIENT_ROWS))
    try:
        time.sleep(5)
        source_cql(host, f"DROP TABLE {TABLE};", "QUORUM")
        began = time.monotonic()
        run = run_playbook("restore.yml", {"backup_name": BACKUP, "restore_tables": TABLE})
        seconds = time.monotonic() - began
        time.sleep(5)
    finally:
        stopped = labclient("stop")
    summary = json.loads(next(line for line in stopped.splitlines() if line.startswith("{")))
    return {"run": run, "seconds": seconds, "client": summary}


@pytest.fixture(scope="module")
def dropped_and_restored(lab_host: Callable[[str], Host], source: dict[str, Any]) -> dict[str, Any]:
    """The drill; once more when the machine was paused during it (clock.py), which freezes the cluster with it."""
    host = lab_host("lab-host1")
    before = containers(lab_host, CASSANDRA_HOSTS)
    watch = PauseWatch()
    drill = drop_and_restore(host)
    if watch.paused() and drill["run"].rc == 0:
        print(f"the machine was paused for {watch.paused():.1f} s during the drill "
              f"(client: {json.dumps(drill['client']['totals'])}): run again")
        drill = drop_and_restore(host)
    return {**drill, "rows": rows(host, "cdb1", "10.42.0.48", SOURCE, TABLE), "before": before,
            "after": containers(lab_host, CASSANDRA_HOSTS)}


def test_the_dropped_table_is_restored_from_r2_with_every_row(dropped_and_restored: dict[str, Any],
                                                              source: dict[str, Any]) -> None:
    run = dropped_and_restored["run"]
    assert run.rc == 0, run.output
    print("\n".join(plan_lines(run)))
    print(f"restore.yml took {dropped_and_restored['seconds']:.0f} s")
    assert f"create from the backup's schema: {TABLE}" in plan_lines(run)
    assert dropped_and_restored["rows"] == source[TABLE], (dropped_and_restored["rows"], source[TABLE])


def test_the_quorum_client_saw_no_failure_and_no_node_restarted(dropped_and_restored: dict[str, Any]) -> None:
    client = dropped_and_restored["client"]
    print("client", json.dumps(client["totals"]), "p99", client["p99_ms"], "ms")
    assert client["totals"]["ops"] > 100 and client["totals"]["failed"] == 0, client
    assert dropped_and_restored["after"] == dropped_and_restored["before"], "a node's container changed"
