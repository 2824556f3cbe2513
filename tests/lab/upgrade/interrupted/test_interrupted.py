"""An upgrade whose playbook is killed halfway (SIGKILL, while the second node's new container is checked):
re-running it resumes where it stopped and completes, and rollback then restores every node's own old
container. Nothing written before is lost.

Starts from the stack on FROM with no upgrade under way (molecule/upgrade_interrupted deploys it).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import cql, select_count, write_rows
from process_tree import kill_tree
from testinfra.host import Host
from upgrade_lab import FROM, NODES, TO, image, inspect_all, playbook, playbook_command, ring_states

testinfra_hosts = ["lab-manager"]
VICTIM = "cdb2"
ROWS = 300


def stack_now(lab_host: Callable[[str], Host]) -> dict[str, dict[str, Any]]:
    """name -> {id, image, running} of every stack container on the three hosts."""
    return {
        name: {"id": item["Id"], "image": item["Config"]["Image"], "running": item["State"]["Running"]}
        for host in ("lab-host1", "lab-host2", "lab-host3")
        for name, item in inspect_all(lab_host(host)).items()
    }


def kill_when(condition: Callable[[], bool], *args: str, timeout: float = 900) -> str:
    """Start ansible-playbook, SIGKILL it and every process it started once condition() holds (process_tree: its
    workers run in sessions of their own, and outlive a SIGKILL to its process group); its output."""
    process = subprocess.Popen(
        **playbook_command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if condition():
                kill_tree(process.pid)
                break
            time.sleep(1)
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
        output = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL, f"the playbook ended by itself ({process.returncode}): {output[-3000:]}"
    return output


@pytest.fixture(scope="module")
def originals(lab_host: Callable[[str], Host]) -> Iterator[dict[str, dict[str, Any]]]:
    """The stack on FROM with no upgrade under way, and rows written at QUORUM."""
    now = stack_now(lab_host)
    for node in NODES:
        assert now[node]["image"] == image(FROM) and now[node]["running"], now
        assert f"{node}-rollback" not in now, now
    write_rows(lab_host("lab-host1"), "cdb1", "interrupted", ROWS)
    yield now


def test_a_killed_upgrade_leaves_the_node_it_was_on_restorable(
    lab_host: Callable[[str], Host], originals: dict[str, dict[str, Any]]
) -> None:
    def victim_new_container_runs() -> bool:
        now = stack_now(lab_host)
        return f"{VICTIM}-rollback" in now and now.get(VICTIM, {}).get("image") == image(TO) and now[VICTIM]["running"]

    kill_when(victim_new_container_runs, "upgrade.yml", "-e", f"version={TO}")
    now = stack_now(lab_host)
    assert now["cdb1"]["image"] == image(TO) and now["cdb1-rollback"]["id"] == originals["cdb1"]["id"]
    assert now[f"{VICTIM}-rollback"]["id"] == originals[VICTIM]["id"]
    assert not now[f"{VICTIM}-rollback"]["running"]
    assert now["cdb3"] == originals["cdb3"]


def test_re_running_resumes_and_completes(lab_host: Callable[[str], Host], originals: dict[str, Any]) -> None:
    done = playbook("upgrade.yml", "-e", f"version={TO}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"resuming the upgrade to {TO}" in output, output[-3000:]
    now = stack_now(lab_host)
    for node in NODES:
        assert now[node]["image"] == image(TO) and now[node]["running"], now
        assert now[f"{node}-rollback"]["id"] == originals[node]["id"], node


def test_rollback_after_the_interruption_restores_every_old_container(
    lab_host: Callable[[str], Host], originals: dict[str, Any]
) -> None:
    done = playbook("upgrade.yml", "-e", "upgrade_action=rollback")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    now = stack_now(lab_host)
    for name, original in originals.items():
        assert now[name]["id"] == original["id"] and now[name]["running"] == original["running"], name
    assert not [name for name in now if name.endswith("-rollback")], now


def test_three_up_normal_and_every_row_at_all(lab_host: Callable[[str], Host]) -> None:
    host = lab_host("lab-host1")
    expected = dict.fromkeys((ip for _host, ip in NODES.values()), "UN")
    deadline = time.monotonic() + 180
    while ring_states(host.check_output("docker exec cdb1 nodetool status")) != expected and time.monotonic() < deadline:
        time.sleep(5)
    assert ring_states(host.check_output("docker exec cdb1 nodetool status")) == expected
    rc, out = cql(host, "cdb1", "SELECT count(*) FROM interrupted.t;", consistency="ALL")
    assert rc == 0, out
    assert select_count(out) == ROWS
