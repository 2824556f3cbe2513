"""Refusal runs of the lab suites: a real ansible-playbook run with bad input that must fail and change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from testinfra.host import Host

ROOT = Path(__file__).resolve().parents[2]
# The ansible-playbook of the Python that runs the tests (the project's virtual environment).
BIN = Path(sys.executable).parent
LAB_HOSTS = ("lab-manager", "lab-host1", "lab-host2", "lab-host3")


def containers(lab_host: Callable[[str], Host], hosts: Sequence[str] = LAB_HOSTS) -> list[str]:
    """Every container on the lab hosts: host, id, name, state, start time and restart count."""
    found: list[str] = []
    for name in hosts:
        listing = lab_host(name).check_output(
            "ids=$(docker ps -aq --no-trunc); [ -z \"$ids\" ] || docker inspect -f "
            "'{{.Id}} {{.Name}} {{.State.Status}} {{.State.StartedAt}} {{.RestartCount}}' $ids"
        )
        found += [f"{name} {line}" for line in sorted(listing.splitlines())]
    return found


def json_report(stdout: str) -> dict[str, Any]:
    """The json callback's report; progress lines printed while a task runs come before it, on lines of their own."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    report: dict[str, Any] = json.loads(stdout[start:])
    return report


@dataclass
class Run:
    """One ansible-playbook run: exit code, the tasks in the order they started, the play recap, the output's tail."""

    rc: int
    output: str
    tasks: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


def playbook_env(bin_dir: Path = BIN) -> dict[str, str]:
    """This environment without Ansible's and Molecule's settings, with the project's ansible.cfg, the JSON callback
    and bin_dir first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
    )
    return env


def task_seconds(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The json callback's report -> each task in the order it started: its name, its seconds (start to its last
    host's result) and the seconds since the previous task ended (Ansible's own time between tasks)."""
    found: list[dict[str, Any]] = []
    ended: datetime | None = None
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration") or {}
            if "start" not in duration:
                continue
            start = datetime.fromisoformat(duration["start"].rstrip("Z"))
            end = datetime.fromisoformat(duration["end"].rstrip("Z")) if "end" in duration else start
            found.append({"task": task["task"]["name"], "seconds": round((end - start).total_seconds(), 1),
                          "gap": round((start - ended).total_seconds(), 1) if ended else 0.0})
            ended = end
    return found


def note_times(path: str, playbook: str, extra_vars: dict[str, Any], rc: int, seconds: float,
               report: dict[str, Any]) -> None:
    """One line of JSON per playbook run, appended to `path`: where a lab test's time went, task by task."""
    line = {"test": os.environ.get("PYTEST_CURRENT_TEST", ""), "playbook": playbook, "extra_vars": sorted(extra_vars),
            "rc": rc, "seconds": round(seconds, 1), "tasks": task_seconds(report)}
    with open(path, "a", encoding="utf-8") as notes:
        notes.write(json.dumps(line) + "\n")


def run_playbook(playbook: str, extra_vars: dict[str, Any], *args: str) -> Run:
    """ansible-playbook with the project's ansible.cfg and the JSON callback. With CORRAL_LAB_TIMES set to a file,
    each run's seconds, task by task, are appended to it (note_times)."""
    env = playbook_env()
    began = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), playbook, "--extra-vars", json.dumps(extra_vars), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout[-4000:] + done.stderr[-4000:]
    try:
        report = json_report(done.stdout)
    except ValueError:
        return Run(done.returncode, output)
    if os.environ.get("CORRAL_LAB_TIMES"):
        note_times(os.environ["CORRAL_LAB_TIMES"], playbook, extra_vars, done.returncode, time.monotonic() - began, report)
    tasks = [
        {"name": task["task"]["name"], "hosts": task.get("hosts", {})}
        for play in report.get("plays", [])
        for task in play.get("tasks", [])
    ]
    return Run(done.returncode, output, tasks, report.get("stats", {}))


def refusals(lab_host: Callable[[str], Host], playbook: str, extra_vars: dict[str, Any], task: str, *args: str,
             hosts: Sequence[str] = LAB_HOSTS) -> dict[str, str]:
    """Run the playbook; check that it stopped at the failure of `task` and changed no container on `hosts`.

    Returns the failure message of each host that failed there.
    """
    before = containers(lab_host, hosts)
    assert any(" /cdb1 running " in line for line in before), f"the stack is not deployed: {before}"
    run = run_playbook(playbook, extra_vars, *args)
    assert run.rc != 0, run.output
    assert run.tasks, run.output
    last = run.tasks[-1]
    assert last["name"] == task or last["name"].endswith(f" : {task}"), (
        f"the run went on after preflight, to {last['name']!r}: {run.output}"
    )
    # corral.cassandra.refuse gives the headline as msg and each problem in `problems`.
    messages = {
        host: "\n".join([str(result.get("msg", "")), *map(str, result.get("problems", []))])
        for host, result in last["hosts"].items()
        if result.get("failed")
    }
    assert messages, last
    assert containers(lab_host, hosts) == before, "a refused run changed a container"
    return messages


def refused(lab_host: Callable[[str], Host], playbook: str, extra_vars: dict[str, Any], task: str, *args: str) -> str:
    """Like refusals(), on every lab host: the messages, one a line."""
    return "\n".join(refusals(lab_host, playbook, extra_vars, task, *args).values())
