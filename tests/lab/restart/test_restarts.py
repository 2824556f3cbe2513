"""Restarts: the engine on one host, then one whole host (a reboot). Each node comes back by itself,
at the same IP with the same data container; the cluster returns to three UN; rows written at QUORUM
before read back at ALL; and a re-run of site.yml afterwards changes nothing."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cluster import NODES, cql, select_count, wait_until_up_normal
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
ROOT = Path(__file__).resolve().parents[3]
ROWS = 200


@pytest.fixture(scope="module")
def hosts(lab_host: Callable[[str], Host]) -> dict[str, Host]:
    return {node: lab_host(place[0]) for node, place in NODES.items()}


def identity(host: Host, node: str) -> tuple[str, str, list[str]]:
    data = json.loads(host.check_output(f"docker inspect {node}"))[0]
    return data["Id"], data["NetworkSettings"]["Networks"]["managed"]["IPAddress"], data["HostConfig"]["VolumesFrom"]


def wait_running(host: Host, node: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(f"docker inspect -f '{{{{.State.Running}}}}' {node}").stdout.strip() == "true":
            return
        time.sleep(5)
    raise AssertionError(f"{node} did not come back by itself within {timeout} s")


@pytest.fixture(scope="module")
def written(hosts: dict[str, Host]) -> int:
    statements = "".join(f"INSERT INTO restarts.rows (id, payload) VALUES ({i}, 'row {i}');" for i in range(ROWS))
    rc, out = cql(hosts["cdb1"], "cdb1",
                  "CREATE KEYSPACE IF NOT EXISTS restarts WITH replication = {'class': 'SimpleStrategy', "
                  "'replication_factor': 3}; CREATE TABLE IF NOT EXISTS restarts.rows (id int PRIMARY KEY, payload text);"
                  + statements, consistency="QUORUM")
    assert rc == 0, out
    return ROWS


def all_rows_at_all(hosts: dict[str, Host], node: str) -> int:
    deadline = time.monotonic() + 120
    while True:
        rc, out = cql(hosts[node], node, "SELECT count(*) FROM restarts.rows;", consistency="ALL")
        if rc == 0 or time.monotonic() > deadline:
            assert rc == 0, out
            return select_count(out)
        time.sleep(5)


def test_engine_restart(hosts: dict[str, Host], written: int) -> None:
    before = identity(hosts["cdb2"], "cdb2")
    hosts["cdb2"].check_output("systemctl restart docker")
    wait_running(hosts["cdb2"], "cdb2")
    assert identity(hosts["cdb2"], "cdb2") == before
    wait_until_up_normal(hosts["cdb1"], "cdb1", 3)
    wait_until_up_normal(hosts["cdb2"], "cdb2", 3)
    assert all_rows_at_all(hosts, "cdb1") == written


def test_host_reboot(hosts: dict[str, Host], written: int) -> None:
    before = identity(hosts["cdb3"], "cdb3")
    subprocess.run(["docker", "restart", "corral-lab-host3"], check=True, timeout=180)
    wait_running(hosts["cdb3"], "cdb3")
    assert identity(hosts["cdb3"], "cdb3") == before
    wait_until_up_normal(hosts["cdb3"], "cdb3", 3)
    wait_until_up_normal(hosts["cdb1"], "cdb1", 3)
    assert all_rows_at_all(hosts, "cdb3") == written


def test_site_rerun_changes_nothing() -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    run = subprocess.run(["ansible-playbook", "site.yml"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    changed = re.findall(r"changed=(\d+)", run.stdout.split("PLAY RECAP")[-1])
    assert changed and all(count == "0" for count in changed), changed_tasks(run.stdout) + run.stdout[-3000:]


def changed_tasks(output: str) -> str:
    """The tasks that reported a change, each with the hosts' lines that did."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed: ["):
            found.append(f"{task}\n  {line}")
    return "changed:\n" + "\n".join(found) + "\n\n"
