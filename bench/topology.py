"""Times adding a fourth node and removing it again against one node's start, with the canary's p99, in one run.

    .venv/bin/python bench/topology.py                   Cassandra 3.9 (the lab's classic version)
    .venv/bin/python bench/topology.py --version 5.0.8

It starts from nothing (molecule/shared/reset-stack.yml removes the stack with its data and any lab-host4 left),
creates lab-host4 (lab/lab.sh extra create, as molecule/topology's prepare does), deploys the three-node stack with
site.yml on the four hosts (so that the add does not install lab-host4's engine) and writes --rows rows at QUORUM
(tests/lab/upgrade/labclient.py, replication factor 3). Then:

  1. one node's start: the stack's image pulled on lab-host4 (timed apart), then lab/images/cassandra/smoke.sh runs
     one fresh node there, from `docker run` to CQL and UN, as bench/stack_bringup.sh measures it. A fresh node
     rather than a restart (bench/upgrade.py's unit): the node that joins is a fresh node too, with an empty data
     directory, on the same host and image; a restart drains and replays a commit log that a joiner does not have.
     The smoke node skips the gossip waits (ring delay 1 s), which only a brand-new cluster may do: a joiner waits
     the full ring delay (30 s) before it streams, part of what the ratio shows;
  2. add: site.yml with cdb4 in cassandra_stack_nodes (tests/lab/topology's node and inventory) - the whole run, and
     from its task times: the bootstrap (cdb4's container start to Up/Normal, CQL and one schema as the stack's wait
     judges it), the cleanup of the three others, the preflight and canary baseline before them; from cdb4's log,
     when it joined, slept the ring delay, streamed and served CQL;
  3. remove: site.yml with cdb4 in cassandra_stack_remove_nodes - the whole run and the decommission alone.

Each site.yml run starts the stack's canary (cassandra_upgrade's client on the overlay, QUORUM writes and reads): its
figures before the change and during it, and each gated step's p99, come from the run's own output (the JSON
callback: the canary's report and its gates' messages); no second client runs. The bench ends with the lab as the
topology scenario's cleanup leaves it, also when a step fails: cdb4 decommissioned if it joined (a second removal
run when the first did not finish), lab-host4 removed, the three-node stack running.
Run it under the lab lock: flock /work/main/.cache/lab.lock .venv/bin/python bench/topology.py.
Results: .cache/bench-topology.json (after a failed step: the figures before it and `failed`); every playbook's
whole output in .cache/bench-topology.log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "lab"), str(ROOT / "tests" / "lab" / "topology")]
# The upgrade bench's lab helpers, the lab suites' JSON reader, and the topology scenario's nodes, inventory and
# canary task names: one definition each.
from refusal import json_report, playbook_env
from test_topology import (
    _CANARY_LINE,
    CANARY_REPORT,
    CANARY_VERDICT,
    CDB4,
    FOUR,
    INVENTORY,
    THREE,
)
from upgrade import client, lab, log

PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
LOG = ROOT / ".cache" / "bench-topology.log"
RESULT = ROOT / ".cache" / "bench-topology.json"
HOST4, HOST4_CONTAINER = "lab-host4", "corral-lab-host4"
NODE4, IP4 = str(CDB4["name"]), str(CDB4["ip"])
SEED, SEED_HOST = "cdb1", "corral-lab-host1"
# The stack's tasks that bound the steps (roles/cassandra_stack/tasks/phase.yml, topology_change.yml).
PHASE_START = "Start: "
PHASE_GATE = "Canary: gate on what clients saw: "
CANARY_START = "Start the canary and take its baseline"
CLEANUP_TASK = "Clean up the nodes that held data before the new nodes joined, one at a time"
DECOMMISSION_TASK = "Decommission the nodes taken out of the inventory"
# A canary gate's message when it passed (plugins/plugin_utils/_upgrade/canary.py, _passed).
_VERDICT = re.compile(
    r"canary, (?P<node>.+?): (?P<ops>\d+) ops, 0 failed during its step \(p99 (?P<p99_ms>[\d.]+) ms, "
    r"max (?P<max_ms>[\d.]+) ms\); p99 (?P<window_p99_ms>[\d.]+) ms over (?P<window_s>[\d.]+) s after it was healthy, "
    r"under (?P<limit_ms>[\d.]+) ms"
)
# What a joining node logs on its way in (Cassandra's StorageService), in order; the first line of each counts.
JOIN_MARKS: tuple[tuple[str, str], ...] = (
    ("joining", r"JOINING: "),
    ("ring_delay_sleep", r"JOINING: sleeping \d+ ms for pending range setup"),
    ("streaming", r"JOINING: Starting to bootstrap"),
    ("streamed", r"Bootstrap completed"),
    ("cql", r"Starting listening for CQL clients"),
)
_DOCKER_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z\s")


@dataclass
class Run:
    """One ansible-playbook run with the JSON callback: seconds, exit code, tasks in order (name, start, end, hosts)."""

    seconds: float
    rc: int
    tasks: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0


def stamp(text: str) -> float:
    """Seconds since the epoch of the JSON callback's UTC times ('2026-12-06T20:59:37.123456Z')."""
    return datetime.fromisoformat(text.rstrip("Z") + "+00:00").timestamp()


def tasks_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's tasks in the order they started: name, start and end (epoch seconds) and each host's result."""
    found = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration", {})
            start = stamp(duration["start"]) if "start" in duration else None
            end = stamp(duration["end"]) if "end" in duration else start
            found.append({"name": task["task"]["name"], "start": start, "end": end, "hosts": task.get("hosts", {})})
    return found


def playbook(name: str, *args: str, extra_vars: dict[str, Any] | None = None, check: bool = True) -> Run:
    """ansible-playbook with the project's ansible.cfg and the JSON callback; the output goes to the bench's log."""
    env = playbook_env(ROOT / ".venv" / "bin")
    argv = [PLAYBOOK, name, *args] + (["--extra-vars", json.dumps(extra_vars)] if extra_vars else [])
    started = time.time()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.time() - started
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== {' '.join(argv[1:])} ({elapsed:.1f} s, rc {done.returncode})\n")
        handle.write(done.stdout + done.stderr)
    try:
        tasks = tasks_of(json_report(done.stdout))
    except ValueError:
        tasks = []
    if done.returncode != 0 and check:
        raise SystemExit(f"ansible-playbook {name} failed{': ' + failures(tasks) if tasks else ''} (see {LOG})")
    return Run(elapsed, done.returncode, tasks, started)


def failures(tasks: list[dict[str, Any]]) -> str:
    """What the failed tasks said."""
    return "; ".join(f"{task['name']}: {result.get('msg', '')}" for task in tasks
                     for result in task["hosts"].values() if result.get("failed"))


def first(tasks: list[dict[str, Any]], name: str, after: float | None = None) -> dict[str, Any] | None:
    """The first task whose name (role prefix aside) starts with `name`, started at or after `after`."""
    for task in tasks:
        bare = task["name"].split(" : ", 1)[-1]
        if bare.startswith(name) and task["start"] is not None and (after is None or task["start"] >= after):
            return task
    return None


def span(tasks: list[dict[str, Any]], begin: str, until: str | None = None) -> float | None:
    """Seconds from the start of task `begin` to the start of the first task `until` after it, or to its own end."""
    opened = first(tasks, begin)
    if opened is None:
        return None
    closed = first(tasks, until, opened["start"]) if until else opened
    if closed is None:
        return None
    return round((closed["start"] if until else closed["end"]) - opened["start"], 1)


def since_start(run: Run, name: str) -> float | None:
    """Seconds from the run's start to the start of task `name`."""
    task = first(run.tasks, name)
    return round(task["start"] - run.started, 1) if task else None


def joining_phase(tasks: list[dict[str, Any]], node: str) -> str:
    """The name of the bring-up phase that starts `node` ('one node at a time: cdb4'), from its Start task."""
    for task in tasks:
        bare = task["name"].split(" : ", 1)[-1]
        if bare.startswith(PHASE_START) and re.search(rf"\b{re.escape(node)}\b", bare):
            return bare[len(PHASE_START):]
    return node


def canary_figures(tasks: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The canary's report at the end of a run: {before|during: ops, seconds, failed, p50_ms, p99_ms}."""
    lines = [line for task in tasks if task["name"].endswith(CANARY_REPORT)
             for result in task["hosts"].values() for line in result.get("msg", [])]
    found = {}
    for match in filter(None, map(_CANARY_LINE.match, lines)):
        found[match[1]] = {
            "ops": int(match[2]),
            "seconds": float(match[3]),
            "failed": int(match[4]),
            "p50_ms": float(match[5]),
            "p99_ms": float(match[6]),
        }
    return found


def canary_steps(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each gated step's figures, from its gate's message: ops, p99 and max of the step, p99 of the window after it
    was healthy, and the limit."""
    steps: dict[str, dict[str, Any]] = {}
    for task in tasks:
        if CANARY_VERDICT not in task["name"]:
            continue
        step = task["name"].split(CANARY_VERDICT, 1)[1]
        for result in task["hosts"].values():
            match = _VERDICT.search(str(result.get("msg", "")))
            steps[step] = (
                {key: (value if key == "node" else float(value)) for key, value in match.groupdict().items()}
                if match else {"failed": bool(result.get("failed")), "message": str(result.get("msg", ""))}
            )
    return steps


def join_marks(docker_log: str) -> dict[str, float]:
    """Seconds from the node's first log line to each of JOIN_MARKS, from `docker logs -t` (absent marks left out)."""
    times: list[tuple[float, str]] = []
    for line in docker_log.splitlines():
        match = _DOCKER_STAMP.match(line)
        if match:
            fraction = float(f"0.{match[2]}") if match[2] else 0.0
            times.append((datetime.fromisoformat(match[1] + "+00:00").timestamp() + fraction, line[match.end():]))
    if not times:
        return {}
    origin = times[0][0]
    marks = {}
    for name, pattern in JOIN_MARKS:
        seen = next((at for at, text in times if re.search(pattern, text)), None)
        if seen is not None:
            marks[name] = round(seen - origin, 1)
    return marks


def ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 2) if part is not None and whole else None


def step_report(run: Run, steps: dict[str, float | None]) -> dict[str, Any]:
    """One site.yml run's figures: seconds, the named spans, the canary before/during and each gated step."""
    canary = canary_figures(run.tasks)
    gated = canary_steps(run.tasks)
    before = canary.get("before", {}).get("p99_ms")
    slowest = sorted(((task["end"] - task["start"], task["name"]) for task in run.tasks if task["start"] is not None),
                     reverse=True)[:10]
    return {
        "seconds": round(run.seconds, 1),
        **{f"{name}_s": value for name, value in steps.items()},
        "canary": canary,
        "canary_steps": gated,
        "p99_during_to_before": ratio(canary.get("during", {}).get("p99_ms"), before),
        "p99_step_to_before": {step: ratio(figures.get("p99_ms"), before) for step, figures in gated.items()},
        "slowest_tasks": [f"{seconds:6.1f} s  {name}" for seconds, name in slowest],
    }


def one_node_start(version: str, image: str) -> dict[str, Any]:
    """The image pulled on lab-host4, then one fresh node there to CQL and UN (smoke.sh), each timed."""
    started = time.time()
    pulled = lab(HOST4_CONTAINER, "docker", "pull", "-q", image, timeout=600)
    pull = time.time() - started
    if pulled.returncode != 0:
        raise SystemExit(f"docker pull {image} on {HOST4} failed: {pulled.stderr.strip()}")
    started = time.time()
    smoke = subprocess.run(
        ["bash", str(ROOT / "lab" / "images" / "cassandra" / "smoke.sh"), version, "docker", "exec", HOST4_CONTAINER, "docker"],
        env={**os.environ, "IMAGE": image}, capture_output=True, text=True, check=False, timeout=600,
    )
    seconds = time.time() - started
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== smoke.sh {version} on {HOST4} ({seconds:.1f} s, rc {smoke.returncode})\n{smoke.stderr}")
    if smoke.returncode != 0:
        raise SystemExit(f"one node's start on {HOST4} failed: see {LOG}")
    said = re.search(r"CQL after (\d+) s, nodetool status UN after (\d+) s", smoke.stderr)
    return {
        "pull_s": round(pull, 1),
        "start_s": round(seconds, 1),
        "smoke_cql_s": int(said[1]) if said else None,
        "smoke_un_s": int(said[2]) if said else None,
    }


def site(version: str, nodes: list[dict[str, Any]], check: bool = True, **extra: Any) -> Run:
    return playbook("site.yml", *INVENTORY, check=check,
                    extra_vars={"cassandra_stack_version": version, "cassandra_stack_nodes": nodes, **extra})


def removal(version: str, check: bool = True) -> Run:
    return site(version, THREE, check=check, cassandra_stack_remove_nodes=[NODE4])


def in_ring() -> bool:
    """cdb1's ring still lists cdb4's address."""
    status = lab(SEED_HOST, "docker", "exec", SEED, "nodetool", "status", timeout=120).stdout
    return bool(re.search(rf"^\S\S\s+{re.escape(IP4)}\s", status, re.MULTILINE))


def measure(args: argparse.Namespace, state: dict[str, Any], report: dict[str, Any]) -> None:
    """The run; its figures go into `report` as they come (a failed step leaves those before it)."""
    version = args.version
    report.update(version=version, rows=args.rows)
    log(f"starting from nothing: {version} with site.yml on four hosts, three nodes")
    playbook("molecule/shared/reset-stack.yml")
    client("reset")
    created = subprocess.run(["bash", str(ROOT / "lab" / "lab.sh"), "extra", "create", HOST4],
                             capture_output=True, text=True, check=False)
    state["host4"] = True
    if created.returncode != 0:
        raise SystemExit(f"lab/lab.sh extra create {HOST4} failed: {created.stderr.strip()[-2000:]}")
    # A failed bring-up is run once more, as bench/upgrade.py does (the deploy only sets the stage).
    deploy = site(version, THREE, check=False)
    deploy_retried = deploy.rc != 0
    if deploy_retried:
        log(f"site.yml failed ({failures(deploy.tasks)}); running it once more")
        deploy = site(version, THREE)
    report.update(deploy_s=round(deploy.seconds, 1), deploy_retried=deploy_retried)
    image = lab(SEED_HOST, "docker", "inspect", "-f", "{{.Config.Image}}", SEED).stdout.strip()
    log(f"deployed in {deploy.seconds:.0f} s; one fresh node of {image} on {HOST4}")
    one = report["one_node"] = one_node_start(version, image)
    log(f"one node's start {one['start_s']} s (pull {one['pull_s']} s); writing {args.rows} rows at QUORUM")
    client("load", "--rows", str(args.rows))

    log("adding cdb4 (bootstrap, then cleanup of the others)")
    state["added"] = True
    add = site(version, FOUR)
    phase = joining_phase(add.tasks, NODE4)
    joined = lab(HOST4_CONTAINER, "docker", "logs", "-t", NODE4, timeout=120)
    add_report = report["add"] = step_report(add, {
        "before_change": since_start(add, PHASE_START + phase),
        "canary_baseline": span(add.tasks, CANARY_START, PHASE_START + phase),
        "bootstrap": span(add.tasks, PHASE_START + phase, PHASE_GATE + phase),
        "cleanup": span(add.tasks, CLEANUP_TASK),
    })
    add_report["cdb4_log_s"] = join_marks(joined.stdout + joined.stderr)
    log(f"added in {add.seconds:.0f} s (bootstrap {add_report['bootstrap_s']} s, cleanup {add_report['cleanup_s']} s)")

    log("removing cdb4 (decommission)")
    remove = removal(version)
    state["removed"] = True
    remove_report = report["remove"] = step_report(remove, {"decommission": span(remove.tasks, DECOMMISSION_TASK)})
    log(f"removed in {remove.seconds:.0f} s (decommission {remove_report['decommission_s']} s)")

    start = one["start_s"]
    report.update(
        ratio_add_to_start=ratio(add.seconds, start),
        ratio_bootstrap_to_start=ratio(add_report["bootstrap_s"], start),
        ratio_remove_to_start=ratio(remove.seconds, start),
        ratio_decommission_to_start=ratio(remove_report["decommission_s"], start),
    )


def restore_lab(version: str, state: dict[str, Any]) -> None:
    """Back to the lab as the topology scenario leaves it: cdb4 out of the ring, lab-host4 gone."""
    if state.get("added") and not state.get("removed") and in_ring():
        log("cdb4 is still in the ring: removing it")
        if removal(version, check=False).rc != 0:
            log(f"the removal failed too (see {LOG}); cdb4 stays in the ring as a dead node after {HOST4} goes: "
                "molecule/shared/reset-stack.yml then site.yml start over")
    if state.get("host4"):
        subprocess.run(["bash", str(ROOT / "lab" / "lab.sh"), "extra", "remove", HOST4], capture_output=True, check=False)
    client("reset")


def printed(report: dict[str, Any]) -> str:
    """The short report: times, ratios to one node's start, canary p99 during each step against before."""
    one, add, remove = report["one_node"], report["add"], report["remove"]
    lines = [
        f"Cassandra {report['version']}, {report['rows']} rows at RF 3; one node's start (fresh, {HOST4}): "
        f"{one['start_s']} s",
        f"add cdb4 (site.yml):       {add['seconds']:6.1f} s  {report['ratio_add_to_start']}x one node's start",
        f"  bootstrap to healthy:    {add['bootstrap_s']} s  {report['ratio_bootstrap_to_start']}x; "
        f"cleanup of three nodes {add['cleanup_s']} s; before the change {add['before_change_s']} s",
        f"remove cdb4 (site.yml):    {remove['seconds']:6.1f} s  {report['ratio_remove_to_start']}x",
        f"  decommission:            {remove['decommission_s']} s  {report['ratio_decommission_to_start']}x",
    ]
    for name, run in (("add", add), ("remove", remove)):
        before, during = run["canary"].get("before", {}), run["canary"].get("during", {})
        lines.append(f"canary during the {name}: p99 {during.get('p99_ms')} ms against {before.get('p99_ms')} ms before "
                     f"({run['p99_during_to_before']}x), {during.get('failed')} failed of {during.get('ops')}")
        lines += [f"  {step}: p99 {figures.get('p99_ms')} ms ({run['p99_step_to_before'][step]}x)"
                  for step, figures in run["canary_steps"].items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="3.9")
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    state: dict[str, Any] = {}
    report: dict[str, Any] = {}
    try:
        measure(args, state, report)
    except BaseException as error:
        report["failed"] = str(error) or type(error).__name__
        raise
    finally:
        try:
            restore_lab(args.version, state)
        except (OSError, subprocess.SubprocessError) as error:
            log(f"putting the lab back failed: {error}; lab/lab.sh extra remove {HOST4} removes the fourth host")
        RESULT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(printed(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
