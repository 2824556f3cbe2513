"""A new container killed while it is health-checked: that node alone is rolled back, the run stops
with a clear message, nothing is lost, and re-running completes the upgrade."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import labclient
import pytest
from upgrade_lab import FROM, NODES, PORTS, TO, client_runs, image, playbook, ring_states, verify_rows

testinfra_hosts = ["lab-manager"]
VICTIM = "cdb2"
START_ID = 3_000_000


def lab(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", NODES[VICTIM][0].replace("lab-", "corral-lab-"), *argv],
        capture_output=True,
        text=True,
        check=False,
    )


def killer(stop: threading.Event, kills: list[float]) -> None:
    """Kill the victim's new container whenever it runs, until told to stop."""
    while not stop.is_set():
        shown = lab("docker", "inspect", "-f", "{{.Config.Image}} {{.State.Running}}", VICTIM).stdout.split()
        if shown == [image(TO), "true"]:
            lab("docker", "kill", VICTIM)
            kills.append(time.time())
        time.sleep(1)


@pytest.fixture(scope="module")
def faulty_run(lab_host: Any) -> Iterator[dict[str, Any]]:
    client = [sys.executable, labclient.__file__]
    subprocess.run([*client, "start", "--start-id", str(START_ID)], check=True, capture_output=True, timeout=300)
    ids_before = {
        node: lab_host(host).check_output(f"docker inspect -f '{{{{.Id}}}}' {node}")
        for node, (host, _ip) in NODES.items()
    }
    stop = threading.Event()
    kills: list[float] = []
    thread = threading.Thread(target=killer, args=(stop, kills), daemon=True)
    thread.start()
    failed = playbook("upgrade.yml", "-e", f"version={TO}", "-e", PORTS, "-e", "cassandra_upgrade_node_timeout=60")
    stop.set()
    thread.join()
    yield {"result": failed, "kills": kills, "ids_before": ids_before}
    subprocess.run([*client, "stop"], capture_output=True, timeout=300, check=False)


def test_the_run_fails_and_says_what_to_do(faulty_run: dict[str, Any]) -> None:
    result = faulty_run["result"]
    output = result.stdout + result.stderr
    assert faulty_run["kills"], "the new container was never seen running"
    assert result.returncode != 0
    assert f"The upgrade of {VICTIM} to {TO} failed" in output
    assert f"{VICTIM} was rolled back on its own to {FROM}" in output
    assert f"ansible-playbook upgrade.yml -e version={TO}" in output


def test_only_that_node_was_rolled_back(
    faulty_run: dict[str, Any], stack: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    now = stack()
    assert now[VICTIM]["Id"] == faulty_run["ids_before"][VICTIM].strip()
    assert now[VICTIM]["Config"]["Image"] == image(FROM) and now[VICTIM]["State"]["Running"]
    assert f"{VICTIM}-rollback" not in now
    assert now["cdb1"]["Config"]["Image"] == image(TO) and "cdb1-rollback" in now
    assert now["cdb3"]["Id"] == faulty_run["ids_before"]["cdb3"].strip()


def test_cluster_is_whole_after_the_fault(faulty_run: dict[str, Any], ring: Callable[[str], str]) -> None:
    deadline = time.time() + 120
    while True:
        states = [ring_states(ring(node)) for node in NODES]
        if (
            all(state == dict.fromkeys((ip for _h, ip in NODES.values()), "UN") for state in states)
            or time.time() > deadline
        ):
            break
        time.sleep(5)
    assert all(state == dict.fromkeys((ip for _h, ip in NODES.values()), "UN") for state in states), states
    assert verify_rows()["missing"] == 0


def test_re_running_completes_the_upgrade(
    faulty_run: dict[str, Any], stack: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    result = playbook("upgrade.yml", "-e", f"version={TO}", "-e", PORTS)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    now = stack()
    for node in NODES:
        assert now[node]["Config"]["Image"] == image(TO) and now[node]["State"]["Running"]
        assert now[f"{node}-rollback"]["Config"]["Image"] == image(FROM)
    subprocess.run([sys.executable, labclient.__file__, "stop"], capture_output=True, timeout=300, check=False)
    run = client_runs()[str(START_ID)]
    # Reported, not asserted: the fault itself may cost requests in flight on the killed node.
    print(f"client during the fault test: {run['totals']}")
    assert verify_rows()["missing"] == 0
