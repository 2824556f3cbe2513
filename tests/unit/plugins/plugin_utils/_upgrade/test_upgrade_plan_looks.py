"""The upgrade's reads of the hosts: the role's host script, run here against a fake docker, and what _upgrade/plan
makes of its output (the containers read); what the gates ask of each node (look_spec, judged by the
cassandra_wait action's look, tests/unit/plugins/plugin_utils/_stack/test_stack_wait.py); how the waits' failures
are told apart."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.wait import asks
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade

ROLE_VARS = Path(__file__).resolve().parents[5] / "roles" / "cassandra_upgrade" / "vars" / "main.yml"
NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50"},
]
STACK = {"name": "CassandraDB", "image": "reg:5000/corral/cassandra:3.10", "version": "3.10", "nodes": NODES}


def script_vars() -> dict[str, str]:
    return yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))


@pytest.fixture
def fake_host(tmp_path: Path) -> Path:
    """A PATH with a docker that answers `docker container inspect NAME...` from files in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            d="$FAKE_DIR"
            [ "$1 $2" = "container inspect" ] || exit 2
            shift 2
            [ -f "$d/engine-down" ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
            found=""; code=0
            for name in "$@"; do
              if [ -f "$d/inspect-$name" ]; then found="$found${found:+,}$(cat "$d/inspect-$name")"
              else echo "Error: No such object: $name" >&2; code=1; fi
            done
            echo "[$found]"; exit $code
            """
        ),
        encoding="utf-8",
    )
    docker.chmod(0o755)
    return tmp_path


def run_look(fake: Path, variables: dict[str, str]) -> dict[str, Any]:
    """The host script as the role runs it (ansible.builtin.raw: its variables set first in its text)."""
    script = upgrade.script_with(script_vars()["__cassandra_upgrade_host_script"], variables)
    done = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{fake / 'bin'}:{os.environ['PATH']}", "FAKE_DIR": str(fake)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "failed": False}


def inspected(name: str, image: str) -> str:
    """One container as `docker inspect` shows it (the fake docker puts the found ones in one list)."""
    return json.dumps({"Id": f"id-{name}", "Name": f"/{name}", "State": {"Running": True}, "Config": {"Image": image}})


def test_the_read_gives_containers_and_copies(fake_host: Path) -> None:
    (fake_host / "inspect-cdb1").write_text(inspected("cdb1", "reg:5000/corral/cassandra:3.10"), encoding="utf-8")
    (fake_host / "inspect-cdb1-rollback").write_text(
        inspected("cdb1-rollback", "reg:5000/corral/cassandra:3.9"), encoding="utf-8"
    )
    read = run_look(fake_host, {"READ_NAMES": "cdb1 cdb1-rollback"})
    found = upgrade.read_containers(STACK, {"lab-host1": read, "lab-host2": {"failed": True, "msg": "unreachable"}})
    assert [(item["item"]["name"], item["exists"], item["container"]["Id"]) for item in found["containers"]] == [
        ("cdb1", True, "id-cdb1")
    ]
    assert [(item["item"]["name"], item["container"]["Id"]) for item in found["copies"]] == [("cdb1", "id-cdb1-rollback")]
    plan = upgrade.plan(STACK, found["containers"], found["copies"], "upgrade", "3.10")
    assert plan["problems"] == ["nodes cdb2, cdb3 were not observed: their hosts did not answer"]


def test_a_missing_copy_is_read_as_absent(fake_host: Path) -> None:
    (fake_host / "inspect-cdb1").write_text(inspected("cdb1", "reg:5000/corral/cassandra:3.9"), encoding="utf-8")
    read = run_look(fake_host, {"READ_NAMES": "cdb1 cdb1-rollback"})
    found = upgrade.read_containers(STACK, {"lab-host1": read})
    assert [(item["item"]["name"], item["exists"]) for item in found["containers"]] == [("cdb1", True)]
    assert [(item["item"]["name"], item["exists"]) for item in found["copies"]] == [("cdb1", False)]


def test_an_engine_that_does_not_answer_leaves_its_nodes_unobserved(fake_host: Path) -> None:
    (fake_host / "engine-down").touch()
    read = run_look(fake_host, {"READ_NAMES": "cdb1 cdb1-rollback"})
    assert upgrade.read_containers(STACK, {"lab-host1": read}) == {"containers": [], "copies": []}


def gate_spec(deadline: float | None = None) -> dict[str, Any]:
    return upgrade.look_spec(NODES, deadline or time.time() + 30, False, NODES[1], "cdb2")


def asked(spec: dict[str, Any], name: str) -> dict[str, bool]:
    node = next(node for node in spec["nodes"] if node["name"] == name)
    return asks(node, {"listen": True, "ring": False, "cql": False, "schema": False})


def test_what_each_node_is_asked() -> None:
    spec = gate_spec()
    # The changed node (also the schema witness) answers CQL and shows the schema; its peers their rings.
    assert asked(spec, "cdb2") == {"ring": False, "cql": True, "schema": True}
    assert asked(spec, "cdb1") == {"ring": True, "cql": False, "schema": False}
    assert spec["ips"] == ["10.42.0.48", "10.42.0.49", "10.42.0.50"] and not spec["per_release"]
    # Each node keeps its model (its host, its ports) for the wait.
    assert spec["nodes"][1]["host"] == "lab-host2" and spec["nodes"][1]["seed"] is False
    # A changed node that is not the witness (a rollback across a major version) shows its own ring.
    other = upgrade.look_spec(NODES, 0, True, NODES[0], "cdb2")
    assert asked(other, "cdb2") == {"ring": True, "cql": True, "schema": False}
    assert asked(other, "cdb1") == {"ring": True, "cql": False, "schema": True}
    assert other["per_release"]
    # The preflight: everything on every node, the schema on one.
    preflight = upgrade.look_spec(NODES, 0, False, NODES[0])
    assert asked(preflight, "cdb3") == {"ring": True, "cql": True, "schema": False}
    assert asked(preflight, "cdb1") == {"ring": True, "cql": True, "schema": True}


def test_the_waits_failures_tell_crashes_from_the_rest() -> None:
    waits = {
        "lab-host1": {
            "failed": True, "crashed": True, "nodes": {}, "msg": "cdb1 on lab-host1: its container is restarting (restart 1)"
        },
        # As the role registers it, with failed_when: false: `failed` is off, `ready` tells.
        "lab-host2": {
            "failed": False, "ready": False, "nodes": {}, "msg": "not ready within 30 s: cdb2: not answering CQL (no answer)"
        },
        "lab-host6": {"failed": False, "ready": True, "nodes": {}},
        "lab-host3": {"changed": False, "stopped": True},
        "lab-host4": {"skipped": True},
        "lab-host5": {"failed": True, "unreachable": True, "msg": "Failed to connect to the host via ssh"},
    }
    assert upgrade.wait_failures(waits) == {
        "crashes": ["cdb1 on lab-host1: its container is restarting (restart 1)"],
        "problems": [
            "not ready within 30 s: cdb2: not answering CQL (no answer)",
            "lab-host5: Failed to connect to the host via ssh",
        ],
    }


def test_look_parts_keep_each_parts_output() -> None:
    stdout = "a\nb\n\n@@corral-upgrade ring cdb1 0\n\n@@corral-upgrade cql cdb1 1\nx\n@@corral-upgrade end cdb1 x\n"
    assert upgrade.look_parts(stdout) == [
        {"part": "ring", "node": "cdb1", "rc": 0, "text": "a\nb"},
        {"part": "cql", "node": "cdb1", "rc": 1, "text": ""},
        {"part": "end", "node": "cdb1", "rc": 1, "text": "x"},
    ]


def test_the_variables_come_first_quoted() -> None:
    script = upgrade.script_with('printf "%s|" "$A" "$B" "$C"', {"B": "it's $HOME `x`", "A": "a\nb", "C": None})
    assert script.splitlines()[0] == "A='a"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "a\nb|it's $HOME `x`||"
    with pytest.raises(ValueError, match="not a shell variable name"):
        upgrade.script_with("true", {"A B": "x"})


def test_every_host_script_runs_raw_with_its_variables_in_its_text() -> None:
    """ansible.builtin.raw: no module upload per run, and nothing of the script expanded by a module (the command
    module expanded a script variable into argv unquoted, seen on the lab); raw takes no environment."""
    tasks_dir = ROLE_VARS.parents[1] / "tasks"

    def flat(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every task, those of blocks (and their rescue and always) too."""
        found = []
        for task in tasks:
            parts = [task.get(key) or [] for key in ("block", "rescue", "always")]
            found += [item for part in parts for item in flat(part)] if any(parts) else [task]
        return found

    runs = [
        task
        for path in sorted(tasks_dir.glob("*.yml"))
        for task in flat(yaml.safe_load(path.read_text(encoding="utf-8")) or [])
        if "__cassandra_upgrade_host_script" in str(task)
    ]
    # The preflight's read, and the read of a node whose upgrade failed (upgrade_node.yml's rescue).
    assert len(runs) == 2
    for task in runs:
        assert "cassandra_upgrade_script(" in task["ansible.builtin.raw"]
        assert "environment" not in task
