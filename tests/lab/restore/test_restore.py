"""The restore drill, in place, on the stack of the scenario (stack-current: 5.0.8), after tests/lab/backup.

Rows written at QUORUM, backup r1, more rows, backup r2 (differential); refusals before any change (a backup no
node holds, a table not in the backup, a table that exists without restore_overwrite, a table of another schema);
then the table dropped and restored from r2 while a QUORUM client (tests/lab/upgrade/cqlclient.py) keeps writing and
reading: zero failed operations, and every row read back at ALL equal to the source (count and checksum); then the
table truncated and restored from r1 with restore_overwrite: r1's rows exactly; then the whole stack (every table of
the users in r2) restored in place with restore_overwrite: r2's rows again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cluster import NODES, cql
from refusal import Run, containers, refused, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
CASSANDRA_HOSTS = ("lab-host1", "lab-host2", "lab-host3")
TABLE = "restoretest.t"
REFUSE_TASK = "Refuse what cannot be restored"
LABCLIENT = Path(__file__).resolve().parents[1] / "upgrade" / "labclient.py"
CLIENT_ENV = {"UPGRADE_CLIENT_IMAGE": "172.30.42.1:5000/corral/cassandra:5.0.8"}
CLIENT_ROWS = 2000


def write(host: Host, first: int, count: int) -> None:
    """Rows first..first+count-1 of restoretest.t (replicated to 3 in dc1), written at QUORUM through cdb1."""
    inserts = "".join(f"INSERT INTO {TABLE} (id, v) VALUES ({i}, 'row {i} {i * i}');" for i in range(first, first + count))
    rc, out = cql(
        host, "cdb1",
        "CREATE KEYSPACE IF NOT EXISTS restoretest WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};"
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, v text);" + inserts,
        consistency="QUORUM",
    )
    assert rc == 0, out


def rows_at_all(host: Host) -> dict[str, Any]:
    """Every row of the table read at ALL through cdb1: the count and a SHA-256 of every row, in id order."""
    rc, out = cql(host, "cdb1", f"SELECT id, v FROM {TABLE};", consistency="ALL")
    assert rc == 0, out
    rows = sorted((int(match[1]), match[2]) for match in re.finditer(r"^\s*(\d+) \| (.*?)\s*$", out, flags=re.M))
    digest = hashlib.sha256("\n".join(f"{row_id}|{value}" for row_id, value in rows).encode()).hexdigest()
    return {"count": len(rows), "sha256": digest}


def restore(extra: dict[str, Any]) -> Run:
    return run_playbook("restore.yml", extra)


def lines_of(run: Run, name: str) -> list[str]:
    return [
        line
        for task in run.tasks
        if task["name"].endswith(name)
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
    """r1 after 300 rows, r2 (differential) after 300 more; the rows at ALL at each backup."""
    host = lab_host("lab-host1")
    write(host, 0, 300)
    at_r1 = rows_at_all(host)
    assert run_playbook("backup.yml", {"backup_name": "r1"}).rc == 0
    write(host, 300, 300)
    at_r2 = rows_at_all(host)
    assert run_playbook("backup.yml", {"backup_name": "r2"}).rc == 0
    assert at_r1["count"] == 300 and at_r2["count"] == 600, (at_r1, at_r2)
    return {"r1": at_r1, "r2": at_r2}


def test_a_backup_no_node_holds_is_refused(lab_host: Callable[[str], Host], source: dict[str, Any]) -> None:
    output = refused(lab_host, "restore.yml", {"backup_name": "nosuch", "restore_tables": TABLE}, REFUSE_TASK)
    for node, (host, _label, ip, _data) in NODES.items():
        assert f"backup 'nosuch' is not in the store of {node} ({ip}) on {host}" in output, output


def test_a_table_not_in_the_backup_is_refused(lab_host: Callable[[str], Host], source: dict[str, Any]) -> None:
    output = refused(lab_host, "restore.yml", {"backup_name": "r2", "restore_tables": "restoretest.nope"}, REFUSE_TASK)
    assert "restoretest.nope is not in backup 'r2' (it holds: " in output and TABLE in output, output


def test_a_table_that_exists_is_refused_without_overwrite(lab_host: Callable[[str], Host],
                                                          source: dict[str, Any]) -> None:
    output = refused(lab_host, "restore.yml", {"backup_name": "r2", "restore_tables": TABLE}, REFUSE_TASK)
    assert f"{TABLE} exists: restoring into it would overwrite its data; with -e restore_overwrite=true" in output
    assert rows_at_all(lab_host("lab-host1")) == source["r2"]


def test_a_table_of_another_schema_is_refused_even_with_overwrite(lab_host: Callable[[str], Host],
                                                                  source: dict[str, Any]) -> None:
    host = lab_host("lab-host1")
    rc, out = cql(host, "cdb1", "CREATE TABLE restoretest.t2 (id int PRIMARY KEY, v text);"
                  "INSERT INTO restoretest.t2 (id, v) VALUES (1, 'one');", consistency="QUORUM")
    assert rc == 0, out
    assert run_playbook("backup.yml", {"backup_name": "r3"}).rc == 0
    rc, out = cql(host, "cdb1", "DROP TABLE restoretest.t2; CREATE TABLE restoretest.t2 (id int PRIMARY KEY, v int);")
    assert rc == 0, out
    try:
        output = refused(lab_host, "restore.yml",
                         {"backup_name": "r3", "restore_tables": "restoretest.t2", "restore_overwrite": True}, REFUSE_TASK)
    finally:
        cql(host, "cdb1", "DROP TABLE IF EXISTS restoretest.t2;")
    assert "restoretest.t2 exists with another schema than in backup 'r3': now restoretest.t2 (id int PRIMARY KEY, " \
           "v int), then restoretest.t2 (id int PRIMARY KEY, v text)" in output, output


@pytest.fixture(scope="module")
def dropped_and_restored(lab_host: Callable[[str], Host], source: dict[str, Any]) -> dict[str, Any]:
    """The table dropped and restored from r2 while the QUORUM client runs."""
    host = lab_host("lab-host1")
    before = containers(lab_host, CASSANDRA_HOSTS)
    labclient("reset")
    labclient("load", "--rows", str(CLIENT_ROWS))
    labclient("start", "--start-id", "1000000", "--initial-rows", str(CLIENT_ROWS))
    try:
        time.sleep(5)
        rc, out = cql(host, "cdb1", f"DROP TABLE {TABLE};")
        assert rc == 0, out
        began = time.monotonic()
        run = restore({"backup_name": "r2", "restore_tables": TABLE})
        seconds = time.monotonic() - began
        time.sleep(5)
    finally:
        stopped = labclient("stop")
    summary = json.loads(next(line for line in stopped.splitlines() if line.startswith("{")))
    return {"run": run, "seconds": seconds, "client": summary, "rows": rows_at_all(host),
            "before": before, "after": containers(lab_host, CASSANDRA_HOSTS)}


def test_the_dropped_table_is_restored_from_r2_with_every_row(
    dropped_and_restored: dict[str, Any], source: dict[str, Any]
) -> None:
    run = dropped_and_restored["run"]
    assert run.rc == 0, run.output
    print("\n".join(lines_of(run, "Show the restore's plan") + lines_of(run, "Show what each node loaded")))
    print(f"restore.yml took {dropped_and_restored['seconds']:.0f} s")
    assert f"create from the backup's schema: {TABLE}" in lines_of(run, "Show the restore's plan")
    assert dropped_and_restored["rows"] == source["r2"], (dropped_and_restored["rows"], source["r2"])


def test_the_quorum_client_saw_no_failure_and_no_node_restarted(dropped_and_restored: dict[str, Any]) -> None:
    client = dropped_and_restored["client"]
    print("client", json.dumps(client["totals"]), "p99", client["p99_ms"], "ms")
    assert client["totals"]["ops"] > 100 and client["totals"]["failed"] == 0, client
    assert dropped_and_restored["after"] == dropped_and_restored["before"], "a node's container changed"


def test_the_truncated_table_is_restored_from_r1_with_overwrite(lab_host: Callable[[str], Host],
                                                                dropped_and_restored: dict[str, Any],
                                                                source: dict[str, Any]) -> None:
    host = lab_host("lab-host1")
    rc, out = cql(host, "cdb1", f"TRUNCATE {TABLE};")
    assert rc == 0, out
    run = restore({"backup_name": "r1", "restore_tables": "restoretest", "restore_overwrite": True})
    assert run.rc == 0, run.output
    assert f"truncate first (restore_overwrite): {TABLE}" in lines_of(run, "Show the restore's plan"), run.output
    assert rows_at_all(host) == source["r1"]


def test_the_whole_stack_is_restored_in_place_from_r2_with_overwrite(lab_host: Callable[[str], Host],
                                                                     source: dict[str, Any]) -> None:
    """After the test above the table holds r1's rows: every table of r2, truncated and loaded node by node."""
    host = lab_host("lab-host1")
    assert rows_at_all(host) == source["r1"]
    run = restore({"backup_name": "r2", "restore_tables": "all", "restore_overwrite": True})
    assert run.rc == 0, run.output
    plan = lines_of(run, "Show the restore's plan")
    print("\n".join(plan + lines_of(run, "Show what each node loaded")))
    truncated = [line for line in plan if line.startswith("truncate first (restore_overwrite): ")]
    assert truncated and TABLE in truncated[0], plan
    assert rows_at_all(host) == source["r2"]
