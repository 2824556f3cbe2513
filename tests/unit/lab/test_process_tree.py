"""tests/lab/process_tree.py, which the lab tests kill a playbook run with, and why SIGKILL to the run's process group
does not stop it: ansible-core's workers run in sessions of their own and finish their task, a loop its next items
(session 12: the killed add's worker went on to cdb2's and cdb3's cleanups, so the next run found nothing owed).

The playbook runs on localhost: a loop of slow items, one after the other, like the cleanups after an add."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from process_tree import descendants, kill_tree, parent_pids

BIN = Path(sys.executable).parent
PLAYBOOK = """\
- name: One slow item after the other
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start each item, then take a second
      ansible.builtin.command:
        argv: [sh, -c, 'touch "$1.started" && sleep 1', item, "{{ playbook_dir }}/{{ item }}"]
      loop: [cdb1, cdb2, cdb3]
      run_once: true
      changed_when: true
"""


def test_descendants_are_found_across_sessions() -> None:
    # 10 the playbook, 11 and 12 its workers (each in a session of its own), 13 a connection of 11, 14 what it runs;
    # 20 is another program, 1 the playbook's parent.
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 14: 13, 20: 1}
    assert descendants(10, parents) == [11, 12, 13, 14]
    assert descendants(11, parents) == [13, 14]
    assert descendants(14, parents) == []


def test_parent_pids_read_the_field_after_the_command_name(tmp_path: Path) -> None:
    for pid, stat in {
        "10": "10 (ansible-playboo) S 1 10 10 0 -1",
        "11": "11 (a (odd) name) S 10 11 11 0 -1",
        "self": "12 (python3) R 11 12 12 0 -1",
    }.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(stat + "\n")
    assert parent_pids(tmp_path) == {10: 1, 11: 10}


def start_playbook(directory: Path) -> subprocess.Popen[bytes]:
    (directory / "play.yml").write_text(PLAYBOOK)
    (directory / "ansible.cfg").write_text("[defaults]\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_HOME=str(directory / ".ansible"), ANSIBLE_CONFIG=str(directory / "ansible.cfg"))
    return subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", "play.yml"],
        cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def loop_started(run: subprocess.Popen[bytes], directory: Path) -> None:
    """Until the loop's first item started; fails at once when the playbook ended first."""
    assert wait_for(lambda: run.poll() is not None or (directory / "cdb1.started").exists(), 120), "no loop in 120 s"
    assert run.poll() is None, f"the playbook ended (rc {run.returncode}) before its loop started"


def test_a_playbook_killed_with_its_process_tree_runs_no_further_item(tmp_path: Path) -> None:
    run = start_playbook(tmp_path)
    try:
        loop_started(run, tmp_path)
        killed = kill_tree(run.pid)
        assert run.wait(10) == -signal.SIGKILL
        assert len(killed) > 1, killed
        # An item takes a second: a worker that outlived the kill would have started the next one by now.
        time.sleep(4)
        assert not (tmp_path / "cdb2.started").exists()
    finally:
        if run.poll() is None:
            kill_tree(run.pid)


def test_sigkill_to_the_process_group_leaves_the_worker_running_its_loop(tmp_path: Path) -> None:
    """What process_tree is for: the way the lab tests killed a run before, which ansible-core 2.19 outlives."""
    run = start_playbook(tmp_path)
    below: list[int] = []
    try:
        loop_started(run, tmp_path)
        below = descendants(run.pid, parent_pids())
        os.killpg(run.pid, signal.SIGKILL)
        assert run.wait(10) == -signal.SIGKILL
        assert wait_for((tmp_path / "cdb2.started").exists, 30), "the worker stopped with its process group"
    finally:
        if run.poll() is None:
            kill_tree(run.pid)
        # The orphaned worker, and what it runs: below the playbook when the tree was read, and still an ansible.
        for pid in below:
            with contextlib.suppress(OSError):
                if b"ansible" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    kill_tree(pid)
