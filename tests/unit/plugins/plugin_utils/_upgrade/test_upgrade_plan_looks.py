"""The upgrade's reads of the hosts: the role's host script, run here against a fake docker, and what _upgrade/plan
makes of its output (containers read, pulls, overlay); what the gates ask of each node (look_spec, judged by the
cassandra_wait action's look, tests/unit/plugins/plugin_utils/_stack/test_stack_wait.py); how the waits' failures
are told apart."""

from __future__ import annotations

import json
import os
import re
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


def ring(*states: str) -> str:
    rows = "\n".join(
        f"{state}  {node['ip']}  108.62 KiB  256  66.7%  0c9f5d8e-4e1f-4b0c-a0a4-4d3c39c1a1a{index}  rack1"
        for index, (state, node) in enumerate(zip(states, NODES))
    )
    return f"Datacenter: dc1\n===============\n--  Address  Load  Tokens  Owns  Host ID  Rack\n{rows}\n"


def describe(*groups: list[str]) -> str:
    versions = "\n".join(
        f"\t\t{index}{index}{index}{index}{index}{index}{index}{index}-8a85-371d-a94c-22d6f16ebf08: [{', '.join(group)}]\n"
        for index, group in enumerate(groups, start=1)
    )
    return f"Cluster Information:\n\tName: CassandraDB\n\tSchema versions:\n{versions}\n"


REFUSED = (
    "Connection error: ('Unable to connect to any servers', "
    "{'10.42.0.48:9042': AuthenticationFailed('Remote end requires authentication')})"
)
HEALTHY_RING = ring("UN", "UN", "UN")
AGREED = describe(["10.42.0.48", "10.42.0.49", "10.42.0.50"])


def script_vars() -> dict[str, str]:
    return yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))


@pytest.fixture
def fake_host(tmp_path: Path) -> Path:
    """A PATH with docker, nodetool and cqlsh that answer from files in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        # `docker exec -e K=V ... NAME sh -c SCRIPT` runs SCRIPT here with the -e variables; the rest answers from files.
        "docker": """\
            #!/bin/sh
            d="$FAKE_DIR"
            case "$1" in
              container) shift 2; if [ $# -eq 1 ] && [ -f "$d/state-$1" ]; then
                                    set -- $(cat "$d/state-$1")  # like docker: one key a line
                                    printf '[\n {\n  "State": {\n   "Status": "%s",\n   "Running": true\n  },\n' "$1"
                                    printf '  "RestartCount": %s\n }\n]\n' "$2"; exit 0; fi
                         [ -f "$d/engine-down" ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
                         found=""; code=0
                         for name in "$@"; do
                           if [ -f "$d/inspect-$name" ]; then found="$found${found:+,}$(cat "$d/inspect-$name")"
                           else echo "Error: No such object: $name" >&2; code=1; fi
                         done
                         echo "[$found]"; exit $code ;;
              run) [ -f "$d/overlay-broken" ] || exit 0
                   echo "docker: Error response from daemon: context deadline exceeded." >&2; exit 125 ;;
              image) [ -f "$d/image-present" ] ;;
              pull) [ -f "$d/pull-fails" ] && { echo "Error response from daemon: manifest unknown" >&2; exit 1; }; exit 0 ;;
              exec) shift
                    while [ "$1" = -e ]; do export "$2"; shift 2; done
                    name=$1; shift
                    [ -f "$d/stopped-$name" ] && { echo "Error response from daemon: container $name is not running" >&2
                                                   exit 1; }
                    FAKE_NODE=$name exec "$@" ;;
            esac
            """,
        "nodetool": """\
            #!/bin/sh
            cat "$FAKE_DIR/$1-$FAKE_NODE"
            """,
        "cqlsh": """\
            #!/bin/sh
            cat "$FAKE_DIR/cql-$FAKE_NODE" >&2; exit 1
            """,
        "nice": """\
            #!/bin/sh
            shift 2; exec "$@"
            """,
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        path.chmod(0o755)
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


def test_overlay_failures_are_named_by_host(fake_host: Path) -> None:
    variables = {"OVERLAY_NETWORK": "managed", "OVERLAY_IMAGE": "busybox"}
    assert upgrade.overlay_failures({"lab-host1": run_look(fake_host, variables)}) == []
    (fake_host / "overlay-broken").touch()
    broken = run_look(fake_host, variables)
    assert upgrade.overlay_failures({"lab-host1": broken, "lab-host2": {"failed": True, "msg": "unreachable"}}) == [
        "lab-host1: docker: Error response from daemon: context deadline exceeded.",
        "lab-host2: unreachable",
    ]


def test_pull_and_overlay_are_done_together(fake_host: Path) -> None:
    """One exec does both parts; each part's output stays whole and marked, whatever finished first."""
    (fake_host / "overlay-broken").touch()
    look = run_look(
        fake_host, {"OVERLAY_NETWORK": "managed", "OVERLAY_IMAGE": "busybox", "PULL_IMAGE": "reg:5000/corral/cassandra:3.10"}
    )
    looks = {"lab-host1": look}
    assert [(part["part"], part["node"]) for part in upgrade.look_parts(look["stdout"])] == [("overlay", "-"), ("pull", "-")]
    assert upgrade.pull_failures(looks) == []
    assert upgrade.overlay_failures(looks) == ["lab-host1: docker: Error response from daemon: context deadline exceeded."]


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


def test_pull_only_when_missing_and_its_failure_named(fake_host: Path) -> None:
    (fake_host / "image-present").touch()
    assert upgrade.pull_failures({"lab-host1": run_look(fake_host, {"PULL_IMAGE": "reg:5000/corral/cassandra:3.10"})}) == []
    (fake_host / "image-present").unlink()
    pulled = run_look(fake_host, {"PULL_IMAGE": "reg:5000/corral/cassandra:3.10"})
    # The role's changed_when: a line that starts with 'pulled '.
    assert re.search(r"^pulled reg:5000/corral/cassandra:3\.10$", pulled["stdout"], re.MULTILINE)
    (fake_host / "pull-fails").touch()
    failed = run_look(fake_host, {"PULL_IMAGE": "reg:5000/corral/cassandra:3.99"})
    assert upgrade.pull_failures({"lab-host1": failed}) == ["lab-host1: Error response from daemon: manifest unknown"]


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
        "lab-host2": {"failed": True, "nodes": {}, "msg": "not ready within 30 s: cdb2: not answering CQL (no answer)"},
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
    runs = [
        task
        for path in sorted(tasks_dir.glob("*.yml"))
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if "__cassandra_upgrade_host_script" in str(task)
    ]
    assert len(runs) == 2
    for task in runs:
        assert "cassandra_upgrade_script(" in task["ansible.builtin.raw"]
        assert "environment" not in task
