"""Backups with Medusa on the stack of the scenario (stack-current: 5.0.8), in the order an operator runs them.

Refusals first (an unknown action, verify without a name, a node down), each changing no container and writing
nothing; then rows written, backup b1, more rows, backup b2 (differential: Medusa copied fewer files for b2 than
for b1, and each host's store grew by less than b1 took), list (both, complete on every node), verify (b2 passes;
a backup that does not exist fails, and so does b2 with a file of the store gone), purge keeping one (b1 gone from
every host's store, b2 still verifies).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cluster import NODES, nodetool, up_normal, wait_until_up_normal, write_rows
from medusa_report import report
from refusal import Run, containers, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
CASSANDRA_HOSTS = ("lab-host1", "lab-host2", "lab-host3")
STORE = "/cassandra/backups/CassandraDB"


def backup(extra: dict[str, Any]) -> Run:
    run = run_playbook("backup.yml", extra)
    assert run.rc == 0, run.output
    return run


def stored_data_bytes(lab_host: Callable[[str], Host]) -> dict[str, int]:
    """Bytes of SSTable files in each node's part of the store (Medusa keeps a node's files under its address)."""
    sizes = {}
    for node, (host, _label, ip, _data) in NODES.items():
        out = lab_host(host).check_output(f"du -sb {STORE}/{ip}/data 2>/dev/null | cut -f1 || echo 0")
        sizes[node] = int(out or 0)
    return sizes


def backups_in_index(lab_host: Callable[[str], Host]) -> dict[str, list[str]]:
    """The backup names of each host's store, read from Medusa's index on the host's disk."""
    found = {}
    for node, (host, *_rest) in NODES.items():
        # Medusa's local storage deletes the files of a purged backup and leaves their directories.
        out = lab_host(host).check_output(
            f"find {STORE}/index/backup_index -type f 2>/dev/null | awk -F/ '{{print $(NF-1)}}' | sort -u"
        )
        found[node] = sorted(out.split())
    return found


def failures(run: Run) -> str:
    """Every failed host's message and problems in the run, one a line."""
    return "\n".join(
        "\n".join([str(result.get("msg", "")), *map(str, result.get("problems", []))])
        for task in run.tasks
        for result in task["hosts"].values()
        if result.get("failed")
    )


def refused(lab_host: Callable[[str], Host], extra: dict[str, Any]) -> str:
    """The refusal of a run that must change no container, and write nothing to any store."""
    before = containers(lab_host, CASSANDRA_HOSTS)
    run = run_playbook("backup.yml", extra)
    assert run.rc != 0, run.output
    assert containers(lab_host, CASSANDRA_HOSTS) == before, "a refused run changed a container"
    assert backups_in_index(lab_host) == {node: [] for node in NODES}, "a refused run wrote to the store"
    return failures(run) or run.output


def test_an_unknown_action_is_refused(lab_host: Callable[[str], Host]) -> None:
    output = refused(lab_host, {"backup_action": "restore"})
    assert "restore" in output and "backup, list, verify, purge" in output, output


def test_verify_without_a_name_is_refused(lab_host: Callable[[str], Host]) -> None:
    output = refused(lab_host, {"backup_action": "verify"})
    assert "needs the backup's name" in output, output


def test_a_node_down_is_refused(lab_host: Callable[[str], Host]) -> None:
    """cdb3 with gossip off: its peers see it down, as when it stops."""
    nodetool(lab_host("lab-host3"), "cdb3", "disablegossip")
    try:
        deadline = time.monotonic() + 90
        while "10.42.0.50" in up_normal(lab_host("lab-host1"), "cdb1") and time.monotonic() < deadline:
            time.sleep(2)
        output = refused(lab_host, {"backup_name": "refused"})
    finally:
        nodetool(lab_host("lab-host3"), "cdb3", "enablegossip")
    assert "cdb1 on lab-host1 sees 10.42.0.50 as DN, not UN" in output, output
    for node, (host, *_rest) in NODES.items():
        wait_until_up_normal(lab_host(host), node, len(NODES))


@pytest.fixture(scope="module")
def first(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    write_rows(lab_host("lab-host1"), "cdb1", "backuptest", 300)
    run = backup({"backup_name": "b1"})
    return {"figures": report(run)["figures"], "stored": stored_data_bytes(lab_host)}


@pytest.fixture(scope="module")
def second(lab_host: Callable[[str], Host], first: dict[str, Any]) -> dict[str, Any]:
    write_rows(lab_host("lab-host2"), "cdb2", "backuptest2", 300)
    run = backup({"backup_name": "b2"})
    return {"figures": report(run)["figures"], "stored": stored_data_bytes(lab_host)}


def test_b1_backs_up_every_node_with_the_schema(lab_host: Callable[[str], Host], first: dict[str, Any]) -> None:
    assert sorted(first["figures"]) == sorted(NODES)
    for node, (host, _label, ip, _data) in NODES.items():
        figures = first["figures"][node]
        assert figures["name"] == "b1" and figures["kind"] == "differential", figures
        assert figures["copied"] > 0 and first["stored"][node] > 0, (node, figures, first["stored"])
        schema = lab_host(host).check_output(f"cat {STORE}/{ip}/b1/meta/schema.cql")
        assert "CREATE TABLE backuptest.t" in schema, schema[:500]
    print("b1", json.dumps(first))


def test_b2_is_differential_it_copies_less_than_b1(first: dict[str, Any], second: dict[str, Any]) -> None:
    print("b2", json.dumps(second))
    for node in NODES:
        one, two = first["figures"][node], second["figures"][node]
        assert two["kind"] == "differential" and two["kept"] > 0, two
        assert two["copied"] < one["copied"], (node, one, two)
        growth = second["stored"][node] - first["stored"][node]
        assert 0 < growth < first["stored"][node], (node, first["stored"], second["stored"])


def test_list_shows_both_complete(second: dict[str, Any]) -> None:
    run = backup({"backup_action": "list"})
    lines = report(run)["lines"]
    print("\n".join(lines))
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert sorted(rows) == ["b1", "b2"], lines
    for row in rows.values():
        assert row[2] == "3/3" and row[-1] == "complete", lines


def test_verify_passes_for_b2_and_fails_for_a_backup_that_does_not_exist(second: dict[str, Any]) -> None:
    run = backup({"backup_action": "verify", "backup_name": "b2"})
    assert all("b2 verified" in line for line in report(run)["lines"]), run.output
    missing = run_playbook("backup.yml", {"backup_action": "verify", "backup_name": "nosuchbackup"})
    assert missing.rc != 0, missing.output
    assert all(f"{node}: holds no backup nosuchbackup" in failures(missing) for node in NODES), missing.output


def test_verify_fails_when_a_file_of_the_store_is_gone(lab_host: Callable[[str], Host], second: dict[str, Any]) -> None:
    """One SSTable file of cdb2's part moved out of the store: verify names it; moved back, b2 verifies again."""
    host = lab_host("lab-host2")
    path = host.check_output(f"find {STORE}/10.42.0.49/data/backuptest -name '*-Data.db' | head -n 1")
    assert path, "no SSTable of backuptest in cdb2's part of the store"
    aside = host.check_output("mktemp -d")
    host.check_output(f"mv {path} {aside}/")
    try:
        run = run_playbook("backup.yml", {"backup_action": "verify", "backup_name": "b2"})
    finally:
        host.check_output(f"mv {aside}/{path.rsplit('/', 1)[1]} {path} && rmdir {aside}")
    assert run.rc != 0, run.output
    relative = path.split(f"{STORE}/", 1)[1]
    assert f"cdb2: - [{relative}] Doesn't exists" in failures(run), failures(run)


def test_purge_keeps_the_newest_and_b2_still_verifies(lab_host: Callable[[str], Host], second: dict[str, Any]) -> None:
    run = backup({"backup_action": "purge", "cassandra_backup_keep": 1, "cassandra_backup_grace_days": 0})
    print("\n".join(report(run)["lines"]))
    assert all(figures["backups"] == 1 for figures in report(run)["figures"].values()), run.output
    assert backups_in_index(lab_host) == {node: ["b2"] for node in NODES}
    run = backup({"backup_action": "verify", "backup_name": "b2"})
    assert all("b2 verified" in line for line in report(run)["lines"]), run.output
