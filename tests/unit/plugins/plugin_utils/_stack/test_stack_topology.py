"""Topology from the inventory: which nodes join (bootstrap, then cleanup) and leave (decommission), and when
a removal is refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack import topology
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.bringup import observe
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    DEFAULT_NODES,
    StackError,
    SwarmHost,
    build_stack,
)

CDB4 = {"name": "cdb4", "host_label": "hostname=cassandra4", "ip": "10.42.0.51", "seed": False, "data_container": "data4"}
CDB5 = {"name": "cdb5", "host_label": "hostname=cassandra5", "ip": "10.42.0.52", "seed": False, "data_container": "data5"}
IPS = {"cdb1": "10.42.0.48", "cdb2": "10.42.0.49", "cdb3": "10.42.0.50", "cdb4": "10.42.0.51"}


def stack_of(extra: list[dict[str, Any]]) -> dict[str, Any]:
    hosts = [
        SwarmHost(f"id-{n}", f"lab-host{n}", {"hostname": f"cassandra{n}"}, "ready", "active", f"lab-host{n}")
        for n in (1, 2, 3, 4, 5)
    ]
    settings = {
        "name": "CassandraDB",
        "cluster_name": "CassandraDB",
        "nodes": copy.deepcopy(DEFAULT_NODES) + copy.deepcopy(extra),
        "image_repository": "cassandra",
        "version": "3.9",
        "network": "managed",
        "superuser_name": "admin",
    }
    return build_stack(settings, hosts, [{"Subnet": "10.42.0.0/16"}]).to_dict()


def observed(stack: dict[str, Any], new: tuple[str, ...]) -> dict[str, Any]:
    """Every node runs with data but those in `new` (no container, no data)."""
    containers = [
        {"item": n, "exists": n["name"] not in new, "container": {"State": {"Running": True}, "Config": {"Image": "x"}}}
        if n["name"] not in new else {"item": n, "exists": False, "container": None}
        for n in stack["nodes"]
    ]
    data = [{"item": n, "stat": {"exists": n["name"] not in new}} for n in stack["nodes"]]
    return observe(stack, containers, data, True)


def inspect(name: str, host_ip: str, running: bool = True, data_dir: str = "/cassandra/data") -> dict[str, Any]:
    settings = {"data_dir": data_dir, "dc": "dc1"}
    return {
        "Name": f"/{name}",
        "State": {"Running": running},
        "Config": {
            "Labels": {
                "io.corral.stack": "CassandraDB",
                "io.corral.service": name,
                "io.corral.role": "cassandra",
                "io.corral.requested-ip": host_ip,
                "io.corral.seed": "false",
                "io.corral.data-container": "data" + name[-1],
                "io.corral.settings": json.dumps(settings),
            }
        },
    }


def reads_with_cdb4(running: bool = True) -> dict[str, list[dict[str, Any]]]:
    return {
        "lab-host1": [inspect("cdb1", IPS["cdb1"])],
        "lab-host4": [inspect("cdb4", IPS["cdb4"], running), {**inspect("cdb4", IPS["cdb4"], False), "Name": "/cdb4-rollback"}],
    }


def test_a_new_node_in_a_cluster_with_data_joins_then_the_others_are_cleaned_up() -> None:
    stack = stack_of([CDB4])
    change = topology.topology(stack, observed(stack, ("cdb4",)), {}, [], False)
    assert change["joins"] == ["cdb4"]
    assert change["cleanup"] == ["cdb1", "cdb2", "cdb3"]
    assert change["plan"] == ["cdb4: join by bootstrap, then cleanup on cdb1, cdb2, cdb3"]
    assert change["leaves"] == []


def test_several_new_nodes_join_one_after_the_other_and_the_earlier_joiner_is_cleaned_up_too() -> None:
    stack = stack_of([CDB4, CDB5])
    change = topology.topology(stack, observed(stack, ("cdb4", "cdb5")), {}, [], False)
    assert change["joins"] == ["cdb4", "cdb5"]
    assert change["cleanup"] == ["cdb1", "cdb2", "cdb3", "cdb4"]
    assert change["plan"] == ["cdb4: join by bootstrap", "cdb5: join by bootstrap, then cleanup on cdb1, cdb2, cdb3, cdb4"]


def test_a_brand_new_cluster_has_no_joiners() -> None:
    stack = stack_of([CDB4])
    change = topology.topology(stack, observed(stack, ("cdb1", "cdb2", "cdb3", "cdb4")), {}, [], False)
    assert (change["joins"], change["cleanup"], change["plan"]) == ([], [], [])


def test_a_node_whose_container_went_but_whose_data_stayed_is_no_joiner() -> None:
    stack = stack_of([])
    seen = observed(stack, ())
    seen["nodes"]["cdb2"]["exists"] = False
    assert topology.joiners(stack, seen) == []


def test_a_running_node_missing_from_the_inventory_is_refused_naming_the_variable() -> None:
    stack = stack_of([])
    with pytest.raises(StackError) as refused:
        topology.topology(stack, observed(stack, ()), reads_with_cdb4(), [], False)
    assert "cdb4 (10.42.0.51) runs on lab-host4 but is not in cassandra_stack_nodes" in str(refused.value)
    assert "cassandra_stack_remove_nodes: [cdb4]" in str(refused.value)


def test_a_named_node_leaves_and_its_rollback_copy_is_not_a_node() -> None:
    stack = stack_of([])
    change = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], False)
    assert [(n["name"], n["host"], n["data_container"], n["dc"]) for n in change["leaves"]] == [
        ("cdb4", "lab-host4", "data4", "dc1")
    ]
    assert change["plan"] == ["cdb4: decommission, then remove its containers; /cassandra/data kept"]
    deleted = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], True)
    assert deleted["plan"] == ["cdb4: decommission, then remove its containers; /cassandra/data deleted"]


def test_naming_a_node_that_is_still_in_the_inventory_is_refused() -> None:
    stack = stack_of([])
    with pytest.raises(StackError, match="cdb2 is in cassandra_stack_remove_nodes and in cassandra_stack_nodes"):
        topology.topology(stack, observed(stack, ()), {}, ["cdb2"], False)


STATUS_4 = """Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack
UN  10.42.0.48  120 KiB    256          75.0%             11111111-1111-1111-1111-111111111111  rack1
UN  10.42.0.49  118 KiB    256          75.0%             22222222-2222-2222-2222-222222222222  rack1
{cdb3}  10.42.0.50  121 KiB    256          75.0%             33333333-3333-3333-3333-333333333333  rack1
UN  10.42.0.51  99 KiB     256          75.0%             44444444-4444-4444-4444-444444444444  rack1
"""
NETSTATS_IDLE = "Mode: NORMAL\nNot sending any streams.\nRead Repair Statistics:\nAttempted: 0\n"
NETSTATS_STREAMING = (
    "Mode: NORMAL\nRepair 5c1f6f10-0000-0000-0000-000000000000\n    /10.42.0.49\n"
    "        Sending 2 files, 1024 bytes total. Already sent 0 files, 0 bytes total\n"
)
COMPACTIONS_IDLE = "pending tasks: 0\n"
COMPACTIONS_REPAIR = (
    "pending tasks: 1\n   id   compaction type   keyspace   table   completed   total   unit   progress\n"
    "   ab   Validation   weather   t   10   100   bytes   10.00%\nActive compaction remaining time :   0h00m00s\n"
)
LOCATOR = "org.apache.cassandra.locator."
KEYSPACES = [
    {"keyspace_name": "system", "replication": {"class": LOCATOR + "LocalStrategy"}},
    {"keyspace_name": "system_auth", "replication": {"class": LOCATOR + "NetworkTopologyStrategy", "dc1": "3"}},
    {"keyspace_name": "system_traces", "replication": {"class": LOCATOR + "SimpleStrategy", "replication_factor": "2"}},
    {"keyspace_name": "weather", "replication": {"class": LOCATOR + "NetworkTopologyStrategy", "dc1": "3"}},
]


def looks(cdb3: str = "UN", netstats: str = NETSTATS_IDLE, compactions: str = COMPACTIONS_IDLE,
          stopped: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    return {
        name: (
            {"running": "false", "status": "", "netstats": "", "compactionstats": ""}
            if name in stopped
            else {
                "running": "true",
                "status": STATUS_4.format(cdb3=cdb3),
                "netstats": netstats if name == "cdb2" else NETSTATS_IDLE,
                "compactionstats": compactions if name == "cdb3" else COMPACTIONS_IDLE,
            }
        )
        for name in IPS
    }


def removal(keyspaces: list[dict[str, Any]] | None = None, **kwargs: Any) -> list[str]:
    stack = stack_of([])
    change = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], False)
    return topology.removal_problems(stack, change, looks(**kwargs), KEYSPACES if keyspaces is None else keyspaces)


def test_a_removal_that_leaves_as_many_nodes_as_the_highest_replication_factor_may_go_on() -> None:
    assert removal() == []


def test_a_keyspace_with_more_replicas_than_the_nodes_left_blocks_the_removal_naming_it() -> None:
    rf4 = [*KEYSPACES, {"keyspace_name": "wide", "replication": {"class": "NetworkTopologyStrategy", "dc1": "4"}}]
    assert removal(rf4) == [
        "keyspace wide has replication factor 4 in dc1: removing cdb4 leaves 3 node(s) there. "
        "Lower its replication first (ALTER KEYSPACE wide ...)"
    ]
    simple = [*KEYSPACES, {"keyspace_name": "old", "replication": {"class": "SimpleStrategy", "replication_factor": "5"}}]
    assert "keyspace old has replication factor 5 in the cluster: removing cdb4 leaves 3 node(s) there" in removal(simple)[0]


def test_a_replication_factor_in_another_dc_does_not_block() -> None:
    other = [*KEYSPACES, {"keyspace_name": "east", "replication": {"class": "NetworkTopologyStrategy", "dc2": "5"}}]
    assert removal(other) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"stopped": ("cdb2",)}, "node cdb2 on lab-host2 is down (its container is not running): start it first"),
        ({"cdb3": "DN"}, "node cdb1 sees 10.42.0.50 as DN (Down/Normal)"),
        ({"cdb3": "UJ"}, "node cdb1 sees 10.42.0.50 as UJ (Up/Joining)"),
        ({"netstats": NETSTATS_STREAMING}, "node cdb2 is streaming (nodetool netstats): wait until it ends"),
        ({"compactions": COMPACTIONS_REPAIR},
         "a repair is under way on node cdb3 (Validation in nodetool compactionstats): wait until it ends"),
    ],
)
def test_a_removal_is_refused_naming_what_blocks_it(kwargs: dict[str, Any], expected: str) -> None:
    assert expected in removal(**kwargs)


def test_a_leaver_that_finished_its_decommission_is_only_removed() -> None:
    stack = stack_of([])
    change = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], False)
    seen = looks()
    seen["cdb4"]["netstats"] = "Mode: DECOMMISSIONED\nNot sending any streams.\n"
    for name in ("cdb1", "cdb2", "cdb3"):
        seen[name]["status"] = "\n".join(line for line in seen[name]["status"].splitlines() if "10.42.0.51" not in line)
    rf4 = [*KEYSPACES, {"keyspace_name": "wide", "replication": {"class": "NetworkTopologyStrategy", "dc1": "4"}}]
    assert topology.removal_problems(stack, change, seen, rf4) == []


def test_parse_looks_and_modes() -> None:
    text = "### cdb1 running\ntrue\n### cdb1 netstats\nMode: LEAVING\nx\n### cdb4 status\n"
    assert topology.parse_looks(text) == {"cdb1": {"running": "true", "netstats": "Mode: LEAVING\nx"}, "cdb4": {"status": ""}}
    assert topology.node_mode("Mode: LEAVING\nx") == "LEAVING"
    assert topology.node_mode("") == ""
    assert topology.replication_factors(KEYSPACES) == {
        "system_auth": {"dc1": 3}, "system_traces": {"*": 2}, "weather": {"dc1": 3}
    }


# --- replacing a dead node ------------------------------------------------------------------------------------

STATUS_3 = "\n".join(line for line in STATUS_4.splitlines() if "10.42.0.51" not in line) + "\n"
STOPPED_AT = "2026-12-06T12:00:00.5Z"


def dead(stack: dict[str, Any], name: str, replace: list[str], container: bool = True, jvm: str | None = None,
         data: bool = False) -> dict[str, Any]:
    """Every node runs with data but `name`: stopped (or no container) and, unless `data`, no data."""
    containers = []
    for n in stack["nodes"]:
        if n["name"] != name:
            containers.append({"item": n, "exists": True, "container": {"State": {"Running": True}, "Config": {"Image": "x"}}})
        elif container:
            env = [f"JVM_EXTRA_OPTS={jvm}"] if jvm is not None else []
            stopped = {"State": {"Running": False}, "Config": {"Image": "x", "Env": env}}
            containers.append({"item": n, "exists": True, "container": stopped})
        else:
            containers.append({"item": n, "exists": False, "container": None})
    stats = [{"item": n, "stat": {"exists": n["name"] != name or data}} for n in stack["nodes"]]
    return observe(stack, containers, stats, True, replace)


def dead_reads(name: str = "cdb3") -> dict[str, list[dict[str, Any]]]:
    container = inspect(name, IPS[name], running=False)
    container["State"]["FinishedAt"] = STOPPED_AT
    return {f"lab-host{name[-1]}": [container]}


def replace_looks(state: str = "DN", dead_node: str = "cdb3", stopped: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for name in ("cdb1", "cdb2", "cdb3"):
        if name == dead_node or name in stopped:
            seen[name] = {"running": "false", "status": "", "netstats": "", "compactionstats": ""}
        else:
            status = STATUS_3.format(cdb3="UN").replace(f"UN  {IPS[dead_node]}", f"{state}  {IPS[dead_node]}")
            seen[name] = {"running": "true", "status": status, "netstats": NETSTATS_IDLE, "compactionstats": COMPACTIONS_IDLE}
    return seen


def test_a_named_node_without_data_replaces_the_dead_one_with_the_option_and_its_stopped_time() -> None:
    stack = stack_of([])
    seen = dead(stack, "cdb3", ["cdb3"])
    assert seen["replacing"] == ["cdb3"]
    assert seen["nodes"]["cdb3"]["apply_jvm_extra_opts"] == ["-Dcassandra.replace_address_first_boot=10.42.0.50"]
    assert seen["nodes"]["cdb3"]["seeds"] == ["10.42.0.48"]
    change = topology.topology(stack, seen, dead_reads(), [], False, ["cdb3"])
    assert change["joins"] == [] and change["empty"] == []
    (replaced,) = change["replaces"]
    assert (replaced["name"], replaced["host"], replaced["resumed"], replaced["hint_window_s"]) == (
        "cdb3", "lab-host3", False, 10800
    )
    assert replaced["down_since"] == pytest.approx(1796558400.5)
    assert change["plan"] == [
        "cdb3: replace the dead node at 10.42.0.50 (a new node takes over its tokens, streamed from the others), then "
        "repair if it was down longer than the hint window (3 h), then restart without the replacement option"
    ]
    assert topology.replacement_problems(stack, change, replace_looks()) == []


def test_a_dead_seed_is_replaced_without_itself_as_a_seed_and_never_as_the_only_seed() -> None:
    stack = stack_of([])
    seen = dead(stack, "cdb1", ["cdb1"])
    assert seen["nodes"]["cdb1"]["seeds"] == []
    change = topology.topology(stack, seen, dead_reads("cdb1"), [], False, ["cdb1"])
    assert "started without itself as a seed" in change["plan"][0]
    problems = topology.replacement_problems(stack, change, replace_looks(dead_node="cdb1"))
    assert any(problem.startswith("cdb1 is the only seed") for problem in problems), problems
    two_seeds = stack_of([])
    two_seeds["seeds"] = ["10.42.0.48", "10.42.0.49"]
    assert dead(two_seeds, "cdb1", ["cdb1"])["nodes"]["cdb1"]["seeds"] == ["10.42.0.49"]
    change = topology.topology(two_seeds, dead(two_seeds, "cdb1", ["cdb1"]), dead_reads("cdb1"), [], False, ["cdb1"])
    assert topology.replacement_problems(two_seeds, change, replace_looks(dead_node="cdb1")) == []


def test_an_empty_seed_not_named_is_refused_naming_the_replacement() -> None:
    with pytest.raises(StackError, match=r"cassandra_stack_replace_nodes: \[cdb1\]"):
        dead(stack_of([]), "cdb1", [])


def test_a_dead_node_not_named_is_refused_as_the_ring_still_holds_it() -> None:
    stack = stack_of([])
    change = topology.topology(stack, dead(stack, "cdb3", []), dead_reads(), [], False, [])
    assert change["empty"] == ["cdb3"] and change["replaces"] == []
    (problem,) = topology.replacement_problems(stack, change, replace_looks())
    assert problem.startswith("cdb3 has no data in /cassandra/data on lab-host3, but the ring holds its address 10.42.0.50")
    assert "DN (Down/Normal) to cdb1" in problem
    assert "set cassandra_stack_replace_nodes: [cdb3]" in problem


def test_a_new_node_whose_address_the_ring_does_not_hold_joins() -> None:
    stack = stack_of([CDB4])
    change = topology.topology(stack, observed(stack, ("cdb4",)), {}, [], False, [])
    assert change["empty"] == ["cdb4"]
    seen = looks()
    for look in seen.values():
        look["status"] = STATUS_3.format(cdb3="UN")
    assert topology.replacement_problems(stack, change, seen) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"state": "UN"}, "cdb3 (10.42.0.50) is up as cdb1, cdb2 see it: a node that is up is not replaced"),
        ({"stopped": ("cdb2",)}, "node cdb2 on lab-host2 is down too (its container is not running)"),
    ],
)
def test_a_replacement_is_refused_naming_what_blocks_it(kwargs: dict[str, Any], expected: str) -> None:
    stack = stack_of([])
    change = topology.topology(stack, dead(stack, "cdb3", ["cdb3"]), dead_reads(), [], False, ["cdb3"])
    problems = topology.replacement_problems(stack, change, replace_looks(**kwargs))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_replacement_whose_node_runs_or_is_not_in_the_ring_is_refused() -> None:
    stack = stack_of([])
    change = topology.topology(stack, dead(stack, "cdb3", ["cdb3"]), dead_reads(), [], False, ["cdb3"])
    running = replace_looks()
    running["cdb3"]["running"] = "true"
    assert any(p.startswith("cdb3 runs on lab-host3: a node that is up is not replaced") for p in
               topology.replacement_problems(stack, change, running))
    gone = replace_looks()
    for look in gone.values():
        look["status"] = "\n".join(line for line in look["status"].splitlines() if "10.42.0.50" not in line)
    problems = topology.replacement_problems(stack, change, gone)
    assert any(p.startswith("cdb3 (10.42.0.50) is not in the ring as cdb1, cdb2 see it") for p in problems), problems


def test_a_named_node_that_holds_data_is_refused_up_or_stopped() -> None:
    stack = stack_of([])
    seen = dead(stack, "cdb3", ["cdb3"], data=True)
    assert seen["replacing"] == []
    with pytest.raises(StackError, match="/cassandra/data on lab-host3 holds its data: a node is replaced only once"):
        topology.topology(stack, seen, dead_reads(), [], False, ["cdb3"])
    with pytest.raises(StackError, match="cdb2 runs on lab-host2 with its data: a node that is up is not replaced"):
        topology.topology(stack, observed(stack, ()), {}, [], False, ["cdb2"])


def test_a_replacement_begun_in_an_earlier_run_is_finished_and_repaired() -> None:
    stack = stack_of([])
    seen = dead(stack, "cdb3", [], jvm="-Dcassandra.replace_address_first_boot=10.42.0.50", data=True)
    assert seen["replacing"] == ["cdb3"]
    change = topology.topology(stack, seen, dead_reads(), [], False, [])
    (replaced,) = change["replaces"]
    assert replaced["resumed"] and replaced["down_since"] is None
    assert change["plan"][0].startswith("cdb3: finish its replacement of the dead node at 10.42.0.50")
    assert topology.repair_reason(replaced, 0, "auto").startswith("how long the dead node was down is unknown")


def test_replacement_refusals_of_the_inventory() -> None:
    stack = stack_of([])
    with pytest.raises(StackError, match="cdb9 is in cassandra_stack_replace_nodes but not in cassandra_stack_nodes"):
        topology.topology(stack, dead(stack, "cdb3", ["cdb3"]), dead_reads(), [], False, ["cdb9"])
    both = stack_of([CDB4])
    containers = [
        {"item": n, "exists": n["name"] not in ("cdb3", "cdb4"),
         "container": {"State": {"Running": n["name"] != "cdb3"}, "Config": {"Image": "x"}} if n["name"] != "cdb4" else None}
        for n in both["nodes"]
    ]
    data = [{"item": n, "stat": {"exists": n["name"] not in ("cdb3", "cdb4")}} for n in both["nodes"]]
    with pytest.raises(StackError, match=r"replace cdb3 first, in a run of its own, then add or remove nodes \(cdb4\)"):
        topology.topology(both, observe(both, containers, data, True, ["cdb3"]), dead_reads(), [], False, ["cdb3"])


@pytest.mark.parametrize(
    ("down_s", "policy", "expected"),
    [
        (600, "auto", ""),
        (4 * 3600, "auto", "it was down 4 h, longer than the hint window (3 h)"),
        (600, "always", "cassandra_stack_replace_repair is always"),
        (4 * 3600, "never", ""),
    ],
)
def test_repair_reason(down_s: int, policy: str, expected: str) -> None:
    node = {"down_since": 1000.0, "hint_window_s": 10800}
    assert topology.repair_reason(node, 1000.0 + down_s, policy) == expected


@pytest.mark.parametrize(
    ("yaml", "seconds"),
    [({}, 10800), ({"max_hint_window_in_ms": 60000}, 60), ({"max_hint_window": "1h"}, 3600),
     ({"max_hint_window": "90s"}, 90), ({"max_hint_window": "5000ms"}, 5)],
)
def test_hint_window_seconds(yaml: dict[str, Any], seconds: float) -> None:
    assert topology.hint_window_seconds(yaml) == seconds


def test_stopped_at_only_for_a_container_that_stopped() -> None:
    assert topology.stopped_at({"State": {"Running": False, "FinishedAt": "2026-12-06T12:00:00.250000000Z"}}) == pytest.approx(
        1796558400.25
    )
    assert topology.stopped_at({"State": {"Running": True, "FinishedAt": STOPPED_AT}}) is None
    assert topology.stopped_at({"State": {"Running": False, "FinishedAt": "0001-01-01T00:00:00Z"}}) is None
    assert topology.stopped_at(None) is None


# --- resuming after a run that was stopped halfway ---------------------------------------------------------------


def test_the_nodes_of_an_add_are_noted_before_the_joiner_starts_earlier_notes_kept() -> None:
    stack = stack_of([CDB4])
    change = topology.topology(stack, observed(stack, ("cdb4",)), {}, [], False, owed={"cdb2": ["cdb9"]})
    assert change["notes"] == {"cdb1": ["cdb4"], "cdb2": ["cdb9", "cdb4"], "cdb3": ["cdb4"]}
    assert change["plan"] == ["cdb4: join by bootstrap, then cleanup on cdb1, cdb2, cdb3"]


def test_the_cleanups_an_earlier_run_still_owes_are_run_and_only_those() -> None:
    stack = stack_of([CDB4])
    owed = topology.parse_owed("cdb3 cdb4\ncdb2 cdb4\n\n")
    assert owed == {"cdb3": ["cdb4"], "cdb2": ["cdb4"]}
    change = topology.topology(stack, observed(stack, ()), {}, [], False, owed=owed)
    assert change["joins"] == [] and change["notes"] == {}
    assert change["cleanup"] == ["cdb2", "cdb3"]
    assert change["plan"] == ["cdb2, cdb3: cleanup owed since cdb4 joined (an earlier run stopped before it ran)"]
    # A note of a node that left the inventory is not followed.
    assert topology.topology(stack_of([]), observed(stack_of([]), ()), {}, [], False, owed={"cdb4": ["cdb5"]})["cleanup"] == []
    # None owed: no cleanup, no line.
    assert topology.topology(stack, observed(stack, ()), {}, [], False, owed={})["plan"] == []


LEAVING_STATUS = STATUS_4.format(cdb3="UN").replace("UN  10.42.0.51", "UL  10.42.0.51")
NETSTATS_RECEIVING = (
    "Mode: NORMAL\nUnbootstrap 7d2b0a50-0000-0000-0000-000000000000\n    /10.42.0.51\n"
    "        Receiving 3 files, 3145728 bytes total. Already received 1 files, 1048576 bytes total\n"
    "            /var/lib/cassandra/data/topology/t-1/mc-3-big-Data.db 1048576/1048576 bytes(100%) received from "
    "idx:0/10.42.0.51\nRead Repair Statistics:\nAttempted: 0\n"
)


def leaving_looks(mode: str, netstats_cdb2: str = NETSTATS_RECEIVING, status: str = LEAVING_STATUS) -> dict[str, dict[str, str]]:
    seen = looks()
    for name in seen:
        seen[name]["status"] = status
    seen["cdb4"]["netstats"] = f"Mode: {mode}\nUnbootstrap 7d2b0a50\n    /10.42.0.49\n        Sending 3 files\n"
    seen["cdb2"]["netstats"] = netstats_cdb2
    return seen


def test_a_leaver_whose_decommission_an_earlier_run_began_is_waited_for_not_refused() -> None:
    stack = stack_of([])
    change = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], False)
    seen = leaving_looks("LEAVING")
    assert topology.removal_problems(stack, change, seen, KEYSPACES) == []
    assert topology.plan_with_progress(change, seen) == [
        "cdb4: its decommission, begun in an earlier run, is under way: wait for it to end, then remove its "
        "containers; /cassandra/data kept"
    ]
    # 5.0's failed decommission is resumed; a finished one only has its containers removed.
    assert topology.removal_problems(stack, change, leaving_looks("DECOMMISSION_FAILED"), KEYSPACES) == []
    assert topology.plan_with_progress(change, leaving_looks("DECOMMISSION_FAILED"))[0].startswith(
        "cdb4: resume its decommission, which failed in an earlier run, then remove its containers"
    )
    assert topology.plan_with_progress(change, leaving_looks("DECOMMISSIONED"))[0].startswith(
        "cdb4: decommissioned in an earlier run: remove its containers"
    )
    assert topology.plan_with_progress(change, looks()) == change["plan"]


def test_streams_and_leaving_nodes_not_of_the_resumed_decommission_still_refuse_it() -> None:
    stack = stack_of([])
    change = topology.topology(stack, observed(stack, ()), reads_with_cdb4(), ["cdb4"], False)
    # A stream with another node than the leaver is another operation.
    other = NETSTATS_RECEIVING.replace("10.42.0.51", "10.42.0.50")
    assert "node cdb2 is streaming (nodetool netstats): wait until it ends" in topology.removal_problems(
        stack, change, leaving_looks("LEAVING", other), KEYSPACES
    )
    # The leaver still NORMAL: the others see no node leaving, a stream is someone else's.
    normal = leaving_looks("NORMAL")
    problems = topology.removal_problems(stack, change, normal, KEYSPACES)
    assert "node cdb1 sees 10.42.0.51 as UL (Up/Leaving)" in problems, problems
    assert "node cdb2 is streaming (nodetool netstats): wait until it ends" in problems, problems
    # Another node leaving is refused as before.
    cdb3_leaving = LEAVING_STATUS.replace("UN  10.42.0.50", "UL  10.42.0.50")
    assert "node cdb1 sees 10.42.0.50 as UL (Up/Leaving)" in topology.removal_problems(
        stack, change, leaving_looks("LEAVING", status=cdb3_leaving), KEYSPACES
    )
    assert topology.stream_peers(NETSTATS_RECEIVING) == {"10.42.0.51"}
    assert topology.stream_peers(NETSTATS_IDLE) == set()
