"""An upgrade never starts while a node is down: with cdb3 stopped on purpose (no upgrade under way, so no record
says it is this upgrade's node), upgrade.yml is refused naming cdb3, before any container changes. cdb3 is started
again afterwards and the suite waits until every node sees it Up/Normal, so the scenario goes on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from refusal import containers, run_playbook
from testinfra.host import Host
from upgrade_lab import NODES, TO, ring_states

testinfra_hosts = ["lab-manager"]
DOWN = "cdb3"
PLAN_TASK = "Check the plan"


@pytest.fixture
def node_stopped(lab_host: Callable[[str], Host]) -> Iterator[Host]:
    host = lab_host(NODES[DOWN][0])
    host.check_output(f"docker stop {DOWN}")
    try:
        yield host
    finally:
        host.check_output(f"docker start {DOWN}")
        wait_up_normal(lab_host)


def wait_up_normal(lab_host: Callable[[str], Host], timeout: float = 240) -> None:
    everyone = dict.fromkeys((ip for _host, ip in NODES.values()), "UN")
    deadline = time.monotonic() + timeout
    views: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        for node, (host_name, _ip) in NODES.items():
            shown = lab_host(host_name).run(f"docker exec {node} nodetool status")
            views[node] = ring_states(shown.stdout) if shown.rc == 0 else {}
        if all(view == everyone for view in views.values()):
            return
        time.sleep(5)
    raise AssertionError(f"not every node sees every node Up/Normal within {timeout} s: {views}")


def test_an_upgrade_with_a_node_stopped_is_refused_naming_it(lab_host: Callable[[str], Host], node_stopped: Host) -> None:
    assert node_stopped.check_output(f"docker inspect -f '{{{{.State.Status}}}}' {DOWN}") == "exited"
    before = containers(lab_host)
    run = run_playbook("upgrade.yml", {"version": TO})
    assert run.rc != 0, run.output
    last = run.tasks[-1]
    assert last["name"].endswith(PLAN_TASK), f"the run went on to {last['name']!r}: {run.output}"
    message = " ".join(str(result.get("msg", "")) for result in last["hosts"].values() if result.get("failed"))
    assert f"{DOWN} on {NODES[DOWN][0]} is not running (its container is exited)" in message, message
    assert f"no record of an upgrade to {TO}" in message, message
    assert containers(lab_host) == before, "a refused upgrade changed a container"
