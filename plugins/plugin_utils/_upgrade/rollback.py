# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""A rollback across a change of the on-disk format: which nodes need their pre-upgrade snapshot restored.

Controller-side and free of Ansible imports. A rollback copy restarts on the data the newer version left: that
works while both versions share the on-disk format (3.x -> 3.11; 4.1 -> 5.0 in storage_compatibility_mode
CASSANDRA_4), and fails once the newer version wrote its own (3.11 -> 4.1: `nb` SSTables, its system tables, commit
log and hint versions). Such a node goes back to the snapshot its upgrade took (tasks/quiesce.yml) with the node
stopped; what the newer version wrote is moved aside, never deleted. The role reads each node's data directory on
its host (vars/main.yml, __cassandra_upgrade_data_script) and hands it here with the plan.
"""

from __future__ import annotations

import calendar
import datetime
import re
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade.plan import (
    Version,
    look_parts,
    observe_nodes,
    parse_version,
    read_containers,
)

SNAPSHOT_PREFIX = "corral-before-upgrade-to-"
# Under the node's data directory (its /var/lib/cassandra), next to data/: the same file system, so moving aside
# is a rename, and outside data/, where Cassandra would look for keyspaces.
KEPT_DIR = "corral-rollback"
ACKNOWLEDGE = "-e rollback_restore_snapshot=true"
ROLLBACK_RESTORE = f"ansible-playbook upgrade.yml -e upgrade_action=rollback {ACKNOWLEDGE}"
_TAG_TIME = re.compile(r"-(\d{8}T\d{6}Z)$")
_FORMAT = re.compile(r"^[a-z]{2}$")


def readable(sstable_format: str, version: Version) -> bool:
    """Whether a version reads SSTables of a format (the two letters that start a file name: mc, nb, oa, da).
    Each major reads its own letter and the ones before: 3.x up to m*, 4.x up to n*, 5.0 up to o*; the BTI
    format (d*) came with 5.0."""
    if sstable_format.startswith("d"):
        return version.major >= 5
    return sstable_format[:1] <= reads_up_to(version)


def reads_up_to(version: Version) -> str:
    """The last SSTable format letter a version reads (see readable): what files/rollback_restore.sh is told."""
    return chr(ord("m") + version.major - 3)


def format_generation(version: Version, storage_compatibility_mode: Any = None) -> int:
    """The on-disk format a version writes, by the major it belongs to. 5.0 writes 4.x's while in
    storage_compatibility_mode CASSANDRA_4 (its default); UPGRADING and NONE move it to its own."""
    if version.major == 5 and str(storage_compatibility_mode or "CASSANDRA_4").upper() == "CASSANDRA_4":
        return 4
    return version.major


def tag_time(tag: str) -> float | None:
    """corral-before-upgrade-to-4.1.10-20261207T051000Z -> seconds since the epoch (the time upgrade_node.yml gave)."""
    match = _TAG_TIME.search(tag)
    if not match:
        return None
    try:
        parsed = datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    return float(calendar.timegm(parsed.timetuple()))


def utc(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the hosts' reads ------------------------------------------------------------------------------


def read_data(names: list[str], reads: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each host's data read ({host: result}) -> {node: {dir, readable, snapshots, restored, repaired, formats}}.
    A node whose host did not answer is left out. The script prints, per node: `dir PATH`, then `snapshot TAG`,
    `restored TAG EPOCH`, `repaired TAG`, `format XX` lines, then its mark (rc 2: the directory is not readable)."""
    found: dict[str, dict[str, Any]] = {}
    for _host, result in sorted(reads.items()):
        if not isinstance(result, dict) or "stdout" not in result:
            continue
        for part in look_parts(str(result.get("stdout") or "")):
            if part["part"] != "data" or part["node"] not in names:
                continue
            entry: dict[str, Any] = {"dir": None, "readable": part["rc"] == 0, "snapshots": [], "restored": {},
                                     "repaired": [], "formats": []}
            for line in part["text"].splitlines():
                kind, _sep, rest = line.strip().partition(" ")
                words = rest.split()
                if kind == "dir" and rest:
                    entry["dir"] = rest.strip()
                elif kind == "snapshot" and words and words[0].startswith(SNAPSHOT_PREFIX):
                    entry["snapshots"].append(words[0])
                elif kind == "restored" and words:
                    entry["restored"][words[0]] = _number(words[1]) if len(words) > 1 else None
                elif kind == "repaired" and words:
                    entry["repaired"].append(words[0])
                elif kind == "format" and words and _FORMAT.match(words[0]):
                    entry["formats"].append(words[0])
            entry["snapshots"] = sorted(set(entry["snapshots"]), key=lambda tag: (tag_time(tag) or 0, tag))
            entry["formats"] = sorted(set(entry["formats"]))
            found[part["node"]] = entry
    return found


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- which nodes, and the refusals -----------------------------------------------------------------


def _chosen_tag(node: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The snapshot to restore: one a rollback already restored from, when no newer snapshot was taken since (it
    resumes), else the newest one taken before an upgrade to the version the node runs (an upgrade that failed and
    was re-run took one each time: the newest is the state just before the container that runs now). With the version
    unknown, the newest of any upgrade's."""

    def age(tag: str) -> tuple[float, str]:
        return (tag_time(tag) or 0, tag)

    prefix = f"{SNAPSHOT_PREFIX}{node['version']}-" if node.get("version") else SNAPSHOT_PREFIX
    tags = sorted((tag for tag in data["snapshots"] if tag.startswith(prefix)), key=age)
    restored = sorted(data["restored"], key=age)
    # A restored mark resumes only a rollback of this same upgrade: one as new as its snapshot. An older mark is an
    # earlier upgrade's, rolled back before this upgrade took a newer snapshot.
    if restored and (not tags or age(restored[-1]) >= age(tags[-1])):
        return restored[-1]
    return tags[-1] if tags else None


def _why(node: dict[str, Any], old: Version, data: dict[str, Any]) -> str | None:
    """Why the node's rollback copy cannot simply start on its data; None when it can. Facts first: SSTables on
    disk that the old version cannot read; then that the newer container ran (its start time), with a version
    whose on-disk format differs."""
    unreadable = [fmt for fmt in data.get("formats", []) if not readable(fmt, old)]
    current = parse_version(node.get("version"))
    ran = node.get("started_at") is not None
    crossed = current is not None and format_generation(current, node.get("storage_compatibility_mode")) != format_generation(old)
    if unreadable:
        return f"its data holds SSTables in format {', '.join(unreadable)}, which {old} cannot read"
    if crossed and ran:
        return (f"it ran {current}, which writes its own on-disk format (SSTables, system tables, commit log, hints) "
                f"that {old} cannot read")
    return None


def rollback_restores(plan_: dict[str, Any], reads: dict[str, Any], acknowledged: bool) -> dict[str, Any]:
    """What a rollback restores from snapshots, from the plan and each host's data read ({host: result}): restores
    ({node: {name, host, tag, taken, kept, done, why, ...}}), repairs (the nodes to repair once every node is back,
    in the stack's order: those restored now and those an earlier run restored and did not repair yet), problems
    (refusals, before any change), notes and summary (lines for the plan)."""
    result: dict[str, Any] = {"restores": {}, "repairs": [], "problems": [], "notes": [], "summary": []}
    if plan_.get("action") != "rollback":
        return result
    data = read_data([node["name"] for node in plan_["nodes"]], reads)
    problems: list[str] = result["problems"]
    unread, unreadable_dirs, missing, to_acknowledge = [], [], [], []
    for node in plan_["nodes"]:
        entry = data.get(node["name"])
        rollback = node.get("rollback")
        if not rollback:
            continue
        old = parse_version(rollback.get("version"))
        if old is None:
            continue
        if entry is None:
            unread.append(node)
            continue
        if not entry["readable"]:
            unreadable_dirs.append((node, entry))
            continue
        why = _why(node, old, entry)
        if why is None:
            continue
        tag = _chosen_tag(node, entry)
        if tag is None:
            missing.append((node, why))
            continue
        kept = f"{entry['dir']}/{KEPT_DIR}/{tag}" if entry["dir"] else f"{KEPT_DIR}/{tag}"
        restore = {
            "name": node["name"],
            "host": node["host"],
            "from": node.get("version") or "the newer version",
            "to": str(old),
            "reads_up_to": reads_up_to(old),
            "reads_bti": old.major >= 5,
            "tag": tag,
            "taken": tag_time(tag),
            "taken_text": utc(tag_time(tag)),
            "dir": entry["dir"],
            "kept": kept,
            "done": tag in entry["restored"],
            "why": why,
        }
        result["restores"][node["name"]] = restore
        if not restore["done"]:
            to_acknowledge.append(restore)
    if unread:
        problems.append(
            f"the data directories of {', '.join(node['name'] for node in unread)} were not read (their hosts did not "
            "answer): a rollback must know whether each node needs its snapshot restored"
        )
    for node, entry in unreadable_dirs:
        problems.append(
            f"{node['name']}'s data directory {entry['dir'] or '(not found)'} on {node['host']} cannot be read by the "
            "user Ansible connects as: a rollback must look at its snapshots and SSTables. Run as root (become)"
        )
    for node, why in missing:
        problems.append(
            f"{node['name']} on {node['host']} cannot go back to {node['rollback']['version']} on its data: {why}; and "
            f"it has no snapshot {SNAPSHOT_PREFIX}{node.get('version') or '<version>'}-* under its data directory (the "
            "upgrade ran with cassandra_upgrade_snapshot: false, or the snapshot was removed). Keep it on "
            f"{node.get('version')}: finish the upgrade (-e upgrade_action=finish), or restore its data from a backup "
            "(restore.yml)"
        )
    if to_acknowledge and not acknowledged:
        problems.append(acknowledgement_refusal(to_acknowledge))
    # Each node restored (now, or by an earlier run that stopped before its repair) is repaired once every node is
    # back; its repair marks the tags it restored from as repaired, so that a re-run does not repeat it.
    pending = {
        name: sorted(tag for tag in entry["restored"] if tag not in entry["repaired"]) for name, entry in data.items()
    }
    restored_before = [name for name, tags in pending.items() if tags and name not in result["restores"]]
    for name, restore in result["restores"].items():
        pending[name] = sorted(set(pending.get(name, [])) | {restore["tag"]})
    result["repairs"] = [
        {"name": node["name"], "host": node["host"], "tags": pending[node["name"]]}
        for node in plan_["nodes"] if pending.get(node["name"])
    ]
    if restored_before:
        result["notes"].append(
            f"{', '.join(restored_before)} {'was' if len(restored_before) == 1 else 'were'} restored from a snapshot "
            "by an earlier rollback and not repaired yet: nodetool repair -full runs once every node is back"
        )
    for restore in result["restores"].values():
        if restore["done"]:
            result["notes"].append(
                f"{restore['name']} was already restored from {restore['tag']} by an earlier run: it is not restored twice"
            )
    result["summary"] = _summary(result)
    return result


def _summary(result: dict[str, Any]) -> list[str]:
    lines = [
        f"{restore['name']}: its data goes back to its snapshot {restore['tag']} (taken {restore['taken_text']}) "
        f"before its rollback copy starts, as {restore['why']}; what {restore['from']} wrote is moved aside to "
        f"{restore['kept']} on {restore['host']}"
        for restore in result["restores"].values() if not restore["done"]
    ]
    if result["restores"]:
        lines.append(
            "the canary does not run: each restored node's schema goes back to its snapshot's, so a keyspace created "
            "now would exist on some nodes only"
        )
    if result["repairs"]:
        lines.append(
            "then, with every node back, nodetool repair -full on "
            + ", ".join(repair["name"] for repair in result["repairs"]) + ", one at a time"
        )
    return lines


def acknowledgement_refusal(restores: list[dict[str, Any]]) -> str:
    """The refusal of a rollback that needs a restore from snapshots without -e rollback_restore_snapshot=true."""
    first = restores[0]
    latest = max((restore["taken"] for restore in restores if restore["taken"] is not None), default=None)
    nodes = "; ".join(
        f"{restore['name']} on {restore['host']}: {restore['why']}; its snapshot {restore['tag']} was taken "
        f"{restore['taken_text']}"
        for restore in restores
    )
    return (
        f"rolling back to {first['to']} needs a restore from the snapshots taken before the upgrade, as the "
        f"on-disk format changed: a rollback copy cannot simply start again on what {first['from']} wrote. "
        f"{nodes}. A restore brings each node back to its snapshot, with the node stopped: what {first['from']} wrote "
        "is moved aside on its host (kept, not served), then nodetool repair -full on each node brings back what its "
        f"peers hold from before their own later snapshots. Writes acknowledged after the latest snapshot "
        f"({utc(latest)}) until the nodes are back on {first['to']} may be lost. To do it: {ROLLBACK_RESTORE}. To keep "
        f"every write instead, stay on {first['from']}: re-run the upgrade to complete it, then finish it "
        "(-e upgrade_action=finish)"
    )


# --- the automatic rollback of the one node whose upgrade failed ------------------------------------------------


def failed_node_kept(plan_: dict[str, Any], name: str, reads: dict[str, Any], snapshot: bool) -> dict[str, Any]:
    """Whether the node whose upgrade failed must not go back to its old container on its own: {keep, why, source,
    target, snapshot}. keep when its newer container ran and writes another on-disk format than the old version
    reads (its old container would start on data it cannot read, and stay down); then it and its rollback copy are
    kept, and a rollback with the acknowledgement restores its snapshot. reads: {host: the host script's read of the
    node and its rollback copy, after the failure} (skipped or unanswered: judged from the versions alone)."""
    step = next(node for node in plan_["nodes"] if node["name"] == name)
    target = parse_version(plan_["target"]["version"])
    result: dict[str, Any] = {"keep": False, "why": "", "source": "", "target": str(target or ""), "snapshot": snapshot}
    planned_source = parse_version(step["rollback"]["version"] if step["rollback"] else step["version"])
    model = dict(step.get("model") or {})
    if target is None or planned_source is None or not model:
        return result
    result["source"] = str(planned_source)
    mode = (model.get("cassandra_yaml") or {}).get("storage_compatibility_mode")
    if format_generation(target, mode) == format_generation(planned_source):
        return result
    found = read_containers({"nodes": [model]}, reads)
    try:
        seen = observe_nodes({"nodes": [model]}, found["containers"], found["copies"])[0]
    except ValueError:
        result.update(keep=True, why=(
            f"its containers could not be read after the failure, and {target} writes an on-disk format that "
            f"{planned_source} cannot read: had its {target} container run, its old one would not start on its data"
        ))
        return result
    old = parse_version((seen["rollback"] or {}).get("version")) or planned_source
    result["source"] = str(old)
    why = _why(seen, old, {"formats": []})
    if why is not None:
        result.update(keep=True, why=why)
    return result


# --- the run's output ---------------------------------------------------------------------------------


def restore_line(restore: dict[str, Any], output: str) -> str:
    """One progress line from the restore script's last line (`key=value` words)."""
    fields = dict(word.split("=", 1) for word in (output.strip().splitlines() or [""])[-1].split() if "=" in word)
    if fields.get("state") == "already":
        return f"{restore['name']}: already restored from {restore['tag']} by an earlier run (not restored twice)"
    return (
        f"{restore['name']}: back to its snapshot {restore['tag']} (taken {restore['taken_text']}): "
        f"{fields.get('moved', '?')} files and directories {restore['from']} wrote moved aside (commit log, hints and "
        f"saved caches too), {fields.get('linked', '?')} files linked in from the snapshot; kept in {restore['kept']} "
        f"on {restore['host']}"
    )


def restore_report(restores: dict[str, Any], repairs: list[dict[str, Any]], back: dict[str, Any]) -> list[str]:
    """What the rollback did to the data, at its end: each repair's output, the snapshots used, the window of writes
    that may be lost, where the moved-aside files are kept. repairs: the repair task's results (item: the node);
    back: {node: epoch} when each node was back on the old version (this run's restores)."""
    repaired: list[str] = []
    lines: list[str] = []
    for result in repairs:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        name = str((result.get("item") or {}).get("name") or "?")
        repaired.append(name)
        lines.extend(repair_lines(name, str(result.get("stdout") or "")))
    if not restores:
        return lines
    used = sorted(restores.values(), key=lambda restore: restore["taken"] or 0)
    latest = used[-1]
    back_times = [float(value) for value in back.values() if value is not None]
    lines += [
        "Restored from the snapshots taken before the upgrade: "
        + ", ".join(f"{restore['name']} ({restore['tag']}, taken {restore['taken_text']})" for restore in used) + ".",
        f"Writes acknowledged after {latest['taken_text']} (the latest snapshot, {latest['name']}'s) until the nodes "
        f"were back on {latest['to']}" + (f" (the last at {utc(max(back_times))})" if back_times else "")
        + " may be lost: a write is kept when one of its replicas took its snapshot after it, or was already back "
        "on the old version when it came.",
        ("nodetool repair -full ran on " + ", ".join(repaired) + ", one at a time.") if repaired
        else "No repair ran.",
        "What the newer version wrote is kept, not served, in: "
        + "; ".join(f"{restore['host']}:{restore['kept']}" for restore in used)
        + ". Remove it once it is not needed; the snapshots stay until removed with nodetool clearsnapshot -t <tag>.",
    ]
    return lines


def repair_lines(name: str, output: str) -> list[str]:
    """The lines of nodetool repair's output worth showing: each repair command's end, with the keyspace its start
    named, and errors (not the line of each range's session)."""
    keyspaces: dict[str, str] = {}
    lines: list[str] = []
    for line in str(output or "").splitlines():
        text = line.strip()
        started = re.search(r"Starting repair command #(\d+).*?repairing keyspace (\S+)", text)
        if started:
            keyspaces[started.group(1)] = started.group(2)
            continue
        finished = re.search(r"Repair command #(\d+) finished", text)
        if finished:
            keyspace = keyspaces.get(finished.group(1))
            lines.append(f"{name}: {text}" + (f" (keyspace {keyspace})" if keyspace else ""))
        elif re.search(r"error|failed|exception", text, re.IGNORECASE) and "Repair session" not in text:
            lines.append(f"{name}: {text}")
    return lines or [f"{name}: nodetool repair -full printed nothing to show"]
