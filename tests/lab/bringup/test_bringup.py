"""The first command's hard part, on the lab: fresh bring-ups where a node fails.

- A node whose first boot fails (its JVM killed before it ever served CQL) is reset and started
  again, and the bring-up ends green.
- A node that holds data crashes and then fails every start: it is never wiped; the wait stops at once naming
  it, the node module refuses to reset it, and once it can start it comes back with its own host ID and every row.
- A bring-up left half-started, with a node stuck restarting, is finished by a plain re-run.

Each test starts from what the one before left; the last leaves a healthy 3-node cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cluster import NODES, cql, select_count, wait_until_up_normal, write_rows
from refusal import BIN, ROOT, Run, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
STACK = {"stack": "CassandraDB", "delete_data": True}
ROWS = 200
WAIT_TASK = "Wait: "
# The host directory of every node of the lab inventory (cassandra_stack_data_dir).
DATA_DIR = "/cassandra/data"


def on_host(node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """A command on the node's lab host (docker exec into the host container)."""
    host = NODES[node][0].replace("lab-", "corral-lab-")
    return subprocess.run(["docker", "exec", host, *argv], capture_output=True, text=True, check=False, timeout=120)


def state(node: str) -> tuple[str, int]:
    shown = on_host(node, "docker", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", node).stdout.split()
    return (shown[0], int(shown[1])) if len(shown) == 2 else ("absent", 0)


def log_of(node: str) -> str:
    done = on_host(node, "docker", "logs", node)
    return done.stdout + done.stderr


class Killer:
    """`docker kill`s a node whenever `ready(node)` holds, `times` times at most, until stopped (Docker takes
    it for a stop: no restart)."""

    def __init__(self, node: str, ready: Callable[[str], bool], times: int) -> None:
        self.node, self.ready, self.times = node, ready, times
        self.kills: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set() and len(self.kills) < self.times:
            if state(self.node)[0] == "running" and self.ready(self.node):
                on_host(self.node, "docker", "kill", self.node)
                self.kills.append(time.time())
            time.sleep(0.3)

    def __enter__(self) -> Killer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def booting(node: str) -> bool:
    """In its first boot: it has written its system tables, and has not served CQL."""
    text = log_of(node)
    return "Initializing system." in text and "Starting listening for CQL clients" not in text


def wait_results(run: Run) -> list[dict[str, Any]]:
    """The results, per host, of every wait of the run."""
    return [
        result
        for task in run.tasks
        if task["name"].split(" : ")[-1].startswith(WAIT_TASK)
        for result in task["hosts"].values()
    ]


def healed(run: Run) -> list[str]:
    return [line for result in wait_results(run) for line in result.get("healed") or []]


def crash_reports(run: Run) -> list[dict[str, Any]]:
    return [result for result in wait_results(run) if result.get("failed")]


def host_id(node: str) -> str:
    for line in on_host(node, "docker", "exec", node, "nodetool", "info").stdout.splitlines():
        if line.startswith("ID"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no host ID in nodetool info of {node}")


def why_not_up() -> str:
    """Each node's container state and the last lines of its log that say what went wrong."""
    lines = []
    for node in NODES:
        status, restarts = state(node)
        worst = [line for line in log_of(node).splitlines() if "ERROR" in line or "Exception" in line][-8:]
        lines.append(f"{node}: {status}, {restarts} restarts; " + (" | ".join(worst) or "no error in its log"))
    return "\n".join(lines)


def all_up(lab_host: Callable[[str], Host]) -> None:
    for node, (host, *_rest) in NODES.items():
        try:
            wait_until_up_normal(lab_host(host), node, 3)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{why_not_up()}") from None


@pytest.fixture(scope="module")
def first_bring_up() -> Iterator[tuple[Run, Killer]]:
    """A fresh bring-up during which cdb3 is killed once in its first boot."""
    assert run_playbook("remove.yml", STACK).rc == 0
    with Killer("cdb3", booting, times=1) as killer:
        run = run_playbook("site.yml", {})
    yield run, killer


def test_a_node_whose_first_boot_failed_is_reset_and_the_bring_up_ends_green(
    first_bring_up: tuple[Run, Killer], lab_host: Callable[[str], Host]
) -> None:
    run, killer = first_bring_up
    assert killer.kills, "cdb3 was never seen in its first boot"
    assert run.rc == 0, run.output
    found = healed(run)
    assert any(line.startswith("cdb3: first boot failed") and "emptied /cassandra/data" in line for line in found), found
    all_up(lab_host)


@contextmanager
def crash_loop(node: str) -> Iterator[None]:
    """The node's JVM killed once, as a crash, and every start after it failing at once, until the block ends.

    Every start fails on Cassandra's own startup check (no access to its commit log directory) before it writes
    anything, so the node's data stays as the crash left it; a JVM killed at random moments of its start could
    leave files that a start can never read again (that would be Cassandra's failure, not the one under test).
    """
    commitlog = DATA_DIR + "/commitlog"
    mode = on_host(node, "stat", "-c", "%a", commitlog).stdout.strip()
    assert mode.isdigit(), f"no {commitlog} on the host of {node}"
    assert on_host(node, "chmod", "000", commitlog).returncode == 0
    try:
        pid = on_host(node, "docker", "inspect", "-f", "{{.State.Pid}}", node).stdout.strip()
        assert pid.isdigit() and pid != "0", f"{node} does not run"
        assert on_host(node, "kill", "-KILL", pid).returncode == 0
        yield
    finally:
        on_host(node, "chmod", mode, commitlog)


def test_a_crashing_node_that_holds_data_is_reported_at_once_and_never_wiped(
    first_bring_up: tuple[Run, Killer], lab_host: Callable[[str], Host]
) -> None:
    host1 = lab_host("lab-host1")
    write_rows(host1, "cdb1", "bringuptest", ROWS)
    before = host_id("cdb2")
    with crash_loop("cdb2"):
        deadline = time.monotonic() + 120
        while state("cdb2")[1] < 2 and time.monotonic() < deadline:
            time.sleep(1)
        assert state("cdb2")[1] >= 2, f"cdb2 is not crash-looping: {state('cdb2')}"
        run = run_playbook("site.yml", {})
        # Asked outright, the node module refuses too: this node has served CQL and holds a keyspace.
        reset = subprocess.run(
            [str(BIN / "ansible"), "lab-host2", "-m", "corral.cassandra.cassandra_node", "-a",
             json.dumps({"name": "cdb2", "state": "first_boot_reset", "data_container": "data2"})],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
            env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        )
    assert run.rc != 0
    reports = crash_reports(run)
    assert [report["msg"].split(":")[0] for report in reports] == ["cdb2 on lab-host2"], reports
    assert "its container" in reports[0]["msg"]
    # Stopped at the crash, not at the 300 s deadline.
    assert reports[0]["elapsed"] < 120, reports[0]
    assert not healed(run)
    assert reset.returncode != 0
    assert "cdb2 is not reset" in reset.stdout and "holds the keyspaces bringuptest" in reset.stdout, reset.stdout
    assert "has served CQL" in reset.stdout, reset.stdout
    # Its commit log readable again, the node starts at Docker's next restart, with its own identity and data.
    all_up(lab_host)
    assert host_id("cdb2") == before
    rc, out = cql(host1, "cdb1", "SELECT count(*) FROM bringuptest.t;", consistency="ALL")
    assert rc == 0 and select_count(out) == ROWS, out


def test_a_re_run_finishes_a_bring_up_left_with_a_node_stuck_restarting(
    first_bring_up: tuple[Run, Killer], lab_host: Callable[[str], Host]
) -> None:
    assert run_playbook("remove.yml", STACK).rc == 0
    # No reset this time: the crash ends the run at once, with the node's own first error line.
    with Killer("cdb3", booting, times=1000) as killer:
        failed = run_playbook("site.yml", {"cassandra_stack_first_boot_attempts": 0})
    assert killer.kills and failed.rc != 0
    reports = crash_reports(failed)
    assert reports and reports[0]["msg"].startswith("cdb3 on lab-host3: its container"), reports
    # Left stuck: a commit log segment that cannot be read makes every start of cdb3 fail.
    on_host("cdb3", "docker", "stop", "cdb3")
    on_host("cdb3", "sh", "-c", "head -c 4096 /dev/urandom > /cassandra/data/commitlog/CommitLog-6-1.log; "
            "chown 999:999 /cassandra/data/commitlog/CommitLog-6-1.log")
    on_host("cdb3", "docker", "start", "cdb3")
    deadline = time.monotonic() + 180
    while state("cdb3")[1] < 2 and time.monotonic() < deadline:
        time.sleep(2)
    assert state("cdb3")[1] >= 2, f"cdb3 is not crash-looping: {state('cdb3')}"
    rerun = run_playbook("site.yml", {})
    assert rerun.rc == 0, rerun.output
    found = healed(rerun)
    assert any(line.startswith("cdb3: first boot failed") for line in found), found
    all_up(lab_host)
