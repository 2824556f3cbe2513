"""After the converge: every node upgraded with 9042 published, nothing else changed, nothing lost."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from testinfra.host import Host
from upgrade_lab import (
    DATA,
    FROM,
    NODES,
    TO,
    client_runs,
    image,
    overlay_ip,
    playbook_command,
    ring_states,
    table_lines,
    upgrade_snapshots,
    verify_rows,
)

testinfra_hosts = ["lab-manager"]


def test_every_node_runs_the_new_version_at_the_same_address_and_data(
    stack: Callable[[], dict[str, dict[str, Any]]], before: dict[str, dict[str, Any]]
) -> None:
    now = stack()
    for node, (_host, ip) in NODES.items():
        assert now[node]["Config"]["Image"] == image(TO)
        assert now[node]["State"]["Running"]
        assert overlay_ip(now[node]) == ip == overlay_ip(before[node])
        assert now[node]["HostConfig"]["VolumesFrom"] == [DATA[node]]
        assert now[DATA[node]]["Id"] == before[DATA[node]]["Id"]
        assert now[node]["HostConfig"]["PortBindings"] == {"9042/tcp": [{"HostIp": "", "HostPort": "9042"}]}


def test_old_containers_are_kept_stopped_as_rollback_copies(
    stack: Callable[[], dict[str, dict[str, Any]]], before: dict[str, dict[str, Any]]
) -> None:
    now = stack()
    for node in NODES:
        copy = now[f"{node}-rollback"]
        assert copy["Id"] == before[node]["Id"]
        assert copy["Config"]["Image"] == image(FROM)
        assert not copy["State"]["Running"]


def test_three_nodes_up_normal(ring: Callable[[str], str]) -> None:
    for node in NODES:
        assert ring_states(ring(node)) == dict.fromkeys((ip for _host, ip in NODES.values()), "UN")


def test_every_acknowledged_row_reads_back_at_all() -> None:
    report = verify_rows()
    assert report["missing"] == 0, report
    assert report["expected"] > 10000


def test_the_client_saw_no_failed_operation() -> None:
    run = client_runs()["1000000"]
    assert run["totals"]["ops"] > 0
    assert run["totals"]["failed"] == 0, run["errors"][:5]


def test_status_table_shows_upgraded_nodes_and_rollback() -> None:
    # Ansible's default result format: one row per line (the YAML format folds long rows).
    command = playbook_command("playbooks/status.yml")
    command["env"]["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    result = subprocess.run(**command, capture_output=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    rows = [line for line in table_lines(result.stdout) if line.startswith(tuple(NODES))]
    assert len(rows) == 3, result.stdout[-2000:]
    assert all(f"upgraded from {FROM}, rollback available" in row for row in rows), rows


def test_each_node_was_snapshotted_before_its_container_changed(lab_host: Callable[[str], Host]) -> None:
    """One snapshot per node, taken in its quiesce (before the drain), holding the client's table."""
    for node, (host_name, _ip) in NODES.items():
        snapshots = upgrade_snapshots(lab_host(host_name), TO)
        assert len(snapshots) == 1, (node, snapshots)
        tables = next(iter(snapshots.values()))
        assert "upgrade_test.rows" in tables, (node, tables)
