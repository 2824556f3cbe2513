"""One look at a host's nodes: the poll command, its output, the stage of each node, crashes."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.wait import (
    Look,
    asks,
    crashed,
    first_error,
    first_error_command,
    judge,
    keep_log_command,
    look_command,
    parse_look,
    restart_baseline,
)

RING = """Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack
UN  10.42.0.48  98.44 KiB  256          66.0%             6f1c0c54-1111-4a3c-9d38-111111111111  rack1
UN  10.42.0.49  108.27 KiB  256         68.9%             6f1c0c54-2222-4a3c-9d38-222222222222  rack1
"""
SCHEMA = """Cluster Information:
\tName: CassandraDB
\tSchema versions:
\t\t86afa796-d883-3932-aa73-6b017cef0d19: [10.42.0.48, 10.42.0.49]
"""
ALL = {"listen": True, "ring": True, "cql": True, "schema": True}
LISTEN = {"listen": True, "ring": False, "cql": False, "schema": False}
IPS = ["10.42.0.48", "10.42.0.49"]
NODES: list[dict[str, Any]] = [{"name": "cdb1", "ip": "10.42.0.48"}, {"name": "cdb2", "ip": "10.42.0.49", "cql_port": 9043}]


def look(parts: dict[str, tuple[int, str]], status: str = "running", restarts: int = 0) -> Look:
    return Look("cdb1", status, restarts, 0, "", {k: {"rc": rc, "stdout": out} for k, (rc, out) in parts.items()})


def test_a_ready_node() -> None:
    seen = look({"gossip": (0, ""), "listen": (0, ""), "ring": (0, RING), "cql": (0, "release_version"), "schema": (0, SCHEMA)})
    assert judge(seen, ALL, IPS) == {"stage": "in schema agreement", "ready": True, "problems": []}


@pytest.mark.parametrize(
    ("parts", "stage", "problem"),
    [
        ({"gossip": (1, ""), "listen": (1, "")}, "starting", "not listening for CQL yet"),
        ({"gossip": (0, ""), "listen": (1, "")}, "gossiping", "not listening for CQL yet"),
        (
            {"gossip": (0, ""), "listen": (0, ""), "ring": (0, RING.replace("UN  10.42.0.49", "UJ  10.42.0.49"))},
            "listening for CQL",
            "sees 10.42.0.49 is UJ (Up/Joining)",
        ),
        (
            {"gossip": (0, ""), "listen": (0, ""), "ring": (0, RING), "cql": (1, "Connection error: timed out")},
            "Up/Normal as its peers see it",
            "not answering CQL (Connection error: timed out)",
        ),
        (
            {"gossip": (0, ""), "listen": (0, ""), "ring": (0, RING), "cql": (2, "AuthenticationFailed('Bad credentials')")},
            "answering CQL",
            None,
        ),
    ],
)
def test_stages(parts: dict[str, tuple[int, str]], stage: str, problem: str | None) -> None:
    verdict = judge(look(parts), {**ALL, "schema": False}, IPS)
    assert verdict["stage"] == stage
    assert (problem in verdict["problems"]) if problem else verdict["ready"]


def test_listen_only_gate_is_ready_once_listening() -> None:
    assert judge(look({"gossip": (0, ""), "listen": (0, "")}), LISTEN, IPS)["ready"] is True


@pytest.mark.parametrize(
    ("status", "restarts", "baseline", "why"),
    [
        ("running", 0, 0, None),
        ("running", 2, 2, None),
        ("running", 1, 0, "restarted by Docker 1 time(s)"),
        ("running", 3, None, None),
        ("restarting", 4, None, "is restarting (restart 4)"),
        ("exited", 0, 0, "has exited (exit code 0)"),
    ],
)
def test_crashes(status: str, restarts: int, baseline: int | None, why: str | None) -> None:
    found = crashed(look({}, status, restarts), baseline)
    assert (why in found) if why and found else found is why


def test_restart_baseline_counts_from_zero_for_containers_created_in_this_run() -> None:
    started = [
        {"item": {"name": "cdb1"}, "actions": ["created cdb1", "started cdb1"]},
        {"item": {"name": "cdb2"}, "actions": ["recreated cdb2: image changed", "started cdb2"]},
        {"item": {"name": "cdb3"}, "actions": ["started cdb3"]},
        {"item": {"name": "cdb4"}, "actions": []},
    ]
    assert restart_baseline(started) == {"cdb1": 0, "cdb2": 0}


FAKE_DOCKER = r"""#!/bin/sh
# docker inspect NAME -> state line; docker exec ... NAME sh -c SCRIPT -> the script, with fake tools on PATH.
case "$1" in
  inspect) shift 2; name=$2; [ -n "$name" ] || name=$1
    case "$name" in
      cdb1) echo "running 0 0 2026-12-06T02:41:23Z" ;;
      cdb2) echo "restarting 3 1 2026-12-06T02:42:00Z" ;;
      *) exit 1 ;;
    esac ;;
  exec) shift; while [ "$1" = -e ]; do export "$2"; shift 2; done; shift; exec "$@" ;;
esac
"""


def test_the_poll_command_runs_in_a_shell_and_parses(tmp_path: Path) -> None:
    """The real command, with fake docker, nodetool and cqlsh, and /proc replaced by what grep is given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {
        "docker": FAKE_DOCKER,
        "nodetool": (
            f"#!/bin/sh\n[ \"$1\" = status ] && cat <<'EOF'\n{RING}EOF\n"
            f"[ \"$1\" = describecluster ] && cat <<'EOF'\n{SCHEMA}EOF\nexit 0\n"
        ),
        "cqlsh": "#!/bin/sh\necho ' release_version'\necho ' 3.9'\n",
        # Every port listens: the probe greps /proc/net/tcp, which a fake grep answers.
        "grep": '#!/bin/sh\ncase "$*" in *proc/net/tcp*) exit 0 ;; esac\nexec /bin/grep "$@"\n',
    }
    for name, text in tools.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    command = look_command([*NODES, {"name": "cdb9", "ip": "10.42.0.57"}], ALL, "cdb1", "-XX:TieredStopAtLevel=1")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, check=True).stdout
    looks = parse_look(out)
    assert (looks["cdb1"].status, looks["cdb1"].restarts) == ("running", 0)
    assert judge(looks["cdb1"], ALL, IPS) == {"stage": "in schema agreement", "ready": True, "problems": []}
    assert (looks["cdb2"].status, looks["cdb2"].restarts, looks["cdb2"].exit_code) == ("restarting", 3, 1)
    assert looks["cdb2"].parts == {}
    assert looks["cdb9"].status == "absent"
    assert "its container does not exist" in judge(looks["cdb9"], ALL, IPS)["problems"]


def test_a_node_may_be_asked_other_than_the_gate() -> None:
    """The upgrade's gates ask the changed node for CQL and the schema, its peers for their rings."""
    changed = {"name": "cdb2", "ip": "10.42.0.49", "ring": False, "cql": True, "schema": True}
    peer = {"name": "cdb1", "ip": "10.42.0.48", "ring": True, "cql": False, "schema": False}
    assert asks(changed, LISTEN) == {"ring": False, "cql": True, "schema": True}
    assert asks({"name": "cdb1"}, ALL, "cdb1") == {"ring": True, "cql": True, "schema": True}
    assert asks({"name": "cdb2"}, ALL, "cdb1") == {"ring": True, "cql": True, "schema": False}
    command = look_command([peer, changed], LISTEN, "", "")
    first, second = command.splitlines()
    assert "-e RING=yes -e CQL='' -e SCHEMA=''" in first
    assert "-e RING='' -e CQL=yes -e SCHEMA=yes" in second


MIXED = """Cluster Information:
\tSchema versions:
\t\tf2791c7c-8a85-371d-a94c-22d6f16ebf08: [10.42.0.49]

\t\t607ae7d0-eb81-3046-a6bb-d4136265ed29: [10.42.0.48]

Database versions:
\t5.0.8: [10.42.0.48:7000]

\t4.1.10: [10.42.0.49:7000]
"""


def test_schema_agreement_per_release_while_a_major_upgrade_is_under_way() -> None:
    seen = look({"gossip": (0, ""), "listen": (0, ""), "cql": (0, "release_version"), "schema": (0, MIXED)})
    asked = {"ring": False, "cql": True, "schema": True}
    assert judge(seen, asked, IPS, per_release=True)["ready"] is True
    problems = judge(seen, asked, IPS)["problems"]
    assert len(problems) == 1 and problems[0].startswith("sees the nodes show 2 schema versions"), problems


# A 3.9 node that exits: the INFO line every 3.9 node logs says "Unable to" too, before the real error.
EXITED_39 = """INFO  [main] 21:44:02,114 YamlConfigurationLoader.java:85 - Configuration location: file:/etc/cassandra.yaml
INFO  [main] 21:44:02,640 Snitch.java:64 - Unable to load cassandra-topology.properties; compatibility mode disabled
WARN  [main] 21:44:03,020 StartupChecks.java:160 - JMX is not enabled to receive remote connections.
ERROR [main] 21:44:09,871 CassandraDaemon.java:752 - Exception encountered during startup
java.lang.RuntimeException: Cannot replace_address /10.42.0.50 because it doesn't exist in gossip
"""


def test_the_first_error_of_an_exited_node_skips_info_lines(tmp_path: Path) -> None:
    """The real command, with docker logs replaced by a file: the ERROR line, not the INFO 'Unable to' one."""
    log = tmp_path / "cdb3.log"
    log.write_text(EXITED_39)
    command = first_error_command("cdb3")
    assert command.startswith("docker logs ")
    shell = f"docker() {{ cat {log}; }}\n{command}"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout
    assert first_error(out) == (
        "ERROR [main] 21:44:09,871 CassandraDaemon.java:752 - Exception encountered during startup / "
        "java.lang.RuntimeException: Cannot replace_address /10.42.0.50 because it doesn't exist in gossip"
    )


def test_a_crashed_nodes_log_is_kept_in_a_file_of_its_own(tmp_path: Path) -> None:
    """The real command, with docker logs replaced by a file and the directory moved under tmp_path."""
    log = tmp_path / "cdb3.log"
    log.write_text(EXITED_39)
    command = keep_log_command("cdb3").replace("/var/log/corral-cassandra", str(tmp_path / "kept"))
    shell = f"docker() {{ [ \"$1 $2 $3\" = 'logs -t cdb3' ] && cat {log}; }}\n{command}"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith(str(tmp_path / "kept" / "cdb3-")) and out.endswith("Z.log"), out
    assert Path(out).read_text() == EXITED_39


def test_a_held_poll_answers_as_soon_as_a_port_starts_listening(tmp_path: Path) -> None:
    """While a node starts, the poll watches its ports from inside: it answers at the first change, not after
    all its ticks, and without one when nothing is held. The storage port listens from the third look at it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "storage-looks"
    tools = {
        "docker": FAKE_DOCKER,
        "sleep": "#!/bin/sh\nexit 0\n",
        "grep": (
            '#!/bin/sh\ncase "$*" in\n'
            f'  *:1B58*) echo x >> {count}; [ "$(wc -l < {count})" -ge 3 ] ;;\n'
            "  *proc/net/tcp*) exit 1 ;;\n"
            '  *) exec /bin/grep "$@" ;;\nesac\n'
        ),
    }
    for name, text in tools.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")

    def poll(hold: float) -> Look:
        command = look_command([NODES[0]], LISTEN, "", "", hold)
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, check=True)
        return parse_look(done.stdout)["cdb1"]

    assert "-e HOLD_TICKS=0 " in look_command([NODES[0]], LISTEN, "", "")
    assert judge(poll(0), LISTEN, IPS)["stage"] == "starting"
    assert len(count.read_text().splitlines()) == 2  # the stage once, then the part's own look
    count.unlink()
    held = poll(60)
    assert judge(held, LISTEN, IPS)["stage"] == "gossiping"
    # It stopped at the third look, where 120 ticks would have made 120 more.
    assert len(count.read_text().splitlines()) == 4
