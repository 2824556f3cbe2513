"""Helpers of the compose suites: the lab's containers, read through the hosts' engines, and playbook runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
# The collection's own parser, to compare files by what they mean (./dev setup links the checkout there).
sys.path.insert(0, str(ROOT / ".cache" / "collections"))

HOSTS = ("lab-host1", "lab-host2", "lab-host3")
ALL_HOSTS = ("lab-manager", *HOSTS)
# The swarm labels the lab inventory gives its hosts (inventories/lab/host_vars).
HOST_LABELS = {f"lab-host{n}": {"hostname": f"cassandra{n}"} for n in (1, 2, 3)}
# node -> (host, address, data container); cdb2 and cdb3 where the import's chooser would not put them
# (molecule/compose/converge.yml), so that keeping the data's address shows.
NODES = {
    "cdb1": ("lab-host1", "10.42.0.48", "data1"),
    "cdb2": ("lab-host2", "10.42.0.52", "data2"),
    "cdb3": ("lab-host3", "10.42.0.51", "data3"),
}
STACKS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp/corral-compose")) / "stacks"
SOURCES = Path(__file__).resolve().parent / "stacks"
CITIES = ("Sapporo", "Tokyo", "Osaka", "Hakata", "Naha")
LAB_REGISTRY = "172.30.42.1:5000"
WEB_PORT = "8080"


def lab_container(host: str) -> str:
    """Inventory host -> the container it is on this machine (inventories/lab: corral-<host>)."""
    return f"corral-{host}"


def docker(host: str, *args: str) -> str:
    return subprocess.run(
        ["docker", "exec", lab_container(host), "docker", *args], check=True, capture_output=True, text=True
    ).stdout


def host_run(host: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", lab_container(host), *argv], capture_output=True, text=True, check=False)


def container_ids() -> dict[str, dict[str, str]]:
    """Every container on every lab host: {id: state and start time}, to compare before and after."""
    found: dict[str, dict[str, str]] = {}
    for host in ALL_HOSTS:
        lines = docker(host, "ps", "-a", "--no-trunc", "--format", "{{.ID}}").split()
        states = (
            docker(host, "inspect", "-f", "{{.Id}} {{.State.Status}} {{.State.StartedAt}}", *lines).splitlines()
            if lines
            else []
        )
        found[host] = dict(line.split(" ", 1) for line in states)
    return found


def inspect_stack(stack: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for host in HOSTS:
        ids = docker(host, "ps", "-aq", "--filter", f"label=io.corral.stack={stack}").split()
        if ids:
            for item in json.loads(docker(host, "inspect", *ids)):
                item["_host"] = host
                found[item["Name"].lstrip("/")] = item
    return found


class PlaybookRun:
    """One ansible-playbook run with the json callback: its exit code, and each failed task's message."""

    def __init__(self, process: subprocess.CompletedProcess[str]) -> None:
        self.rc = process.returncode
        self.stderr = process.stderr
        self.output = process.stdout
        try:
            start = 0 if process.stdout.startswith("{") else process.stdout.index("\n{") + 1
            self.result: dict[str, Any] = json.loads(process.stdout[start:])
        except ValueError:
            self.result = {}

    def failures(self) -> list[str]:
        return [
            str(outcome.get("msg", ""))
            for play in self.result.get("plays", [])
            for task in play.get("tasks", [])
            for outcome in task.get("hosts", {}).values()
            if outcome.get("failed") and not outcome.get("ignore_errors")
        ]

    def messages(self, task: str) -> dict[str, str]:
        """The msg of each host's result of the task whose name ends with `task` (a debug task's text)."""
        return {
            host: str(outcome.get("msg", ""))
            for play in self.result.get("plays", [])
            for ran in play.get("tasks", [])
            if ran["task"]["name"].endswith(task)
            for host, outcome in ran.get("hosts", {}).items()
            if "msg" in outcome
        }

    def changed(self) -> dict[str, int]:
        return {host: int(stats.get("changed", 0)) for host, stats in self.result.get("stats", {}).items()}

    def problems(self) -> list[str]:
        """The problems of the refusal that stopped the run (corral.cassandra.refuse lists them once)."""
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                for outcome in task.get("hosts", {}).values():
                    if outcome.get("failed") and "problems" in outcome:
                        return [str(line) for line in outcome["problems"]]
        for message in self.failures():
            _head, sep, rest = message.partition("nothing was changed:\n")
            if sep:
                return rest.strip().splitlines()
        return []

    def __str__(self) -> str:
        return f"rc={self.rc}; failures={self.failures()}; stderr={self.stderr[-2000:]}"

    __repr__ = __str__


def run_playbook(playbook: str, *extra: str) -> PlaybookRun:
    """ansible-playbook from the repository root, as a user runs it (the lab inventory of ansible.cfg)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "PWD": str(ROOT),
        }
    )
    process = subprocess.run(
        ["ansible-playbook", str(ROOT / playbook), *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    return PlaybookRun(process)
