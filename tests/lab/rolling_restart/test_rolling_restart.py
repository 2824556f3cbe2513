"""The rolling restart (restart.yml) with the canary, on the stack of the scenario (stack-changes: 5.0.8).

Its check mode shows the plan and changes nothing; the real run restarts each node's own container one at a time
(same container ids, each StartedAt later, each node gated before the next is touched), the canary sees zero failed
operations and its figures are printed, its keyspace, container and password are gone at the end; with a node
stopped, a second run is refused before any container changes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from cluster import NODES, cql, wait_until_up_normal
from refusal import Run, containers, refusals, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
CASSANDRA_HOSTS = ("lab-host1", "lab-host2", "lab-host3")
CANARY_HOST = "lab-manager"
CANARY_DIR = "/var/lib/corral-cassandra/canary/CassandraDB"


def started(lab_host: Callable[[str], Host]) -> dict[str, tuple[str, str]]:
    """node -> (container id, StartedAt)."""
    found = {}
    for node, (host, _label, _ip, _data) in NODES.items():
        data = json.loads(lab_host(host).check_output(f"docker inspect {node}"))[0]
        found[node] = (data["Id"], data["State"]["StartedAt"])
    return found


def messages(run: Run, name: str) -> list[Any]:
    """The msg of every host's result of the tasks whose name ends with `name`."""
    return [
        result.get("msg")
        for task in run.tasks
        if task["name"].endswith(name)
        for result in task["hosts"].values()
        if not result.get("skipped")
    ]


@pytest.fixture(scope="module")
def before(lab_host: Callable[[str], Host]) -> dict[str, Any]:
    return {"started": started(lab_host), "listing": containers(lab_host, CASSANDRA_HOSTS)}


def test_check_mode_shows_the_plan_and_changes_nothing(lab_host: Callable[[str], Host], before: dict[str, Any]) -> None:
    run = run_playbook("restart.yml", {}, "--check")
    assert run.rc == 0, run.output
    plan = [line for msg in messages(run, "Show the plan") for line in msg]
    assert "restart, one node at a time (drain, restart the same container, gate): cdb1, cdb2, cdb3" in plan, plan
    assert containers(lab_host, CASSANDRA_HOSTS) == before["listing"], "a --check run changed a container"


@pytest.fixture(scope="module")
def restarted(lab_host: Callable[[str], Host], before: dict[str, Any]) -> dict[str, Any]:
    began = time.monotonic()
    run = run_playbook("restart.yml", {})
    return {"run": run, "seconds": round(time.monotonic() - began), "after": started(lab_host)}


def test_each_node_restarted_in_place_one_at_a_time(restarted: dict[str, Any], before: dict[str, Any]) -> None:
    run: Run = restarted["run"]
    assert run.rc == 0, run.output
    after = restarted["after"]
    for node in NODES:
        assert after[node][0] == before["started"][node][0], f"{node} got a new container"
        assert after[node][1] > before["started"][node][1], f"{node} was not restarted: {after[node]}"
    # In the stack's order, each node's restart after the previous node passed its health and canary gates.
    order = [after[node][1] for node in ("cdb1", "cdb2", "cdb3")]
    assert order == sorted(order), after
    steps = [
        (kind, task["name"].rsplit(": ", 1)[-1])
        for task in run.tasks
        for kind, marker in (("restart", "Restart the same container: "), ("healthy", "Check that it is healthy: "),
                             ("canary", "Canary: check what clients saw: "))
        if marker in task["name"]
    ]
    assert steps == [(kind, node) for node in ("cdb1", "cdb2", "cdb3") for kind in ("restart", "healthy", "canary")], steps


def test_the_canary_saw_no_failure_and_its_figures_are_printed(restarted: dict[str, Any]) -> None:
    run: Run = restarted["run"]
    verdicts = messages(run, "Canary: check what clients saw: cdb1") + messages(run, "Canary: check what clients saw: cdb3")
    assert all(" 0 failed during its step" in str(verdict) for verdict in verdicts), verdicts
    report = [line for msg in messages(run, "Canary: show what clients saw, before the first node and during the change")
              for line in msg]
    print("\n".join([*report, f"restart.yml took {restarted['seconds']} s"]))
    during = next(line for line in report if line.startswith("during: "))
    match = re.match(r"during: (\d+) ops in ([\d.]+) s, (\d+) failed, p50 ([\d.]+) ms, p99 ([\d.]+) ms", during)
    assert match, report
    assert int(match.group(1)) > 100, report
    assert int(match.group(3)) == 0, report


def test_the_canary_is_gone_and_the_restart_note_removed(lab_host: Callable[[str], Host], restarted: dict[str, Any]) -> None:
    assert restarted["run"].rc == 0
    rc, out = cql(lab_host("lab-host1"), "cdb1",
                  "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'corral_canary'")
    assert rc == 0, out
    assert "(0 rows)" in out, out
    manager = lab_host(CANARY_HOST)
    assert manager.check_output("docker ps -aq --filter label=io.corral.role=canary") == ""
    assert not manager.file(f"{CANARY_DIR}/password").exists
    assert manager.file(f"{CANARY_DIR}/figures.jsonl").exists
    for host in CASSANDRA_HOSTS:
        assert not lab_host(host).file("/var/lib/corral-cassandra/CassandraDB.restart").exists, host


def test_a_node_down_refuses_the_restart(lab_host: Callable[[str], Host], restarted: dict[str, Any]) -> None:
    assert restarted["run"].rc == 0
    host3 = lab_host("lab-host3")
    host3.check_output("docker stop -t 60 cdb3")
    try:
        failed = refusals(lab_host, "restart.yml", {}, "Check the plan", hosts=CASSANDRA_HOSTS)
        text = "\n".join(failed.values())
        assert "cdb3 is not running (cdb3 on lab-host3: exited): a rolling restart never starts while a node is down" in text
    finally:
        host3.check_output("docker start cdb3")
        wait_until_up_normal(lab_host("lab-host1"), "cdb1", 3)
