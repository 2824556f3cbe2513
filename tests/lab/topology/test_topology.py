"""Nodes added to and removed from the inventory, on a cluster with data (the three-node stack of the prepare,
and a fourth lab host, lab-host4, labelled hostname=cassandra4).

- cdb4 added to cassandra_stack_nodes: check mode shows the plan and changes nothing; site.yml bootstraps it,
  then cleans up cdb1, cdb2, cdb3 one at a time (their logs); every row reads back at ALL.
- cdb4 taken out again: refused without cassandra_stack_remove_nodes, refused while a keyspace has replication
  factor 4, refused while cdb2 is down, each with no container changed; then decommissioned, its containers
  removed and its host directory kept; every row reads back at ALL; a re-run changes nothing.
- Replacing a node refused while it is up, and for a node whose address is not in the ring. Then cdb3 dies with its
  disk (its container stopped, its host directory emptied): site.yml is refused while it is not named for
  replacement, and while cdb2 is down too; named in cassandra_stack_replace_nodes, a new cdb3 takes over the dead
  one's tokens (the same tokens as before, streamed: its SSTables are back on disk), is not repaired (down minutes,
  within the hint window) and runs without the replacement option; every row reads back at ALL; a re-run changes
  nothing.

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

import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import testinfra
from cluster import NODES, cql, nodetool, select_count, wait_until_up_normal, write_rows
from refusal import ROOT, Run, containers, refusals, run_playbook
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


def test_cdb4_joins_by_bootstrap_then_the_others_are_cleaned_up_one_at_a_time(lab: Callable[[str], Host]) -> None:
    STARTED["at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": FOUR})
    took = time.monotonic() - began
    assert run.rc == 0, run.output
    note(f"site.yml adding cdb4 (bootstrap, then cleanup of three nodes): {took:.0f} s")
    assert canary(run, "the add") == ["one node at a time: cdb4", "cleanup on cdb1, cdb2, cdb3"]
    host4 = lab("lab-host4")
    assert host4.check_output("docker inspect -f '{{.State.Status}}' cdb4") == "running"
    # It streamed its ranges in: a bootstrap, not a node that skipped it.
    assert "JOINING: Starting to bootstrap" in host4.run("docker logs cdb4 2>&1").stdout
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


def test_cdb4_taken_out_is_decommissioned_its_containers_removed_its_data_kept(lab: Callable[[str], Host]) -> None:
    remove = {"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]}
    before = containers(lab, HOSTS)
    planned = site(remove, "--check")
    assert planned.rc == 0, planned.output
    assert plan_lines(planned) == ["cdb4: decommission, then remove its containers; /cassandra/data kept"]
    assert containers(lab, HOSTS) == before

    began = time.monotonic()
    run = site(remove)
    took = time.monotonic() - began
    assert run.rc == 0, run.output
    note(f"site.yml removing cdb4 (decommission, then its containers): {took:.0f} s")
    assert canary(run, "the removal") == ["decommission of cdb4"]
    host4 = lab("lab-host4")
    assert host4.run("docker inspect cdb4").rc != 0, "cdb4's container is still there"
    assert host4.run("docker inspect data4").rc != 0, "data4's container is still there"
    assert host4.run("ls /cassandra/data/data").rc == 0, "cdb4's host directory was not kept"
    ring = nodetool(lab("lab-host1"), "cdb1", "status")
    assert CDB4["ip"] not in ring, ring
    assert len(wait_until_up_normal(lab("lab-host1"), "cdb1", 3, timeout=60)) == 3
    assert rows_at_all(lab) == ROWS


def test_a_rerun_after_the_removal_changes_nothing(lab: Callable[[str], Host]) -> None:
    before = containers(lab, HOSTS)
    began = time.monotonic()
    run = site({"cassandra_stack_nodes": THREE, "cassandra_stack_remove_nodes": ["cdb4"]})
    note(f"site.yml re-run after the removal: {time.monotonic() - began:.0f} s")
    assert run.rc == 0, run.output
    assert all(stats.get("changed", 0) == 0 for stats in run.stats.values()), run.stats
    assert containers(lab, HOSTS) == before


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


def test_cdb3_dies_with_its_disk(lab: Callable[[str], Host]) -> None:
    DEAD["tokens"] = tokens_of(lab, "10.42.0.50")
    assert len(DEAD["tokens"]) == 256, DEAD["tokens"]
    host3 = lab("lab-host3")
    host3.check_output("docker stop cdb3")
    host3.check_output("find /cassandra/data -mindepth 1 -delete")
    assert host3.check_output("ls -A /cassandra/data") == ""
    deadline = time.monotonic() + 120
    while "DN  10.42.0.50" not in nodetool(lab("lab-host1"), "cdb1", "status"):
        assert time.monotonic() < deadline, "cdb1 does not see cdb3 down"
        time.sleep(2)


def test_a_dead_node_not_named_for_replacement_is_refused(lab: Callable[[str], Host]) -> None:
    messages = refusals(lab, "site.yml", {"cassandra_stack_nodes": THREE}, REMOVAL_TASK, *INVENTORY, hosts=HOSTS)
    text = "\n".join(messages.values())
    assert "cdb3 has no data in /cassandra/data on lab-host3, but the ring holds its address 10.42.0.50" in text, text
    assert "set cassandra_stack_replace_nodes: [cdb3]" in text, text


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


def test_cdb3_is_replaced_taking_over_the_dead_nodes_tokens(lab: Callable[[str], Host]) -> None:
    replace = {"cassandra_stack_nodes": THREE, "cassandra_stack_replace_nodes": ["cdb3"]}
    before = containers(lab, HOSTS)
    planned = site(replace, "--check")
    assert planned.rc == 0, planned.output
    assert plan_lines(planned) == [
        "cdb3: replace the dead node at 10.42.0.50 (a new node takes over its tokens, streamed from the others), then "
        "repair if it was down longer than the hint window (3 h), then restart without the replacement option"
    ]
    assert containers(lab, HOSTS) == before

    began = time.monotonic()
    run = site(replace)
    took = time.monotonic() - began
    assert run.rc == 0, failed(run)
    note(f"site.yml replacing cdb3 (replace, then restart without the option): {took:.0f} s")
    assert canary(run, "the replacement") == [
        "one node at a time: cdb3 replaces the dead node at 10.42.0.50 (takes over its tokens)",
        "cdb3 restarted without the replacement option",
    ]
    said = [result.get("msg", "") for task in run.tasks if task["name"].endswith(REPAIR_TASK)
            for result in task["hosts"].values()]
    assert said and said[0].startswith("cdb3: no repair: the dead node was down "), said
    assert "within the hint window (10800 s)" in said[0], said
    host3 = lab("lab-host3")
    assert REPLACE_OPTION not in host3.check_output("docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' cdb3")
    assert len(wait_until_up_normal(lab("lab-host1"), "cdb1", 3, timeout=120)) == 3
    assert tokens_of(lab, "10.42.0.50") == DEAD["tokens"]
    streamed = host3.check_output("find /cassandra/data/data/topology -name '*-Data.db' | wc -l")
    assert int(streamed) > 0, "no SSTable of the test keyspace on the new cdb3"
    assert rows_at_all(lab) == ROWS


def test_a_rerun_after_the_replacement_changes_nothing(lab: Callable[[str], Host]) -> None:
    before = containers(lab, HOSTS)
    run = site({"cassandra_stack_nodes": THREE})
    assert run.rc == 0, run.output
    assert all(stats.get("changed", 0) == 0 for stats in run.stats.values()), run.stats
    assert containers(lab, HOSTS) == before


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
