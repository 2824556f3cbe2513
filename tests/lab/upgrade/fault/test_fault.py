"""A new node that crashes after it listens for CQL, inside the upgrade's health gate, half-way through the
rolling phase: the gate stops at its next poll ("A container crashed: ..."), not after
cassandra_upgrade_node_timeout; that node alone goes back to its own old container, the node upgraded before it
keeps its new container and its rollback copy, the cluster serves the QUORUM client throughout, nothing is lost,
and re-running completes the upgrade.

The crash is made certain to land inside the gate: the upgrade runs in the background, and once the victim's gate
has begun (its listen wait), the victim's new JVM is killed by its host PID each time it listens, until the gate's
check is printed. A `docker kill` would not do: it does not trigger the restart
policy, and a crash that Docker restarts is the case the look must see.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import labclient
import pytest
from testinfra.host import Host
from upgrade_lab import (
    FROM,
    NODES,
    PORTS,
    TO,
    client_runs,
    image,
    inspect_all,
    on_lab_host,
    playbook,
    playbook_command,
    ring_states,
    verify_rows,
)

testinfra_hosts = ["lab-manager"]
# The second node upgraded: the first keeps its new container, so the rollback must take back this node alone.
FIRST, VICTIM, LAST = "cdb1", "cdb2", "cdb3"
START_ID = 3_000_000
NODE_TIMEOUT = 300
# The client's operations that may time out because a replica was killed under them: a few, within seconds.
KILL_WINDOW = 15
MAX_TIMEOUTS_PER_KILL = 3
LISTEN_TASK = f"Wait until it listens for CQL: {VICTIM}"
CHECK_TASK = f"Check that it is healthy: {VICTIM}"
# Inside the victim's lab host: when the victim runs the new image and listens for CQL (9042 is 2352 in
# /proc/net/tcp), kill its main process by host PID and print that PID.
KILL_WHEN_LISTENING = (
    f'[ "$(docker inspect -f "{{{{.Config.Image}}}} {{{{.State.Running}}}}" {VICTIM})" = "{image(TO)} true" ] && '
    f'docker exec {VICTIM} grep -Eq ":2352 [0-9A-F]+:[0-9A-F]+ 0A" /proc/net/tcp /proc/net/tcp6 && '
    f'pid=$(docker inspect -f "{{{{.State.Pid}}}}" {VICTIM}) && kill -9 "$pid" && echo "$pid"'
)


def task_header(line: str, name: str) -> bool:
    return line.startswith("TASK [") and f": {name}]" in line


class Run:
    """The upgrade playbook in the background, its output lines timestamped as they come."""

    def __init__(self, *args: str) -> None:
        command = playbook_command(*args)
        command["env"]["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(**command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self.lines: list[tuple[float, str]] = []
        self.in_gate = threading.Event()
        self.gate_checked = threading.Event()
        self.gate_task = ""
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self) -> None:
        checking = False
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))
            # The gate begins with the wait for the new node to listen: a kill from then on lands inside it (a
            # healthy gate can pass within a second of the node listening, before a later kill).
            if task_header(line, LISTEN_TASK) and not self.in_gate.is_set():
                self.gate_task = line.strip()
                self.in_gate.set()
            if task_header(line, CHECK_TASK) and not self.gate_checked.is_set():
                checking = True
            elif checking and line.startswith(("fatal:", "ok:")):
                self.gate_checked.set()
        self.in_gate.set()
        self.gate_checked.set()

    def first_after(self, header: str, prefix: str) -> tuple[float, str] | None:
        """The first line starting with prefix after the first header line of the task named header."""
        seen = False
        for at, line in self.lines:
            seen = seen or task_header(line, header)
            if seen and line.startswith(prefix):
                return at, line
        return None

    @property
    def output(self) -> str:
        return "\n".join(line for _at, line in self.lines)


def killer(run: Run, kills: list[tuple[float, str]]) -> None:
    """From the start of the gate until its result: kill the new JVM each time it listens."""
    run.in_gate.wait()
    while not run.gate_checked.is_set() and run.process.poll() is None:
        killed = on_lab_host(VICTIM, "sh", "-c", KILL_WHEN_LISTENING)
        if killed.returncode == 0:
            kills.append((time.time(), killed.stdout.strip()))
        time.sleep(0.5)


@pytest.fixture(scope="module")
def crashed(lab_host: Callable[[str], Host], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    before = {name: item for host, _ip in NODES.values() for name, item in inspect_all(lab_host(host)).items()}
    for node in NODES:
        assert before[node]["Config"]["Image"] == image(FROM) and before[node]["State"]["Running"], node
        assert f"{node}-rollback" not in before, f"an upgrade is under way ({node}-rollback exists)"
    client = [sys.executable, labclient.__file__]
    subprocess.run([*client, "start", "--start-id", str(START_ID)], check=True, capture_output=True, timeout=300)
    started = time.time()
    run = Run("upgrade.yml", "-e", f"version={TO}", "-e", PORTS, "-e", f"cassandra_upgrade_node_timeout={NODE_TIMEOUT}")
    kills: list[tuple[float, str]] = []
    thread = threading.Thread(target=killer, args=(run, kills), daemon=True)
    thread.start()
    try:
        run.process.wait(timeout=1800)
    finally:
        if run.process.poll() is None:
            run.process.kill()
        run.reader.join(timeout=60)
        thread.join(timeout=120)
    ended = time.time()
    log = tmp_path_factory.mktemp("fault") / "upgrade.log"
    marks = [(at, f"@@ kill of host PID {pid}") for at, pid in kills]
    log.write_text("".join(f"{at:.3f} {line}\n" for at, line in sorted(run.lines + marks)), encoding="utf-8")
    yield {"run": run, "kills": kills, "before": before, "started": started, "ended": ended, "log": log}
    subprocess.run([*client, "stop"], capture_output=True, timeout=300, check=False)


def test_the_gate_stops_at_once_and_says_what_to_do(crashed: dict[str, Any]) -> None:
    run, kills = crashed["run"], crashed["kills"]
    output = run.output
    assert run.gate_task, f"the run never reached the gate of {VICTIM}: {output[-3000:]}"
    assert kills, f"the new {VICTIM} was never seen listening in the gate ({run.gate_task}): {output[-3000:]}"
    failed = run.first_after(CHECK_TASK, "fatal:")
    assert failed is not None, f"the gate of {VICTIM} did not fail: {output[-3000:]}"
    assert run.process.returncode != 0
    words = " ".join(output.split())
    assert f"A container crashed: {VICTIM} on {NODES[VICTIM][0]}: its container" in words, output[-3000:]
    assert f"The upgrade of {VICTIM} to {TO} failed" in output, output[-3000:]
    assert f"{VICTIM} was rolled back on its own to {FROM}" in output, output[-3000:]
    assert f"Nodes already upgraded, with rollback copies: {FIRST}." in words, output[-3000:]
    assert f"ansible-playbook upgrade.yml -e version={TO}" in output, output[-3000:]
    stopped_after = failed[0] - kills[0][0]
    print(
        f"gate task {run.gate_task!r}: {len(kills)} kill(s) (host PIDs {[pid for _at, pid in kills]}); "
        f"first kill to the gate's failure {stopped_after:.1f} s, to the end of the run "
        f"{crashed['ended'] - kills[0][0]:.1f} s; whole run {crashed['ended'] - crashed['started']:.1f} s; "
        f"node timeout {NODE_TIMEOUT} s; output with times: {crashed['log']}"
    )
    # At once: within a look or two (seen on the lab: 14 to 25 s, most of it the look that was under way when the
    # JVM died and the next one's tools), not at the node timeout, which a gate that missed the crash would reach
    # (the node would be killed each time it listened again).
    assert 0 <= stopped_after < NODE_TIMEOUT / 5, f"the gate took {stopped_after:.1f} s to see the crash"


def test_only_that_node_went_back_to_its_own_old_container(
    crashed: dict[str, Any], stack: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    now, before = stack(), crashed["before"]
    assert now[VICTIM]["Id"] == before[VICTIM]["Id"], f"{VICTIM} is not its own old container"
    assert now[VICTIM]["Config"]["Image"] == image(FROM) and now[VICTIM]["State"]["Running"]
    assert f"{VICTIM}-rollback" not in now
    assert now[FIRST]["Config"]["Image"] == image(TO) and now[FIRST]["State"]["Running"]
    assert now[f"{FIRST}-rollback"]["Id"] == before[FIRST]["Id"], f"{FIRST}'s rollback copy is not its old container"
    assert now[LAST]["Id"] == before[LAST]["Id"] and f"{LAST}-rollback" not in now


def test_the_cluster_served_the_client_throughout(crashed: dict[str, Any], ring: Callable[[str], str]) -> None:
    deadline = time.time() + 120
    everyone = dict.fromkeys((ip for _h, ip in NODES.values()), "UN")
    while True:
        states = {node: ring_states(ring(node)) for node in NODES}
        if all(state == everyone for state in states.values()) or time.time() > deadline:
            break
        time.sleep(5)
    assert all(state == everyone for state in states.values()), states
    subprocess.run([sys.executable, labclient.__file__, "stop"], capture_output=True, timeout=300, check=False)
    run = client_runs()[str(START_ID)]
    first_kill = crashed["kills"][0][0] if crashed["kills"] else crashed["started"]
    stats = labclient.results()["stats"].get(str(START_ID), [])
    around = [line for line in stats if first_kill - 2 <= line["t"] <= first_kill + 30]
    print(
        f"client during the fault test: {run['totals']}, p99 {run['p99_ms']} ms; from the first kill on for 30 s: "
        f"{sum(line['ops'] for line in around)} operations, {sum(line['failed'] for line in around)} failed, "
        f"max {max((line['max_ms'] for line in around), default=0)} ms; errors {run['errors'][:5]}"
    )
    assert run["totals"]["ops"] > 0
    # A replica killed by SIGKILL never answers the requests it held: their coordinators time out (seen on the
    # lab: one QUORUM read, "received only 1 responses", within a second of the kill). Cassandra cannot answer
    # them; what the upgrade owns is that nothing else fails and nothing acknowledged is lost.
    kills = [at for at, _pid in crashed["kills"]]
    unexplained = [
        error
        for error in run["errors"]
        # An error's time is when its operation began, up to the client's timeout before the kill.
        if not ("Timeout" in error["error"] and any(-12 <= error["t"] - at <= KILL_WINDOW for at in kills))
    ]
    # Seen once in CI: a QUORUM read begun during a node's drain timed out at its coordinator, and the driver had no
    # other host to retry on. On 3.9 (session 13's lab loop) a peer can mark a draining node DOWN on its shutdown
    # announcement and UP again 10 ms later (an echo answered within the drain's 2 s), then send it reads after its
    # messaging stops. The quiesce now stops gossip before the drain (quiesce.yml), which every peer then keeps.
    # Why the driver had no host left is still open: driver_up (the hosts it held up) and the upgrade's tasks then
    # tell the next occurrence.
    # What the upgrade was doing then: its task headers and results from 15 s before each such error to its end.
    context = [
        f"{at:.3f} {line}"
        for error in unexplained[:3]
        for at, line in crashed["run"].lines
        if error["t"] - 15 <= at <= error.get("end", error["t"]) + 2 and line.startswith(("TASK [", "ok:", "changed:", "fatal:"))
    ]
    assert not unexplained and len(run["errors"]) <= MAX_TIMEOUTS_PER_KILL * len(kills), (run["errors"][:10], context)
    assert verify_rows()["missing"] == 0


def test_re_running_completes_the_upgrade(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    result = playbook("upgrade.yml", "-e", f"version={TO}", "-e", PORTS)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    now = stack()
    for node in NODES:
        assert now[node]["Config"]["Image"] == image(TO) and now[node]["State"]["Running"]
        assert now[f"{node}-rollback"]["Config"]["Image"] == image(FROM)
    assert verify_rows()["missing"] == 0
