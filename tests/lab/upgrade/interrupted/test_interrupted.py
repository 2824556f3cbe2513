"""Rolling changes whose playbook is killed halfway (SIGKILL to it and every process it started):

- an upgrade killed during the first node's quiesce leaves that node running, drained and down to its peers; the
  next run takes it first (it is not quiesced again, and not waited for) instead of refusing the cluster as unhealthy;
- that run, killed while the second node's new container is checked, is re-run: it resumes where it stopped and
  completes; rollback then restores every node's own old container;
- a rolling restart killed during the second node's quiesce: its check run says so, and the next run restarts that
  node first, then the third, and not the first again;
- a setting that needs new containers, rolled by site.yml, killed during the second node's drain: the next run
  recreates that node and the third, and not the first again;
- with the third node drained by hand, another such setting is refused before any container changes (it would take
  the first node down while the third is down), naming the third node.

Nothing written before is lost.

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
from refusal import run_playbook
from testinfra.host import Host
from upgrade_lab import FROM, NODES, TO, image, inspect_all, on_lab_host, playbook, playbook_command, ring_states

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


def quiescing(node: str) -> Callable[[], bool]:
    """Whether the node's quiesce (disablebinary, disablegossip, snapshot, drain: one exec) runs, looked at on its host
    every 0.1 s for a minute."""
    until = "until pgrep -f '[n]odetool disablebinary' >/dev/null; do sleep 0.1; done"
    return lambda: on_lab_host(node, "timeout", "60", "sh", "-c", until, timeout=90).returncode == 0


def drained(lab_host: Callable[[str], Host], node: str, timeout: float = 300) -> None:
    """Wait until the node's Cassandra says it is drained (its quiesce goes on without the killed playbook)."""
    host = lab_host(NODES[node][0])
    deadline = time.monotonic() + timeout
    while "Mode: DRAINED" not in host.run(f"docker exec {node} nodetool netstats").stdout:
        assert time.monotonic() < deadline, f"{node} was not drained within {timeout} s"
        time.sleep(2)


def test_an_upgrade_killed_during_the_first_nodes_quiesce_leaves_it_drained(
    lab_host: Callable[[str], Host], originals: dict[str, dict[str, Any]]
) -> None:
    kill_when(quiescing("cdb1"), "upgrade.yml", "-e", f"version={TO}")
    drained(lab_host, "cdb1")
    assert stack_now(lab_host) == originals
    assert ring_states(lab_host("lab-host2").check_output("docker exec cdb2 nodetool status"))["10.42.0.48"] == "DN"


def test_a_killed_upgrade_leaves_the_node_it_was_on_restorable(
    lab_host: Callable[[str], Host], originals: dict[str, dict[str, Any]]
) -> None:
    def victim_new_container_runs() -> bool:
        now = stack_now(lab_host)
        return f"{VICTIM}-rollback" in now and now.get(VICTIM, {}).get("image") == image(TO) and now[VICTIM]["running"]

    output = kill_when(victim_new_container_runs, "upgrade.yml", "-e", f"version={TO}")
    # The plan's note, as the YAML result format may fold it over lines.
    assert "cdb1 was left quiesced (clients and gossip off, drained) by an earlier run that stopped at it" in " ".join(
        output.split()
    ), output[-3000:]
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


def started(lab_host: Callable[[str], Host]) -> dict[str, str]:
    """node -> when its container last started, to the second (restarts are seconds apart)."""
    return {node: lab_host(host).check_output(f"docker inspect -f '{{{{.State.StartedAt}}}}' {node}")[:19]
            for node, (host, _ip) in NODES.items()}


def test_a_restart_killed_during_the_second_nodes_quiesce_is_finished_by_the_next_run(
    lab_host: Callable[[str], Host],
) -> None:
    before = started(lab_host)
    kill_when(quiescing("cdb2"), "restart.yml")
    drained(lab_host, "cdb2")
    killed = started(lab_host)
    assert killed["cdb1"] > before["cdb1"] and killed["cdb2"] == before["cdb2"] and killed["cdb3"] == before["cdb3"]
    checked = run_playbook("restart.yml", {}, "--check")
    assert checked.rc == 0, checked.output
    plan = [line for task in checked.tasks if task["name"].endswith("Show the plan")
            for result in task["hosts"].values() if not result.get("skipped") for line in result.get("msg", [])]
    assert any(line.startswith("resuming the restart begun at ") and "cdb1 restarted since then" in line
               for line in plan), plan
    assert plan[-2:] == [
        "cdb2 was left quiesced (clients and gossip off, drained) by an earlier run that stopped at it: it comes first, "
        "without a second quiesce",
        "restart, one node at a time (drain, restart the same container, gate): cdb2, cdb3",
    ], plan
    assert started(lab_host) == killed
    done = playbook("restart.yml")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    after = started(lab_host)
    assert after["cdb1"] == killed["cdb1"], "cdb1 was restarted again"
    assert killed["cdb2"] < after["cdb2"] < after["cdb3"], after
    test_three_up_normal_and_every_row_at_all(lab_host)


# A setting that needs new containers: a JVM option for every node.
SETTING = '{"cassandra_stack_jvm_extra_opts": ["-Dcorral.interrupted.setting=1"]}'


def test_a_setting_change_killed_during_the_second_nodes_drain_is_finished_by_the_next_run(
    lab_host: Callable[[str], Host],
) -> None:
    before = stack_now(lab_host)
    kill_when(quiescing("cdb2"), "site.yml", "-e", SETTING)
    drained(lab_host, "cdb2")
    killed = stack_now(lab_host)
    assert killed["cdb1"]["id"] != before["cdb1"]["id"], "cdb1 was not recreated before the kill"
    assert killed["cdb2"] == before["cdb2"] and killed["cdb3"] == before["cdb3"], killed
    done = playbook("site.yml", "-e", SETTING)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    after = stack_now(lab_host)
    assert after["cdb1"] == killed["cdb1"], "cdb1 was recreated again"
    assert after["cdb2"]["id"] != killed["cdb2"]["id"] and after["cdb3"]["id"] != killed["cdb3"]["id"], after
    for node, (host, _ip) in NODES.items():
        env = lab_host(host).check_output(f"docker inspect -f '{{{{range .Config.Env}}}}{{{{println .}}}}{{{{end}}}}' {node}")
        assert "-Dcorral.interrupted.setting=1" in env, (node, env)
    test_three_up_normal_and_every_row_at_all(lab_host)


def test_a_rolling_change_is_refused_while_a_node_it_does_not_change_first_is_down(
    lab_host: Callable[[str], Host],
) -> None:
    host3 = lab_host("lab-host3")
    host3.check_output("docker exec cdb3 nodetool drain")
    try:
        before = stack_now(lab_host)
        done = playbook("site.yml", "-e", '{"cassandra_stack_jvm_extra_opts": ["-Dcorral.interrupted.setting=2"]}')
        said = " ".join((done.stdout + done.stderr).split())
        assert done.returncode != 0, said[-3000:]
        assert "a rolling change takes one node down at a time, and these nodes it does not change first are not healthy" in said
        assert "10.42.0.50 is DN" in said, said[-3000:]
        assert stack_now(lab_host) == before, "a refused run changed a container"
    finally:
        host3.check_output("docker restart cdb3")
    test_three_up_normal_and_every_row_at_all(lab_host)
