"""Bring-up: what the hosts hold -> fresh or not, JVM options, and the start phases."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.bringup import (
    failures,
    image_tag,
    observe,
    observe_plan,
    phases,
    plan_guess,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    DEFAULT_NODES,
    LEGACY_FAST_START_JVM_OPTS,
    StackError,
    SwarmHost,
    build_stack,
)


def first(stack: dict[str, Any], name: str) -> list[str]:
    """A node's first-start options, as the model computed them."""
    return list(next(n for n in stack["nodes"] if n["name"] == name)["fast_start_jvm_opts"])


def lab_stack(jvm_extra_opts: list[str] | None = None, version: str = "3.9") -> dict[str, Any]:
    hosts = [
        SwarmHost(f"id-{n}", f"lab-host{n}", {"hostname": f"cassandra{n}"}, "ready", "active", f"lab-host{n}")
        for n in (1, 2, 3)
    ]
    settings = {
        "name": "CassandraDB",
        "nodes": copy.deepcopy(DEFAULT_NODES),
        "cluster_name": "CassandraDB",
        "image_repository": "cassandra",
        "version": version,
        "network": "managed",
        "superuser_name": "admin",
        "jvm_extra_opts": jvm_extra_opts or [],
    }
    return build_stack(settings, hosts, [{"Subnet": "10.42.0.0/16"}]).to_dict()


def container(node: dict[str, Any], running: bool = True, jvm: list[str] | None = None) -> dict[str, Any]:
    env = ["PATH=/usr/bin"] + ([f"JVM_EXTRA_OPTS={' '.join(jvm)}"] if jvm else [])
    return {
        "item": node,
        "exists": True,
        "container": {"State": {"Running": running}, "Config": {"Image": "cassandra:3.9", "Env": env}},
    }


def absent(node: dict[str, Any]) -> dict[str, Any]:
    return {"item": node, "exists": False, "container": None}


def data(node: dict[str, Any], present: bool) -> dict[str, Any]:
    return {"item": node, "stat": {"exists": present}}


def test_empty_cluster_is_fresh_and_fast() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, False) for n in nodes], True)
    assert (seen["fresh"], seen["fast"]) == (True, True)
    assert seen["nodes"]["cdb1"]["apply_jvm_extra_opts"] == first(stack, "cdb1")
    assert seen["nodes"]["cdb2"]["apply_jvm_extra_opts"] == first(stack, "cdb2")
    assert seen["nodes"]["cdb2"]["plan_jvm_extra_opts"] == first(stack, "cdb2")
    assert seen["nodes"]["cdb1"]["exists"] is False
    assert [n["jvm_extra_opts"] for n in seen["plan_nodes"]] == [first(stack, n) for n in ("cdb1", "cdb2", "cdb3")]


def test_fast_start_can_be_turned_off() -> None:
    stack = lab_stack(["-Dx=1"])
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, False) for n in nodes], False)
    assert (seen["fresh"], seen["fast"]) == (True, False)
    assert seen["nodes"]["cdb1"]["apply_jvm_extra_opts"] == ["-Dx=1"]


JOINER = lab_stack(["-Dx=1"])["nodes"][1]["fast_start_jvm_opts"]


@pytest.mark.parametrize(
    ("current_jvm", "plan"),
    [
        (["-Dx=1", *JOINER], ["-Dx=1", *JOINER]),
        (["-Dx=1", *LEGACY_FAST_START_JVM_OPTS], ["-Dx=1", *LEGACY_FAST_START_JVM_OPTS]),
        (["-Dx=1", "-Dcassandra.skip_wait_for_gossip_to_settle=0", *LEGACY_FAST_START_JVM_OPTS[:1]], None),
        (["-Dx=1"], ["-Dx=1"]),
        (["-Dx=1", *JOINER, "-Dother"], ["-Dx=1"]),
        (["-Dother", *JOINER], ["-Dx=1"]),
        (None, ["-Dx=1"]),
    ],
)
def test_cluster_with_data_keeps_the_first_start_options_of_a_container(
    current_jvm: list[str] | None, plan: list[str] | None
) -> None:
    stack = lab_stack(["-Dx=1"])
    nodes = stack["nodes"]
    seen = observe(stack, [container(n, jvm=current_jvm) for n in nodes], [data(n, True) for n in nodes], True)
    assert (seen["fresh"], seen["fast"]) == (False, False)
    assert seen["nodes"]["cdb2"]["plan_jvm_extra_opts"] == (current_jvm if plan is None else plan)
    assert seen["nodes"]["cdb2"]["apply_jvm_extra_opts"] == ["-Dx=1"]
    assert seen["nodes"]["cdb2"]["running"] is True


def test_one_node_with_data_means_not_fresh() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, n["name"] == "cdb1") for n in nodes], True)
    assert seen["fresh"] is False


def test_empty_seed_in_a_cluster_with_data_is_refused() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    with pytest.raises(StackError, match="seed nodes cdb1 have an empty data directory"):
        observe(stack, [absent(n) for n in nodes], [data(n, n["name"] != "cdb1") for n in nodes], True)


def test_unobserved_node_is_an_error() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    with pytest.raises(StackError, match="nodes cdb3 were not observed"):
        observe(stack, [absent(n) for n in nodes[:2]], [data(n, False) for n in nodes], True)


def plan(stack: dict[str, Any], changed: set[str]) -> list[dict[str, Any]]:
    """Plan results as registered: check mode with changed_when: false, the would-be actions kept."""
    return [
        {"item": n, "changed": False, "actions": [f"created {n['name']}"] if n["name"] in changed else []}
        for n in stack["nodes"]
    ]


def test_fresh_phases_seed_alone_then_the_rest_together() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, False) for n in nodes], True)
    result = phases(stack, seen, plan(stack, {"cdb1", "cdb2", "cdb3"}))
    assert [[n["name"] for n in phase["nodes"]] for phase in result] == [["cdb1"], ["cdb2", "cdb3"]]
    assert result[0]["nodes"][0]["jvm_extra_opts"] == first(stack, "cdb1")
    assert result[1]["nodes"][0]["jvm_extra_opts"] == first(stack, "cdb2")
    assert result[0]["gate"] == {"listen": True, "ring": False, "cql": False, "schema": False}
    assert not any(result[1]["gate"].values())
    assert [n["name"] for n in result[0]["expected"]] == ["cdb1"]
    assert result[1]["nodes"][0]["actions"] == ["created cdb2"]
    assert [phase["reach"] for phase in result] == [[], ["10.42.0.48:7000"]]


def test_rolling_phases_one_node_at_a_time() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    containers = [container(nodes[0]), container(nodes[1], running=False), absent(nodes[2])]
    seen = observe(stack, containers, [data(n, n["name"] != "cdb3") for n in nodes], True)
    result = phases(stack, seen, plan(stack, {"cdb2", "cdb3"}))
    assert [[n["name"] for n in phase["nodes"]] for phase in result] == [["cdb2"], ["cdb3"]]
    assert [[n["name"] for n in phase["expected"]] for phase in result] == [["cdb1", "cdb2"], ["cdb1", "cdb2", "cdb3"]]
    assert [phase["gate"]["schema"] for phase in result] == [False, True]
    assert all(all(v for k, v in phase["gate"].items() if k != "schema") for phase in result)
    assert result[1]["nodes"][0]["jvm_extra_opts"] == []
    assert [phase["nodes"][0]["drain"] for phase in result] == [False, False]


def test_a_stopped_cluster_with_data_asks_schema_agreement_only_when_all_are_up() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, True) for n in nodes], True)
    result = phases(stack, seen, plan(stack, {"cdb1", "cdb2", "cdb3"}))
    assert [[n["name"] for n in phase["nodes"]] for phase in result] == [["cdb1"], ["cdb2"], ["cdb3"]]
    assert [phase["gate"]["schema"] for phase in result] == [False, False, True]


def test_a_running_node_is_drained_before_it_is_recreated() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [container(n) for n in nodes], [data(n, True) for n in nodes], True)
    planned = [
        {"item": nodes[0], "actions": ["recreated cdb1: image changed 3.9 -> 3.10"]},
        {"item": nodes[1], "actions": ["started cdb2"]},
        {"item": nodes[2], "actions": []},
    ]
    result = phases(stack, seen, planned)
    assert [(phase["nodes"][0]["name"], phase["nodes"][0]["drain"]) for phase in result] == [
        ("cdb1", True),
        ("cdb2", False),
    ]


def test_nothing_to_change_means_no_phase() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    seen = observe(stack, [container(n) for n in nodes], [data(n, True) for n in nodes], True)
    assert phases(stack, seen, plan(stack, set())) == []


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("172.30.42.1:5000/corral/cassandra:3.9", "3.9"),
        ("cassandra:5.0.8", "5.0.8"),
        ("cassandra", "latest"),
        ("localhost:5000/cassandra", "latest"),
        ("cassandra@sha256:abc", "sha256:abc"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


@pytest.mark.parametrize(
    ("registered", "report"),
    [
        ([{"results": [{"failed": False}]}, {"results": []}], []),
        (
            [
                {"results": [{"failed": True, "msg": "Error pulling image x:9 - 404"}, {"failed": False}]},
                {"skipped": True},
            ],
            ["lab-host1: Error pulling image x:9 - 404"],
        ),
        ([{}, {"failed": True, "msg": "boom"}], ["lab-host2: boom"]),
        (
            [
                {"results": [{"failed": True, "item": "r:5000/c:3.99", "msg": "manifest unknown"}]},
                {"results": [{"failed": True, "item": "r:5000/c:3.99", "msg": "pull r:5000/c:3.99: no"}]},
            ],
            ["lab-host1: r:5000/c:3.99: manifest unknown", "lab-host2: pull r:5000/c:3.99: no"],
        ),
    ],
)
def test_failures_per_host(registered: list[dict[str, Any]], report: list[str]) -> None:
    assert failures(registered, ["lab-host1", "lab-host2"]) == report


def test_a_failed_command_is_named_by_what_it_said() -> None:
    """The overlay check (a docker run): its last line of stderr, not "non-zero return code"."""
    stderr = "pulling\ndocker: Error response from daemon: ..."
    failed = {"failed": True, "rc": 125, "msg": "non-zero return code", "stderr": stderr}
    assert failures([{}, failed], ["lab-host1", "lab-host2"]) == ["lab-host2: docker: Error response from daemon: ..."]


def planned(node: dict[str, Any], data_present: bool, jvm: list[str] | None = None, exists: bool = True) -> dict[str, Any]:
    """A cassandra_node result of the plan: the node as planned, and what its host held."""
    seen = {
        "data_present": data_present,
        "exists": exists,
        "running": exists,
        "image": "cassandra:3.9" if exists else "",
        "jvm_extra_opts": " ".join(jvm) if jvm else None,
    }
    return {"item": node, "observed": seen, "actions": []}


def test_the_guess_is_a_brand_new_cluster() -> None:
    stack = lab_stack(["-Dx=1"])
    assert [n["jvm_extra_opts"] for n in plan_guess(stack, True)] == [
        ["-Dx=1", *first(stack, name)] for name in ("cdb1", "cdb2", "cdb3")
    ]
    assert [n["jvm_extra_opts"] for n in plan_guess(stack, False)] == [["-Dx=1"]] * 3


def test_a_new_cluster_needs_no_second_plan() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    seen = observe_plan(stack, [planned(n, False, exists=False) for n in guess], True)
    assert (seen["fresh"], seen["fast"], seen["replan"]) == (True, True, [])
    assert [c["exists"] for c in seen["containers"]] == [False, False, False]


def test_a_cluster_started_fast_keeps_its_options_without_a_second_plan() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    seen = observe_plan(stack, [planned(n, True, n["jvm_extra_opts"]) for n in guess], True)
    assert (seen["fresh"], seen["fast"], seen["replan"]) == (False, False, [])
    assert seen["nodes"]["cdb2"]["plan_jvm_extra_opts"] == first(stack, "cdb2")
    assert seen["nodes"]["cdb2"]["apply_jvm_extra_opts"] == []
    assert seen["containers"][0]["container"]["Config"]["Env"] == [f"JVM_EXTRA_OPTS={' '.join(first(stack, 'cdb1'))}"]


def test_nodes_recreated_since_are_planned_again_with_their_own_options() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    fast = first(stack, "cdb1")
    results = [planned(guess[0], True, fast), planned(guess[1], True), planned(guess[2], True, ["-Dother=1"])]
    seen = observe_plan(stack, results, True)
    assert seen["replan"] == ["cdb2", "cdb3"]
    assert [n["jvm_extra_opts"] for n in seen["plan_nodes"]] == [fast, [], []]


def test_a_host_that_did_not_answer_stops_the_bring_up() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    results = [planned(guess[0], False), {"item": guess[1], "failed": True}, {"item": guess[2], "skipped": True}]
    with pytest.raises(StackError, match="nodes cdb2, cdb3 were not observed"):
        observe_plan(stack, results, True)


@pytest.mark.parametrize("version", ["3.9", "4.1.10", "5.0.8"])
def test_with_computed_tokens_the_joiners_of_every_release_start_together(version: str) -> None:
    stack = lab_stack(version=version)
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, False) for n in nodes], True)
    result = phases(stack, seen, plan(stack, {"cdb1", "cdb2", "cdb3"}))
    assert [[n["name"] for n in phase["nodes"]] for phase in result] == [["cdb1"], ["cdb2", "cdb3"]]
    joiner = result[1]["nodes"][0]["jvm_extra_opts"]
    assert "-Dcassandra.auto_bootstrap=false" in joiner
    assert not any("ring_delay" in option for option in joiner)


def test_without_computed_tokens_each_joiner_bootstraps_alone() -> None:
    stack = lab_stack(version="latest")
    assert stack["initial_tokens"] is False
    nodes = stack["nodes"]
    seen = observe(stack, [absent(n) for n in nodes], [data(n, False) for n in nodes], True)
    result = phases(stack, seen, plan(stack, {"cdb1", "cdb2", "cdb3"}))
    assert [[n["name"] for n in phase["nodes"]] for phase in result] == [["cdb1"], ["cdb2"], ["cdb3"]]
    assert [[n["name"] for n in phase["expected"]] for phase in result] == [["cdb1"], ["cdb1", "cdb2"], ["cdb1", "cdb2", "cdb3"]]
    assert all(phase["gate"] == {"listen": True, "ring": False, "cql": False, "schema": False} for phase in result)
    assert [phase["reach"] for phase in result] == [[], ["10.42.0.48:7000"], ["10.42.0.48:7000"]]
    assert all("-Dcassandra.auto_bootstrap=false" not in phase["nodes"][0]["jvm_extra_opts"] for phase in result)


def test_what_a_failed_first_boot_wrote_leaves_the_cluster_brand_new() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    results = [planned(n, True, n["jvm_extra_opts"]) for n in guess]
    results[2]["observed"].update(first_boot_only=True, restarting=True)
    seen = observe_plan(stack, results, True)
    assert seen["fresh"] is False and seen["heal_first_boot"] is True
    assert seen["nodes"]["cdb3"]["has_data"] is False
    # Restarting after a crash: nothing to drain.
    assert seen["nodes"]["cdb3"]["running"] is False
    for result in results:
        result["observed"]["first_boot_only"] = True
    assert observe_plan(stack, results, True)["fresh"] is True


def test_no_reset_once_a_keyspace_of_the_users_exists() -> None:
    stack = lab_stack()
    guess = plan_guess(stack, True)
    results = [planned(n, True, n["jvm_extra_opts"]) for n in guess]
    results[0]["observed"]["user_data"] = True
    assert observe_plan(stack, results, True)["heal_first_boot"] is False


def test_a_stopped_node_keeps_its_first_start_options_when_it_is_only_started() -> None:
    stack = lab_stack(["-Dx=1"])
    nodes = stack["nodes"]
    joiner = ["-Dx=1", *first(stack, "cdb2")]
    containers = [container(nodes[0]), container(nodes[1], running=False, jvm=joiner), container(nodes[2])]
    seen = observe(stack, containers, [data(n, True) for n in nodes], True)
    started = phases(stack, seen, [{"item": nodes[1], "actions": ["started cdb2"]}])
    assert started[0]["nodes"][0]["jvm_extra_opts"] == joiner
    recreated = phases(stack, seen, [{"item": nodes[1], "actions": ["recreated cdb2: image changed", "started cdb2"]}])
    assert recreated[0]["nodes"][0]["jvm_extra_opts"] == ["-Dx=1"]


def test_a_replacement_starts_alone_with_the_option_and_without_itself_as_a_seed_then_is_planned_again() -> None:
    stack = lab_stack()
    nodes = stack["nodes"]
    containers = [container(nodes[0], running=False), container(nodes[1]), container(nodes[2])]
    seen = observe(stack, containers, [data(n, n["name"] != "cdb1") for n in nodes], True, ["cdb1"])
    planned = [{"item": n, "actions": ["recreated cdb1: env differs", "started cdb1"] if n["name"] == "cdb1" else []}
               for n in nodes]
    (phase,) = phases(stack, seen, planned)
    (node,) = phase["nodes"]
    assert phase["name"] == "one node at a time: cdb1 replaces the dead node at 10.42.0.48 (takes over its tokens)"
    assert node["jvm_extra_opts"] == ["-Dcassandra.replace_address_first_boot=10.42.0.48"]
    assert node["seeds"] == [] and node["drain"] is False
    assert all(phase["gate"].values())
    # The first plan was made without the option: the node is planned again, with it.
    guess = [
        {"item": n, "observed": {"exists": True, "running": n["name"] != "cdb1", "data_present": n["name"] != "cdb1",
                                 "jvm_extra_opts": ""}}
        for n in plan_guess(stack, False)
    ]
    again = observe_plan(stack, guess, True, ["cdb1"])
    assert again["replan"] == ["cdb1"]
    assert next(n for n in again["plan_nodes"] if n["name"] == "cdb1")["seeds"] == []
