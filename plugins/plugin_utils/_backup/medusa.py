# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Backups with Medusa: the preflight's refusals, and Medusa's output read back into figures and tables.

Controller-side and pure: the cassandra_backup role runs Medusa in a sidekick container per node and hands
its output here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import parse_ring
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import Refusal

ACTIONS = ("backup", "list", "verify", "purge")
MODES = ("differential", "full")
# Medusa's names become directory names in the backup store.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
STORAGES = ("local", "s3_compatible")
# S3's bucket names: 3-63 lower-case letters, digits, '.', '-', starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# Medusa's sizes (AbstractStorage._human_size_to_bytes): a number and a unit, or whole bytes.
_SIZE = re.compile(r"^(\d+(\.\d+)?(B|KB|MB|GB|TB)|\d+)$")


def storage_problems(storage: dict[str, Any]) -> list[str]:
    """The store's settings (cassandra_backup_storage and its s3 settings; of the keys only whether both are set)."""
    kind = str(storage.get("storage", "local"))
    if kind not in STORAGES:
        return [f"cassandra_backup_storage '{kind}' is not one of {', '.join(STORAGES)}"]
    if kind == "local":
        return []
    problems = []
    host, bucket, port = str(storage.get("host") or ""), str(storage.get("bucket") or ""), storage.get("port")
    if not _HOST.match(host):
        problems.append(f"cassandra_backup_s3_host '{host}' is not a host name or address of the S3-compatible server")
    if not _BUCKET.match(bucket) or ".." in bucket:
        problems.append(f"cassandra_backup_s3_bucket '{bucket}' is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    if not str(port).isdigit() or not 0 < int(str(port)) < 65536:
        problems.append(f"cassandra_backup_s3_port '{port}' is not a port number")
    if not storage.get("keys"):
        problems.append("cassandra_backup_s3_access_key_id and cassandra_backup_s3_secret_access_key must both be set "
                        "for cassandra_backup_storage=s3_compatible")
    for setting in ("multipart_threshold", "multipart_chunksize"):
        size = str(storage.get(setting) or "")
        if not _SIZE.match(size):
            problems.append(f"cassandra_backup_s3_{setting} '{size}' is not a size Medusa reads, like 20MB")
    return problems + _ca_problems(storage)


def _ca_problems(storage: dict[str, Any]) -> list[str]:
    """cassandra_backup_s3_ca_file, as community.crypto.x509_certificate_info read it on the controller (`ca`)."""
    path = str(storage.get("ca_file") or "")
    if not path:
        return []
    if not path.startswith("/"):
        return [f"cassandra_backup_s3_ca_file '{path}' is not an absolute path of a file on the controller"]
    problems = []
    if not _true(storage.get("secure")) or not _true(storage.get("ssl_verify")):
        problems.append(f"cassandra_backup_s3_ca_file '{path}' is given, but the store's certificate is not checked: "
                        "it needs cassandra_backup_s3_secure and cassandra_backup_s3_ssl_verify true")
    info = storage.get("ca") or {}
    if "expired" not in info:
        reason = str(info.get("msg") or "it could not be read").strip()
        problems.append(f"cassandra_backup_s3_ca_file '{path}' is not a PEM certificate: {reason}")
    elif info.get("expired"):
        problems.append(f"cassandra_backup_s3_ca_file '{path}' has expired ({info.get('not_after', '?')})")
    return problems


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "yes", "1", "on")


def nodes_from_reads(reads: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """{host: {"containers": `docker inspect` of the stack's Cassandra containers, "rings": {node: nodetool status}}}
    -> one node per container (rollback copies of an upgrade left out): name, host, ip, image, running,
    data_container, ring."""
    nodes: list[dict[str, Any]] = []
    for host, read in sorted(reads.items()):
        for container in read.get("containers") or []:
            name = str(container.get("Name", "")).lstrip("/")
            if name.endswith("-rollback"):
                continue
            labels = (container.get("Config") or {}).get("Labels") or {}
            nodes.append({
                "name": name,
                "host": host,
                "ip": labels.get("io.corral.requested-ip", ""),
                "data_container": labels.get("io.corral.data-container", ""),
                "image": (container.get("Config") or {}).get("Image", ""),
                "running": bool((container.get("State") or {}).get("Running")),
                "ring": (read.get("rings") or {}).get(name, ""),
            })
    return nodes


def plan(action: str, name: str, mode: str, nodes: list[dict[str, Any]],
         storage: dict[str, Any] | None = None) -> dict[str, Any]:
    """Refuse before anything changes; else the nodes to run Medusa on, each with the version it runs.

    `nodes`: one per Cassandra container of the stack found on the hosts (nodes_from_reads()); `storage`: the
    store's settings (storage_problems()).
    """
    problems: list[str] = storage_problems(storage or {})
    # restore is the restore entry point's (restore.yml), not a backup_action.
    if action not in (*ACTIONS, "restore"):
        problems.append(f"backup_action '{action}' is not one of {', '.join(ACTIONS)}")
    if action in ("verify", "restore") and not name:
        what = "backup_action=verify" if action == "verify" else "a restore"
        problems.append(f"{what} needs the backup's name: -e backup_name=NAME (see -e backup_action=list)")
    if name and not _NAME.match(name):
        problems.append(f"backup_name '{name}' is not a name Medusa can store: letters, digits, '_', '.', '-'")
    if action == "backup" and mode not in MODES:
        problems.append(f"cassandra_backup_mode '{mode}' is not one of {', '.join(MODES)}")
    if not nodes:
        problems.append("no Cassandra container of the stack runs on any host of the play")
    ips = sorted(str(node.get("ip", "")) for node in nodes)
    for node in sorted(nodes, key=lambda item: str(item["name"])):
        problems += _node_problems(node, ips)
    if problems:
        what = "restore" if action == "restore" else "backup"
        raise Refusal(f"the {what} is refused; nothing was changed:\n" + "\n".join(problems))
    return {"nodes": [{**node, "version": image_version(str(node["image"]))} for node in nodes]}


def _node_problems(node: dict[str, Any], ips: list[str]) -> list[str]:
    where = f"{node['name']} on {node['host']}"
    if not node.get("running"):
        return [f"{where} is down (its container is not running): every node must be up"]
    if not node.get("ip"):
        return [f"{where} has no io.corral.requested-ip label: it is not a node this collection deployed"]
    seen = {row["address"]: row["state"] for row in parse_ring(str(node.get("ring") or ""))}
    if not seen:
        return [f"{where} did not answer nodetool status: every node must be up"]
    return [
        f"{where} sees {ip} as {seen.get(ip, 'absent')}, not UN: every node must be Up/Normal"
        for ip in ips
        if seen.get(ip) != "UN"
    ]


def image_version(image: str) -> str:
    """'registry:5000/corral/cassandra:5.0.8' -> '5.0.8' (the tag; a digest or no tag has no version)."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last and "@" not in last else ""


_BACKUP_DONE = re.compile(r"Backup done: (?P<name>\S+) \((?P<kind>differential|full)\)")
_FILES = re.compile(r"- (?P<files>\d+) files, (?P<size>[\d.]+ ?[A-Za-z]*)\s*$", re.M)
_COPIED = re.compile(r"- (?P<copied>\d+) files copied from host \((?P<new>\d+) new, (?P<reuploaded>\d+) reuploaded\)")
_KEPT = re.compile(r"- (?P<kept>\d+) kept from previous backup")


def backup_figures(output: str) -> dict[str, Any]:
    """`medusa backup-node`'s summary -> files, size, copied (new + reuploaded) and kept from earlier backups."""
    done = _BACKUP_DONE.search(output)
    files, copied, kept = _FILES.search(output), _COPIED.search(output), _KEPT.search(output)
    if not (done and files and copied):
        raise ValueError(f"Medusa printed no backup summary: {last_lines(output)}")
    return {
        "name": done["name"],
        "kind": done["kind"],
        "files": int(files["files"]),
        "size": files["size"],
        "copied": int(copied["copied"]),
        "new": int(copied["new"]),
        "reuploaded": int(copied["reuploaded"]),
        "kept": int(kept["kept"]) if kept else 0,
    }


# Medusa's log lines start with their time in brackets: "[2026-12-06 10:20:01,000] INFO: ...".
_LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d ")


def list_json(output: str) -> list[dict[str, Any]]:
    """`medusa list-backups --output json`: its one JSON line among the log lines."""
    for line in output.splitlines():
        if line.startswith("[") and not _LOG_LINE.match(line):
            found: list[dict[str, Any]] = json.loads(line)
            return found
    raise ValueError(f"Medusa printed no list of backups: {last_lines(output)}")


def backups(listings: dict[str, list[dict[str, Any]]], ips: dict[str, str]) -> list[dict[str, Any]]:
    """Each node's own list (its backup directory) -> one entry per backup name across the stack.

    A backup is complete when every node of the stack holds its part finished; Medusa's own completeness
    expects every node in one shared store, which a directory per host is not.
    """
    by_name: dict[str, dict[str, Any]] = {}
    for node, listing in listings.items():
        for cluster_backup in listing:
            parts = [
                part
                for part in cluster_backup.get("nodes", []) + cluster_backup.get("incomplete_nodes_list", [])
                if part.get("fqdn") == ips[node]
            ]
            entry = by_name.setdefault(
                cluster_backup["name"],
                {"name": cluster_backup["name"], "type": cluster_backup.get("backup_type", "?"), "started": None,
                 "finished_nodes": [], "size": 0, "objects": 0},
            )
            for part in parts:
                if part.get("finished"):
                    entry["finished_nodes"].append(node)
                    entry["size"] += int(part.get("size") or 0)
                    entry["objects"] += int(part.get("num_objects") or 0)
                started = part.get("started")
                if started is not None and (entry["started"] is None or started < entry["started"]):
                    entry["started"] = started
    for entry in by_name.values():
        entry["finished_nodes"].sort()
        entry["complete"] = sorted(entry["finished_nodes"]) == sorted(ips)
    return sorted(by_name.values(), key=lambda entry: (entry["started"] or 0, entry["name"]))


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"


def backups_table(entries: list[dict[str, Any]], node_count: int) -> list[str]:
    """The list as lines: name, type, nodes finished, size and files over all nodes."""
    if not entries:
        return ["no backups"]
    rows = [["BACKUP", "TYPE", "NODES", "SIZE", "FILES", "STATE"]]
    for entry in entries:
        rows.append([
            entry["name"], entry["type"], f"{len(entry['finished_nodes'])}/{node_count}",
            format_size(entry["size"]), str(entry["objects"]), "complete" if entry["complete"] else "INCOMPLETE",
        ])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


_PURGED = re.compile(r"Purged (?P<objects>\d+) objects with a total size of (?P<size>[\d.]+ ?[A-Za-z]*)")
_CANDIDATES = re.compile(r"(?P<backups>\d+) backups are candidate to be purged")


def purge_figures(output: str) -> dict[str, Any]:
    """`medusa purge` -> backups purged, objects and size freed."""
    purged, candidates = _PURGED.search(output), _CANDIDATES.search(output)
    if not (purged and candidates):
        raise ValueError(f"Medusa printed no purge summary: {last_lines(output)}")
    return {"backups": int(candidates["backups"]), "objects": int(purged["objects"]), "size": purged["size"]}


def last_lines(output: str, count: int = 5) -> str:
    lines = [line for line in str(output or "").splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"


def json_line(output: str, script: str) -> dict[str, Any]:
    """A sidekick script's one JSON object among Medusa's log lines."""
    for line in output.splitlines():
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise ValueError(f"{script} printed no result: {last_lines(output)}")


def verify_json(output: str) -> dict[str, Any]:
    """The verify script's result (files/verify_node.py of the role)."""
    return json_line(output, "the verify script")


def outputs(runs: list[dict[str, Any]]) -> dict[str, str]:
    """docker_container results (detach=false; loop items: the nodes) -> {node: the sidekick's output}.

    A sidekick that could not start has no output: the module's message stands for it.
    """
    found: dict[str, str] = {}
    for run in runs:
        output = (run.get("container") or {}).get("Output")
        found[str(run["item"]["name"])] = str(output if output is not None else run.get("msg", ""))
    return found


def report(action: str, outputs: dict[str, str], ips: dict[str, str]) -> dict[str, Any]:
    """Each node's Medusa output -> the lines to print, the figures per node and the problems (which fail the run)."""
    problems: list[str] = []
    figures: dict[str, Any] = {}
    for node in sorted(outputs):
        try:
            if action == "backup":
                figures[node] = backup_figures(outputs[node])
            elif action == "list":
                figures[node] = list_json(outputs[node])
            elif action == "verify":
                figures[node] = verify_json(outputs[node])
            elif action == "purge":
                figures[node] = purge_figures(outputs[node])
            elif action == "store":
                figures[node] = json_line(outputs[node], "the store check")
        except ValueError as exc:
            problems.append(f"{node}: {exc}")
    if problems:
        return {"lines": [], "figures": figures, "problems": problems}
    if action == "backup":
        lines = [
            f"{node}: {f['kind']} backup {f['name']}: {f['files']} files, {f['size']}; {f['copied']} copied "
            f"({f['new']} new, {f['reuploaded']} reuploaded), {f['kept']} kept from earlier backups"
            for node, f in sorted(figures.items())
        ]
    elif action == "list":
        lines = backups_table(backups(figures, ips), len(ips))
    elif action == "verify":
        lines, problems = _verify_lines(figures)
    elif action == "store":
        lines, problems = _store_lines(figures)
    else:
        lines = [
            f"{node}: {f['backups']} backups purged, {f['objects']} files freed ({f['size']})"
            for node, f in sorted(figures.items())
        ]
    return {"lines": lines, "figures": figures, "problems": problems}


def _verify_lines(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    problems: list[str] = []
    for node, result in sorted(results.items()):
        name = result.get("name", "?")
        if not result.get("exists"):
            problems.append(f"{node}: holds no backup {name}")
        elif not result.get("finished"):
            problems.append(f"{node}: its part of {name} never finished")
        elif result.get("errors"):
            problems += [f"{node}: {error.strip()}" for error in result["errors"]]
        else:
            lines.append(f"{node}: {name} verified: {result.get('objects', '?')} files as the manifest lists them")
    return lines, problems


# What to do about each failure of files/check_store.py, by its error and the text of the TLS error.
_STORE_HINTS = {
    "connect": "no answer: check cassandra_backup_s3_host and cassandra_backup_s3_port, and that every node reaches it",
    "http_404": "the bucket does not exist: create it first",
    "http_403": "the store refused the keys (cassandra_backup_s3_access_key_id, cassandra_backup_s3_secret_access_key) "
                "or their rights on the bucket",
    "trust_store": "the sidekick image is not the one the role expects (lab/images/medusa)",
}


def store_hint(result: dict[str, Any]) -> str:
    error, detail = str(result.get("error")), str(result.get("detail", ""))
    if error != "tls":
        return _STORE_HINTS.get(error, "")
    if "mismatch" in detail:
        return "its certificate does not name the host the nodes reach it by (cassandra_backup_s3_host)"
    if "CERTIFICATE_VERIFY_FAILED" in detail:
        if result.get("ca"):
            return "its certificate is not signed by the CA of cassandra_backup_s3_ca_file"
        return "its certificate is not signed by a CA the sidekick trusts: give that CA as cassandra_backup_s3_ca_file"
    if "NO_CERTIFICATE_OR_CRL_FOUND" in detail:
        return "cassandra_backup_s3_ca_file holds no PEM certificate (a DER file must be converted to PEM)"
    if "WRONG_VERSION_NUMBER" in detail or "record layer" in detail:
        return "it does not answer TLS on that port (cassandra_backup_s3_secure=false for http)"
    return ""


def _store_lines(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Each node's check of its S3 store (files/check_store.py) -> a line per node, or a problem per node."""
    lines: list[str] = []
    problems: list[str] = []
    for node, result in sorted(results.items()):
        store = f"{result.get('endpoint', '?')} (bucket {result.get('bucket', '?')})"
        if result.get("ok"):
            checked = "certificate checked" if result.get("verify") else "certificate not checked"
            if not str(result.get("endpoint", "")).startswith("https:"):
                checked = "plain http"
            lines.append(f"{node}: {store} answered in {result.get('seconds', '?')} s, {checked}")
            continue
        error = str(result.get("error", "?"))
        what = {"tls": "TLS", "connect": "connection"}.get(error, error.replace("_", " ").upper())
        hint = store_hint(result)
        problems.append(f"{node} cannot use the S3 store {store} after {result.get('seconds', 0)} s: {what}: "
                        f"{result.get('detail', '')}" + (f" ({hint})" if hint else ""))
    return lines, problems
