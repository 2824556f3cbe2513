# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Topology changes read from the inventory: nodes that join a cluster with data, nodes that leave it.

Controller-side. A node in the inventory that has neither a container nor data, in a cluster that
holds data, joins by bootstrap (alone: bringup.phases() starts such nodes one at a time); once every
joiner is Up/Normal, `nodetool cleanup` runs on the nodes that held data before, one at a time. A node
of the stack that runs but is no longer in the inventory leaves by `nodetool decommission`, only when
the operator names it in cassandra_stack_remove_nodes and the cluster can take it (removal_problems()).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils import _cassandra_output as output
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import StackError

REMOVE_VARIABLE = "cassandra_stack_remove_nodes"
# Strategies whose replicas are not placed on the ring's nodes.
_LOCAL_STRATEGIES = ("LocalStrategy", "EverywhereStrategy")
# Active compactions of a repair (3.x to 5.0 compactionstats).
_REPAIR_COMPACTIONS = ("Validation", "Anticompaction")
_MODE = re.compile(r"^Mode:\s*(\S+)", flags=re.M)


def _labels(container: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((container.get("Config") or {}).get("Labels") or {}).items()}


def leavers(stack: dict[str, Any], reads: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The stack's Cassandra containers that run on the play's hosts but are not nodes of the inventory.

    reads: {inventory host: docker inspect of its containers labelled with the stack and role cassandra}.
    Rollback copies (named <service>-rollback) are not nodes of their own.
    """
    names = {node["name"] for node in stack["nodes"]}
    found: list[dict[str, Any]] = []
    for host, containers in sorted((reads or {}).items()):
        for container in containers or []:
            labels = _labels(container)
            service = labels.get("io.corral.service", "")
            if not service or service in names or str(container.get("Name", "")).lstrip("/") != service:
                continue
            try:
                settings = json.loads(labels.get("io.corral.settings") or "{}")
            except ValueError:
                settings = {}
            found.append(
                {
                    "name": service,
                    "host": host,
                    "ip": labels.get("io.corral.requested-ip", ""),
                    "seed": labels.get("io.corral.seed") == "true",
                    "data_container": labels.get("io.corral.data-container", ""),
                    "data_dir": str(settings.get("data_dir") or "/cassandra/data"),
                    "dc": str(settings.get("dc") or ""),
                    "running": bool((container.get("State") or {}).get("Running")),
                }
            )
    return sorted(found, key=lambda node: node["name"])


def joiners(stack: dict[str, Any], observed: dict[str, Any]) -> list[str]:
    """The inventory's nodes that join a cluster with data: no container and no data on their host yet."""
    if observed.get("fresh"):
        return []
    seen = observed["nodes"]
    return [
        node["name"] for node in stack["nodes"] if not seen[node["name"]]["exists"] and not seen[node["name"]]["has_data"]
    ]


def topology(
    stack: dict[str, Any],
    observed: dict[str, Any],
    reads: dict[str, list[dict[str, Any]]],
    remove: list[str],
    delete_data: bool,
) -> dict[str, Any]:
    """What changes in the ring: joins (in order), cleanup (the nodes to clean up after them, in order),
    leaves (the nodes to decommission) and plan (one line each). StackError when a running node is not in
    the inventory and not named in cassandra_stack_remove_nodes, or a name there is a node of the inventory.
    """
    names = [node["name"] for node in stack["nodes"]]
    remove = [str(name) for name in remove or []]
    problems = [
        f"{name} is in {REMOVE_VARIABLE} and in cassandra_stack_nodes: take it out of cassandra_stack_nodes "
        "to remove it, or out of the list to keep it"
        for name in remove
        if name in names
    ]
    leaving = leavers(stack, reads)
    problems += [
        f"{node['name']} ({node['ip']}) runs on {node['host']} but is not in cassandra_stack_nodes. To remove it "
        f"(its data streamed to the other nodes by nodetool decommission, then its containers removed), set "
        f"{REMOVE_VARIABLE}: [{node['name']}]; to keep it, put it back in cassandra_stack_nodes"
        for node in leaving
        if node["name"] not in remove
    ]
    if problems:
        raise StackError("\n".join(problems))
    joins = joiners(stack, observed)
    # Each joiner takes ranges from every node that held data before it, earlier joiners included.
    cleanup = [name for name in names if name not in joins[-1:]] if joins else []
    kept = "deleted" if delete_data else "kept"
    plan = [
        f"{name}: join by bootstrap" + (f", then cleanup on {', '.join(cleanup)}" if name == joins[-1] else "")
        for name in joins
    ] + [
        f"{node['name']}: decommission, then remove its containers; {node['data_dir']} {kept}" for node in leaving
    ]
    return {"joins": joins, "cleanup": cleanup, "leaves": leaving, "plan": plan}


def replication_factors(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """`SELECT JSON keyspace_name, replication FROM system_schema.keyspaces` rows -> {keyspace: {dc or '*': RF}}.

    SimpleStrategy counts across the whole cluster ('*'); local strategies are left out.
    """
    factors: dict[str, dict[str, int]] = {}
    for row in rows:
        replication = {str(k): str(v) for k, v in (row.get("replication") or {}).items()}
        strategy = replication.pop("class", "").rsplit(".", 1)[-1]
        if strategy in _LOCAL_STRATEGIES or not strategy:
            continue
        if strategy == "SimpleStrategy":
            wanted = {"*": replication.get("replication_factor", "0")}
        else:
            wanted = {dc: value for dc, value in replication.items() if dc != "replication_factor"}
        factors[str(row.get("keyspace_name"))] = {
            dc: int(value.split("/", 1)[0]) for dc, value in wanted.items() if value.split("/", 1)[0].isdigit()
        }
    return factors


def node_mode(netstats: str) -> str:
    """`nodetool netstats` -> the node's mode: NORMAL, JOINING, LEAVING, DECOMMISSIONED, ... ('' if unread)."""
    match = _MODE.search(netstats or "")
    return match.group(1) if match else ""


def streaming(netstats: str) -> bool:
    """Whether `nodetool netstats` shows a stream session (bootstrap, decommission, repair, rebuild)."""
    return "Not sending any streams" not in (netstats or "")


def repair_compactions(compactionstats: str) -> list[str]:
    """The active compactions of a repair that `nodetool compactionstats` lists."""
    return [
        kind
        for line in (compactionstats or "").splitlines()
        for kind in _REPAIR_COMPACTIONS
        if re.search(rf"\b{kind}\b", line)
    ]


def removal_problems(stack: dict[str, Any], change: dict[str, Any], looks: dict[str, dict[str, str]],
                     keyspaces: list[dict[str, Any]]) -> list[str]:
    """Why the leavers cannot be decommissioned now; [] when they can.

    looks: {node: {running: 'true'|'false', status, netstats, compactionstats}} of every node of the
    inventory and every leaver (nodetool output, '' when it could not run); keyspaces: the rows of
    system_schema.keyspaces.
    """
    leaving = change["leaves"]
    if not leaving:
        return []
    problems: list[str] = []
    # A leaver that finished its decommission (a run killed after it) only has its containers removed.
    done = {node["name"] for node in leaving if node_mode(looks.get(node["name"], {}).get("netstats", "")) == "DECOMMISSIONED"}
    members = [(node["name"], node["host"], node["ip"]) for node in stack["nodes"]] + [
        (node["name"], node["host"], node["ip"]) for node in leaving if node["name"] not in done
    ]
    for name, host, _ip in members:
        look = looks.get(name) or {}
        if look.get("running") != "true":
            problems.append(f"node {name} on {host} is down (its container is not running): start it first")
            continue
        ring = output.parse_ring(look.get("status", ""))
        if not ring:
            problems.append(f"node {name} on {host} does not answer nodetool status")
        for row in ring:
            if row["state"] != "UN":
                problems.append(f"node {name} sees {row['address']} as {output.describe_state(row['state'])}")
        mode = node_mode(look.get("netstats", ""))
        if mode and mode != "NORMAL" and not (name in {n["name"] for n in leaving} and mode == "LEAVING"):
            problems.append(f"node {name} is {mode}, not NORMAL")
        if streaming(look.get("netstats", "")) and mode != "LEAVING":
            problems.append(f"node {name} is streaming (nodetool netstats): wait until it ends")
        for kind in sorted(set(repair_compactions(look.get("compactionstats", "")))):
            problems.append(f"a repair is under way on node {name} ({kind} in nodetool compactionstats): wait until it ends")

    stay: dict[str, int] = {}
    for node in stack["nodes"]:
        stay[node["dc"]] = stay.get(node["dc"], 0) + 1
    names = ", ".join(node["name"] for node in leaving if node["name"] not in done)
    for keyspace, factors in sorted(replication_factors(keyspaces).items()):
        for dc, factor in sorted(factors.items()):
            left = sum(stay.values()) if dc == "*" else stay.get(dc, 0)
            where = "in the cluster" if dc == "*" else f"in {dc}"
            # A leaver whose DC its container does not record counts as leaving every DC.
            touched = dc == "*" or any(node["dc"] in (dc, "") for node in leaving if node["name"] not in done)
            if touched and names and left < factor:
                problems.append(
                    f"keyspace {keyspace} has replication factor {factor} {where}: removing {names} leaves "
                    f"{left} node(s) there. Lower its replication first (ALTER KEYSPACE {keyspace} ...)"
                )
    return list(dict.fromkeys(problems))


def parse_looks(stdout: str) -> dict[str, dict[str, str]]:
    """The output of the removal look script: sections '### <node> <part>' -> {node: {part: text}}."""
    looks: dict[str, dict[str, str]] = {}
    node = part = ""
    lines: list[str] = []

    def flush() -> None:
        if node:
            looks.setdefault(node, {})[part] = "\n".join(lines).strip()

    for line in (stdout or "").splitlines():
        if line.startswith("### "):
            flush()
            node, _sep, part = line[4:].strip().partition(" ")
            lines = []
        else:
            lines.append(line)
    flush()
    return looks
