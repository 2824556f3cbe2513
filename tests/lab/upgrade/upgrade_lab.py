"""Helpers of the upgrade suites: the stack's containers as the lab hosts show them, the ring, the client.

The versions come from the scenario (UPGRADE_FROM, UPGRADE_TO): 3.9 -> 3.10 (molecule/upgrade) or
4.1.10 -> 5.0.8 (molecule/upgrade_current).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labclient

ROOT = Path(__file__).resolve().parents[3]
FROM = os.environ.get("UPGRADE_FROM", "3.9")
TO = os.environ.get("UPGRADE_TO", "3.10")
REPOSITORY = "172.30.42.1:5000/corral/cassandra"
NODES = {"cdb1": ("lab-host1", "10.42.0.48"), "cdb2": ("lab-host2", "10.42.0.49"), "cdb3": ("lab-host3", "10.42.0.50")}
DATA = {"cdb1": "data1", "cdb2": "data2", "cdb3": "data3"}
PORTS = '{"cassandra_stack_published_ports": ["9042:9042"]}'
# As README.md prints them: finish and rollback take the settings the upgrade ran with from the containers.
FINISH = "ansible-playbook upgrade.yml -e upgrade_action=finish"
ROLLBACK = "ansible-playbook upgrade.yml -e upgrade_action=rollback"
BEFORE = "/var/tmp/corral-upgrade/before.json"


def image(version: str) -> str:
    return f"{REPOSITORY}:{version}"


def on_lab_host(node: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A command on the node's lab host (docker exec into the host container), as the machine sees it."""
    host = NODES[node][0].replace("lab-", "corral-lab-")
    return subprocess.run(["docker", "exec", host, *argv], capture_output=True, text=True, check=False, timeout=timeout)


def upgrade_snapshots(member: Host, version: str) -> dict[str, set[str]]:
    """{snapshot tag: tables} of the snapshots taken before an upgrade to version, in a host's data directory."""
    listing = member.check_output(
        f"ls -d /cassandra/data/data/*/*/snapshots/corral-before-upgrade-to-{version}-* 2>/dev/null || true"
    )
    found: dict[str, set[str]] = {}
    for path in listing.split():
        *_root, keyspace, table, _snapshots, tag = path.split("/")
        found.setdefault(tag, set()).add(f"{keyspace}.{table.split('-')[0]}")
    return found


def inspect_all(member: Host) -> dict[str, dict[str, Any]]:
    """Every container of the stack on one host, by name, as `docker inspect` shows it."""
    ids = member.check_output("docker ps -aq --no-trunc --filter label=io.corral.stack").split()
    if not ids:
        return {}
    return {
        item["Name"].lstrip("/"): item for item in json.loads(member.check_output("docker inspect " + " ".join(ids)))
    }


def overlay_ip(container: dict[str, Any]) -> str | None:
    endpoint = (container["NetworkSettings"]["Networks"] or {}).get("managed") or {}
    return ((endpoint.get("IPAMConfig") or {}).get("IPv4Address")) or None


def ring_states(status: str) -> dict[str, str]:
    states = {}
    for line in status.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] in ("UN", "DN", "UJ", "UL", "UM", "DL", "DJ", "DM"):
            states[parts[1]] = parts[0]
    return states


def table_lines(stdout: str) -> list[str]:
    """The lines of a playbook's output with the list-item marks of a debug msg that is a list taken off:
    `- line` with the YAML result format, `"line",` with Ansible's default one."""
    lines = []
    for line in stdout.splitlines():
        text = line.strip()
        text = text[2:] if text.startswith("- ") else text
        lines.append(text.rstrip(",").strip("'\""))
    return lines


def playbook_command(*args: str) -> dict[str, Any]:
    """ansible-playbook in the project root, with its own ansible.cfg (not Molecule's environment):
    the keyword arguments of subprocess.run or Popen."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "MOLECULE_"))}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return {"args": [str(ROOT / ".venv" / "bin" / "ansible-playbook"), *args], "cwd": ROOT, "env": env, "text": True}


def playbook(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """ansible-playbook run to its end."""
    return subprocess.run(**playbook_command(*args), capture_output=True, timeout=timeout, check=False)


def verify_rows() -> dict[str, Any]:
    """Every acknowledged row read back at ALL, through the client container."""
    done = subprocess.run(
        [sys.executable, str(Path(labclient.__file__)), "verify"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def client_runs() -> dict[str, Any]:
    runs: dict[str, Any] = labclient.results()["runs"]
    return runs


def readme_command(command: str) -> list[str]:
    """The arguments of an ansible-playbook command that README.md prints exactly so (a line of a code block or a
    code span of its own), so that the test runs what a reader types."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"(^|`){re.escape(command)}($|`)", text, re.MULTILINE), f"README.md does not print: {command}"
    words = shlex.split(command)
    assert words[0] == "ansible-playbook", command
    return words[1:]


def inventory_version() -> str:
    """cassandra_stack_version as the lab inventory gives it (the classic replay's starting version)."""
    settings = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text(encoding="utf-8"))
    return str(settings["cassandra_stack_version"])
