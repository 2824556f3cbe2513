"""A changed setting that needs new containers, on a cluster that holds data.

`site.yml --check --diff` reports the change with the settings before and after, and changes nothing;
the real run recreates the Cassandra containers with the same IPs and data containers, the new setting
in force and every row still there; a re-run changes nothing. Runs on the stack of the scenario
(the stack-changes scenario: 5.0.8, whose system_views.settings shows the running configuration).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cluster import NODES, cql, select_count, wait_until_up_normal, write_rows
from refusal import Run, containers, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
CASSANDRA_HOSTS = ("lab-host1", "lab-host2", "lab-host3")
SETTING = {"cassandra_stack_cassandra_yaml": {"concurrent_reads": 48}}
NODE_TASK = "Ensure the Cassandra nodes of this host (check mode when only planning)"
ROWS = 200


def node_results(run: Run) -> list[dict[str, Any]]:
    """Every loop item of every run of the node module's task."""
    return [
        item
        for task in run.tasks
        if task["name"].endswith(NODE_TASK)
        for result in task["hosts"].values()
        for item in result.get("results", [])
        if not item.get("skipped")
    ]


def inspect(lab_host: Callable[[str], Host], host: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(lab_host(host).check_output(f"docker inspect {name}"))[0]
    return data


@pytest.fixture(scope="module")
def change(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    """The setting, with the version the stack runs (the scenario's, not the inventory's)."""
    version = inspect(lab_host, "lab-host1", "cdb1")["Config"]["Image"].rsplit(":", 1)[1]
    return {"cassandra_stack_version": version, **SETTING}


@pytest.fixture(scope="module")
def before(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    """Rows written at QUORUM just before the change, and the containers as they were."""
    write_rows(lab_host("lab-host1"), "cdb1", "changetest", ROWS)
    return {
        "listing": containers(lab_host, CASSANDRA_HOSTS),
        "inspect": {
            name: inspect(lab_host, host, name)
            for node, (host, _label, _ip, data) in NODES.items()
            for name in (node, data)
        },
    }


def test_check_diff_shows_the_change_and_changes_nothing(
    lab_host: Callable[[str], Host], before: dict[str, Any], change: dict[str, Any]
) -> None:
    run = run_playbook("site.yml", change, "--check", "--diff")
    assert run.rc == 0, run.output
    changed = {item["item"]["name"]: item for item in node_results(run) if item.get("changed")}
    assert sorted(changed) == sorted(NODES), run.output
    for node, item in changed.items():
        diff = item["diff"]
        assert diff["before"]["cassandra_container"]["cassandra_yaml"].get("concurrent_reads") is None, node
        assert diff["after"]["cassandra_container"]["cassandra_yaml"]["concurrent_reads"] == 48, node
        assert any(action.startswith(f"recreated {node}") for action in item["actions"]), item["actions"]
    assert containers(lab_host, CASSANDRA_HOSTS) == before["listing"], "a --check run changed a container"


def test_the_real_run_recreates_each_node_with_its_address_and_data(
    lab_host: Callable[[str], Host], before: dict[str, Any], change: dict[str, Any]
) -> None:
    run = run_playbook("site.yml", change)
    assert run.rc == 0, run.output
    for node, (host, _label, ip, data) in NODES.items():
        old, new = before["inspect"][node], inspect(lab_host, host, node)
        assert new["Id"] != old["Id"], f"{node} was not recreated"
        assert new["State"]["Running"], node
        assert new["NetworkSettings"]["Networks"]["managed"]["IPAMConfig"]["IPv4Address"] == ip
        assert new["HostConfig"]["VolumesFrom"] == [data]
        assert inspect(lab_host, host, data)["Id"] == before["inspect"][data]["Id"], f"{data} was recreated"


def test_the_new_setting_is_in_force_on_every_node(lab_host: Callable[[str], Host]) -> None:
    for node, (host, *_rest) in NODES.items():
        wait_until_up_normal(lab_host(host), node, len(NODES))
        rc, out = cql(lab_host(host), node, "SELECT value FROM system_views.settings WHERE name = 'concurrent_reads';")
        assert rc == 0, out
        assert " 48" in out, out


def test_every_row_reads_back_at_all(lab_host: Callable[[str], Host]) -> None:
    rc, out = cql(lab_host("lab-host2"), "cdb2", "SELECT count(*) FROM changetest.t;", consistency="ALL")
    assert rc == 0, out
    assert select_count(out) == ROWS


def test_a_re_run_changes_nothing(lab_host: Callable[[str], Host], change: dict[str, Any]) -> None:
    listing = containers(lab_host, CASSANDRA_HOSTS)
    run = run_playbook("site.yml", change)
    assert run.rc == 0, run.output
    assert {host: stats.get("changed", 0) for host, stats in run.stats.items()} == dict.fromkeys(run.stats, 0)
    assert containers(lab_host, CASSANDRA_HOSTS) == listing
