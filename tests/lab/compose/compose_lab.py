"""Helpers of the compose suites: the lab's containers, read through the hosts' engines."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
HOSTS = ("lab-host1", "lab-host2", "lab-host3")
# node -> (host, address, data container)
NODES = {
    "cdb1": ("lab-host1", "10.42.0.48", "data1"),
    "cdb2": ("lab-host2", "10.42.0.49", "data2"),
    "cdb3": ("lab-host3", "10.42.0.50", "data3"),
}
STACKS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp/corral-compose")) / "stacks"
CITIES = ("Sapporo", "Tokyo", "Osaka", "Hakata", "Naha")


def lab_container(host: str) -> str:
    """Inventory host -> the container it is on this machine (inventories/lab: corral-<host>)."""
    return f"corral-{host}"


def docker(host: str, *args: str) -> str:
    return subprocess.run(
        ["docker", "exec", lab_container(host), "docker", *args], check=True, capture_output=True, text=True
    ).stdout


def container_ids() -> dict[str, list[str]]:
    """Every container on every lab host: id, state and start time, to compare before and after."""
    return {
        host: sorted(docker(host, "ps", "-aq", "--no-trunc").split())
        + sorted(docker(host, "ps", "-q", "--no-trunc").split())
        for host in HOSTS
    }


def inspect_stack(stack: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for host in HOSTS:
        ids = docker(host, "ps", "-aq", "--filter", f"label=io.corral.stack={stack}").split()
        if ids:
            for item in json.loads(docker(host, "inspect", *ids)):
                item["_host"] = host
                found[item["Name"].lstrip("/")] = item
    return found


def run_playbook(playbook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        ["ansible-playbook", str(ROOT / playbook), *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
