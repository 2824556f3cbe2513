"""Times the rolling upgrade of the lab's three nodes against one node's restart, in the same run.

    .venv/bin/python bench/upgrade.py                         3.9 -> 3.10 (the lab's classic upgrade)
    .venv/bin/python bench/upgrade.py --from 4.1.10 --to 5.0.8

It starts from nothing (removes the stack and its data), deploys --from with site.yml, writes 10,000
rows and starts the test client (tests/lab/upgrade/cqlclient.py: writes and reads at QUORUM, one at
a time, in a container on the overlay). Then, with the client running:

  1. before:  --baseline seconds of client traffic alone;
  2. restart: one node (cdb3) restarted as the upgrade does it - nodetool disablebinary, disablegossip, the same grace,
              drain, container restart - until its peers see it Up/Normal and it answers CQL;
  3. upgrade: `ansible-playbook upgrade.yml -e version=--to`, timed as a whole (whole), from its start to its
              first disablebinary (preflight: the stack model and every check before a node changes), and from
              there to its end (rolling: three nodes, their gates and the cluster table);
  4. rollback (timed, not judged), which leaves the stack on --from.

It also reads, from the nodes' logs, how long the restarted node and each upgraded node took from its container's
start to its first log line, its messaging service and CQL.

A serial upgrade cannot beat 3x one restart; the target is within 3.3x. Both the whole run and its rolling
phase are set against the restart of the same run. The client's operations per second and p99 latency during
the upgrade are compared with before it (target: p99 within 2x). The upgrade's slowest tasks (the playbook
runs with ansible.posix.profile_tasks) are in the report too; the whole output is in .cache/bench-upgrade.log.
Run it under the lab lock: flock -o .cache/lab.lock .venv/bin/python bench/upgrade.py.
Results: .cache/bench-upgrade.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLIENT = [sys.executable, str(ROOT / "tests" / "lab" / "upgrade" / "labclient.py")]
PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
VICTIM, VICTIM_HOST, VICTIM_IP = "cdb3", "corral-lab-host3", "10.42.0.50"
PEERS = {"cdb1": "corral-lab-host1", "cdb2": "corral-lab-host2"}
GRACE = 5  # cassandra_upgrade_client_grace's default: the restart gets the same
LOG = ROOT / ".cache" / "bench-upgrade.log"
NODES = {"cdb1": "corral-lab-host1", "cdb2": "corral-lab-host2", "cdb3": "corral-lab-host3"}
# What a starting node logs on its way to serving clients, in order; the first line of each counts.
START_MARKS: tuple[tuple[str, str], ...] = (
    ("first_log", r"."),
    ("messaging", r"Starting Messaging Service"),
    ("cql", r"Starting listening for CQL clients"),
)
_DOCKER_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z\s?")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def playbook(*args: str, check: bool = True) -> tuple[float, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="40",
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    started = time.time()
    done = subprocess.run([PLAYBOOK, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.time() - started
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== ansible-playbook {' '.join(args)} ({elapsed:.1f} s, rc {done.returncode})\n")
        handle.write(done.stdout + done.stderr)
    if done.returncode != 0 and check:
        raise SystemExit(f"ansible-playbook {' '.join(args)} failed: see {LOG}")
    return (elapsed if done.returncode == 0 else -elapsed), done.stdout


def client(*args: str) -> str:
    return subprocess.run([*CLIENT, *args], capture_output=True, text=True, check=True, timeout=900).stdout


def lab(host: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", host, *argv], capture_output=True, text=True, check=False, timeout=timeout)


def victim_healthy() -> bool:
    """Both peers see the victim Up/Normal and it answers CQL (a login refusal is an answer)."""
    for node, host in PEERS.items():
        status = lab(host, "docker", "exec", node, "nodetool", "status").stdout
        if not re.search(rf"^UN\s+{re.escape(VICTIM_IP)}\s", status, re.MULTILINE):
            return False
    cql = lab(
        VICTIM_HOST,
        "docker",
        "exec",
        VICTIM,
        "cqlsh",
        "--connect-timeout=5",
        VICTIM_IP,
        "-e",
        "SELECT now() FROM system.local",
    )
    text = cql.stdout + cql.stderr
    return cql.returncode == 0 or "AuthenticationFailed" in text or "Bad credentials" in text


def restart_one_node() -> tuple[float, float]:
    """A node's restart as the upgrade does it, to Up/Normal as its peers see it and answering CQL.
    Returns its seconds, and the seconds of the check that saw it healthy (part of them)."""
    started = time.time()
    lab(VICTIM_HOST, "docker", "exec", VICTIM, "nodetool", "disablebinary")
    # As quiesce.yml: disablegossip runs within the grace, not before it.
    grace_from = time.time()
    lab(VICTIM_HOST, "docker", "exec", VICTIM, "nodetool", "disablegossip")
    time.sleep(max(0.0, GRACE - (time.time() - grace_from)))
    lab(VICTIM_HOST, "docker", "exec", VICTIM, "nodetool", "drain", timeout=600)
    lab(VICTIM_HOST, "docker", "restart", "-t", "120", VICTIM, timeout=300)
    while True:
        checked = time.time()
        if victim_healthy():
            return time.time() - started, time.time() - checked
        if time.time() - started > 600:
            raise SystemExit(f"{VICTIM} did not come back within 600 s")
        time.sleep(1)


def docker_time(text: str) -> float | None:
    """Seconds since the epoch of a Docker UTC time ('2026-12-07T00:58:01.123456789Z'), or None."""
    match = _DOCKER_STAMP.match(text.strip())
    if not match:
        return None
    fraction = float(f"0.{match[2]}") if match[2] else 0.0
    return datetime.fromisoformat(match[1] + "+00:00").timestamp() + fraction


def start_marks(started_at: str, docker_log: str) -> dict[str, float]:
    """Seconds from the container's start (its State.StartedAt) to each of START_MARKS, from `docker logs -t`
    (lines of earlier starts, and absent marks, left out)."""
    origin = docker_time(started_at)
    if origin is None:
        return {}
    times = [(at, line) for line in docker_log.splitlines() if (at := docker_time(line)) is not None and at >= origin]
    marks = {}
    for name, pattern in START_MARKS:
        seen = next((at for at, line in times if re.search(pattern, _DOCKER_STAMP.sub("", line, count=1))), None)
        if seen is not None:
            marks[name] = round(seen - origin, 1)
    return marks


def node_start(node: str) -> dict[str, float]:
    """How the node's container's last start went (start_marks), read from its host."""
    host = NODES[node]
    started = lab(host, "docker", "inspect", "-f", "{{.State.StartedAt}}", node).stdout
    logs = lab(host, "docker", "logs", "-t", "--since", started.strip(), node, timeout=120)
    return start_marks(started, logs.stdout + logs.stderr)


def first_quiesce(output: str) -> float | None:
    """Seconds into the run when the first node was quiesced, from the profile_tasks timestamps."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK [") and "nodetool disablebinary" in line:
            for following in lines[index + 1 : index + 4]:
                match = re.search(r"\)\s+(\d+):(\d+):(\d+)\.(\d+)\s", following + " ")
                if match:
                    hours, minutes, seconds, fraction = match.groups()
                    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction}")
    return None


def slowest_tasks(output: str, count: int = 15) -> list[str]:
    """The slowest tasks of the run, from profile_tasks' recap at the end of the output."""
    text = output.split("TASKS RECAP", 1)[-1] if "TASKS RECAP" in output else ""
    found = []
    for line in text.splitlines():
        match = re.match(r"^(.*?)\s-+\s+(\d+\.\d+)s$", line.strip())
        if match:
            found.append((float(match[2]), match[1].strip()))
    return [f"{seconds:6.1f} s  {name}" for seconds, name in sorted(found, reverse=True)[:count]]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def window(stats: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    lines = [line for line in stats if start <= line["t"] < end]
    latencies = [value for line in lines for value in line.get("lat_ms", [])]
    seconds = sum(line["seconds"] for line in lines) or 1.0
    return {
        "seconds": round(seconds, 1),
        "ops": sum(line["ops"] for line in lines),
        "failed": sum(line["failed"] for line in lines),
        "ops_per_s": round(sum(line["ops"] for line in lines) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default="3.9")
    parser.add_argument("--to", dest="target", default="3.10")
    parser.add_argument("--baseline", type=float, default=60)
    args = parser.parse_args()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")

    log(f"starting from nothing: {args.source} with site.yml")
    playbook("molecule/upgrade/reset.yml")
    # The deploy only sets the stage: a bring-up that fails once (a node of a fresh cluster that keeps
    # restarting has been seen) is run again, and the report says so.
    deploy = playbook("site.yml", "-e", f"cassandra_stack_version={args.source}", check=False)[0]
    deploy_retried = deploy < 0
    if deploy_retried:
        log("site.yml failed; running it once more")
        deploy = -deploy + playbook("site.yml", "-e", f"cassandra_stack_version={args.source}")[0]
    log(f"deployed in {deploy:.0f} s; writing 10,000 rows, starting the client")
    client("load", "--rows", "10000")
    client("start", "--start-id", "1000000")
    marks: dict[str, float] = {"before": time.time()}
    time.sleep(args.baseline)

    log(f"restarting {VICTIM} as the upgrade would")
    marks["restart"] = time.time()
    restart, restart_check = restart_one_node()
    log(f"{VICTIM} back to Up/Normal and CQL in {restart:.1f} s (its last check took {restart_check:.1f} s)")
    restart_start = node_start(VICTIM)
    time.sleep(20)

    log(f"upgrading to {args.target}")
    marks["upgrade"] = time.time()
    upgrade, output = playbook("upgrade.yml", "-e", f"version={args.target}")
    marks["upgraded"] = time.time()
    preflight = first_quiesce(output)
    log(f"upgraded in {upgrade:.1f} s (preflight {preflight} s)")
    upgrade_starts = {node: node_start(node) for node in NODES}
    time.sleep(10)

    log("rolling back")
    # Timed, not judged: a failed rollback is reported (see the log) and the client's figures are still taken.
    rollback = playbook("upgrade.yml", "-e", "upgrade_action=rollback", check=False)[0]
    client("stop")
    results = json.loads(client("results"))
    stats = results["stats"]["1000000"]

    rolling = upgrade - preflight if preflight is not None else None
    report = {
        "from": args.source,
        "to": args.target,
        "deploy_s": round(deploy, 1),
        "deploy_retried": deploy_retried,
        "restart_one_node_s": round(restart, 1),
        # The restart's own last health check (nodetool status on both peers, then cqlsh, one after the other).
        "restart_last_check_s": round(restart_check, 1),
        "upgrade_three_nodes_s": round(upgrade, 1),
        "upgrade_preflight_s": round(preflight, 1) if preflight is not None else None,
        "upgrade_rolling_s": round(rolling, 1) if rolling is not None else None,
        "ratio_upgrade_to_restart": round(upgrade / restart, 2),
        "ratio_rolling_to_restart": round(rolling / restart, 2) if rolling is not None else None,
        "ratio_preflight_to_restart": round(preflight / restart, 2) if preflight is not None else None,
        "upgrade_slowest_tasks": slowest_tasks(output),
        # Seconds from each container's start to its first log line, its messaging service and CQL, from its log:
        # the restarted node's, and each upgraded node's new container's.
        "restart_node_start": restart_start,
        "upgrade_node_starts": upgrade_starts,
        "rollback_three_nodes_s": round(abs(rollback), 1),
        "rollback_failed": rollback < 0,
        "client_before": window(stats, marks["before"], marks["restart"]),
        "client_during_restart": window(stats, marks["restart"], marks["restart"] + restart),
        "client_during_upgrade": window(stats, marks["upgrade"], marks["upgraded"]),
        # From the first node's disablebinary on: the part of the upgrade that touches nodes.
        "client_during_rolling": window(stats, marks["upgrade"] + (preflight or 0.0), marks["upgraded"]),
        "client_whole_run": results["runs"]["1000000"]["totals"],
    }
    before = report["client_before"]
    for name in ("upgrade", "rolling"):
        during = report[f"client_during_{name}"]
        report[f"p99_{name}_to_before"] = round(during["p99_ms"] / before["p99_ms"], 2) if before["p99_ms"] else None
    (ROOT / ".cache" / "bench-upgrade.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
