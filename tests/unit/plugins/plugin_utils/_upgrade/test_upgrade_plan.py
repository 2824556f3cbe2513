"""The rolling upgrade's plan: versions, refusals before anything changes, order, steps, messages."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils import _cassandra_output as output
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade.plan import Version, parse_version
from ansible_collections.corral.cassandra.tests.unit.plugins.plugin_utils._upgrade.docker_fakes import REPO, container_info

NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50"},
]


def stack(version: str = "3.10") -> dict[str, Any]:
    return {"name": "CassandraDB", "image": f"{REPO}:{version}", "version": version, "nodes": NODES}


def cluster(
    *versions: str | None, copies: tuple[str | None, ...] = (None, None, None), running: tuple[bool, ...] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    up = running or (True, True, True)
    containers = [container_info(node, version, running=up[index]) for index, (node, version) in enumerate(zip(NODES, versions))]
    rollback = [container_info(node, version, running=False) for node, version in zip(NODES, copies)]
    return containers, rollback


def make_plan(
    action: str,
    version: str | None,
    *versions: str | None,
    copies: tuple[str | None, ...] = (None, None, None),
    running: tuple[bool, ...] = (),
    target: str = "3.10",
) -> dict[str, Any]:
    containers, rollback = cluster(*versions, copies=copies, running=running)
    return upgrade.plan(stack(target), containers, rollback, action, version)


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.10", Version(3, 10, 0)),
        ("4.1.10", Version(4, 1, 10)),
        ("5.0.8-custom", Version(5, 0, 8)),
        ("latest", None),
        ("3", None),
        (3.1, None),
    ],
)
def test_parse_version(text: Any, expected: Version | None) -> None:
    assert parse_version(text) == expected


def test_versions_compare_numerically() -> None:
    assert parse_version("3.9") < parse_version("3.10") < parse_version("3.11.19") < parse_version("4.1.10")  # type: ignore[operator]
    assert str(parse_version("3.10")) == "3.10"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"Image": f"{REPO}:3.9"}, "3.9"),
        ({"Image": "cassandra:latest", "Labels": {"org.opencontainers.image.version": "5.0.8"}}, "5.0.8"),
        ({"Image": "cassandra", "Env": ["CASSANDRA_VERSION=4.1.10"]}, "4.1.10"),
        ({"Image": "cassandra@sha256:0f"}, None),
    ],
)
def test_container_version(config: dict[str, Any], expected: str | None) -> None:
    version = upgrade.container_version({"Config": config})
    assert (str(version) if version else None) == expected


@pytest.mark.parametrize(
    ("source", "target", "fragment"),
    [
        ("3.9", "3.10", None),
        ("3.9", "3.9", None),
        ("3.11.19", "4.1.10", None),
        ("3.0.30", "4.0.19", None),
        ("4.1.10", "5.0.8", None),
        ("4.0.19", "5.0.8", None),
        ("3.10", "3.9", "cannot be downgraded"),
        ("5.0.8", "4.1.10", "cannot be downgraded"),
        ("3.9", "5.0.8", "skips a major version"),
        ("3.9", "4.1.10", "upgrades only from 3.0.x or 3.11.x"),
    ],
)
def test_path_problem(source: str, target: str, fragment: str | None) -> None:
    problem = upgrade.path_problem(parse_version(source), parse_version(target), ["cdb1"])  # type: ignore[arg-type]
    assert (problem is None) if fragment is None else (fragment in str(problem))


@pytest.mark.parametrize(
    ("source", "step"), [("3.9", "3.11"), ("3.11.19", "4.1"), ("3.0.1", "4.1"), ("4.1.10", "5.0"), ("5.0.8", "6.x")]
)
def test_next_step_on_the_supported_path(source: str, step: str) -> None:
    assert upgrade.next_step(parse_version(source)) == step  # type: ignore[arg-type]


def test_a_jump_names_the_way_there() -> None:
    problem = upgrade.path_problem(parse_version("3.9"), parse_version("5.0.8"), ["cdb1", "cdb2"])  # type: ignore[arg-type]
    assert problem is not None
    assert "3.9 to 5.0.8 (cdb1, cdb2) skips a major version" in problem
    assert "3.x -> 3.11 -> 4.1 -> 5.0" in problem and "Upgrade to 3.11 first" in problem


# --- upgrade ----------------------------------------------------------------------------------


def test_classic_upgrade_plan() -> None:
    plan = make_plan("upgrade", "3.10", "3.9", "3.9", "3.9")
    assert plan["problems"] == []
    assert plan["order"] == ["cdb1", "cdb2", "cdb3"] and plan["may_be_down"] == []
    assert plan["target"] == {"image": f"{REPO}:3.10", "version": "3.10"}
    assert not plan["major"]
    assert [node["version"] for node in plan["nodes"]] == ["3.9", "3.9", "3.9"]


def test_major_upgrade_is_marked() -> None:
    plan = make_plan("upgrade", "5.0.8", "4.1.10", "4.1.10", "4.1.10", target="5.0.8")
    assert plan["problems"] == [] and plan["major"]


@pytest.mark.parametrize(
    ("version", "fragment"),
    [
        ("3.8", "cannot be downgraded"),
        ("5.0.8", "skips a major version"),
        ("4.1.10", "upgrades only from 3.0.x or 3.11.x"),
        ("latest", "is not a Cassandra release number"),
        (3.1, "is a number, and 3.10 written as a number is 3.1"),
        (None, "upgrade needs the version to upgrade to"),
    ],
)
def test_bad_versions_are_refused(version: Any, fragment: str) -> None:
    plan = make_plan("upgrade", version, "3.9", "3.9", "3.9")
    assert len(plan["problems"]) == 1 and fragment in plan["problems"][0]


def test_unknown_action_is_refused_first() -> None:
    plan = make_plan("upgade", "3.10", "3.9", "3.9", "3.9")
    assert plan["problems"] == [
        "upgrade_action='upgade' is not one of upgrade, finish, rollback, restart: upgrade (the default, with -e "
        "version=X), finish (remove the rollback copies, making the upgrade final), rollback (return every node to "
        "its rollback copy) or restart (restart every node's container, one at a time: restart.yml)"
    ]


def test_resuming_an_upgrade() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", "3.9", "3.9", copies=("3.9", None, None))
    assert plan["problems"] == []
    assert plan["notes"] == ["resuming the upgrade to 3.10: cdb1 already upgraded"]


def test_resuming_after_an_interruption_between_stop_and_start() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", None, "3.9", copies=("3.9", "3.9", None))
    assert plan["problems"] == []
    assert plan["order"] == ["cdb2", "cdb1", "cdb3"] and plan["may_be_down"] == ["cdb2"]


def test_an_upgrade_restarts_first_the_node_a_stopped_run_left_quiesced() -> None:
    containers, rollback = cluster("3.9", "3.9", "3.9")
    for container in containers:
        container["container"]["State"]["StartedAt"] = "2026-12-06T09:00:00Z"
    # Noted on its host an hour after the container's start: a quiesce that no restart followed.
    quiesced = {"cdb3": upgrade._epoch("2026-12-06T10:00:00Z")}
    plan = upgrade.plan(stack(), containers, rollback, "upgrade", "3.10", None, quiesced)
    assert plan["problems"] == []
    # Restarted as it is first, then upgraded in its turn: the order and what may be down are as without it.
    assert plan["order"] == ["cdb1", "cdb2", "cdb3"]
    assert plan["may_be_down"] == []
    assert plan["recover"] == ["cdb3"]
    assert plan["notes"][-1] == (
        "cdb3 was left quiesced (clients and gossip off, drained) by an earlier run that stopped at it: it is "
        "restarted first, as it is, and the run goes on once it is healthy"
    )
    assert [node["name"] for node in upgrade.health_expected(plan)] == ["cdb1", "cdb2"]
    [recover] = upgrade.recover_steps(plan)
    assert (recover["name"], recover["actions"], recover["drain"], recover["quiesced"], recover["recover"]) == (
        "cdb3", ["restarted"], True, True, True
    )
    assert [node["name"] for node in recover["expected"]] == ["cdb1", "cdb2", "cdb3"]
    assert upgrade.recover_steps(make_plan("upgrade", "3.10", "3.9", "3.9", "3.9")) == []


def test_another_upgrade_while_one_is_under_way_is_refused() -> None:
    plan = make_plan("upgrade", "3.11.19", "3.10", "3.9", "3.9", copies=("3.9", None, None), target="3.11.19")
    assert len(plan["problems"]) == 1
    assert "in the middle of an upgrade from 3.9 to 3.10 (cdb1 upgraded" in plan["problems"][0]
    assert "-e upgrade_action=finish" in plan["problems"][0] and "-e version=3.10 resumes it" in plan["problems"][0]


def test_downgrade_of_a_finished_upgrade_is_refused() -> None:
    plan = make_plan("upgrade", "3.9", "3.10", "3.10", "3.10", target="3.9")
    assert len(plan["problems"]) == 1 and "3.9 is older than 3.10 (cdb1, cdb2, cdb3 run it)" in plan["problems"][0]


def test_missing_node_is_refused() -> None:
    plan = make_plan("upgrade", "3.10", "3.9", None, "3.9")
    assert any("cdb2 has no Cassandra container" in problem for problem in plan["problems"])


def test_two_nodes_down_are_refused() -> None:
    plan = make_plan("upgrade", "3.10", "3.9", "3.9", "3.9", running=(True, False, False))
    assert any("cdb2, cdb3 are not running" in problem for problem in plan["problems"])


def test_same_version_is_no_problem() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", "3.10", "3.10")
    assert plan["problems"] == []


# --- finish and rollback ------------------------------------------------------------------------


def test_finish_after_an_upgrade() -> None:
    plan = make_plan("finish", None, "3.10", "3.10", "3.10", copies=("3.9", "3.9", "3.9"), target="3.9")
    assert plan["problems"] == []
    assert plan["target"] == {"image": f"{REPO}:3.10", "version": "3.10"}
    assert not plan["major"]


def test_finish_after_a_major_upgrade_runs_upgradesstables() -> None:
    copies = ("4.1.10", "4.1.10", "4.1.10")
    plan = make_plan("finish", None, "5.0.8", "5.0.8", "5.0.8", copies=copies, target="4.1.10")
    assert plan["problems"] == [] and plan["major"]


def test_finish_of_an_incomplete_upgrade_is_refused() -> None:
    plan = make_plan("finish", None, "3.10", "3.9", "3.9", copies=("3.9", None, None))
    assert len(plan["problems"]) == 1
    assert plan["problems"][0].startswith("cdb2, cdb3 still run 3.9 while cdb1 run 3.10: complete the upgrade first")


def test_finish_with_nothing_to_finish() -> None:
    plan = make_plan("finish", None, "3.10", "3.10", "3.10")
    assert plan["problems"] == [] and plan["notes"] == ["no node has a rollback copy: there is no upgrade to finish"]


def test_finish_of_an_upgrade_that_did_not_happen_is_refused() -> None:
    plan = make_plan("finish", "3.10", "3.9", "3.9", "3.9")
    assert plan["problems"] == ["there is no upgrade to 3.10 to finish: no node has a rollback copy, and the nodes run 3.9"]


def test_finish_with_another_version_is_refused() -> None:
    plan = make_plan("finish", "3.11.19", "3.10", "3.10", "3.10", copies=("3.9", "3.9", "3.9"))
    assert plan["problems"] == ["version=3.11.19 was given, but the upgrade to finish is the one to 3.10"]


def test_rollback_order_and_target() -> None:
    plan = make_plan("rollback", None, "3.10", "3.10", "3.9", copies=("3.9", "3.9", None))
    assert plan["problems"] == []
    assert plan["order"] == ["cdb2", "cdb1"]
    assert plan["target"] == {"image": f"{REPO}:3.9", "version": "3.9"}


def test_rollback_starts_with_a_node_that_is_down() -> None:
    plan = make_plan("rollback", None, "3.10", "3.10", "3.10", copies=("3.9", "3.9", "3.9"), running=(False, True, True))
    assert plan["order"] == ["cdb1", "cdb3", "cdb2"] and plan["may_be_down"] == ["cdb1"]


def test_rollback_with_a_node_down_that_has_no_copy_is_refused() -> None:
    plan = make_plan("rollback", None, "3.10", "3.9", "3.9", copies=("3.9", None, None), running=(True, False, True))
    assert any("cdb2 is not running and no rollback copy" in problem for problem in plan["problems"])


def test_rollback_with_nothing_to_roll_back() -> None:
    plan = make_plan("rollback", None, "3.9", "3.9", "3.9")
    assert plan["problems"] == [] and plan["notes"] == ["no node has a rollback copy: there is nothing to roll back"]


# --- steps and messages ---------------------------------------------------------------------------


def module_result(name: str, *actions: str) -> dict[str, Any]:
    node = next(node for node in NODES if node["name"] == name)
    return {"item": node, "actions": list(actions), "changed": False}


def test_steps_keep_the_plan_order_and_skip_nodes_without_changes() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", None, "3.9", copies=("3.9", "3.9", None))
    results = [module_result("cdb1"), module_result("cdb2", "created cdb2", "started cdb2"), module_result("cdb3", "x")]
    todo = upgrade.steps(plan, results)
    assert [step["name"] for step in todo] == ["cdb2", "cdb3"]
    assert not todo[0]["drain"] and todo[1]["drain"]
    assert [node["name"] for node in todo[0]["expected"]] == ["cdb1", "cdb2", "cdb3"]
    assert upgrade.health_expected(plan) == [NODES[0], NODES[2]]


def test_rollback_steps_wait_for_nodes_still_down_only_once_they_are_done() -> None:
    plan = make_plan("rollback", None, "3.10", "3.10", "3.9", copies=("3.9", "3.9", None), running=(False, False, True))
    todo = upgrade.steps(plan, [])
    assert [step["name"] for step in todo] == ["cdb1", "cdb2"]
    assert [node["name"] for node in todo[0]["expected"]] == ["cdb1", "cdb3"]
    assert [node["name"] for node in todo[1]["expected"]] == ["cdb1", "cdb2", "cdb3"]


def test_finish_refuses_other_changes() -> None:
    plan = make_plan("finish", None, "3.10", "3.10", "3.10", copies=("3.9", "3.9", "3.9"))
    assert upgrade.finish_problems(plan, [module_result("cdb1", "removed cdb1-rollback (the rollback copy)")]) == []
    problems = upgrade.finish_problems(plan, [module_result("cdb2", "recreated cdb2: published_ports changed", "started cdb2")])
    assert len(problems) == 1 and "cdb2: recreated cdb2: published_ports changed; started cdb2" in problems[0]


def test_failure_text_from_loop_and_plain_results() -> None:
    assert upgrade.failure_text({"msg": "Not Up/Normal within 300 s:\n cdb1 sees 10.42.0.49 is DN"}) == (
        "Not Up/Normal within 300 s: cdb1 sees 10.42.0.49 is DN"
    )
    looped = {"msg": "One or more items failed", "results": [{"item": NODES[1], "failed": True, "msg": "boom"}]}
    assert upgrade.failure_text(looped) == "cdb2: boom"
    assert upgrade.failure_text({"msg": "non-zero return code", "stderr": "a\nnodetool: error"}) == (
        "non-zero return code: nodetool: error"
    )


def test_node_failure_message_says_what_happened_and_how_to_go_on() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", "3.9", "3.9", copies=("3.9", None, None))
    text = upgrade.node_failure_message(plan, "cdb2", "Not Up/Normal within 120 s", rolled_back=True)
    assert text.startswith("The upgrade of cdb2 to 3.10 failed:\nNot Up/Normal within 120 s.\n")
    assert "cdb2 was rolled back on its own to 3.9" in text
    assert "Nodes already upgraded, with rollback copies: cdb1." in text
    assert "ansible-playbook upgrade.yml -e version=3.10" in text and "-e upgrade_action=rollback" in text


def test_node_failure_message_names_the_nodes_this_run_upgraded_before_it() -> None:
    """A fresh upgrade (no copies at its start) that fails at its second node: the first is upgraded now."""
    plan = make_plan("upgrade", "3.10", "3.9", "3.9", "3.9")
    assert plan["order"] == ["cdb1", "cdb2", "cdb3"]
    text = upgrade.node_failure_message(plan, "cdb2", "A container crashed: cdb2", rolled_back=True)
    assert "Nodes already upgraded, with rollback copies: cdb1." in text
    first = upgrade.node_failure_message(plan, "cdb1", "A container crashed: cdb1", rolled_back=True)
    assert "Nodes already upgraded, with rollback copies: none." in first


def test_summary() -> None:
    plan = make_plan("upgrade", "3.10", "3.9", "3.9", "3.9")
    todo = upgrade.steps(plan, [module_result(node["name"], "recreated") for node in NODES])
    assert upgrade.summary(plan, todo) == [f"upgrade to {REPO}:3.10, one node at a time: cdb1, cdb2, cdb3"]
    assert upgrade.summary(plan, [])[-1].endswith("nothing to do")


def test_summary_puts_each_note_on_its_own_line() -> None:
    plan = make_plan("upgrade", "3.10", "3.10", "3.9", "3.9", copies=("3.9", None, None))
    todo = upgrade.steps(plan, [module_result(node["name"], "recreated") for node in NODES[1:]])
    assert plan["notes"] and all("\n" not in note for note in plan["notes"])
    assert upgrade.summary(plan, todo) == [*plan["notes"], f"upgrade to {REPO}:3.10, one node at a time: cdb2, cdb3"]
    finish = {**plan, "action": "finish", "notes": ["first", "second"]}
    assert upgrade.summary(finish, [])[:-1] == ["first", "second"]


# --- schema agreement during a major upgrade ----------------------------------------------------

# nodetool describecluster on a 4.1.10 node of the lab, cdb1 already on 5.0.8.
MIXED = """Cluster Information:
\tName: CassandraDB
\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch
\tDynamicEndPointSnitch: enabled
\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
\tSchema versions:
\t\tf2791c7c-8a85-371d-a94c-22d6f16ebf08: [10.42.0.50, 10.42.0.49]

\t\t607ae7d0-eb81-3046-a6bb-d4136265ed29: [10.42.0.48]

Stats for all nodes:
\tLive: 3
\tUnreachable: 0

Database versions:
\t5.0.8: [10.42.0.48:7000]

\t4.1.10: [10.42.0.50:7000, 10.42.0.49:7000]

Keyspaces:
\tupgrade_test -> Replication class: SimpleStrategy {replication_factor=3}
"""
IPS = ["10.42.0.48", "10.42.0.49", "10.42.0.50"]


def test_release_versions_of_describecluster() -> None:
    assert output.release_versions(MIXED) == {"5.0.8": ["10.42.0.48"], "4.1.10": ["10.42.0.50", "10.42.0.49"]}


def test_one_schema_version_per_release_is_agreement_in_a_mixed_cluster() -> None:
    assert output.schema_problems(MIXED, IPS, per_release=True) == []


def test_two_schema_versions_within_one_release_are_not() -> None:
    split = MIXED.replace("[10.42.0.50, 10.42.0.49]", "[10.42.0.50]").replace(
        "[10.42.0.48]", "[10.42.0.48]\n\n\t\t11111111-2222-3333-4444-555555555555: [10.42.0.49]"
    )
    problems = output.schema_problems(split, IPS, per_release=True)
    assert len(problems) == 1 and problems[0].startswith("the nodes on 4.1.10 show 2 schema versions"), problems


def test_without_the_releases_one_schema_version_is_required() -> None:
    no_releases = MIXED.split("Database versions:", maxsplit=1)[0]
    problems = output.schema_problems(no_releases, IPS, per_release=True)
    assert len(problems) == 1 and problems[0].startswith("the nodes show 2 schema versions"), problems
    agreed = no_releases.replace("[10.42.0.50, 10.42.0.49]", "[10.42.0.50, 10.42.0.49, 10.42.0.48]").replace(
        "\t\t607ae7d0-eb81-3046-a6bb-d4136265ed29: [10.42.0.48]\n", ""
    )
    assert output.schema_problems(agreed, IPS, per_release=True) == []


def test_an_unreachable_or_missing_node_is_a_problem() -> None:
    unreachable = MIXED.replace("[10.42.0.50, 10.42.0.49]", "[10.42.0.50]").replace(
        "[10.42.0.48]\n", "[10.42.0.48]\n\n\t\tUNREACHABLE: [10.42.0.49]\n", 1
    )
    assert output.schema_problems(unreachable, IPS, per_release=True) == ["unreachable: 10.42.0.49"]
    # A node that may be down (one stopped by an interrupted run) is not expected, so it may be unreachable.
    assert output.schema_problems(unreachable, [IPS[0], IPS[2]], per_release=True) == []
    missing = MIXED.replace("[10.42.0.50, 10.42.0.49]", "[10.42.0.50]")
    assert output.schema_problems(missing, IPS, per_release=True) == ["no schema version for 10.42.0.49"]
    assert output.schema_problems("", IPS, per_release=True) == ["no schema versions in the nodetool describecluster output"]


def test_outside_a_major_upgrade_one_schema_version_is_required_even_with_releases_shown() -> None:
    problems = output.schema_problems(MIXED, IPS, per_release=False)
    assert len(problems) == 1 and problems[0].startswith("the nodes show 2 schema versions"), problems


def test_rollback_of_a_major_upgrade_is_marked() -> None:
    plan = make_plan("rollback", None, "5.0.8", "4.1.10", "4.1.10", copies=("4.1.10", None, None), target="5.0.8")
    assert plan["problems"] == [] and plan["major"]
    assert not make_plan("rollback", None, "3.10", "3.9", "3.9", copies=("3.9", None, None))["major"]


def test_schema_witness_runs_the_newer_version() -> None:
    upgrading = make_plan("upgrade", "5.0.8", "4.1.10", "4.1.10", "4.1.10", target="5.0.8")
    todo = upgrade.steps(upgrading, [module_result(node["name"], "recreated") for node in NODES])
    assert upgrade.schema_witness(upgrading, todo, "cdb2")["name"] == "cdb2"
    rolling_back = make_plan("rollback", None, "5.0.8", "5.0.8", "4.1.10", copies=("4.1.10", "4.1.10", None), target="5.0.8")
    todo = upgrade.steps(rolling_back, [])
    assert [step["name"] for step in todo] == ["cdb2", "cdb1"]
    assert upgrade.schema_witness(rolling_back, todo, "cdb2")["name"] == "cdb1"
    assert upgrade.schema_witness(rolling_back, todo, "cdb1")["name"] == "cdb1"
    resumed = make_plan("upgrade", "5.0.8", "5.0.8", "4.1.10", "4.1.10", copies=("4.1.10", None, None), target="5.0.8")
    assert upgrade.newest_node(resumed)["name"] == "cdb1"
