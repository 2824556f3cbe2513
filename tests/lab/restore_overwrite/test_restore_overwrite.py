"""The refusals of a restore in place, and the restores with restore_overwrite, by hand (molecule/restore).

Run after tests/lab/restore, on the same 5.0.8 stack: its backup r2 holds restoretest.t's 600 rows, which the table
holds again after its drill. Refusals before any change: a backup no node holds, a table not in the backup, a table
that exists without restore_overwrite, a table of another schema (backup r3) even with it. Then the table truncated
and restored from r2 with restore_overwrite; then 300 rows more and the whole stack (every table of the users in r2)
restored in place with restore_overwrite: r2's rows again, the rows written after it gone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from cluster import NODES, cql
from refusal import Run, refused, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
TABLE = "restoretest.t"
REFUSE_TASK = "Refuse what cannot be restored"


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


@pytest.fixture(scope="module")
def source(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    """The rows of backup r2 (tests/lab/restore), which the table holds after that module's drill."""
    at_r2 = rows_at_all(lab_host("lab-host1"))
    assert at_r2["count"] == 600, at_r2
    return {"r2": at_r2}


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


def test_the_truncated_table_is_restored_from_r2_with_overwrite(lab_host: Callable[[str], Host],
                                                                source: dict[str, Any]) -> None:
    host = lab_host("lab-host1")
    rc, out = cql(host, "cdb1", f"TRUNCATE {TABLE};")
    assert rc == 0, out
    run = restore({"backup_name": "r2", "restore_tables": "restoretest", "restore_overwrite": True})
    assert run.rc == 0, run.output
    assert f"truncate first (restore_overwrite): {TABLE}" in lines_of(run, "Show the restore's plan"), run.output
    assert rows_at_all(host) == source["r2"]


def test_the_whole_stack_is_restored_in_place_from_r2_with_overwrite(lab_host: Callable[[str], Host],
                                                                     source: dict[str, Any]) -> None:
    """300 rows written after r2 first: every table of r2, truncated and loaded node by node, drops them."""
    host = lab_host("lab-host1")
    write(host, 600, 300)
    assert rows_at_all(host)["count"] == 900
    run = restore({"backup_name": "r2", "restore_tables": "all", "restore_overwrite": True})
    assert run.rc == 0, run.output
    plan = lines_of(run, "Show the restore's plan")
    print("\n".join(plan + lines_of(run, "Show what each node loaded")))
    truncated = [line for line in plan if line.startswith("truncate first (restore_overwrite): ")]
    assert truncated and TABLE in truncated[0], plan
    assert rows_at_all(host) == source["r2"]
