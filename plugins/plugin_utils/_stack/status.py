# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The cluster table: node, host, IP, image version, state as its peers see it, load, ownership.

Controller-side: built from the stack model, docker_container_info per node and `nodetool
status` as each running node sees the ring.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import parse_ring
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.bringup import by_node, container_info, image_tag

# The upgrade plan reads results by node the same way.
_results_by_node = by_node

COLUMNS = ("NODE", "SEED", "HOST", "IP", "VERSION", "CONTAINER", "STATE", "LOAD", "OWNS", "DC/RACK")
# Shown while an upgrade is under way (some node keeps a rollback copy, see roles/cassandra_upgrade).
UPGRADE_COLUMN = "UPGRADE"


def _as_container_info(result: dict[str, Any], key: str) -> dict[str, Any]:
    """A docker_container_info result as is; a cassandra_node result's `key` container
    (cassandra_container or rollback_copy) turned into one, so that the table needs no new read."""
    if key not in result:
        return result
    brief = result.get(key) or {}
    running = brief.get("state") == "running"
    return container_info(result.get("item"), bool(brief.get("id")), running, str(brief.get("image") or ""))


def _containers_by_node(results: list[dict[str, Any]] | None, key: str) -> dict[str, dict[str, Any]]:
    return {name: _as_container_info(result, key) for name, result in by_node(results).items()}


def _consensus(seen: dict[str, str]) -> str:
    """'UN' when every observer agrees; 'UN, DN by cdb3' when they do not; '?' when none saw it."""
    if not seen:
        return "?"
    states = sorted(set(seen.values()), key=lambda state: (state != "UN", state))
    if len(states) == 1:
        return states[0]
    odd = ", ".join(f"{state} by {','.join(sorted(n for n, s in seen.items() if s == state))}" for state in states[1:])
    return f"{states[0]}, {odd}"


def _image(result: dict[str, Any] | None) -> str:
    """The image of a docker_container_info result; '' when there is no container."""
    if not result or not result.get("exists"):
        return ""
    return str(((result.get("container") or {}).get("Config") or {}).get("Image") or "")


def _upgrade_states(
    stack: dict[str, Any], by_container: dict[str, Any], copies: list[dict[str, Any]] | None
) -> dict[str, str]:
    """Per node, while some node keeps a rollback copy: upgraded (rollback available) or not yet; else {}."""
    by_copy = {name: result for name, result in _containers_by_node(copies, "rollback_copy").items() if result.get("exists")}
    if not by_copy:
        return {}
    upgraded_to = {image_tag(_image(by_container.get(name))) for name in by_copy if _image(by_container.get(name))}
    states = {}
    for node in stack["nodes"]:
        name = node["name"]
        image = _image(by_container.get(name))
        if name in by_copy:
            states[name] = f"upgraded from {image_tag(_image(by_copy[name]))}, rollback available"
        elif image and image_tag(image) in upgraded_to:
            states[name] = f"at {image_tag(image)}, no rollback copy"
        else:
            states[name] = "not upgraded yet"
    return states


def status_rows(
    stack: dict[str, Any],
    containers: list[dict[str, Any]],
    views: list[dict[str, Any]],
    copies: list[dict[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """One row per node of the stack, then one per ring member the stack does not know.

    containers: docker_container_info results of each node's container, or cassandra_node results (the last
    result of a node wins). copies: docker_container_info results of each node's rollback copy
    ('<name>-rollback'), or cassandra_node results; while any copy exists, the rows get an UPGRADE column.
    """
    by_container = _containers_by_node(containers, "cassandra_container")
    upgrade_states = _upgrade_states(stack, by_container, copies)
    rings: dict[str, list[dict[str, str]]] = {}
    for name, result in by_node(views).items():
        if result.get("rc") == 0:
            rings[name] = parse_ring(result.get("stdout", ""))

    rows: list[dict[str, str]] = []
    stack_ips = {node["ip"] for node in stack["nodes"]}
    for node in stack["nodes"]:
        result = by_container.get(node["name"]) or {}
        container = (result.get("container") or {}) if result.get("exists") else {}
        if not container:
            container_state = "absent" if result else "unknown"
        else:
            container_state = "running" if (container.get("State") or {}).get("Running") else "stopped"
        image = (container.get("Config") or {}).get("Image", "")
        seen = {observer: row for observer, ring in rings.items() for row in ring if row["address"] == node["ip"]}
        own = seen.get(node["name"]) or next(iter(seen.values()), None)
        rows.append(
            {
                "NODE": node["name"],
                "SEED": "yes" if node["seed"] else "",
                "HOST": node["host"],
                "IP": node["ip"],
                "VERSION": image_tag(image) if image else "-",
                "CONTAINER": container_state,
                "STATE": _consensus({observer: row["state"] for observer, row in seen.items()}),
                "LOAD": own["load"] if own else "-",
                "OWNS": own["owns"] if own else "-",
                "DC/RACK": f"{node['dc']}/{node['rack']}",
            }
        )
        if upgrade_states:
            rows[-1][UPGRADE_COLUMN] = upgrade_states[node["name"]]
    strangers: dict[str, dict[str, str]] = {}
    for observer, ring in rings.items():
        for row in ring:
            if row["address"] not in stack_ips:
                strangers.setdefault(row["address"], {})[observer] = row["state"]
    for address, seen_states in sorted(strangers.items()):
        rows.append(
            {
                "NODE": "(not in the stack)",
                "SEED": "",
                "HOST": "-",
                "IP": address,
                "VERSION": "-",
                "CONTAINER": "-",
                "STATE": _consensus(seen_states),
                "LOAD": "-",
                "OWNS": "-",
                "DC/RACK": "-",
            }
        )
    return rows


def render_table(rows: list[dict[str, str]], title: str = "") -> list[str]:
    """Rows as aligned text columns under a header, one string per line: a task's debug msg that is a
    list prints one line per row with any callback and result format (a string with newlines prints as
    one escaped line with Ansible's defaults)."""
    columns = COLUMNS + ((UPGRADE_COLUMN,) if any(UPGRADE_COLUMN in row for row in rows) else ())
    widths = {column: len(column) for column in columns}
    for row in rows:
        for column in columns:
            widths[column] = max(widths[column], len(row.get(column, "")))
    lines = [title] if title else []
    for row in [dict(zip(columns, columns)), *rows]:
        lines.append("  ".join(row.get(column, "").ljust(widths[column]) for column in columns).rstrip())
    up = sum(1 for row in rows if row["STATE"] == "UN" and row["NODE"] != "(not in the stack)")
    known = sum(1 for row in rows if row["NODE"] != "(not in the stack)")
    lines.append(f"{up} of {known} nodes Up/Normal as all their peers see them")
    return lines


def status_table(
    stack: dict[str, Any],
    containers: list[dict[str, Any]],
    views: list[dict[str, Any]],
    copies: list[dict[str, Any]] | None = None,
) -> list[str]:
    title = f"Stack {stack['name']}: cluster {stack['cluster_name']!r}, image {stack['image']}"
    return render_table(status_rows(stack, containers, views, copies), title)
