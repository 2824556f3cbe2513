#!/usr/bin/env python3
"""Drives cqlclient.py in a container on the lab's overlay, from this machine.

    labclient.py reset                 remove the client container and its directory
    labclient.py load [--rows N] [--first-id N]   write N rows at QUORUM (keyspace upgrade_test), ids from first-id
    labclient.py start --start-id N    start the client in the background (writes and reads at QUORUM)
    labclient.py stop                  stop it (SIGTERM: it writes its summary) and print the summary
    labclient.py verify                read every row at ALL; compare with every acknowledged write
    labclient.py results               print every run's summary and the per-second stats as JSON
    labclient.py count --ranges L:H,.. read every row at ALL; how many ids of each [L, H) range exist

The client container runs on the swarm manager host, attached to the overlay, with the Cassandra
image's Python driver (pip does not work inside the lab's containers). Its directory there holds the
script, the stack's superuser password (mode 0600) and the results. Used by the upgrade scenario's
playbooks, its testinfra tests and bench/upgrade.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LAB_HOST = os.environ.get("UPGRADE_CLIENT_HOST", "corral-lab-manager")
IMAGE = os.environ.get("UPGRADE_CLIENT_IMAGE", "172.30.42.1:5000/corral/cassandra:3.9")
NETWORK = os.environ.get("UPGRADE_CLIENT_NETWORK", "managed")
DIRECTORY = "/var/tmp/corral-upgrade-client"
CONTAINER = "corral-upgrade-client"
CREDENTIALS = Path(
    os.path.expanduser(os.environ.get("UPGRADE_CREDENTIALS", "~/.config/corral-cassandra/CassandraDB.credentials"))
)
HOSTS = os.environ.get("UPGRADE_CASSANDRA_HOSTS", "10.42.0.48,10.42.0.49,10.42.0.50")


def host(
    *argv: str, stdin: str | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command in the lab host that runs the client."""
    return subprocess.run(
        ["docker", "exec", "-i", LAB_HOST, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def put(name: str, content: str, mode: str = "0644") -> None:
    host(
        "sh",
        "-c",
        f'umask 077; mkdir -p {DIRECTORY} && cat > "{DIRECTORY}/{name}" && chmod {mode} "{DIRECTORY}/{name}"',
        stdin=content,
    )


def prepare() -> None:
    password = CREDENTIALS.read_text(encoding="utf-8").strip()
    put("cqlclient.py", (HERE / "cqlclient.py").read_text(encoding="utf-8"))
    put("password", password + "\n", mode="0600")


def docker_run(*args: str, detach: bool = False, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    command = ["docker", "run", "--network", NETWORK, "-v", f"{DIRECTORY}:/work", "--entrypoint", "python3"]
    command += ["-d", "--name", CONTAINER] if detach else ["--rm"]
    command += [IMAGE, "/work/cqlclient.py", *args, "--hosts", HOSTS]
    return host(*command, check=False, timeout=timeout)


def cmd_reset(_args: argparse.Namespace) -> int:
    host("docker", "rm", "-f", CONTAINER, check=False)
    host("rm", "-rf", DIRECTORY)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    prepare()
    done = docker_run("load", "--rows", str(args.rows), "--first-id", str(args.first_id))
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-2000:])
    return done.returncode


def cmd_start(args: argparse.Namespace) -> int:
    prepare()
    host("docker", "rm", "-f", CONTAINER, check=False)
    started = docker_run("run", "--start-id", str(args.start_id), "--initial-rows", str(args.initial_rows), detach=True)
    sys.stdout.write(started.stdout)
    sys.stderr.write(started.stderr)
    return started.returncode


def cmd_stop(_args: argparse.Namespace) -> int:
    host("docker", "stop", "-t", "60", CONTAINER, check=False)
    logs = host("docker", "logs", CONTAINER, check=False)
    host("docker", "rm", "-f", CONTAINER, check=False)
    sys.stdout.write(logs.stdout)
    sys.stderr.write(logs.stderr[-4000:])
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    prepare()
    done = docker_run("verify", "--initial-rows", str(args.initial_rows))
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-2000:])
    return done.returncode


def cmd_count(args: argparse.Namespace) -> int:
    prepare()
    done = docker_run("count", "--ranges", args.ranges)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-2000:])
    return done.returncode


def results() -> dict[str, Any]:
    listing = host("sh", "-c", f"ls {DIRECTORY}", check=False).stdout.split()
    runs = {}
    stats: dict[str, list[dict[str, Any]]] = {}
    for name in listing:
        text = host("cat", f"{DIRECTORY}/{name}", check=False).stdout
        if name.startswith("run-") and name.endswith(".json"):
            runs[name[4:-5]] = json.loads(text)
        elif name.startswith("stats-") and name.endswith(".jsonl"):
            stats[name[6:-6]] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {"runs": runs, "stats": stats}


def cmd_results(_args: argparse.Namespace) -> int:
    print(json.dumps(results()))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reset", "load", "start", "stop", "verify", "results", "count"])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--first-id", type=int, default=0)
    parser.add_argument("--ranges", default="0:10000")
    parser.add_argument("--initial-rows", type=int, default=10000)
    parser.add_argument("--start-id", type=int, default=1_000_000)
    args = parser.parse_args()
    commands = {
        "reset": cmd_reset,
        "load": cmd_load,
        "start": cmd_start,
        "stop": cmd_stop,
        "verify": cmd_verify,
        "results": cmd_results,
        "count": cmd_count,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
