"""A playbook run killed the way a crash kills it: the playbook and every process it started, at once.

SIGKILL to the playbook's process group is not that. ansible-core 2.19 runs each worker in a session of its own
(WorkerProcess._detach calls os.setsid, ansible/ansible#82770), so the workers outlive such a kill: each goes on
with the task it was running, a loop with its next items, unseen. Here every process below the playbook is
stopped first (none can start another), then all are killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from pathlib import Path

PROC = Path("/proc")


def parent_pids(proc: Path = PROC) -> dict[int, int]:
    """{pid: parent pid} of every process this machine shows in /proc."""
    parents = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended since the listing
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, the fields after it do not.
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1].isdigit():
            parents[int(stat.parent.name)] = int(fields[1])
    return parents


def descendants(pid: int, parents: Mapping[int, int]) -> list[int]:
    """The processes below pid (children, their children, ...), whatever their session or process group."""
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child in found or child == pid:
            continue
        found.append(child)
        todo.extend(children.get(child, []))
    return sorted(found)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # ended since the tree was read
        os.kill(pid, signum)


def kill_tree(pid: int, proc: Path = PROC) -> list[int]:
    """SIGKILL pid and every process below it; the pids killed.

    Each is stopped (SIGSTOP) as it is found, and the tree read again until it holds no process not yet stopped:
    a process that forks between two reads is found by the next one. Then all are killed together.
    """
    stopped: list[int] = []
    found = [pid]
    while found:
        for each in found:
            _signal(each, signal.SIGSTOP)
            stopped.append(each)
        found = [each for each in descendants(pid, parent_pids(proc)) if each not in stopped]
    for each in stopped:
        _signal(each, signal.SIGKILL)
    return sorted(stopped)
