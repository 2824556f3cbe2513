"""A restore in place, one node's steps, with Medusa's own code; each prints one JSON line.

    python restore_node.py read CONFIG NAME [live]    the parts of backup NAME in this host's store (tables, token
                                                      map, schema); with `live`, also the live cluster as this node
                                                      sees it (the plan reads it from one node: a CQL session each
                                                      costs seconds)
    python restore_node.py prepare CONFIG NAME JSON   [{"cql", "done"}]: the statements the controller's plan took
                                                      from the backup's schema (create) or wrote (truncate), in order
    python restore_node.py load CONFIG NAME STAGING JSON SOURCE
                                                      [{"keyspace", "table"}]: `medusa download` of those tables of
                                                      the part of node SOURCE (its address) into STAGING, then
                                                      `nodetool import` of each into this node

Why not `medusa restore-node`: it stops Cassandra on the node. Why not its sstableloader mode: it streams each
node's files to every replica (the data RF times over) and puts the CQL password on sstableloader's command
line. `nodetool import` (Cassandra 4.0+) loads a node's own files into the running node, which keeps serving.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import medusa.config
from cassandra.query import SimpleStatement
from medusa.cassandra_utils import Cassandra
from medusa.schema import parse_schema
from medusa.storage import Storage

SYSTEM = ("system", "system_schema", "system_auth", "system_distributed", "system_traces", "system_views",
          "system_virtual_schema")


def load_config(path: str) -> Any:
    return medusa.config.load_config(defaultdict(lambda: None), Path(path))


def backup_parts(config: Any, name: str) -> dict[str, dict[str, Any]]:
    """Every node's part of backup NAME in this host's store, by the node's address (Medusa's fqdn), read while the
    store is open: finished or not, manifest, token map, schema. A restore into another stack loads the part of the
    node whose tokens the target node owns, which need not be this node's own."""
    parts: dict[str, dict[str, Any]] = {}
    with Storage(config=config.storage) as storage:
        for backup in storage.list_node_backups():
            if backup.name != name:
                continue
            part: dict[str, Any] = {"finished": backup.finished is not None}
            if part["finished"]:
                part.update(manifest=backup.manifest, tokenmap=backup.tokenmap, schema=backup.schema)
            parts[backup.fqdn] = part
    return parts


def summary(part: dict[str, Any]) -> dict[str, Any]:
    """A part as the plan needs it: its users' tables with their files, its token map, its schema parsed."""
    if not part["finished"]:
        return {"finished": False}
    return {
        "finished": True,
        "tables": [
            {
                "keyspace": section["keyspace"],
                "table": section["columnfamily"].split("-")[0],
                "dir": section["columnfamily"],
                "files": len(section["objects"]),
                "bytes": sum(int(item["size"]) for item in section["objects"]),
            }
            for section in json.loads(part["manifest"])
            if section["keyspace"] not in SYSTEM
        ],
        "tokenmap": json.loads(part["tokenmap"]),
        "schema": {
            keyspace: {"create_statement": item["create_statement"], "tables": item["tables"],
                       "udt": item["udt"], "indices": item["indices"]}
            for keyspace, item in parse_schema(part["schema"]).items()
        },
    }


def read(config: Any, name: str, live: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": name,
        "fqdn": config.storage.fqdn,
        "parts": {fqdn: summary(part) for fqdn, part in backup_parts(config, name).items()},
    }
    if not live:
        return result
    with Cassandra(config).new_session() as session:
        result["live_tokenmap"] = session.tokenmap()
        keyspaces = session.cluster.metadata.keyspaces
        result["live_keyspaces"] = sorted(keyspace for keyspace in keyspaces if keyspace not in SYSTEM)
        result["live_tables"] = {
            f"{keyspace}.{table}": metadata.as_cql_query(formatted=True)
            for keyspace, keyspace_metadata in keyspaces.items()
            if keyspace not in SYSTEM
            for table, metadata in keyspace_metadata.tables.items()
        }
        result["live_types"] = {
            keyspace: sorted(keyspace_metadata.user_types)
            for keyspace, keyspace_metadata in keyspaces.items()
            if keyspace not in SYSTEM
        }
    return result


def prepare(config: Any, steps: list[dict[str, str]]) -> dict[str, Any]:
    done: list[str] = []
    with Cassandra(config).new_session() as session:
        for step in steps:
            # TRUNCATE needs every replica; a large table's may take a while.
            session.session.execute(SimpleStatement(step["cql"]), timeout=300)
            done.append(step["done"])
        agreed = session.cluster.control_connection.wait_for_schema_agreement(wait_time=120)
    return {"done": done, "schema_agreement": bool(agreed)}


def load(config_file: str, name: str, staging: str, tables: list[dict[str, str]], source: str) -> dict[str, Any]:
    # Repeatable: whatever an interrupted run left in the staging directory is removed first.
    target = Path(staging)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    result: dict[str, Any] = {"name": name, "source": source, "files": 0, "bytes": 0, "imported": [], "download_seconds": 0.0,
                              "import_seconds": 0.0}
    if not tables:
        # Without --table, `medusa download` fetches every table of the node's part.
        return result
    began = time.monotonic()
    download = subprocess.run(
        # --fqdn: the part of the backup's node whose tokens this node owns (itself, in place).
        ["medusa", "--config-file", config_file, "--fqdn", source, "download",
         "--backup-name", name, "--download-destination", str(target), "--ignore-system-keyspaces",
         *[argument for item in tables for argument in ("--table", f"{item['keyspace']}.{item['table']}")]],
        capture_output=True, text=True, check=False,
    )
    result["download_seconds"] = time.monotonic() - began
    if download.returncode != 0:
        result["error"] = "medusa download failed: " + " | ".join(download.stderr.strip().splitlines()[-5:])
        return result
    began = time.monotonic()
    for item in tables:
        for directory in sorted((target / item["keyspace"]).glob(f"{item['table']}-*")):
            files = [path for path in directory.rglob("*") if path.is_file()]
            result["files"] += len(files)
            result["bytes"] += sum(path.stat().st_size for path in files)
            done = subprocess.run(["nodetool", "import", item["keyspace"], item["table"], str(directory)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                result["error"] = (f"nodetool import {item['keyspace']} {item['table']} failed: "
                                   + " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:]))
                return result
            result["imported"].append(f"{item['keyspace']}.{item['table']}")
    result["import_seconds"] = time.monotonic() - began
    shutil.rmtree(target, ignore_errors=True)
    return result


def main(argv: list[str]) -> None:
    action, config = argv[1], load_config(argv[2])
    if action == "read":
        print(json.dumps(read(config, argv[3], argv[4:5] == ["live"])))
    elif action == "prepare":
        print(json.dumps(prepare(config, json.loads(argv[4]))))
    elif action == "load":
        print(json.dumps(load(argv[2], argv[3], argv[4], json.loads(argv[5]), argv[6])))
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main(sys.argv)
