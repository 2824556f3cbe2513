"""The README as a user follows it, on the lab: its journey blocks run in order, in this checkout, exactly as
printed, with a user's environment; their output is compared with the README's output blocks. Then the
collection as a user installs it: the built artifact in an empty collections path, its playbooks by name,
Ansible's default settings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from readme_journey import Step, escaped_messages, journey_steps, mismatch, recap, task_result

ROOT = Path(__file__).resolve().parents[3]
LOGS = ROOT / ".cache" / "journey"
VENV_BIN = Path(sys.prefix) / "bin"
STEP_TIMEOUT = 1800
# What the journey must hold, so that a marker lost from the README cannot shrink it unnoticed.
STAGES = ("./dev up", "ansible-playbook site.yml", "playbooks/status.yml", "upgrade.yml -e version=",
          "upgrade_action=finish", "export.yml", "remove.yml", "import.yml", "delete_data=true")


def user_env() -> dict[str, str]:
    """This process's environment without what Molecule, pytest and ./dev set: no ANSIBLE_*, no active
    virtual environment (the README activates it)."""
    venv_bin = VENV_BIN.resolve()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "MOLECULE_", "PYTEST_")) and key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(entry for entry in env.get("PATH", "").split(os.pathsep)
                                  if entry and Path(entry).resolve() != venv_bin)
    return env


def run(argv: list[str], log: Path, cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """Run, output and errors together as a terminal shows them; kept in log."""
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=STEP_TIMEOUT, check=False)
    seconds = time.monotonic() - started
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(argv)}\n(cwd {cwd}, exit {done.returncode}, {seconds:.0f} s)\n\n{done.stdout}")
    return done.returncode, done.stdout, seconds


def tail(output: str, lines: int = 40) -> str:
    return "\n".join(output.splitlines()[-lines:])


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def readme_steps() -> list[Step]:
    return journey_steps((ROOT / "README.md").read_text())


def test_the_readme_journey_runs_as_printed() -> None:
    steps = readme_steps()
    commands = "\n".join(step.command for step in steps)
    assert all(stage in commands for stage in STAGES), f"the README's journey lacks a stage of {STAGES}:\n{commands}"
    assert sum(1 for step in steps if step.expected) >= 2, "the README's journey shows fewer than two outputs"

    env = user_env()
    before = git_status()
    state: list[str] = []
    timings: list[str] = []
    for number, step in enumerate(steps, 1):
        script = "\n".join(["set -eo pipefail", *state, step.command])
        log = LOGS / f"{number:02d}.log"
        rc, output, seconds = run(["bash", "-c", script], log, ROOT, env)
        timings.append(f"{seconds:6.0f} s  {step.command}")
        (LOGS / "timings.txt").write_text("\n".join(timings) + "\n")
        assert rc == 0, f"README line {step.line}: `{step.command}` exited {rc} (log {log}):\n{tail(output)}"
        if step.expected:
            problem = mismatch(step.expected, output)
            assert problem is None, f"README line {step.line}: the output of `{step.command}` (log {log}): {problem}"
        if step.stateful:
            state.append(step.command)
    print("\n".join(timings))

    # What the journey wrote (the export in stacks/, logs in .cache/) is nothing git or the linters see.
    assert git_status() == before
    rc, output, _log = run([str(VENV_BIN / "yamllint"), "-s", "."], LOGS / "yamllint.log", ROOT, env)
    assert rc == 0, f"yamllint of the checkout after the journey:\n{tail(output)}"


def test_the_installed_collection_runs_by_name(tmp_path: Path) -> None:
    """Built, installed into an empty collections path and run from an empty directory: no ansible.cfg, the
    lab inventory by -i (its group_vars hold the lab's connection), Ansible's default callback and format."""
    collections = tmp_path / "collections"
    env = user_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    galaxy, playbook = str(VENV_BIN / "ansible-galaxy"), str(VENV_BIN / "ansible-playbook")
    logs = LOGS / "installed"

    rc, output, _log = run([galaxy, "collection", "build", "--output-path", str(tmp_path / "dist"), str(ROOT)],
                           logs / "build.log", tmp_path, env)
    assert rc == 0, output
    (artifact,) = (tmp_path / "dist").glob("corral-cassandra-*.tar.gz")
    rc, output, _log = run([galaxy, "collection", "install", str(artifact), "-p", str(collections)],
                           logs / "install.log", tmp_path, env)
    assert rc == 0, output
    installed = collections / "ansible_collections" / "corral" / "cassandra"
    assert (installed / "playbooks" / "site.yml").is_file()
    assert not (installed / "ansible.cfg").exists() and not (installed / "inventories" / "lab").exists()
    rc, output, _log = run([galaxy, "collection", "list", "corral.cassandra", "--format", "json"],
                           logs / "list.log", tmp_path, env)
    listed = json.loads(output[output.index("{"):])
    assert [path for path, found in listed.items() if "corral.cassandra" in found] == [
        str(collections / "ansible_collections")], output

    inventory = str(ROOT / "inventories" / "lab" / "hosts.yml")
    rc, site, seconds = run([playbook, "-i", inventory, "corral.cassandra.site"], logs / "site.log", tmp_path, env)
    assert rc == 0, tail(site)
    hosts = recap(site)
    assert sorted(hosts) == ["lab-host1", "lab-host2", "lab-host3", "lab-manager"], tail(site)
    # The journey's last step deployed the stack from the checkout: the artifact finds nothing to change.
    assert all(counts == {"changed": 0, "unreachable": 0, "failed": 0} for counts in hosts.values()), tail(site)

    rc, status, _log = run([playbook, "-i", inventory, "corral.cassandra.status"], logs / "status.log", tmp_path, env)
    assert rc == 0, tail(status)
    table = task_result(status, "corral.cassandra.cassandra_stack : Show the cluster")["msg"]
    assert isinstance(table, list), f"the cluster table is one string, not one line per row: {table!r}"
    assert not [line for line in table if "\n" in line], table
    printed = {line.strip().rstrip(",") for line in status.splitlines()}
    assert all(json.dumps(line) in printed for line in table), f"a row is not on a line of its own:\n{status}"
    (dev_up,) = [step for step in readme_steps() if step.command.startswith("./dev up")]
    readme_table = dev_up.expected[:dev_up.expected.index("...")] if "..." in dev_up.expected else dev_up.expected
    problem = mismatch(readme_table, status)
    assert problem is None, f"the table differs from the README's after ./dev up: {problem}"
    assert escaped_messages(site + status) == [], "messages printed as one escaped line"
    print(f"corral.cassandra.site from the artifact: {seconds:.0f} s, nothing changed")
