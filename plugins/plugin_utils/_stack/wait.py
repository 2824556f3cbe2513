# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""One look at the Cassandra nodes of a host, for the waits (action plugin cassandra_wait).

Controller-side and free of Ansible imports. look_command() is the one shell command that a poll
runs on the host: per node the container's state and restart count (docker inspect) and, while the
container runs, one exec inside it that checks the ports and, once it listens for CQL, the ring,
CQL and the schema as the gate asks. parse_look() reads its output; judge() says how far each node
has come, whether it is ready and whether it crashed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import (
    cql_answered,
    last_line,
    ring_problems,
    schema_problems,
)

_NODE = "@@corral-node "
_PART = "@@corral-part "

# Runs inside the node's container, once: the ports from /proc (no JVM), then only while the node
# listens for CQL the JVM tools the look asks for, side by side and at a lower CPU priority than the
# Cassandra that serves clients, each printed whole with its exit code once all are done. While it starts
# (HOLD_TICKS > 0) it first watches its ports from inside, every half second, until one starts listening
# or the ticks run out: a poll from the host (docker inspect, docker exec) costs far more CPU than a grep,
# and the starting JVM needs that CPU.
_PROBE = (
    'part() { printf "%s\\n' + _PART + '%s %s\\n" "$2" "$1" "$3"; };'
    'listens() { grep -Eq ":$1 [0-9A-F]+:[0-9A-F]+ 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; };'
    'stage() { listens "$CQL_HEX" && echo cql && return; listens "$STORAGE_HEX" && echo gossip; };'
    'n=0; was=$(stage); while [ "$n" -lt "${HOLD_TICKS:-0}" ] && [ "$was" != cql ] && [ "$(stage)" = "$was" ];'
    ' do sleep 0.5; n=$((n + 1)); done;'
    'listens "$STORAGE_HEX" && part gossip "" 0 || part gossip "" 1;'
    'if listens "$CQL_HEX"; then part listen "" 0; d=$(mktemp -d) || exit 1;'
    'if [ -n "$RING" ]; then { out=$(nice -n 10 nodetool status 2>&1); part ring "$out" $?; } >"$d/1" & fi;'
    'if [ -n "$CQL" ]; then { out=$(nice -n 10 cqlsh --connect-timeout=5 "$CQL_HOST"'
    ' -e "SELECT release_version FROM system.local" 2>&1); part cql "$out" $?; } >"$d/2" & fi;'
    'if [ -n "$SCHEMA" ]; then { out=$(nice -n 10 nodetool describecluster 2>&1); part schema "$out" $?; } >"$d/3" & fi;'
    'wait; cat "$d"/* 2>/dev/null; rm -rf "$d";'
    'else part listen "" 1; fi'
)

# Stages a node passes through, in order; the word is what the progress lines print.
STAGES = (
    "created",
    "starting",
    "gossiping",
    "listening for CQL",
    "Up/Normal as its peers see it",
    "answering CQL",
    "in schema agreement",
)


@dataclass
class Look:
    """One node as one poll saw it."""

    name: str
    status: str = "absent"
    restarts: int = 0
    exit_code: int = 0
    started_at: str = ""
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)


def asks(node: dict[str, Any], gate: dict[str, Any], schema_node: str = "") -> dict[str, bool]:
    """What a look asks of one node: the gate's ring and cql, and the schema on schema_node only; a node may
    override each (the upgrade's gates ask the changed node for CQL and a newer node for the schema)."""
    wanted = {
        "ring": bool(gate.get("ring")),
        "cql": bool(gate.get("cql")),
        "schema": bool(gate.get("schema")) and node.get("name") == schema_node,
    }
    return {part: bool(node[part]) if part in node else value for part, value in wanted.items()}


def look_command(
    nodes: list[dict[str, Any]], gate: dict[str, Any], schema_node: str, java_tool_options: str, hold: float = 0.0
) -> str:
    """The shell command of one poll on a host, for its nodes (dicts with name, ip, cql_port, storage_port, and
    optionally ring, cql, schema: see asks()). hold: seconds each running node not yet listening for CQL is
    watched from inside its container before the poll answers, unless one of its ports starts listening."""
    lines = []
    for node in nodes:
        name = shlex.quote(str(node["name"]))
        wanted = asks(node, gate, schema_node)
        env = {
            "CQL_HEX": f"{int(node.get('cql_port') or 9042):04X}",
            "STORAGE_HEX": f"{int(node.get('storage_port') or 7000):04X}",
            "RING": "yes" if wanted["ring"] else "",
            "CQL": "yes" if wanted["cql"] else "",
            "SCHEMA": "yes" if wanted["schema"] else "",
            "CQL_HOST": str(node["ip"]),
            "JAVA_TOOL_OPTIONS": java_tool_options,
            "HOLD_TICKS": str(max(0, int(hold * 2))),
        }
        exec_env = " ".join(f"-e {key}={shlex.quote(value)}" for key, value in env.items())
        lines.append(
            f"printf '{_NODE}%s\\n' {name}; "
            f"state=$(docker inspect -f '{{{{.State.Status}}}} {{{{.RestartCount}}}} {{{{.State.ExitCode}}}} "
            f"{{{{.State.StartedAt}}}}' {name} 2>/dev/null) || state=absent; echo \"state $state\"; "
            f'case "$state" in "running "*) docker exec {exec_env} {name} sh -c {shlex.quote(_PROBE)} 2>&1 ;; esac'
        )
    return "\n".join(lines)


def parse_look(stdout: str) -> dict[str, Look]:
    """The output of look_command() -> {node name: Look}."""
    looks: dict[str, Look] = {}
    current: Look | None = None
    buffer: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(_NODE):
            current = looks.setdefault(line[len(_NODE) :].strip(), Look(line[len(_NODE) :].strip()))
            buffer = []
        elif current is None:
            continue
        elif line.startswith("state ") and not current.parts and not buffer and current.status == "absent":
            fields = line.split()
            if len(fields) >= 4 and fields[1] != "absent":
                current.status = fields[1]
                current.restarts = _int(fields[2])
                current.exit_code = _int(fields[3])
                current.started_at = fields[4] if len(fields) > 4 else ""
        elif line.startswith(_PART):
            fields = line[len(_PART) :].split()
            if fields:
                current.parts[fields[0]] = {"rc": _int(fields[1]) if len(fields) > 1 else 1, "stdout": "\n".join(buffer)}
            buffer = []
        else:
            buffer.append(line)
    return looks


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def judge(look: Look, gate: dict[str, Any], expected_ips: list[str], per_release: bool = False) -> dict[str, Any]:
    """How far a node has come: {stage, ready, problems}; problems say what the gate still waits for. gate is
    what was asked of this node (asks()); per_release: see schema_problems()."""
    if look.status == "absent":
        return {"stage": "absent", "ready": False, "problems": ["its container does not exist"]}
    if look.status != "running":
        return {"stage": look.status, "ready": False, "problems": [f"its container is {look.status}"]}
    parts = look.parts
    stage = "starting"
    if (parts.get("gossip") or {}).get("rc") == 0:
        stage = "gossiping"
    if (parts.get("listen") or {}).get("rc") != 0:
        return {"stage": stage, "ready": False, "problems": ["not listening for CQL yet"]}
    stage, problems = "listening for CQL", list[str]()
    ring = parts.get("ring")
    if gate.get("ring"):
        found = ["no answer from nodetool status"] if ring is None else ring_problems(ring["stdout"], expected_ips)
        if ring is not None and ring["rc"] != 0:
            found = [f"nodetool status failed: {last_line(ring['stdout'])}"]
        problems.extend(f"sees {problem}" for problem in found)
        if not found:
            stage = "Up/Normal as its peers see it"
    cql = parts.get("cql")
    if gate.get("cql"):
        if cql is not None and cql_answered(cql):
            stage = "answering CQL" if not problems else stage
        else:
            problems.append(f"not answering CQL ({last_line((cql or {}).get('stdout', '')) or 'no answer'})")
    schema = parts.get("schema")
    if schema is not None:
        found = (
            schema_problems(schema["stdout"], expected_ips, per_release)
            if schema["rc"] == 0
            else [f"nodetool describecluster failed: {last_line(schema['stdout'])}"]
        )
        problems.extend(f"sees {problem}" for problem in found)
        if not problems:
            stage = "in schema agreement"
    return {"stage": stage, "ready": not problems, "problems": problems}


def crashed(look: Look, baseline: int | None) -> str | None:
    """Why a node counts as crashed (its container exited, is restarting or restarted since the baseline), or None."""
    if look.status in ("exited", "dead"):
        return f"its container has exited (exit code {look.exit_code})"
    if look.status == "restarting":
        return f"its container is restarting (restart {look.restarts})"
    if baseline is not None and look.restarts > baseline:
        return f"its container was restarted by Docker {look.restarts - baseline} time(s): Cassandra died"
    return None


# The first line that says why a JVM died, from the container's log (its last start's, at the end), with the line
# after it (an ERROR's exception and its message). Lines logged at INFO and below are left out: every 3.9 node logs
# "INFO ... Unable to load cassandra-topology.properties", which hid the error of a replacement that exited (seen on
# the lab).
FIRST_ERROR_COMMAND = (
    "docker logs --tail 400 {name} 2>&1 | grep -Ev '^(INFO|DEBUG|TRACE) ' | grep -E -m1 -A1 "
    "'Exception \\(|^ERROR|Exception:|Error:|error=|Cannot allocate|Unable to|Invalid|refused to start' || true"
)
# Where a crashed node's whole log is kept on its host: the container, and its log with it, may be replaced next
# (a first boot reset, a re-run that recreates it).
KEPT_LOG_DIR = "/var/log/corral-cassandra"


def first_error_command(name: str) -> str:
    return FIRST_ERROR_COMMAND.format(name=shlex.quote(name))


def first_error(stdout: str) -> str:
    """What first_error_command() printed -> one line: the error and the line after it, joined."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip() and line.strip() != "--"][:2]
    return " / ".join(lines)[:600]


def keep_log_command(name: str) -> str:
    """Copies the node's container log (with docker's timestamps) to a new file of KEPT_LOG_DIR; prints its path."""
    quoted = shlex.quote(name)
    return (
        f"f={KEPT_LOG_DIR}/{quoted}-$(date -u +%Y%m%dT%H%M%SZ).log; mkdir -p {KEPT_LOG_DIR} && "
        f'docker logs -t {quoted} >"$f" 2>&1 && echo "$f"'
    )


def restart_baseline(started: list[dict[str, Any]]) -> dict[str, int | None]:
    """The node module's results of this run -> {node: 0} for the containers it created (or created anew).

    Their restart count starts at 0, so any restart is a crash, even one before the first poll. Other
    nodes take their count at the first poll.
    """
    baseline: dict[str, int | None] = {}
    for result in started or []:
        item = result.get("item") if isinstance(result, dict) else None
        actions = [str(action) for action in (result.get("actions") or [])] if isinstance(result, dict) else []
        if isinstance(item, dict) and any(action.startswith(("created ", "recreated ")) for action in actions):
            baseline[str(item.get("name"))] = 0
    return baseline


def elapsed(seconds: float) -> str:
    return f"+{int(seconds)}s"
