# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Restores of a table or keyspace in place: the refusals before any change, and each node's load read back.

Controller-side and pure: the cassandra_backup role reads each node's part of the backup and the live node with
Medusa's own code in a sidekick (files/restore_node.py) and hands the JSON here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._backup.medusa import last_lines
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import Refusal

HEADLINE = "the restore is refused; nothing was changed:"
# Cassandra's keyspace and table names (unquoted).
_CQL_NAME = re.compile(r"^[A-Za-z0-9_]{1,48}$")
SYSTEM_KEYSPACES = ("system", "system_schema", "system_auth", "system_distributed", "system_traces", "system_views",
                    "system_virtual_schema")
# Where each node's files are downloaded: under the node's /var/lib/cassandra (its data container's volume), so
# that `nodetool import` moves them into the table by a rename on the same file system.
STAGING = "/var/lib/cassandra/corral-restore"


def read_json(output: str) -> dict[str, Any]:
    """The sidekick script's one JSON object among Medusa's and the driver's log lines."""
    for line in str(output or "").splitlines():
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise ValueError(f"the restore script printed no result: {last_lines(output)}")


def requested(tables: list[str]) -> tuple[list[str], list[str]]:
    """restore_tables (each 'keyspace' or 'keyspace.table') -> the names, and the problems with them."""
    problems: list[str] = []
    names: list[str] = []
    if not tables:
        problems.append("restore_tables is empty: name what to restore, like -e restore_tables=ks.table or =ks")
    for raw in tables:
        name = str(raw).strip()
        parts = name.split(".")
        if len(parts) > 2 or not all(_CQL_NAME.match(part) for part in parts):
            problems.append(f"restore_tables: '{name}' is not a keyspace or keyspace.table name")
        elif parts[0] in SYSTEM_KEYSPACES:
            problems.append(f"restore_tables: '{name}' is in a system keyspace: only the users' tables are restored in place")
        else:
            names.append(name)
    return names, problems


def table_shape(statement: str) -> str:
    """A CREATE TABLE statement -> what its SSTables depend on: columns, their types, the primary key, the order.

    Both sides come from the driver's schema export (Medusa's schema.cql and the live metadata), so the text
    compares; the table's options (compaction, comment, ...) do not change how its SSTables are read.
    """
    text = re.sub(r"\s+", " ", statement).strip().rstrip(";")
    # The schema export is formatted (a column a line), the live one may not be.
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    text = re.sub(r"^CREATE TABLE (IF NOT EXISTS )?", "", text, flags=re.I)
    columns, _sep, options = text.partition(") WITH ")
    order = re.search(r"CLUSTERING ORDER BY \([^)]*\)", options)
    return columns + ")" + (" " + order.group(0) if order else "")


def _backup_tables(read: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'ks.t' -> {keyspace, table, dir, files, bytes} of one node's part (its manifest)."""
    return {f"{item['keyspace']}.{item['table']}": item for item in read.get("tables") or []}


def _node_part_problems(node: dict[str, Any], read: dict[str, Any] | None, name: str) -> list[str]:
    where = f"{node['name']} ({node['ip']}) on {node['host']}"
    if read is None:
        return []
    if not read.get("exists"):
        return [f"backup '{name}' is not in the store of {where}: see -e backup_action=list"]
    if not read.get("finished"):
        return [f"{where}: its part of backup '{name}' never finished"]
    return []


def _topology_problems(nodes: list[dict[str, Any]], reads: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The backup's token map (as Medusa saved it) against the live one: same nodes, each with the same tokens."""
    problems: list[str] = []
    ips = sorted(str(node["ip"]) for node in nodes)
    for node in nodes:
        read = reads.get(node["name"]) or {}
        backup_map: dict[str, Any] = read.get("tokenmap") or {}
        live_map: dict[str, Any] = read.get("live_tokenmap") or {}
        if sorted(backup_map) != ips:
            problems.append(
                f"backup '{name}' holds {len(backup_map)} nodes ({', '.join(sorted(backup_map))}), the stack "
                f"{len(ips)} ({', '.join(ips)}): the topology does not fit"
            )
            break
        backup_tokens = sorted(str(token) for token in (backup_map.get(node["ip"]) or {}).get("tokens") or [])
        live_tokens = sorted(str(token) for token in (live_map.get(node["ip"]) or {}).get("tokens") or [])
        if backup_tokens != live_tokens:
            differ = len(set(backup_tokens) ^ set(live_tokens))
            problems.append(
                f"{node['name']} ({node['ip']}) owns other tokens than in backup '{name}' ({len(live_tokens)} now, "
                f"{len(backup_tokens)} then, {differ} differ): the token layout changed since the backup"
            )
    return problems


def plan(nodes: list[dict[str, Any]], outputs: dict[str, str], name: str, tables: list[str],
         overwrite: bool) -> dict[str, Any]:
    """Refuse before anything changes; else which tables to create or truncate, and what each node loads.

    `nodes`: the stack's nodes (the backup preflight's plan); `outputs`: each node's output of
    `restore_node.py read` (its part of the backup, the live token map and tables).
    """
    wanted, problems = requested(tables)
    reads: dict[str, dict[str, Any]] = {}
    for node in nodes:
        try:
            reads[node["name"]] = read_json(outputs.get(node["name"], ""))
        except ValueError as exc:
            problems.append(f"{node['name']}: {exc}")
    for node in sorted(nodes, key=lambda item: str(item["name"])):
        problems += _node_part_problems(node, reads.get(node["name"]), name)
    if problems:
        raise Refusal(HEADLINE + "\n" + "\n".join(problems))
    problems += _topology_problems(nodes, reads, name)

    first = reads[sorted(reads)[0]]
    in_backup: dict[str, dict[str, Any]] = {}
    for read in reads.values():
        in_backup.update(_backup_tables(read))
    schema: dict[str, Any] = first.get("schema") or {}
    live: dict[str, str] = first.get("live_tables") or {}
    live_keyspaces: list[str] = first.get("live_keyspaces") or []

    chosen: list[str] = []
    for item in wanted:
        if "." in item:
            found = [item] if item in in_backup or item in (schema.get(item.split(".")[0]) or {}).get("tables", {}) \
                else []
        else:
            found = sorted(fqtn for fqtn in in_backup if fqtn.split(".")[0] == item)
        if not found:
            held = sorted({fqtn for fqtn in in_backup if fqtn.split(".")[0] not in SYSTEM_KEYSPACES})
            problems.append(f"{item} is not in backup '{name}' (it holds: {', '.join(held) or 'no table of the users'})")
        chosen += [fqtn for fqtn in found if fqtn not in chosen]

    create: list[str] = []
    truncate: list[str] = []
    for fqtn in chosen:
        keyspace, table = fqtn.split(".")
        statement = ((schema.get(keyspace) or {}).get("tables") or {}).get(table)
        if not statement:
            problems.append(f"{fqtn}: backup '{name}' holds its files but not its schema")
            continue
        if fqtn not in live:
            create.append(fqtn)
        elif table_shape(live[fqtn]) != table_shape(statement):
            problems.append(
                f"{fqtn} exists with another schema than in backup '{name}': now {table_shape(live[fqtn])}, "
                f"then {table_shape(statement)}; drop it (or restore into a table of the backup's schema)"
            )
        elif not overwrite:
            problems.append(
                f"{fqtn} exists: restoring into it would overwrite its data; with -e restore_overwrite=true it is "
                "truncated first and then holds the backup's rows"
            )
        else:
            truncate.append(fqtn)
    if problems:
        raise Refusal(HEADLINE + "\n" + "\n".join(problems))

    loads = []
    for node in nodes:
        mine = _backup_tables(reads[node["name"]])
        loads.append({
            **node,
            "tables": [mine[fqtn] for fqtn in chosen if fqtn in mine and int(mine[fqtn].get("files") or 0) > 0],
        })
    keyspaces = sorted({fqtn.split(".")[0] for fqtn in create} - set(live_keyspaces))
    lines = [f"restore from backup '{name}', node by node, the cluster running: {', '.join(chosen)}"]
    lines += [f"create from the backup's schema: {', '.join(keyspaces + create)}"] if create else []
    lines += [f"truncate first (restore_overwrite): {', '.join(truncate)}"] if truncate else []
    for load in loads:
        files = sum(int(item.get("files") or 0) for item in load["tables"])
        size = sum(int(item.get("bytes") or 0) for item in load["tables"])
        lines.append(f"{load['name']}: {files} files, {size} bytes from its part of '{name}'")
    return {
        "tables": chosen,
        "create": create,
        "create_keyspaces": keyspaces,
        "truncate": truncate,
        "nodes": loads,
        "staging": f"{STAGING}/{name}",
        "lines": lines,
    }


def load_report(node: str, output: str) -> dict[str, Any]:
    """One node's `restore_node.py load` -> its figures, or the problem that fails the run."""
    try:
        result = read_json(output)
    except ValueError as exc:
        return {"problem": f"{node}: {exc}"}
    if result.get("error"):
        return {"problem": f"{node}: {result['error']}", "figures": result}
    seconds = float(result.get("download_seconds") or 0) + float(result.get("import_seconds") or 0)
    megabytes = int(result.get("bytes") or 0) / 1e6
    line = (
        f"{node}: {result.get('files', 0)} files, {megabytes:.1f} MB downloaded in {result.get('download_seconds', 0):.1f} s "
        f"and imported in {result.get('import_seconds', 0):.1f} s ({', '.join(result.get('imported') or []) or 'nothing'})"
    )
    return {"line": line, "figures": result, "seconds": seconds}
