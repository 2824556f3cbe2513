"""Backup and restore throughput per node (MB/s) and the time to restore a table, on the lab's stack (5.0.8).

    .venv/bin/python bench/backup_restore.py                   100,000 rows of 2 KB (600 MB on disk: 3 replicas)
    .venv/bin/python bench/backup_restore.py --rows 50000 --row-bytes 4096

On the stack the lab runs (stack-current's 5.0.8 stack, deployed: run it after that scenario's converge), it
writes --rows rows of --row-bytes random bytes into bench_restore.blobs (replicated to 3, compression off so that
the bytes on disk are the bytes written) from a client container on the overlay, flushes, then:

  1. backup:  `backup.yml -e backup_name=bench-<time>` (differential: the table's files are new to the store, so
              all of them are copied); per node, the bytes of the table in the node's store over Medusa's own
              "Real duration" of the backup;
  2. restore: the table dropped, `restore.yml -e backup_name=... -e restore_tables=bench_restore.blobs`, timed as a
              whole (the time to restore a table), and per node the download and the `nodetool import` from the
              restore's own figures;
  3. check:   every row read at ALL after the restore: their count against --rows, their SHA-256 against the rows
              read at ALL before the backup (tests/lab/blob_rows.py, the drills' own client); the keyspace dropped
              at the end (the backup stays in the stores: `backup.yml -e backup_action=purge` removes it with the
              retention).

Run it under the lab lock: flock /work/main/.cache/lab.lock .venv/bin/python bench/backup_restore.py.
Results: .cache/bench-backup-restore.json; the playbooks' output in .cache/bench-backup-restore.log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
CREDENTIALS = Path.home() / ".config" / "corral-cassandra" / "CassandraDB.credentials"
CLIENT_HOST = "corral-lab-manager"
CLIENT_IMAGE = "172.30.42.1:5000/corral/cassandra:5.0.8"
CLIENT_DIR = "/var/tmp/corral-bench-restore"
HOSTS = "10.42.0.48,10.42.0.49,10.42.0.50"
NODES = {"cdb1": "corral-lab-host1", "cdb2": "corral-lab-host2", "cdb3": "corral-lab-host3"}
KEYSPACE, TABLE = "bench_restore", "blobs"
LOG = ROOT / ".cache" / "bench-backup-restore.log"
RESULTS = ROOT / ".cache" / "bench-backup-restore.json"

# Runs in the client container (the 5.0.8 image's Python driver): write the rows, or count them at ALL.
CLIENT = (ROOT / "tests" / "lab" / "blob_rows.py").read_text(encoding="utf-8")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def lab(host: str, *argv: str, stdin: str | None = None, timeout: float = 1800, show_stderr: bool = False) -> str:
    done = subprocess.run(["docker", "exec", "-i", host, *argv], input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{host}: {' '.join(argv[:4])} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")
    if show_stderr:
        for line in done.stderr.splitlines():
            log(line)
    return done.stdout


def client(*args: str) -> str:
    lab(CLIENT_HOST, "sh", "-c", f"umask 077; mkdir -p {CLIENT_DIR} && cat > {CLIENT_DIR}/client.py",
        stdin=CLIENT)
    lab(CLIENT_HOST, "sh", "-c", f"umask 077; cat > {CLIENT_DIR}/password",
        stdin=CREDENTIALS.read_text(encoding="utf-8").strip() + "\n")
    # What the client says beside its result (the writes it wrote again after a timeout) is shown.
    return lab(CLIENT_HOST, "docker", "run", "--rm", "--network", "managed", "-v", f"{CLIENT_DIR}:/work",
               "--entrypoint", "python3", CLIENT_IMAGE, "/work/client.py", *args, HOSTS, show_stderr=True)


def cql(statement: str) -> str:
    password = CREDENTIALS.read_text(encoding="utf-8").strip()
    return lab(NODES["cdb1"], "docker", "exec", "-e", f"CQLPW={password}", "cdb1", "sh", "-c",
               f'cqlsh -u admin -p "$CQLPW" 10.42.0.48 -e "{statement}"')


def playbook(name: str, extra: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """ansible-playbook with the JSON callback: its wall time and report."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}")
    began = time.monotonic()
    done = subprocess.run([PLAYBOOK, name, "--extra-vars", json.dumps(extra)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.monotonic() - began
    with LOG.open("a", encoding="utf-8") as out:
        out.write(f"=== {name} {json.dumps(extra)} rc={done.returncode} {seconds:.1f} s\n{done.stdout}\n{done.stderr}\n")
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (rc {done.returncode}): see {LOG}")
    start = 0 if done.stdout.startswith("{") else done.stdout.index("\n{") + 1
    return seconds, json.loads(done.stdout[start:])


def task_results(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The loop results of every host's result of the tasks whose name ends with `name`."""
    return [
        item
        for play in report["plays"]
        for task in play["tasks"]
        if task["task"]["name"].endswith(name)
        for result in task["hosts"].values()
        for item in result.get("results", [])
    ]


_DURATION = re.compile(r"- Real duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
IPS = {"cdb1": "10.42.0.48", "cdb2": "10.42.0.49", "cdb3": "10.42.0.50"}


def backup_figures(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per node: Medusa's own duration of the backup, and the bytes of the table's files it copied to the store."""
    figures = {}
    for item in task_results(report, "Run Medusa in a sidekick of each node for backup"):
        node = item["item"]["name"]
        duration = _DURATION.search(item["container"]["Output"])
        seconds = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]) if duration else 0.0
        stored = lab(NODES[node], "sh", "-c", f"du -sb /cassandra/backups/CassandraDB/{IPS[node]}/data/{KEYSPACE} | cut -f1")
        figures[node] = {"seconds": seconds, "bytes": float(stored.strip() or 0)}
    return figures


def restore_figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per node: the restore script's own figures (bytes, download and import seconds)."""
    figures = {}
    for item in task_results(report, "Run the restore script in a sidekick of each node, one after the other"):
        output = item["container"]["Output"]
        line = next((line for line in output.splitlines() if line.startswith('{"name"') and "download_seconds" in line),
                    None)
        if line:
            figures[item["item"]["name"]] = json.loads(line)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--row-bytes", type=int, default=2048)
    args = parser.parse_args()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    name = "bench-" + time.strftime("%Y%m%d%H%M%S")

    log(f"writing {args.rows} rows of {args.row_bytes} bytes ({args.rows * args.row_bytes / 1e6:.0f} MB, 3 replicas)")
    began = time.monotonic()
    client("write", f"{KEYSPACE}.{TABLE}", str(args.rows), str(args.row_bytes))
    write_seconds = time.monotonic() - began
    for node, host in NODES.items():
        lab(host, "docker", "exec", node, "nodetool", "flush", KEYSPACE)
    on_disk = {
        node: int(lab(host, "sh", "-c", f"du -sb /cassandra/data/data/{KEYSPACE} | cut -f1"))
        for node, host in NODES.items()
    }
    log(f"written in {write_seconds:.0f} s; on disk per node: {on_disk}")
    written = client("digest", f"{KEYSPACE}.{TABLE}").strip().splitlines()[-1]

    log(f"backup {name}")
    backup_seconds, report = playbook("backup.yml", {"backup_name": name})
    backup = backup_figures(report)

    log("drop the table, restore it")
    cql(f"DROP TABLE {KEYSPACE}.{TABLE};")
    restore_seconds, report = playbook("restore.yml", {"backup_name": name, "restore_tables": f"{KEYSPACE}.{TABLE}"})
    restore = restore_figures(report)
    restored = client("digest", f"{KEYSPACE}.{TABLE}").strip().splitlines()[-1]
    counted = int(restored.split()[0])
    cql(f"DROP KEYSPACE {KEYSPACE};")
    # DROP TABLE and DROP KEYSPACE each leave a snapshot of the data (auto_snapshot): twice the data set on each node.
    for node, host in NODES.items():
        lab(host, "docker", "exec", node, "nodetool", "clearsnapshot", "--all", "--", KEYSPACE)

    lines = [f"data: {args.rows} rows x {args.row_bytes} B, replicated to 3; on disk per node (MB): "
             + ", ".join(f"{node} {size / 1e6:.0f}" for node, size in on_disk.items())]
    lines.append(f"backup.yml: {backup_seconds:.0f} s in all (nodes in parallel)")
    for node, figures in sorted(backup.items()):
        rate = figures["bytes"] / 1e6 / figures["seconds"] if figures["seconds"] else 0.0
        lines.append(f"  {node}: {figures['bytes'] / 1e6:.0f} MB in {figures['seconds']:.1f} s = {rate:.1f} MB/s "
                     "(Medusa's real duration: snapshot, copy, index)")
    lines.append(f"restore.yml of the table: {restore_seconds:.0f} s in all (nodes one after the other)")
    for node, figures in sorted(restore.items()):
        megabytes = figures["bytes"] / 1e6
        seconds = figures["download_seconds"] + figures["import_seconds"]
        lines.append(f"  {node}: {megabytes:.0f} MB, download {figures['download_seconds']:.1f} s, import "
                     f"{figures['import_seconds']:.1f} s = {megabytes / seconds if seconds else 0:.1f} MB/s")
    lines.append(f"rows at ALL after the restore: {counted} of {args.rows}, every row "
                 + ("equal to the rows written (SHA-256)" if restored == written else "NOT equal to the rows written"))
    print("\n".join(lines))
    RESULTS.write_text(json.dumps({"name": name, "rows": args.rows, "row_bytes": args.row_bytes, "on_disk": on_disk,
                                   "write_seconds": write_seconds, "backup_seconds": backup_seconds, "backup": backup,
                                   "restore_seconds": restore_seconds, "restore": restore, "counted": counted,
                                   "equal": restored == written, "lines": lines}, indent=2), encoding="utf-8")
    return 0 if counted == args.rows and restored == written else 1


if __name__ == "__main__":
    sys.exit(main())
