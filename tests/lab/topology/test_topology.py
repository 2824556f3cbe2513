"""Nodes added to and removed from the inventory, on a cluster with data (the three-node stack of the prepare,
and a fourth lab host, lab-host4, labelled hostname=cassandra4).

- cdb4 added to cassandra_stack_nodes: check mode shows the plan and changes nothing; site.yml bootstraps it and
  is killed (SIGKILL to it and every process it started: process_tree) during cdb1's cleanup. Each node that still
  owes its cleanup has its note, kept through the check run, which names them; the next run cleans up those and only
  those (their logs); cdb1, cdb2, cdb3 were cleaned up one at a time; every row reads back at ALL; a further run
  changes nothing.
- cdb4 taken out again: refused without cassandra_stack_remove_nodes, refused while a keyspace has replication
  factor 4, refused while cdb2 is down, each with no container changed. Then, with 14 MB more to stream and cdb4's
  streams throttled, site.yml is killed while cdb4 is LEAVING: the check run says its decommission is under way
  and is waited for (not refused as streaming), the next run waits for it (never asking for a second one) and
  removes its containers, its host directory kept; every row reads back at ALL; a further run changes nothing.
- With three nodes again, removing cdb3 is refused while the test keyspace has replication factor 3.
- Replacing a node refused while it is up, and for a node whose address is not in the ring. Then cdb3's host dies
  with its disks (lab/lab.sh host kill lab-host3) and rows are written at QUORUM while it is down. A new machine takes
  its name and address (lab/lab.sh host create lab-host3): site.yml installs its engine and joins it to the swarm,
  removing the dead host's swarm entry, and refuses the stack while cdb3 is not named for replacement; it is refused
  while cdb2 is down too; named in
  cassandra_stack_replace_nodes, a new cdb3 takes over the dead one's tokens (the same tokens as before, streamed: its
  SSTables are back on disk). The run is killed during cdb3's repair (the canary of the killed run saw no failure);
  the next run's check says it finishes the replacement, and the run repairs cdb3 (how long the dead node was down is
  unknown on a new machine; system_distributed.repair_history shows the repair) and restarts it without the
  replacement option; every row, those written while it was down too, reads back at ALL; a re-run changes nothing.

- A fault: a setting that needs new containers (a JVM option), rolled by site.yml one node at a time, with cdb2 also
  given an option its JVM refuses: cdb1 is recreated and passes its gates, cdb2's health gate stops the run (naming
  cdb2 and its log's error), cdb3 is untouched, the canary saw no failed operation and the rows read back at QUORUM;
  the run with the setting fixed completes (cdb2 and cdb3 recreated), every row reads back at ALL.

The add, the removal, the replacement and the fault's run are watched by the canary (cassandra_upgrade's, through
its entry points): each step gated, zero failed operations, its figures before and during noted in
.cache/topology/timings.txt. (The run with the setting fixed has none: cdb2 is down when it starts.)

Each test starts from what the one before left.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import testinfra
from cluster import NODES, cql, nodetool, select_count, superuser_password, wait_until_up_normal, write_rows
from process_tree import kill_tree
from refusal import BIN, ROOT, Run, containers, playbook_env, refusals, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
HOSTS = ("lab-manager", "lab-host1", "lab-host2", "lab-host3", "lab-host4")
INVENTORY = ("-i", "inventories/lab/hosts.yml", "-i", "tests/lab/topology/hosts.yml")
KEYSPACE = "topology"
ROWS = 500
CDB4 = {"name": "cdb4", "host_label": "hostname=cassandra4", "ip": "10.42.0.51", "seed": False, "data_container": "data4"}
THREE = [
    {"name": name, "host_label": label, "ip": ip, "seed": name == "cdb1", "data_container": data}
    for name, (_host, label, ip, data) in NODES.items()
]
FOUR = [*THREE, CDB4]
PLAN_TASK = "Show the nodes that join, leave and replace dead ones"
UNLISTED_TASK = "Refuse a node missing from the inventory, or named for removal or replacement wrongly"
REMOVAL_TASK = "Refuse a removal or a replacement the cluster cannot take now"
REPAIR_TASK = "Say why the replacement is repaired, or why not: cdb3"
REPLACE_OPTION = "-Dcassandra.replace_address_first_boot="
# The note in a node's data directory of the cleanup it owes (the role's __cassandra_stack_cleanup_note).
CLEANUP_NOTE = "/cassandra/data/corral-cleanup-owed"
# Rows of about 16 KB (incompressible) for cdb4 to stream while it leaves, throttled to 1 Mbit/s: a decommission
# that lasts long enough to be killed and looked at.
BLOB_ROWS = 900
# A hint window short enough for the dead cdb3 to be down longer (it is down for minutes): its replacement is repaired.
HINT_WINDOW = {"cassandra_yaml": {"max_hint_window_in_ms": 20000}}
WHILE_DOWN_ROWS = 100
# When the add began: the cleanup lines of the nodes' logs are read from then on.
STARTED: dict[str, str] = {}
# cdb3's tokens before it died, as cdb1 sees the ring.
DEAD: dict[str, list[str]] = {}
TIMINGS = ROOT / ".cache" / "topology" / "timings.txt"


def note(line: str) -> None:
    """A figure of this run, kept in .cache/topology/timings.txt."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    with TIMINGS.open("a") as timings:
        timings.write(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {line}\n")


@pytest.fixture(scope="module")
def lab(lab_host: Callable[[str], Host]) -> Callable[[str], Host]:
    """Any lab host by name; lab-host4 is not in the scenario's inventory, so it is reached by docker exec."""

    def get(name: str) -> Host:
        return testinfra.get_host("docker://corral-lab-host4") if name == "lab-host4" else lab_host(name)

    return get


def site(extra_vars: dict[str, Any], *args: str) -> Run:
    return run_playbook("site.yml", extra_vars, *INVENTORY, *args)


def failed(run: Run) -> str:
    """What the failed tasks of a run said (the output's tail is often the play recap alone)."""
    said = [f"{task['name']}: {result.get('msg', '')} {result.get('problems', '')}" for task in run.tasks
            for result in task["hosts"].values() if result.get("failed")]
    return "\n".join(said) or run.output


def site_changes_nothing(lab: Callable[[str], Host], nodes: list[dict[str, Any]]) -> None:
    """site.yml with these nodes: rc 0, no task changed, every container as before."""
    before = containers(lab, HOSTS)
    run = site({"cassandra_stack_nodes": nodes})
    assert run.rc == 0, run.output
    assert all(stats.get("changed", 0) == 0 for stats in run.stats.values()), run.stats
    assert containers(lab, HOSTS) == before


def results_of(run: Run, name: str) -> list[dict[str, Any]]:
    """Every host's result of the run's tasks whose name ends with `name` (to explain a failed assertion)."""
    return [dict(task["hosts"]) for task in run.tasks if task["name"].endswith(name)]


def plan_lines(run: Run) -> list[str]:
    shown = [task for task in run.tasks if task["name"].endswith(PLAN_TASK)]
    assert shown, f"no plan shown: {run.output}"
    return [line for result in shown[-1]["hosts"].values() for line in result.get("msg", [])]


CANARY_REPORT = "Canary: show what clients saw, before the first node and during the change"
CANARY_VERDICT = "Canary: check what clients saw: "
_CANARY_LINE = re.compile(r"(before|during): (\d+) ops in ([\d.]+) s, (\d+) failed, p50 ([\d.]+) ms, p99 ([\d.]+) ms")


def canary(run: Run, what: str) -> list[str]:
    """The canary's gated steps of the run; its figures checked (ops, zero failures) and noted with `what`."""
    report = [line for task in run.tasks if task["name"].endswith(CANARY_REPORT)
              for result in task["hosts"].values() for line in result.get("msg", [])]
    figures = {match[1]: match for match in map(_CANARY_LINE.match, report) if match}
    assert set(figures) == {"before", "during"}, report
    note(f"canary during {what}: " + "; ".join(line for line in report if line.startswith(("before", "during"))))
    assert int(figures["during"][2]) > 100 and int(figures["during"][4]) == 0, report
    assert int(figures["before"][4]) == 0, report
    steps = [task["name"].split(CANARY_VERDICT, 1)[1] for task in run.tasks if CANARY_VERDICT in task["name"]]
    for task in run.tasks:
        if CANARY_VERDICT in task["name"]:
            assert all(not result.get("failed") for result in task["hosts"].values()), task
    return steps


def rows_at_all(lab: Callable[[str], Host]) -> int:
    rc, out = cql(lab("lab-host1"), "cdb1", f"SELECT count(*) FROM {KEYSPACE}.t;", consistency="ALL")
    assert rc == 0, out
    return select_count(out)


def cleanup_times(lab: Callable[[str], Host], node: str, host_name: str, since: str) -> list[datetime]:
    """When the node's log says it cleaned an SSTable up (docker's own timestamps), since the add began."""
    log = lab(host_name).run(f"docker logs -t --since {since} {node} 2>&1").stdout
    stamps = re.findall(r"^(\S+)\s.*Cleaning up", log, flags=re.M)
    return [datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00") for stamp in stamps]


def killed(extra_vars: dict[str, Any], when: Callable[[], bool], timeout: float = 900) -> float:
    """site.yml, killed with SIGKILL once `when` holds: it and every process it started, its workers (each in a session
    of its own) and their connections too (process_tree). Seconds until the kill; fails when the run ended first."""
    began = time.monotonic()
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    with open(TIMINGS.parent / "killed-run.json", "w") as out:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "site.yml", "--extra-vars", json.dumps(extra_vars), *INVENTORY],
            cwd=ROOT, env=playbook_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            while not when():
                assert run.poll() is None, f"site.yml ended (rc {run.returncode}) before it could be killed"
                assert time.monotonic() - began < timeout, "site.yml was not killed in time"
        finally:
            if run.poll() is None:
                kill_tree(run.pid)
            run.wait()
    return time.monotonic() - began


def on_host(host: Host, condition: str, seconds: int = 5) -> bool:
    """Whether a shell condition holds on the host within `seconds`, tried every 0.1 s there."""
    return host.run(f"timeout {seconds} sh -c {shlex.quote(f'until {condition}; do sleep 0.1; done')}").rc == 0


def cleanup_notes(lab: Callable[[str], Host]) -> dict[str, str]:
    """Each node's cleanup note (the joiners it owes a cleanup for), of the nodes that have one."""
    notes = {}
    for node, host_name in {**{node: host for node, (host, *_r) in NODES.items()}, "cdb4": "lab-host4"}.items():
        read = lab(host_name).run(f"cat {CLEANUP_NOTE}")
        if read.rc == 0:
            notes[node] = read.stdout.strip()
    return notes


def driver(lab: Callable[[str], Host], script: str) -> str:
    """A Python script run in cdb1's container with the Python driver (the image's), given `session`, logged in."""
    prelude = (
        "import os\n"
        "from cassandra import ConsistencyLevel\n"
        "from cassandra.auth import PlainTextAuthProvider\n"
        "from cassandra.cluster import Cluster\n"
        "from cassandra.concurrent import execute_concurrent_with_args\n"
        "from cassandra.query import SimpleStatement\n"
        "cluster = Cluster(['10.42.0.48'], auth_provider=PlainTextAuthProvider('admin', os.environ['CQLPW']))\n"
        "session = cluster.connect()\n"
        "session.default_timeout = 120\n"
    )
    command = (
        f"docker exec -i -e CQLPW={shlex.quote(superuser_password())} cdb1 python3 - <<'PYTHON'\n"
        f"{prelude}{script}\ncluster.shutdown()\nPYTHON"
    )
    done = lab("lab-host1").run(command)
    assert done.rc == 0, done.stdout + done.stderr
    return str(done.stdout)


def blob_rows_at_all(lab: Callable[[str], Host]) -> int:
    out = driver(lab, (
        f"statement = SimpleStatement('SELECT id FROM {KEYSPACE}.blob', consistency_level=ConsistencyLevel.ALL, "
        "fetch_size=100)\nprint('rows', len(list(session.execute(statement))))"
    ))
    return int(re.findall(r"^rows (\d+)$", out, flags=re.M)[-1])


def test_rows_are_written_at_quorum(lab: Callable[[str], Host]) -> None:
    write_rows(lab("lab-host1"), "cdb1", KEYSPACE, ROWS)
    # On disk, so that the cleanup after the add has SSTables to clean.
    for node, (host_name, *_rest) in NODES.items():
        nodetool(lab(host_name), node, "flush")
    assert rows_at_all(lab) == ROWS


def test_adding_cdb4_in_check_mode_shows_the_plan_and_changes_nothing(lab: Callable[[str], Host]) -> None:
    before = containers(lab, HOSTS)
    run = site({"cassandra_stack_nodes": FOUR}, "--check")
    assert run.rc == 0, run.output
    assert plan_lines(run) == ["cdb4: join by bootstrap, then cleanup on cdb1, cdb2, cdb3"]
    assert containers(lab, HOSTS) == before


def test_cdb4_joins_and_the_run_killed_during_cdb1s_cleanup_is_finished_by_the_next(lab: Callable[[str], Host]) -> None:
    STARTED["at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    host1 = lab("lab-host1")
    # Watched on its host every 0.1 s, a minute per look: a cleanup lasts seconds, a look from here takes about one.
    took = killed({"cassandra_stack_nodes": FOUR}, lambda: on_host(host1, "pgrep -f '[n]odetool cleanup' >/dev/null", 60))
    note(f"site.yml adding cdb4 killed during cdb1's cleanup: after {took:.0f} s")
    # cdb1's cleanup runs on without the playbook (docker exec on its host); its note goes when it ends, unless the
    # kill took its command down too.
    assert on_host(host1, "! pgrep -f '[n]odetool cleanup' >/dev/null", 600)
    notes = cleanup_notes(lab)
    note(f"cleanup notes after the kill: {notes}")
    assert {"cdb2", "cdb3"} <= set(notes) <= {"cdb1", "cdb2", "cdb3"}, notes
    assert set(notes.values()) == {"cdb4"}, notes
    owed = sorted(notes)
    host4 = lab("lab-host4")
    assert host4.check_output("docker inspect -f '{{.State.Status}}' cdb4") == "running"
    # It streamed its ranges in: a bootstrap, not a node that skipped it.
    assert "JOINING: Starting to bootstrap" in host4.run("docker logs cdb4 2>&1").stdout

    before = containers(lab, HOSTS)
    planned = site({"cassandra_stack_nodes": FOUR}, "--check")
    assert planned.rc == 0, planned.output
    # Nothing went on with the cleanups meanwhile (a worker of the killed run that outlived it did, in session 12):
    # the notes are as the kill left them, and cdb2 and cdb3 logged no cleanup (cdb1's began before the kill).
    assert cleanup_notes(lab) == notes
    for node in ("cdb2", "cdb3"):
        assert not cleanup_times(lab, node, NODES[node][0], STARTED["at"]), f"{node} was cleaned up after the kill"
    assert plan_lines(planned) == [
        f"{', '.join(owed)}: cleanup owed since cdb4 joined (an earlier run stopped before it ran)"
    ], (results_of(planned, "(notes of an add that a stopped run did not finish)"), results_of(planned, PLAN_TASK))
    assert containers(lab, HOSTS) == before
    rerun_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": FOUR})
    took = time.monotonic() - began
    assert run.rc == 0, failed(run)
    note(f"site.yml re-run after the kill (cleanup of {', '.join(owed)}): {took:.0f} s")
    assert canary(run, "the resumed cleanup") == [f"cleanup on {', '.join(owed)}"]
    assert cleanup_notes(lab) == {}
    for node, (host_name, *_rest) in NODES.items():
        again = cleanup_times(lab, node, host_name, rerun_at)
        assert bool(again) == (node in owed), f"{node}: cleaned up by the re-run {again}, owed {owed}"
    assert sorted(wait_until_up_normal(lab("lab-host1"), "cdb1", 4, timeout=60)) == sorted(
        [*(ip for _h, _l, ip, _d in NODES.values()), CDB4["ip"]]
    )
    assert rows_at_all(lab) == ROWS
    spans = []
    for node, (host_name, *_rest) in NODES.items():
        times = cleanup_times(lab, node, host_name, STARTED["at"])
        assert times, f"{node} logged no cleanup since {STARTED['at']}"
        spans.append((node, min(times), max(times)))
    note("cleanup spans (first to last 'Cleaning up' line): " + ", ".join(
        f"{node} {start:%H:%M:%S.%f}-{end:%H:%M:%S.%f}" for node, start, end in spans))
    for (first, _start, end), (second, start, _end) in zip(spans, spans[1:]):
        assert end < start, f"{second} began its cleanup before {first} ended: {spans}"
    assert not cleanup_times(lab, "cdb4", "lab-host4", STARTED["at"]), "the new node was cleaned up"


def test_a_further_run_after_the_add_changes_nothing(lab: Callable[[str], Host]) -> None:
    site_changes_nothing(lab, FOUR)


def test_a_node_taken_out_of_the_inventory_is_refused_without_the_confirmation(lab: Callable[[str], Host]) -> None:
    messages = refusals(lab, "site.yml", {"cassandra_stack_nodes": THREE}, UNLISTED_TASK, *INVENTORY, hosts=HOSTS)
    text = "\n".join(messages.values())
    assert "cdb4 (10.42.0.51) runs on lab-host4 but is not in cassandra_stack_nodes" in text, text
    assert "set cassandra_stack_remove_nodes: [cdb4]" in text, text


def test_a_removal_is_refused_while_a_keyspace_needs_four_replicas(lab: Callable[[str], Host]) -> None:
    host1 = lab("lab-host1")
    rc, out = cql(host1, "cdb1", "CREATE KEYSPACE wide WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 4};")
    assert rc == 0, out
    try:
        messages = refusals(
            lab, "site.yml", {"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]},
            REMOVAL_TASK, *INVENTORY, hosts=HOSTS,
        )
    finally:
        rc, out = cql(host1, "cdb1", "DROP KEYSPACE wide;")
        assert rc == 0, out
    text = "\n".join(messages.values())
    assert "keyspace wide has replication factor 4 in dc1: removing cdb4 leaves 3 node(s) there" in text, text


def test_a_removal_is_refused_while_a_node_is_down(lab: Callable[[str], Host]) -> None:
    host2 = lab("lab-host2")
    host2.check_output("docker stop cdb2")
    try:
        messages = refusals(
            lab, "site.yml", {"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]},
            REMOVAL_TASK, *INVENTORY, hosts=HOSTS,
        )
    finally:
        host2.check_output("docker start cdb2")
    text = "\n".join(messages.values())
    assert "node cdb2 on lab-host2 is down (its container is not running)" in text, text
    wait_until_up_normal(lab("lab-host1"), "cdb1", 4, timeout=240)
    wait_until_up_normal(host2, "cdb2", 4, timeout=240)


LEAVING_LINE = (
    "cdb4: its decommission, begun in an earlier run, is under way: wait for it to end, then remove its containers; "
    "/cassandra/data kept"
)
DECOMMISSIONED_LINE = "cdb4: decommissioned in an earlier run: remove its containers; /cassandra/data kept"


def test_a_removal_killed_while_cdb4_leaves_is_finished_by_the_next_run(lab: Callable[[str], Host]) -> None:
    driver(lab, (
        f"session.execute('CREATE TABLE IF NOT EXISTS {KEYSPACE}.blob (id int PRIMARY KEY, v text)')\n"
        f"insert = session.prepare('INSERT INTO {KEYSPACE}.blob (id, v) VALUES (?, ?)')\n"
        "insert.consistency_level = ConsistencyLevel.QUORUM\n"
        f"rows = [(i, os.urandom(8000).hex()) for i in range({BLOB_ROWS})]\n"
        "assert all(ok for ok, _ in execute_concurrent_with_args(session, insert, rows, concurrency=8))"
    ))
    for node, host_name in (*((node, host) for node, (host, *_r) in NODES.items()), ("cdb4", "lab-host4")):
        nodetool(lab(host_name), node, "flush")
    host4 = lab("lab-host4")
    nodetool(host4, "cdb4", "setstreamthroughput", "1")
    remove = {"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]}
    before = containers(lab, HOSTS)
    planned = site(remove, "--check")
    assert planned.rc == 0, planned.output
    assert plan_lines(planned) == ["cdb4: decommission, then remove its containers; /cassandra/data kept"]
    assert containers(lab, HOSTS) == before

    leaving = "docker exec cdb4 nodetool netstats 2>/dev/null | grep -q '^Mode: LEAVING'"
    took = killed(remove, lambda: on_host(host4, leaving, 60))
    note(f"site.yml removing cdb4 killed while it is LEAVING: after {took:.0f} s")
    before = containers(lab, HOSTS)
    planned = site(remove, "--check")
    assert planned.rc == 0, failed(planned)
    assert plan_lines(planned) == [LEAVING_LINE]
    assert containers(lab, HOSTS) == before

    began = time.monotonic()
    run = site(remove)
    took = time.monotonic() - began
    assert run.rc == 0, failed(run)
    said = plan_lines(run)
    note(f"site.yml re-run after the kill ({said}): {took:.0f} s")
    # Still leaving when the re-run looked, or done by then: either way waited for, never asked again.
    assert said in ([LEAVING_LINE], [DECOMMISSIONED_LINE]), said
    assert canary(run, "the resumed removal") == ["decommission of cdb4"]
    assert host4.run("docker inspect cdb4").rc != 0, "cdb4's container is still there"
    assert host4.run("docker inspect data4").rc != 0, "data4's container is still there"
    assert host4.run("ls /cassandra/data/data").rc == 0, "cdb4's host directory was not kept"
    ring = nodetool(lab("lab-host1"), "cdb1", "status")
    assert CDB4["ip"] not in ring, ring
    assert len(wait_until_up_normal(lab("lab-host1"), "cdb1", 3, timeout=60)) == 3
    assert rows_at_all(lab) == ROWS
    assert blob_rows_at_all(lab) == BLOB_ROWS


def test_a_rerun_after_the_removal_changes_nothing(lab: Callable[[str], Host]) -> None:
    before = containers(lab, HOSTS)
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]})
    note(f"site.yml re-run after the removal: {time.monotonic() - began:.0f} s")
    assert run.rc == 0, run.output
    assert all(stats.get("changed", 0) == 0 for stats in run.stats.values()), run.stats
    assert containers(lab, HOSTS) == before


def test_a_removal_is_refused_at_replication_factor_3_on_three_nodes(lab: Callable[[str], Host]) -> None:
    messages = refusals(
        lab, "site.yml", {"cassandra_stack_nodes": THREE[:2], "cassandra_stack_remove_nodes": ["cdb3"]},
        REMOVAL_TASK, *INVENTORY, hosts=HOSTS,
    )
    text = "\n".join(messages.values())
    assert f"keyspace {KEYSPACE} has replication factor 3 in dc1: removing cdb3 leaves 2 node(s) there" in text, text


def tokens_of(lab: Callable[[str], Host], ip: str) -> list[str]:
    """The tokens that cdb1's `nodetool ring` gives the address (its last column)."""
    ring = nodetool(lab("lab-host1"), "cdb1", "ring")
    return sorted(line.split()[-1] for line in ring.splitlines() if line.startswith(ip + " "))


def test_replacing_a_node_that_is_up_is_refused(lab: Callable[[str], Host]) -> None:
    messages = refusals(
        lab, "site.yml", {"cassandra_stack_nodes": THREE, "cassandra_stack_replace_nodes": ["cdb2"]},
        UNLISTED_TASK, *INVENTORY, hosts=HOSTS,
    )
    text = "\n".join(messages.values())
    assert "cdb2 runs on lab-host2 with its data: a node that is up is not replaced" in text, text


def test_replacing_a_node_whose_address_is_not_in_the_ring_is_refused(lab: Callable[[str], Host]) -> None:
    # cdb4 left the ring; an empty directory of its host makes it a node without data.
    fresh = [*THREE, {**CDB4, "data_dir": "/cassandra/data-replace"}]
    messages = refusals(
        lab, "site.yml", {"cassandra_stack_nodes": fresh, "cassandra_stack_replace_nodes": ["cdb4"]},
        REMOVAL_TASK, *INVENTORY, hosts=HOSTS,
    )
    text = "\n".join(messages.values())
    assert "cdb4 (10.42.0.51) is not in the ring as cdb1, cdb2, cdb3 see it: there is no dead node to replace" in text, text


def lab_sh(*args: str) -> None:
    done = subprocess.run([str(ROOT / "lab" / "lab.sh"), *args], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def swarm_entries(lab: Callable[[str], Host], hostname: str) -> list[dict[str, str]]:
    """The swarm's nodes of that hostname, as the manager lists them: id, state, labels."""
    listing = lab("lab-manager").check_output("docker node ls -q | xargs docker node inspect")
    return [
        {"id": node["ID"], "state": node["Status"]["State"], "labels": json.dumps(node["Spec"].get("Labels") or {})}
        for node in json.loads(listing) if node["Description"]["Hostname"] == hostname
    ]


def test_cdb3s_host_dies_with_its_disk(lab: Callable[[str], Host]) -> None:
    DEAD["tokens"] = tokens_of(lab, "10.42.0.50")
    assert len(DEAD["tokens"]) == 256, DEAD["tokens"]
    # Its table now, while every node is up: the rows come while cdb3 is down.
    rc, out = cql(lab("lab-host1"), "cdb1", f"CREATE TABLE {KEYSPACE}.while_down (id int PRIMARY KEY, v text);")
    assert rc == 0, out
    [entry] = swarm_entries(lab, "lab-host3")
    DEAD["swarm_node"] = [entry["id"]]
    # The whole machine: its container killed (no shutdown), its disk and its engine's state gone.
    lab_sh("host", "kill", "lab-host3")
    deadline = time.monotonic() + 120
    while "DN  10.42.0.50" not in nodetool(lab("lab-host1"), "cdb1", "status"):
        assert time.monotonic() < deadline, "cdb1 does not see cdb3 down"
        time.sleep(2)
    inserts = "".join(
        f"INSERT INTO {KEYSPACE}.while_down (id, v) VALUES ({i}, 'row {i}');" for i in range(WHILE_DOWN_ROWS)
    )
    rc, out = cql(lab("lab-host1"), "cdb1", inserts, consistency="QUORUM")
    assert rc == 0, out
    deadline = time.monotonic() + 120
    while swarm_entries(lab, "lab-host3")[0]["state"] != "down":
        assert time.monotonic() < deadline, "the swarm does not see lab-host3 down"
        time.sleep(2)


def test_a_new_machine_joins_the_swarm_in_its_place_and_its_dead_node_not_named_for_replacement_is_refused(
    lab: Callable[[str], Host],
) -> None:
    lab_sh("host", "create", "lab-host3")
    others = tuple(host for host in HOSTS if host != "lab-host3")
    # site.yml installs its engine and joins it to the swarm, where its dead entry is removed; the stack refuses.
    messages = refusals(lab, "site.yml", {"cassandra_stack_nodes": THREE}, REMOVAL_TASK, *INVENTORY, hosts=others)
    text = "\n".join(messages.values())
    assert "cdb3 has no data in /cassandra/data on lab-host3, but the ring holds its address 10.42.0.50" in text, text
    assert "set cassandra_stack_replace_nodes: [cdb3]" in text, text
    assert containers(lab, ("lab-host3",)) == [], "the stack's containers were created on the new lab-host3"
    entries = swarm_entries(lab, "lab-host3")
    note(f"lab-host3's swarm entries after the new machine joined: {entries} (the dead one was {DEAD['swarm_node']})")
    assert [entry["state"] for entry in entries] == ["ready"], entries
    assert entries[0]["id"] not in DEAD["swarm_node"], entries
    assert json.loads(entries[0]["labels"]) == {"hostname": "cassandra3"}, entries


def test_a_replacement_is_refused_while_another_node_is_down(lab: Callable[[str], Host]) -> None:
    host2 = lab("lab-host2")
    host2.check_output("docker stop cdb2")
    try:
        messages = refusals(
            lab, "site.yml", {"cassandra_stack_nodes": THREE, "cassandra_stack_replace_nodes": ["cdb3"]},
            REMOVAL_TASK, *INVENTORY, hosts=HOSTS,
        )
    finally:
        host2.check_output("docker start cdb2")
        wait_until_up_normal(lab("lab-host1"), "cdb1", 2, timeout=240)
        wait_until_up_normal(host2, "cdb2", 2, timeout=240)
    text = "\n".join(messages.values())
    assert "node cdb2 on lab-host2 is down too (its container is not running)" in text, text


# The nodes of the replacement's runs: cdb3 with the test's short hint window.
REPLACED = [{**node, **HINT_WINDOW} if node["name"] == "cdb3" else node for node in THREE]


def repairs_of_cdb3(lab: Callable[[str], Host], consistency: str = "ALL") -> list[dict[str, Any]]:
    """The rows of system_distributed.repair_history for the test's table that cdb3 coordinated (while the dead cdb3
    is in the ring, at QUORUM: ALL cannot be had)."""
    rc, out = cql(
        lab("lab-host1"), "cdb1",
        "SELECT JSON coordinator, status, started_at, finished_at FROM system_distributed.repair_history "
        f"WHERE keyspace_name = '{KEYSPACE}' AND columnfamily_name = 't';",
        consistency=consistency,
    )
    assert rc == 0, out
    rows = [json.loads(line.strip()) for line in out.splitlines() if line.strip().startswith("{")]
    return [row for row in rows if row.get("coordinator") == "10.42.0.50"]


CANARY_FIGURES = "/var/lib/corral-cassandra/canary/CassandraDB/figures.jsonl"


def canary_lines(lab: Callable[[str], Host]) -> tuple[int, int]:
    """Operations and failures in the canary's figures so far (one JSON line a second, on lab-manager)."""
    lines = [json.loads(line) for line in lab("lab-manager").check_output(f"cat {CANARY_FIGURES}").splitlines()]
    return sum(line.get("ops", 0) for line in lines), sum(line.get("failed", 0) for line in lines)


def test_cdb3_is_replaced_and_the_run_killed_during_its_repair_is_finished_by_the_next(lab: Callable[[str], Host]) -> None:
    replace = {"cassandra_stack_nodes": REPLACED, "cassandra_stack_replace_nodes": ["cdb3"]}
    assert repairs_of_cdb3(lab, "QUORUM") == []
    before = containers(lab, HOSTS)
    planned = site(replace, "--check")
    assert planned.rc == 0, planned.output
    assert plan_lines(planned) == [
        "cdb3: replace the dead node at 10.42.0.50 (a new node takes over its tokens, streamed from the others), then "
        "repair if it was down longer than the hint window (20 s), then restart without the replacement option"
    ]
    assert containers(lab, HOSTS) == before

    host3 = lab("lab-host3")
    # The repair runs by docker exec on cdb3's host; watched there every 0.1 s, a minute per look.
    took = killed(replace, lambda: on_host(host3, "pgrep -f '[n]odetool repair' >/dev/null", 60))
    note(f"site.yml replacing cdb3 killed during its repair: after {took:.0f} s")
    # The canary of the killed run goes on until the next run starts its own: what clients saw through the replacement.
    ops, failures = canary_lines(lab)
    note(f"canary of the killed run (cdb3's replacement, then its repair): {ops} ops, {failures} failed")
    assert ops > 100 and failures == 0, (ops, failures)
    # The repair goes on in cdb3 without the playbook; a run is refused while a repair is under way.
    assert on_host(host3, "! pgrep -f '[n]odetool repair' >/dev/null", 600)
    assert REPLACE_OPTION in host3.check_output("docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' cdb3")
    before = containers(lab, HOSTS)
    planned = site(replace, "--check")
    assert planned.rc == 0, failed(planned)
    assert plan_lines(planned) == [
        "cdb3: finish its replacement of the dead node at 10.42.0.50 (begun in an earlier run): repair, then restart "
        "without the replacement option"
    ]
    assert containers(lab, HOSTS) == before

    began = time.monotonic()
    run = site(replace)
    took = time.monotonic() - began
    assert run.rc == 0, failed(run)
    note(f"site.yml re-run after the kill (cdb3's repair, then its restart without the option): {took:.0f} s")
    assert canary(run, "the resumed replacement") == ["repair of cdb3", "cdb3 restarted without the replacement option"]
    said = [result.get("msg", "") for task in run.tasks if task["name"].endswith(REPAIR_TASK)
            for result in task["hosts"].values()]
    # A new machine keeps no stopped container of the dead node: for how long it was down is unknown.
    assert said == ["cdb3: nodetool repair -full, as how long the dead node was down is unknown (no stopped container "
                    "of it on its host)"], said
    repaired = [result.get("stdout", "") for task in run.tasks if task["name"].endswith("Repair the replacement: cdb3")
                for result in task["hosts"].values()]
    note(f"cdb3's repair: {said[0]}; nodetool said: {[line for text in repaired for line in text.splitlines()][-1:]}")
    repairs = repairs_of_cdb3(lab)
    note(f"system_distributed.repair_history rows coordinated by cdb3 for {KEYSPACE}.t: {repairs}")
    assert repairs and all(row["status"] == "SUCCESS" and row["finished_at"] for row in repairs), repairs
    assert REPLACE_OPTION not in host3.check_output("docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' cdb3")
    assert len(wait_until_up_normal(lab("lab-host1"), "cdb1", 3, timeout=120)) == 3
    assert tokens_of(lab, "10.42.0.50") == DEAD["tokens"]
    streamed = host3.check_output("find /cassandra/data/data/topology -name '*-Data.db' | wc -l")
    assert int(streamed) > 0, "no SSTable of the test keyspace on the new cdb3"
    assert rows_at_all(lab) == ROWS
    rc, out = cql(lab("lab-host1"), "cdb1", f"SELECT count(*) FROM {KEYSPACE}.while_down;", consistency="ALL")
    assert rc == 0, out
    assert select_count(out) == WHILE_DOWN_ROWS


def test_a_rerun_after_the_replacement_changes_nothing(lab: Callable[[str], Host]) -> None:
    site_changes_nothing(lab, REPLACED)


# The fault test: a setting that needs new containers (a JVM option for every node), rolled one node at a time by
# site.yml, with cdb2 also given an option its JVM refuses.
CHANGE = {"cassandra_stack_jvm_extra_opts": ["-Dcorral.topology.fault_test=1"]}
BAD_OPTION = "-XX:+CorralNoSuchOption"
# The container of each node before the fault run.
FAULT: dict[str, dict[str, str]] = {}


def node_container(lab: Callable[[str], Host], node: str) -> dict[str, str]:
    """The node's container: id, status and JVM_EXTRA_OPTS."""
    host = lab(NODES[node][0])
    ident, status = host.check_output("docker inspect -f '{{.Id}} {{.State.Status}}' %s", node).split()
    env = host.check_output("docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' %s", node).splitlines()
    jvm = [line.split("=", 1)[1] for line in env if line.startswith("JVM_EXTRA_OPTS=")]
    return {"id": ident, "status": status, "jvm": " ".join(jvm)}


def test_a_bad_setting_stops_the_rolling_change_at_its_node_while_clients_are_served(lab: Callable[[str], Host]) -> None:
    FAULT.update({node: node_container(lab, node) for node in NODES})
    bad = [{**node, "jvm_extra_opts": [BAD_OPTION]} if node["name"] == "cdb2" else node for node in THREE]
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": bad, **CHANGE})
    took = time.monotonic() - began
    said = failed(run)
    assert run.rc != 0, run.output
    note(f"site.yml rolling a setting with cdb2 given {BAD_OPTION}: stopped after {took:.0f} s")
    # The health gate of cdb2's step stopped the run, naming it and what its log said.
    assert "cdb2" in said and "Could not create the Java Virtual Machine" in said, said
    # cdb1 was changed and passed its gates (the canary's too); the run stopped at cdb2; cdb3 was not touched.
    assert canary(run, "the fault (cdb2 refuses its JVM option)") == ["one node at a time: cdb1"]
    now = {node: node_container(lab, node) for node in NODES}
    assert now["cdb1"]["id"] != FAULT["cdb1"]["id"] and now["cdb1"]["status"] == "running", now
    assert "-Dcorral.topology.fault_test=1" in now["cdb1"]["jvm"], now
    assert BAD_OPTION in now["cdb2"]["jvm"] and now["cdb2"]["status"] != "running", now
    assert now["cdb3"] == FAULT["cdb3"], now
    # Two of three replicas serve QUORUM.
    rc, out = cql(lab("lab-host1"), "cdb1", f"SELECT count(*) FROM {KEYSPACE}.t;", consistency="QUORUM")
    assert rc == 0, out
    assert select_count(out) == ROWS


def test_the_run_with_the_setting_fixed_completes(lab: Callable[[str], Host]) -> None:
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": THREE, **CHANGE})
    took = time.monotonic() - began
    assert run.rc == 0, failed(run)
    note(f"site.yml re-run with the setting fixed (cdb2, cdb3 recreated): {took:.0f} s")
    now = {node: node_container(lab, node) for node in NODES}
    for node, seen in now.items():
        assert seen["status"] == "running", now
        assert "-Dcorral.topology.fault_test=1" in seen["jvm"] and BAD_OPTION not in seen["jvm"], (node, now)
    assert now["cdb3"]["id"] != FAULT["cdb3"]["id"], "cdb3 was not recreated"
    assert len(wait_until_up_normal(lab("lab-host1"), "cdb1", 3, timeout=120)) == 3
    assert rows_at_all(lab) == ROWS
