# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Whether the placed stack can run on what its hosts hold, judged before any container changes.

Controller-side. Reads what roles/cassandra_stack/files/node_identity.py printed on each host: the
cluster name and partitioner each node's data holds (from the running node, or its data directory
read offline), the host's memory, its listening ports and the ports its containers publish. Refuses
a cluster name or partitioner other than the data's (Cassandra would refuse to start and crash-loop),
max heaps that together exceed a host's memory (the JVM commits its whole heap at start), and a
published port that something else on the host already holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import StackError

DEFAULT_PARTITIONER = "org.apache.cassandra.dht.Murmur3Partitioner"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_WILDCARD_IPS = {"", "0.0.0.0", "::"}
# The cells of system.local read from a node's data (the address cells are inet: "10.42.0.49").
_SAVED_CELLS = ("cluster_name", "partitioner", "broadcast_address", "listen_address")
_PORT = re.compile(r"^(?:(?P<ip>[0-9.]+):)?(?P<host>[0-9]+):(?P<container>[0-9]+)(?:/(?P<proto>tcp|udp))?$")


def identity_request(stack: dict[str, Any], host: str) -> dict[str, Any]:
    """The argument of node_identity.py on one host: its nodes, the image to read their data with, the overlay."""
    return {
        "network": stack["network"],
        "nodes": [
            {"name": node["name"], "data_dir": node["data_dir"], "images": [stack["image"]]}
            for node in stack["nodes"]
            if node["host"] == host
        ]
    }


def heap_bytes(size: str) -> int:
    """'64G' -> bytes, as cassandra-env.sh and the JVM read -Xmx (no unit: bytes)."""
    text = str(size).strip().upper()
    unit = text[-1] if text[-1:] in _UNITS else ""
    return int(text[: len(text) - len(unit)]) * _UNITS[unit]


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"


def from_describecluster(text: str) -> dict[str, str]:
    """nodetool describecluster -> {cluster_name, partitioner} (the keys it prints)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        name = {"Name": "cluster_name", "Partitioner": "partitioner"}.get(key) if sep else None
        if name and name not in found:
            found[name] = value.strip()
    return found


def from_sstabledump(text: str) -> dict[str, str]:
    """sstabledump output of system.local's sstables (one JSON array each) -> {cluster_name, partitioner,
    broadcast_address, listen_address} (those it holds).

    Of several values of a cell, the one with the latest timestamp wins (the cell's own, else its row's).
    """
    latest: dict[str, tuple[str, str]] = {}
    decoder = json.JSONDecoder()
    position = 0
    while (start := text.find("[", position)) >= 0:
        try:
            partitions, position = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        for partition in partitions if isinstance(partitions, list) else []:
            rows = partition.get("rows") if isinstance(partition, dict) else None
            for row in rows or []:
                row_stamp = str((row.get("liveness_info") or {}).get("tstamp") or "")
                for cell in row.get("cells") or []:
                    name = cell.get("name")
                    if name in _SAVED_CELLS and "value" in cell:
                        stamp = str(cell.get("tstamp") or row_stamp)
                        if name not in latest or stamp >= latest[name][0]:
                            latest[name] = (stamp, str(cell["value"]))
    return {name: value for name, (_stamp, value) in latest.items()}


def saved_identity(read: dict[str, Any]) -> dict[str, str]:
    """One node's read -> {cluster_name, partitioner, address} it found (any may be missing).

    address: the running node's address on the overlay, else the broadcast_address its data was written
    under (listen_address when that is missing).
    """
    stdout = str(read.get("stdout") or "")
    found = from_describecluster(stdout) if "Cluster Information" in stdout else from_sstabledump(stdout)
    address = read.get("address") or found.pop("broadcast_address", None) or found.pop("listen_address", None)
    found.pop("broadcast_address", None)
    found.pop("listen_address", None)
    if address:
        found["address"] = str(address).lstrip("/")
    return found


def _short(partitioner: str) -> str:
    return partitioner.rsplit(".", 1)[-1]


def _ips_overlap(first: str, second: str) -> bool:
    return first in _WILDCARD_IPS or second in _WILDCARD_IPS or first == second


def _identity_problems(stack: dict[str, Any], node: dict[str, Any], read: dict[str, Any]) -> list[str]:
    saved = saved_identity(read)
    where = f"node {node['name']} on {node['host']}"
    source = read.get("source", "?")
    problems = []
    if saved.get("cluster_name") and saved["cluster_name"] != stack["cluster_name"]:
        problems.append(
            f"{where}: its data holds cluster name {saved['cluster_name']!r} (read from {source}), the stack asks for "
            f"{stack['cluster_name']!r}. Cassandra refuses to start on data saved under another cluster name: set "
            f"cassandra_stack_cluster_name (or the compose file's CASSANDRA_CLUSTER_NAME) to {saved['cluster_name']!r}"
        )
    wanted = str(node.get("cassandra_yaml", {}).get("partitioner") or DEFAULT_PARTITIONER)
    if saved.get("partitioner") and _short(saved["partitioner"]) != _short(wanted):
        problems.append(
            f"{where}: its data holds partitioner {saved['partitioner']!r} (read from {source}), the stack asks for "
            f"{wanted!r}. Data cannot change its partitioner: set cassandra_yaml's partitioner to {saved['partitioner']!r}"
        )
    return problems


def _heap_problems(stack: dict[str, Any], host: str, nodes: list[dict[str, Any]], read: dict[str, Any]) -> list[str]:
    memory_kib = read.get("mem_total_kib")
    if not stack.get("max_heap_size") or not nodes or not memory_kib:
        return []
    heap = heap_bytes(stack["max_heap_size"])
    total, memory = heap * len(nodes), int(memory_kib) * 1024
    if total <= memory:
        return []
    names = ", ".join(node["name"] for node in nodes)
    return [
        f"{host}: the max heap of its nodes ({names}: {stack['max_heap_size']} each) adds up to {_gib(total)}, more "
        f"than the host's memory, {_gib(memory)} (MemTotal in {host}'s /proc/meminfo). The JVM commits its whole heap "
        "at start, so the heaps of a host's nodes together must not exceed its memory (and the nodes need memory "
        "beyond the heap too): lower cassandra_stack_max_heap_size"
    ]


def _port_problems(host: str, node: dict[str, Any], read: dict[str, Any]) -> list[str]:
    published = [entry for entry in read.get("published") or [] if isinstance(entry, dict)]
    listening = {(str(proto), int(port)) for proto, port in read.get("listening") or []}
    problems = []
    for text in node.get("published_ports") or []:
        match = _PORT.match(str(text).strip())
        if not match:
            continue
        ip, port, proto = match["ip"] or "", int(match["host"]), match["proto"] or "tcp"
        holders = sorted(
            {
                str(entry["container"])
                for entry in published
                if int(entry.get("host_port") or 0) == port
                and entry.get("proto", "tcp") == proto
                and _ips_overlap(ip, str(entry.get("host_ip") or ""))
            }
        )
        others = [name for name in holders if name != node["name"]]
        if others:
            problems.append(
                f"{host}: node {node['name']} publishes host port {port}/{proto}, already published there by "
                f"container {', '.join(others)}: free the port, or publish another one"
            )
        elif not holders and (proto, port) in listening:
            problems.append(
                f"{host}: node {node['name']} publishes host port {port}/{proto}, on which something on {host} already "
                "listens (not a container's published port): free the port, or publish another one"
            )
    return problems


def feasibility(stack: dict[str, Any], reads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Refuses (StackError, every problem on a line) what cannot work; else {unread: [why a node's data was not read]}."""
    problems: list[str] = []
    unread: list[str] = []
    hosts = list(dict.fromkeys(node["host"] for node in stack["nodes"]))
    for host in hosts:
        read = reads.get(host)
        if not isinstance(read, dict):
            raise StackError(f"{host} did not report what its nodes' data holds and what the host can take")
        on_host = [node for node in stack["nodes"] if node["host"] == host]
        for node in on_host:
            node_read = (read.get("nodes") or {}).get(node["name"])
            if node_read is None:
                continue
            if "error" in node_read:
                unread.append(f"node {node['name']} on {host}: {node_read.get('source')}: {node_read['error']}")
            else:
                problems += _identity_problems(stack, node, node_read)
        problems += _heap_problems(stack, host, on_host, read)
        for node in on_host:
            problems += _port_problems(host, node, read)
    if problems:
        raise StackError("\n".join(problems))
    return {"unread": unread}


def saved_cluster_name(stack: dict[str, Any], reads: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The cluster name the nodes' data holds, for a stack whose files and inventory give none (an import).

    {} when no node's data holds one (fresh directories); else {cluster_name, source}. Refuses (StackError)
    when the nodes' data disagree, or when a node's data could not be read: a guessed name on data saved
    under another would make Cassandra refuse to start.
    """
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    for node in stack["nodes"]:
        node_read = ((reads.get(node["host"]) or {}).get("nodes") or {}).get(node["name"])
        if node_read is None:
            continue
        where = f"node {node['name']} on {node['host']}"
        if "error" in node_read:
            problems.append(
                f"{where}: its data could not be read for its cluster name ({node_read.get('source', '?')}: "
                f"{node_read['error']}): give the name, as CASSANDRA_CLUSTER_NAME in the files or cassandra_stack_cluster_name"
            )
            continue
        name = saved_identity(node_read).get("cluster_name")
        if name:
            found.setdefault(name, []).append(f"{node['name']} ({node_read.get('source', '?')})")
    if len(found) > 1:
        problems.append(
            "the nodes' data holds different cluster names: "
            + "; ".join(f"{name!r} in {', '.join(nodes)}" for name, nodes in found.items())
        )
    if problems:
        raise StackError("\n".join(problems))
    if not found:
        return {}
    name, nodes = next(iter(found.items()))
    return {"cluster_name": name, "source": f"the data of {', '.join(nodes)}"}


def saved_addresses(stack: dict[str, Any], reads: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The address each node's data was written under, for an import that must keep it. Never refuses.

    {found: {node: address}, unread: {node: why it could not be read}}; a node whose data directory is new
    is in neither. A running node's address is its container's on the overlay (its data is kept under it).
    """
    found: dict[str, str] = {}
    unread: dict[str, str] = {}
    for node in stack["nodes"]:
        node_read = ((reads.get(node["host"]) or {}).get("nodes") or {}).get(node["name"])
        if node_read is None:
            continue
        address = saved_identity(node_read).get("address")
        if address:
            found[node["name"]] = address
        else:
            why = node_read.get("error") or "system.local holds no broadcast_address or listen_address"
            unread[node["name"]] = f"{node_read.get('source', '?')}: {why}"
    return {"found": found, "unread": unread}
