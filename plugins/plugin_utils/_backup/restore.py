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
        problems.append("restore_tables is empty: name what to restore, like -e restore_tables=ks.table, =ks or =all")
    for raw in tables:
        name = str(raw).strip()
        parts = name.split(".")
        if len(parts) > 2 or not all(_CQL_NAME.match(part) for part in parts):
            problems.append(f"restore_tables: '{name}' is not a keyspace or keyspace.table name")
        elif name == "all":
            names.append(name)
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


def unquoted(name: str) -> str:
    """A name as the driver's schema export writes it -> the name. The export quotes a name that is a CQL keyword
    (`upgrade_test."rows"`) or not lower case, and Medusa's `parse_schema` keys its tables by that text."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def quoted(name: str) -> str:
    """A keyspace or table name for a CQL statement, quoted: right whether or not the name is a keyword."""
    return '"' + name.replace('"', '""') + '"'


def schema_by_name(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Medusa's parsed schema with every keyspace, table and type keyed by its name, as the manifest and the live
    metadata name them."""
    return {
        unquoted(keyspace): {
            "create_statement": item.get("create_statement") or "",
            **{kind: {unquoted(key): value for key, value in (item.get(kind) or {}).items()}
               for kind in ("tables", "udt", "indices")},
        }
        for keyspace, item in (schema or {}).items()
    }


_INDEX_ON = re.compile(r'\sON\s+("(?:[^"]|"")+"|\w+)\.("(?:[^"]|"")+"|\w+)\s*\(', re.I)


def indexes_on(indices: dict[str, str], keyspace: str, table: str) -> list[str]:
    """The backup's CREATE INDEX statements of one table."""
    found = []
    for statement in indices.values():
        target = _INDEX_ON.search(statement)
        if target and (unquoted(target.group(1)), unquoted(target.group(2))) == (keyspace, table):
            found.append(statement)
    return found


def _backup_tables(part: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'ks.t' -> {keyspace, table, dir, files, bytes} of one node's part (its manifest)."""
    return {f"{item['keyspace']}.{item['table']}": item for item in part.get("tables") or []}


def _tokens(tokenmap: dict[str, Any], ip: str) -> list[str]:
    return sorted(str(token) for token in (tokenmap.get(ip) or {}).get("tokens") or [])


def _sources(nodes: list[dict[str, Any]], reads: dict[str, dict[str, Any]], name: str,
             backup_map: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Each node -> the node of the backup whose tokens it owns now (in place: itself), whose part its host's store
    must hold. Each node loads only that part's files: they are its replicas only if it owns the same ranges."""
    problems: list[str] = []
    sources: dict[str, str] = {}
    live_map: dict[str, Any] = reads[nodes[0]["name"]].get("live_tokenmap") or {}
    if len(backup_map) != len(nodes):
        return sources, [
            f"backup '{name}' holds {len(backup_map)} nodes ({', '.join(sorted(backup_map))}), the stack "
            f"{len(nodes)} ({', '.join(sorted(str(node['ip']) for node in nodes))}): the topology does not fit"
        ]
    by_tokens = {tuple(_tokens(backup_map, ip)): ip for ip in backup_map}
    for node in nodes:
        where = f"{node['name']} ({node['ip']})"
        live = _tokens(live_map, str(node["ip"]))
        source = by_tokens.get(tuple(live))
        if source is None:
            own = _tokens(backup_map, str(node["ip"]))
            then = f" (it owned {len(own)} then, {len(set(own) ^ set(live))} differ)" if own else ""
            problems.append(
                f"{where} owns {len(live)} tokens that no node of backup '{name}' owned{then}: the token layout is not "
                "the backup's (a node added, removed or replaced since, or another num_tokens)"
            )
        elif source not in (reads[node["name"]].get("parts") or {}):
            problems.append(
                f"{where} on {node['host']} owns the tokens of {source} in backup '{name}', whose part is not in the "
                f"store of {node['host']}: put it there (or use a store every host shares)"
            )
        else:
            sources[node["name"]] = source
    return sources, problems


def plan(nodes: list[dict[str, Any]], outputs: dict[str, str], name: str, tables: list[str],
         overwrite: bool) -> dict[str, Any]:
    """Refuse before anything changes; else which tables to create or truncate, and what each node loads.

    `nodes`: the stack's nodes (the backup preflight's plan); `outputs`: each node's output of
    `restore_node.py read` (the parts of the backup in its host's store; the first node's also the live token map,
    keyspaces, tables and types: the live cluster is read there only).
    """
    wanted, problems = requested(tables)
    reads: dict[str, dict[str, Any]] = {}
    for node in nodes:
        try:
            reads[node["name"]] = read_json(outputs.get(node["name"], ""))
        except ValueError as exc:
            problems.append(f"{node['name']}: {exc}")
    if nodes and nodes[0]["name"] in reads and "live_tokenmap" not in reads[nodes[0]["name"]]:
        problems.append(f"{nodes[0]['name']}: its read holds no view of the live cluster (restore_node.py read ... live)")
    for node in sorted(nodes, key=lambda item: str(item["name"])):
        parts = (reads.get(node["name"]) or {}).get("parts")
        if node["name"] in reads and not parts:
            problems.append(
                f"backup '{name}' is not in the store of {node['name']} ({node['ip']}) on {node['host']}: "
                "see -e backup_action=list"
            )
        for fqdn, part in sorted((parts or {}).items()):
            if not part.get("finished"):
                problems.append(f"the part of {fqdn} of backup '{name}' in the store of {node['host']} never finished")
    if problems:
        raise Refusal(HEADLINE + "\n" + "\n".join(sorted(set(problems), key=problems.index)))

    finished = {fqdn: part for read in reads.values() for fqdn, part in (read.get("parts") or {}).items()}
    first_part = finished[sorted(finished)[0]]
    sources, problems = _sources(nodes, reads, name, first_part.get("tokenmap") or {})
    in_backup: dict[str, dict[str, Any]] = {}
    for part in finished.values():
        in_backup.update(_backup_tables(part))
    schema = schema_by_name(first_part.get("schema") or {})
    first = reads[nodes[0]["name"]]
    live: dict[str, str] = first.get("live_tables") or {}
    live_keyspaces: list[str] = first.get("live_keyspaces") or []

    # A table whose files the backup holds but not its schema was created while the backup ran (Medusa saves the
    # schema, then snapshots): `all` (the backup's schema, as it was saved) leaves it out, by name; named, it is refused.
    skipped = sorted(fqtn for fqtn in in_backup if fqtn.split(".")[0] not in SYSTEM_KEYSPACES
                     and fqtn.split(".")[1] not in (schema.get(fqtn.split(".")[0]) or {}).get("tables", {}))
    chosen: list[str] = []
    for item in wanted:
        if item == "all":
            found = sorted(fqtn for fqtn in in_backup if fqtn.split(".")[0] not in SYSTEM_KEYSPACES
                           and fqtn not in skipped)
        elif "." in item:
            in_schema = item.split(".")[1] in ((schema.get(item.split(".")[0]) or {}).get("tables") or {})
            found = [item] if item in in_backup or in_schema else []
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
        source = sources[node["name"]]
        mine = _backup_tables(finished[source])
        loads.append({
            **node,
            "source": source,
            "tables": [mine[fqtn] for fqtn in chosen if fqtn in mine and int(mine[fqtn].get("files") or 0) > 0],
        })
    keyspaces = sorted({fqtn.split(".")[0] for fqtn in create} - set(live_keyspaces))
    lines = [f"restore from backup '{name}', node by node, the cluster running: {', '.join(chosen)}"]
    lines += [f"left out of 'all', files without schema (created while the backup ran): {', '.join(skipped)}"] \
        if skipped and "all" in wanted else []
    lines += [f"create from the backup's schema: {', '.join(keyspaces + create)}"] if create else []
    lines += [f"truncate first (restore_overwrite): {', '.join(truncate)}"] if truncate else []
    for load in loads:
        files = sum(int(item.get("files") or 0) for item in load["tables"])
        size = sum(int(item.get("bytes") or 0) for item in load["tables"])
        part = "its part" if load["source"] == load["ip"] else f"the part of {load['source']}"
        lines.append(f"{load['name']}: {files} files, {size} bytes from {part} of '{name}'")
    return {
        "tables": chosen,
        "create": create,
        "create_keyspaces": keyspaces,
        "truncate": truncate,
        "prepare": prepare_steps(schema, keyspaces, create, truncate, first.get("live_types") or {}),
        "nodes": loads,
        "staging": f"{STAGING}/{name}",
        "lines": lines,
    }


def prepare_steps(schema: dict[str, dict[str, Any]], keyspaces: list[str], create: list[str], truncate: list[str],
                  live_types: dict[str, list[str]]) -> list[dict[str, str]]:
    """The CQL the restore runs on one node before any load, in order, each with what it does: the keyspaces and
    tables to create from the backup's schema (with the keyspace's types the cluster lacks and the table's indexes),
    and the tables to truncate."""
    steps = [{"cql": schema[keyspace]["create_statement"], "done": f"created keyspace {keyspace}"}
             for keyspace in keyspaces]
    typed: set[str] = set()
    for fqtn in create:
        keyspace, table = fqtn.split(".")
        if keyspace not in typed:
            typed.add(keyspace)
            # The export writes a keyspace's types in the order they depend on each other.
            steps += [{"cql": statement, "done": f"created type {keyspace}.{udt}"}
                      for udt, statement in schema[keyspace]["udt"].items() if udt not in live_types.get(keyspace, [])]
        steps.append({"cql": schema[keyspace]["tables"][table], "done": f"created table {fqtn}"})
        steps += [{"cql": statement, "done": f"created an index of {fqtn}"}
                  for statement in indexes_on(schema[keyspace]["indices"], keyspace, table)]
    steps += [{"cql": "TRUNCATE " + ".".join(quoted(part) for part in fqtn.split(".")), "done": f"truncated {fqtn}"}
              for fqtn in truncate]
    return steps


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
