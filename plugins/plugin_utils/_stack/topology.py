# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Topology changes read from the inventory: nodes that join a cluster with data, nodes that leave it.

Controller-side. A node in the inventory that has neither a container nor data, in a cluster that
holds data, joins by bootstrap (alone: bringup.phases() starts such nodes one at a time); once every
joiner is Up/Normal, `nodetool cleanup` runs on the nodes that held data before, one at a time. A node
of the stack that runs but is no longer in the inventory leaves by `nodetool decommission`, only when
the operator names it in cassandra_stack_remove_nodes and the cluster can take it (removal_problems()).
A node of the inventory that holds no data while the ring still holds its address is a dead node: it is
replaced (a new node at the same address takes over its tokens, bringup.observe()) only when named in
cassandra_stack_replace_nodes and the rest of the cluster is healthy (replacement_problems()); unnamed, it is
refused, because an empty directory may as well be a disk that did not mount.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils import _cassandra_output as output
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import StackError

REMOVE_VARIABLE = "cassandra_stack_remove_nodes"
REPLACE_VARIABLE = "cassandra_stack_replace_nodes"
# Cassandra's default max_hint_window (3 h): a node down longer misses the writes no peer kept a hint of.
DEFAULT_HINT_WINDOW_S = 3 * 3600
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Strategies whose replicas are not placed on the ring's nodes.
_LOCAL_STRATEGIES = ("LocalStrategy", "EverywhereStrategy")
# Active compactions of a repair (3.x to 5.0 compactionstats).
_REPAIR_COMPACTIONS = ("Validation", "Anticompaction")
_MODE = re.compile(r"^Mode:\s*(\S+)", flags=re.M)
_ADDRESS = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")
DECOMMISSION = "decommission, then remove its containers"
# A leaver's mode at the start of a run -> what the run does with it (the decommission of an earlier run).
# 3.9 refuses a second decommission of a LEAVING node and finishes the first on its own; 3.10 to 4.1 refuse one
# while it runs; 5.0 marks a failed one DECOMMISSION_FAILED and resumes it when asked again.
_RESUMED_DECOMMISSION = {
    "LEAVING": "its decommission, begun in an earlier run, is under way: wait for it to end, then remove its containers",
    "DECOMMISSIONED": "decommissioned in an earlier run: remove its containers",
    "DECOMMISSION_FAILED": "resume its decommission, which failed in an earlier run, then remove its containers",
}


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
        node["name"]
        for node in stack["nodes"]
        if not seen[node["name"]]["exists"] and not seen[node["name"]]["has_data"] and not seen[node["name"]].get("replacing")
    ]


def empty_nodes(stack: dict[str, Any], observed: dict[str, Any]) -> list[str]:
    """The inventory's nodes that hold no data in a cluster with data and replace no dead node: joiners, or dead
    nodes whose disk was lost (the ring tells them apart)."""
    if observed.get("fresh"):
        return []
    seen = observed["nodes"]
    return [
        node["name"] for node in stack["nodes"] if not seen[node["name"]]["has_data"] and not seen[node["name"]].get("replacing")
    ]


def hint_window_seconds(cassandra_yaml: dict[str, Any]) -> float:
    """max_hint_window (4.1 on: '3h', '10800000ms') or max_hint_window_in_ms of a node's cassandra.yaml; 3 h if unset."""
    if cassandra_yaml.get("max_hint_window") is not None:
        match = _DURATION.match(str(cassandra_yaml["max_hint_window"]))
        if match:
            return int(match.group(1)) * _DURATION_UNITS[match.group(2) or "ms"]
    if str(cassandra_yaml.get("max_hint_window_in_ms", "")).strip().isdigit():
        return int(str(cassandra_yaml["max_hint_window_in_ms"]).strip()) / 1000
    return DEFAULT_HINT_WINDOW_S


def stopped_at(container: dict[str, Any] | None) -> float | None:
    """When a stopped container stopped (epoch seconds); None when it runs, restarts, never ran or is unknown."""
    state = (container or {}).get("State") or {}
    if not container or state.get("Running") or state.get("Restarting"):
        return None
    text = str(state.get("FinishedAt") or "")
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", text)
    if not match or text.startswith("0001-"):
        return None
    fraction = float("0" + match.group(2)) if match.group(2) else 0.0
    return datetime.fromisoformat(match.group(1) + "+00:00").timestamp() + fraction


def replacements(stack: dict[str, Any], observed: dict[str, Any], reads: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The nodes that replace a dead one: name, host, ip, seed, data_dir, resumed (its container already carries the
    replacement option), down_since (when the dead node's container stopped, epoch seconds; None when unknown:
    its host is new, it crash-looped, or the replacement began in an earlier run) and hint_window_s."""
    by_name: dict[str, dict[str, Any]] = {}
    for host, containers in (reads or {}).items():
        for container in containers or []:
            if str(container.get("Name", "")).lstrip("/") == _labels(container).get("io.corral.service"):
                by_name[f"{host}/{_labels(container)['io.corral.service']}"] = container
    found = []
    for node in stack["nodes"]:
        seen = observed["nodes"][node["name"]]
        if not seen.get("replacing"):
            continue
        resumed = bool(seen["has_data"])
        found.append(
            {
                "name": node["name"],
                "host": node["host"],
                "ip": node["ip"],
                "seed": bool(node["seed"]),
                "data_dir": node["data_dir"],
                "resumed": resumed,
                "down_since": None if resumed else stopped_at(by_name.get(f"{node['host']}/{node['name']}")),
                "hint_window_s": hint_window_seconds(node.get("cassandra_yaml") or {}),
            }
        )
    return found


def parse_owed(stdout: str) -> dict[str, list[str]]:
    """Lines '<node> <joiner> ...' (a node's cleanup note, read on its host) -> {node: [joiners]}."""
    owed: dict[str, list[str]] = {}
    for line in (stdout or "").splitlines():
        words = line.split()
        if words:
            owed.setdefault(words[0], [])
            owed[words[0]] += [word for word in words[1:] if word not in owed[words[0]]]
    return owed


def topology(
    stack: dict[str, Any],
    observed: dict[str, Any],
    reads: dict[str, list[dict[str, Any]]],
    remove: list[str],
    delete_data: bool,
    replace: list[str] | None = None,
    owed: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """What changes in the ring: joins (in order), cleanup (the nodes to clean up after them, in order, and those
    that still owe one after a run stopped before it ran: owed, {node: joiners}, from their notes), notes ({node:
    joiners} to write in each node's note before the joiners start), leaves (the nodes to decommission), replaces
    (replacements()), empty (empty_nodes(): the ring says whether each joins or is dead) and plan (one line each).
    StackError when a running node is not in the inventory and not named in cassandra_stack_remove_nodes, a name
    there is a node of the inventory, a name in cassandra_stack_replace_nodes is not, or a replacement comes with
    other changes of the ring.
    """
    names = [node["name"] for node in stack["nodes"]]
    remove = [str(name) for name in remove or []]
    replace = [str(name) for name in replace or []]
    problems = [
        f"{name} is in {REMOVE_VARIABLE} and in cassandra_stack_nodes: take it out of cassandra_stack_nodes "
        "to remove it, or out of the list to keep it"
        for name in remove
        if name in names
    ]
    problems += [
        f"{name} is in {REPLACE_VARIABLE} but not in cassandra_stack_nodes: a replacement is a node of the inventory "
        "(same name, host label and address as the dead node)"
        for name in replace
        if name not in names
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
    seen = observed["nodes"]
    by_name = {node["name"]: node for node in stack["nodes"]}
    for name in replace:
        if name not in seen or seen[name].get("replacing") or not seen[name]["has_data"]:
            continue
        node = by_name[name]
        problems.append(
            f"{name} runs on {node['host']} with its data: a node that is up is not replaced"
            if seen[name]["running"] else
            f"{name} is in {REPLACE_VARIABLE}, but {node['data_dir']} on {node['host']} holds its data: a node is "
            f"replaced only once its data is lost. Start it as it is (take it out of {REPLACE_VARIABLE}); if its data "
            "is stale or damaged, empty that directory first"
        )
    if problems:
        raise StackError("\n".join(problems))
    joins = joiners(stack, observed)
    replaces = replacements(stack, observed, reads)
    fresh_replaces = [node["name"] for node in replaces if not node["resumed"]]
    if len(fresh_replaces) > 1:
        problems.append(f"replace one node at a time, not {', '.join(fresh_replaces)}: each needs all the others Up/Normal")
    if replaces and (joins or leaving):
        problems.append(
            f"replace {', '.join(node['name'] for node in replaces)} first, in a run of its own, then add or remove "
            f"nodes ({', '.join(joins + [node['name'] for node in leaving])}): each streams, one change at a time"
        )
    if problems:
        raise StackError("\n".join(problems))
    # Each joiner takes ranges from every node that held data before it, earlier joiners included.
    owed = {name: list(joiners) for name, joiners in (owed or {}).items() if name in names and name not in joins}
    owing = [name for name in names if name in owed]
    cleanup = [name for name in names if name not in joins[-1:]] if joins else owing
    kept = "deleted" if delete_data else "kept"
    plan = [
        f"{name}: join by bootstrap" + (f", then cleanup on {', '.join(cleanup)}" if name == joins[-1] else "")
        for name in joins
    ] + (
        [f"{', '.join(owing)}: cleanup owed since {', '.join(sorted({j for name in owing for j in owed[name]}))} "
         "joined (an earlier run stopped before it ran)"]
        if owing and not joins else []
    ) + [
        f"{node['name']}: {DECOMMISSION}; {node['data_dir']} {kept}" for node in leaving
    ] + [replace_line(node) for node in replaces]
    return {
        "joins": joins,
        "cleanup": cleanup,
        "notes": {name: list(dict.fromkeys([*owed.get(name, []), *joins])) for name in cleanup} if joins else {},
        "leaves": leaving,
        "replaces": replaces,
        "empty": [name for name in empty_nodes(stack, observed) if name not in joins] + joins,
        "plan": plan,
    }


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def replace_line(node: dict[str, Any]) -> str:
    """The plan's line of a replacement."""
    if node["resumed"]:
        return (
            f"{node['name']}: finish its replacement of the dead node at {node['ip']} (begun in an earlier run): "
            "repair, then restart without the replacement option"
        )
    seed = ", started without itself as a seed" if node["seed"] else ""
    return (
        f"{node['name']}: replace the dead node at {node['ip']} (a new node takes over its tokens, streamed from the "
        f"others{seed}), then repair if it was down longer than the hint window ({_duration(node['hint_window_s'])}), "
        "then restart without the replacement option"
    )


def repair_reason(node: dict[str, Any], now: float, policy: str) -> str:
    """Why the replacement is repaired ('' when it is not): policy always, never or auto (down longer than the hint
    window, or for how long is unknown)."""
    if policy == "never":
        return ""
    if policy == "always":
        return "cassandra_stack_replace_repair is always"
    if node.get("down_since") is None:
        return "how long the dead node was down is unknown (no stopped container of it on its host)"
    down = now - float(node["down_since"])
    if down > float(node["hint_window_s"]):
        return f"it was down {_duration(round(down))}, longer than the hint window ({_duration(node['hint_window_s'])})"
    return ""


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


def stream_peers(netstats: str) -> set[str]:
    """The addresses that `nodetool netstats` names in its stream sessions (before its read repair figures)."""
    sessions = (netstats or "").split("Read Repair Statistics", 1)[0]
    return set(_ADDRESS.findall(sessions))


def plan_with_progress(change: dict[str, Any], looks: dict[str, dict[str, str]]) -> list[str]:
    """The plan's lines, each leaver's saying what becomes of a decommission an earlier run began (its mode)."""
    lines = list(change["plan"])
    for node in change["leaves"]:
        resumed = _RESUMED_DECOMMISSION.get(node_mode((looks.get(node["name"]) or {}).get("netstats", "")))
        if resumed:
            lines = [line.replace(f"{node['name']}: {DECOMMISSION}", f"{node['name']}: {resumed}", 1) for line in lines]
    return lines


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
    # A leaver that finished its decommission (a run killed after it) only has its containers removed; one whose
    # decommission is under way or failed (a run killed during it) is waited for or resumed: the ring shows it
    # leaving, and the nodes that take its ranges stream from it.
    modes = {node["name"]: node_mode(looks.get(node["name"], {}).get("netstats", "")) for node in leaving}
    done = {name for name, mode in modes.items() if mode == "DECOMMISSIONED"}
    resuming = {node["ip"] for node in leaving if modes[node["name"]] in ("LEAVING", "DECOMMISSION_FAILED")}
    leaver_names = {node["name"] for node in leaving}
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
            if row["state"] != "UN" and not (row["address"] in resuming and row["state"] == "UL"):
                problems.append(f"node {name} sees {row['address']} as {output.describe_state(row['state'])}")
        mode = node_mode(look.get("netstats", ""))
        if mode and mode != "NORMAL" and not (name in leaver_names and mode in ("LEAVING", "DECOMMISSION_FAILED")):
            problems.append(f"node {name} is {mode}, not NORMAL")
        peers = stream_peers(look.get("netstats", ""))
        own = name in leaver_names and mode in ("LEAVING", "DECOMMISSION_FAILED")
        if streaming(look.get("netstats", "")) and not own and not (peers and peers <= resuming):
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


def ring_views(stack: dict[str, Any], looks: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """{node of the inventory that answered nodetool status: {address: state}}."""
    views = {}
    for node in stack["nodes"]:
        look = looks.get(node["name"]) or {}
        rows = output.parse_ring(look.get("status", "")) if look.get("running") == "true" else []
        if rows:
            views[node["name"]] = {row["address"]: row["state"] for row in rows}
    return views


def replacement_problems(stack: dict[str, Any], change: dict[str, Any], looks: dict[str, dict[str, str]]) -> list[str]:
    """Why the named nodes cannot replace their dead ones now, and the dead nodes not named; [] when all is well.

    looks: as removal_problems() takes them. A replacement needs its dead node in the ring and down as every
    other node sees it, every other node running, Up/Normal, not streaming nor repairing, and another seed.
    """
    problems: list[str] = []
    replaces = change.get("replaces") or []
    views = ring_views(stack, looks)
    replaced = {node["ip"] for node in replaces}
    by_name = {node["name"]: node for node in stack["nodes"]}
    for name in change.get("empty") or []:
        node = by_name[name]
        held = {viewer: ring[node["ip"]] for viewer, ring in views.items() if node["ip"] in ring}
        if held:
            states = ", ".join(f"{output.describe_state(state)} to {viewer}" for viewer, state in sorted(held.items()))
            problems.append(
                f"{name} has no data in {node['data_dir']} on {node['host']}, but the ring holds its address {node['ip']} "
                f"({states}): it is a dead node whose disk or host was lost, and would not start. To replace it (a new "
                f"node at {node['ip']} takes over its tokens, streamed from the others), set {REPLACE_VARIABLE}: [{name}]; "
                f"if {node['data_dir']} is the wrong directory or a disk that did not mount, fix that instead"
            )
    for node in [node for node in replaces if not node["resumed"]]:
        look = looks.get(node["name"]) or {}
        if look.get("running") == "true":
            problems.append(
                f"{node['name']} runs on {node['host']}: a node that is up is not replaced. If its disk was lost, "
                f"stop it first (docker stop {node['name']} on {node['host']})"
            )
        up_to = sorted(viewer for viewer, ring in views.items() if viewer != node["name"] and ring.get(node["ip"], "")[:1] == "U")
        if up_to:
            problems.append(
                f"{node['name']} ({node['ip']}) is up as {', '.join(up_to)} see it: a node that is up is not replaced"
            )
        if views and not any(node["ip"] in ring for viewer, ring in views.items() if viewer != node["name"]):
            problems.append(
                f"{node['name']} ({node['ip']}) is not in the ring as {', '.join(sorted(views))} see it: there is no dead "
                f"node to replace. Take it out of {REPLACE_VARIABLE}; a node of the inventory without data then joins by "
                "bootstrap"
            )
        if node["seed"] and not [seed for seed in stack["seeds"] if seed != node["ip"]]:
            problems.append(
                f"{node['name']} is the only seed: a replacing node must not be its own seed (a seed does not bootstrap, "
                "so it would take the dead node's tokens without their data). Make another node that is Up/Normal a "
                f"seed too (seed: true) in the same run, then {node['name']} starts with that one as its seed"
            )
    # A replacement begun in an earlier run is only waited for: its peers stream to it.
    for node in stack["nodes"] if any(not node["resumed"] for node in replaces) else []:
        if node["ip"] in replaced:
            continue
        look = looks.get(node["name"]) or {}
        if look.get("running") != "true":
            problems.append(
                f"node {node['name']} on {node['host']} is down too (its container is not running): a replacement needs "
                "every other node Up/Normal; start it, or replace one node at a time"
            )
            continue
        if node["name"] not in views:
            problems.append(f"node {node['name']} on {node['host']} does not answer nodetool status")
        for address, state in sorted((views.get(node["name"]) or {}).items()):
            if state != "UN" and address not in replaced:
                problems.append(f"node {node['name']} sees {address} as {output.describe_state(state)}")
        mode = node_mode(look.get("netstats", ""))
        if mode and mode != "NORMAL":
            problems.append(f"node {node['name']} is {mode}, not NORMAL")
        if streaming(look.get("netstats", "")):
            problems.append(f"node {node['name']} is streaming (nodetool netstats): wait until it ends")
        for kind in sorted(set(repair_compactions(look.get("compactionstats", "")))):
            problems.append(
                f"a repair is under way on node {node['name']} ({kind} in nodetool compactionstats): wait until it ends"
            )
    return list(dict.fromkeys(problems))
