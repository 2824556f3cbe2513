"""The upgrade's looks at the hosts: the role's look script, run here against fake docker, nodetool and cqlsh,
and what _upgrade_plan makes of its output (containers read, pulls, overlay, health)."""

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
    """The look script as the role runs it (ansible.builtin.raw: its variables set first in its text)."""
    role = script_vars()
    script = upgrade.script_with(
        role["__cassandra_upgrade_look_script"],
        {
            "NODE_SCRIPT": role["__cassandra_upgrade_node_script"],
            "NODETOOL_OPTIONS": "-XX:TieredStopAtLevel=1",
            "DEADLINE": str(int(time.time()) + 30),
            **variables,
        },
    )
    done = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{fake / 'bin'}:{os.environ['PATH']}", "FAKE_DIR": str(fake)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "failed": False}


def answers(fake: Path, node: str, status: str = HEALTHY_RING, describecluster: str = AGREED) -> None:
    (fake / f"status-{node}").write_text(status, encoding="utf-8")
    (fake / f"describecluster-{node}").write_text(describecluster, encoding="utf-8")
    (fake / f"cql-{node}").write_text(REFUSED, encoding="utf-8")


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


def test_pull_overlay_and_nodes_are_looked_at_together(fake_host: Path) -> None:
    """One look does all three parts; each part's output stays whole and marked, whatever finished first."""
    (fake_host / "overlay-broken").touch()
    answers(fake_host, "cdb1")
    spec = upgrade.look_spec(NODES, time.time() + 30, False, NODES[0])
    look = run_look(
        fake_host,
        {
            "OVERLAY_NETWORK": "managed",
            "OVERLAY_IMAGE": "busybox",
            "PULL_IMAGE": "reg:5000/corral/cassandra:3.10",
            "LOOK_NODES": upgrade.look_lines(spec, "lab-host1").replace(" y y y y", " n y y y"),
        },
    )
    looks = {"lab-host1": look}
    assert [(part["part"], part["node"]) for part in upgrade.look_parts(look["stdout"])] == [
        ("overlay", "-"),
        ("pull", "-"),
        ("state", "cdb1"),
        ("ring", "cdb1"),
        ("cql", "cdb1"),
        ("schema", "cdb1"),
        ("end", "cdb1"),
    ]
    assert upgrade.pull_failures(looks) == []
    assert upgrade.overlay_failures(looks) == ["lab-host1: docker: Error response from daemon: context deadline exceeded."]
    assert upgrade.look_problems(looks, spec) == []


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


def test_look_lines_say_what_each_node_is_asked() -> None:
    spec = gate_spec()
    # The changed node (also the schema witness) answers CQL and shows the schema; its peers their rings. No node
    # is waited for until it listens (the gate's listen wait came first).
    assert upgrade.look_lines(spec, "lab-host2") == "cdb2 10.42.0.49 2352 n n y y"
    assert upgrade.look_lines(spec, "lab-host1") == "cdb1 10.42.0.48 2352 n y n n"
    assert upgrade.look_lines(spec, "lab-host2", ("listen",)) == ""
    # A changed node that is not the witness (a rollback across a major version) shows its own ring.
    other = upgrade.look_spec(NODES, 0, True, NODES[0], "cdb2")
    assert upgrade.look_lines(other, "lab-host2") == "cdb2 10.42.0.49 2352 n y y n"
    assert upgrade.look_lines(other, "lab-host1") == "cdb1 10.42.0.48 2352 n y n y"
    # The preflight: everything on every node, the schema on one.
    preflight = upgrade.look_spec(NODES, 0, False, NODES[0])
    assert upgrade.look_lines(preflight, "lab-host3") == "cdb3 10.42.0.50 2352 y y y n"
    assert upgrade.look_lines(preflight, "lab-host1") == "cdb1 10.42.0.48 2352 y y y y"


def test_a_healthy_gate(fake_host: Path) -> None:
    spec = gate_spec()
    for node in NODES:
        answers(fake_host, node["name"])
    looks = {node["host"]: run_look(fake_host, {"LOOK_NODES": upgrade.look_lines(spec, node["host"])}) for node in NODES}
    assert upgrade.look_problems(looks, spec) == []
    views = upgrade.look_ring_views(looks)
    assert [(view["item"]["name"], view["rc"]) for view in views] == [("cdb1", 0), ("cdb3", 0)]
    assert views[0]["stdout"].startswith("Datacenter: dc1")


def test_what_keeps_a_gate_closed(fake_host: Path) -> None:
    spec = gate_spec()
    answers(fake_host, "cdb1", status=ring("UN", "DN", "UN"))
    answers(fake_host, "cdb2", describecluster=describe(["10.42.0.48", "10.42.0.49"], ["10.42.0.50"]))
    (fake_host / "cql-cdb2").write_text(
        "Connection error: ('Unable to connect to any servers', {'10.42.0.49:9042': ConnectionRefusedError(111)})",
        encoding="utf-8",
    )
    (fake_host / "stopped-cdb3").touch()
    looks = {node["host"]: run_look(fake_host, {"LOOK_NODES": upgrade.look_lines(spec, node["host"])}) for node in NODES}
    problems = upgrade.look_problems(looks, spec)
    assert problems[0] == "cdb1 sees 10.42.0.49 is DN (Down/Normal)"
    assert problems[1].startswith("cdb2: not answering CQL: Connection error")
    assert problems[2].startswith("cdb2 sees the nodes show 2 schema versions")
    assert problems[3] == "cdb3: not running or not answering (Error response from daemon: container cdb3 is not running)"
    # Each host judges only its own nodes while it polls.
    assert upgrade.look_problems({"lab-host3": looks["lab-host3"]}, spec) == [problems[3]]
    assert upgrade.look_problems({"lab-host2": {"failed": True, "msg": "timed out"}}, spec) == ["lab-host2: timed out"]


def test_the_preflights_listen_wait_ends_at_the_deadline(fake_host: Path) -> None:
    # Port 1: nothing listens there on the machine that runs the test.
    nodes = [dict(node, cql_port=1) for node in NODES]
    spec = upgrade.look_spec(nodes, time.time() - 1, False, nodes[1])
    listen = run_look(
        fake_host, {"LOOK_NODES": upgrade.look_lines(spec, "lab-host2", ("listen",)), "DEADLINE": str(spec["deadline"])}
    )
    problems = upgrade.look_problems({"lab-host2": listen}, spec, ring=False)
    assert problems == ["cdb2: not listening for CQL (port 1) in time; see `docker logs cdb2` on lab-host2"]
    # Nodes that were not asked to listen (none is, in a gate) are not judged by a listen-only look.
    assert upgrade.look_problems({"lab-host1": run_look(fake_host, {"LOOK_NODES": ""})}, gate_spec(), ring=False) == []


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


def test_every_look_runs_raw_with_its_variables_in_its_text() -> None:
    """ansible.builtin.raw: no module upload per look, and nothing of the script expanded by a module (the command
    module expanded $NODE_SCRIPT into argv unquoted, seen on the lab); raw takes no environment."""
    tasks_dir = ROLE_VARS.parents[1] / "tasks"
    runs = [
        task
        for path in sorted(tasks_dir.glob("*.yml"))
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if "__cassandra_upgrade_look_script" in str(task)
    ]
    assert len(runs) == 3
    for task in runs:
        assert "cassandra_upgrade_script(" in task["ansible.builtin.raw"]
        assert "environment" not in task


def test_a_crash_stops_the_gate_at_once(fake_host: Path) -> None:
    spec = gate_spec()
    for node in NODES:
        answers(fake_host, node["name"])
    (fake_host / "state-cdb1").write_text("running 0", encoding="utf-8")
    (fake_host / "state-cdb2").write_text("running 1", encoding="utf-8")
    (fake_host / "state-cdb3").write_text("restarting 4", encoding="utf-8")
    # Nothing listens here, as in a node restarted after its crash: the look does not wait for it (30 s: the
    # look's deadline and run_look's timeout), it shows the crash.
    lines = {node["host"]: upgrade.look_lines(spec, node["host"]) for node in NODES}
    looks = {node["host"]: run_look(fake_host, {"LOOK_NODES": lines[node["host"]]}) for node in NODES}
    # cdb2, the node the step created anew, restarted once; cdb3 is restarting; cdb1 runs.
    assert upgrade.look_crashes(looks, spec, "cdb2") == [
        "cdb2: its container is running after 1 restart(s); see `docker logs cdb2` on lab-host2",
        "cdb3: its container is restarting after 4 restart(s); see `docker logs cdb3` on lab-host3",
    ]
    # A peer's old restarts are not this step's crash; a container not inspected is not judged here.
    (fake_host / "state-cdb3").write_text("running 4", encoding="utf-8")
    (fake_host / "state-cdb2").unlink()
    looks = {node["host"]: run_look(fake_host, {"LOOK_NODES": lines[node["host"]]}) for node in NODES}
    assert upgrade.look_crashes(looks, spec, "cdb2") == []
