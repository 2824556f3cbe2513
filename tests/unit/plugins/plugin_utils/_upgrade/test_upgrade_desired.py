"""One desired state: site.yml compared with what runs; an upgrade refused while a node is down unless it is this
upgrade's; finish and rollback with the settings the containers record."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_labels as node_labels
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import desired
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade
from ansible_collections.corral.cassandra.tests.unit.plugins.plugin_utils._upgrade.docker_fakes import REPO, container_info

NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48", "published_ports": [], "env": {}},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49", "published_ports": [], "env": {}},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50", "published_ports": [], "env": {}},
]


def stack(version: str) -> dict[str, Any]:
    return {"name": "CassandraDB", "image": f"{REPO}:{version}", "version": version, "max_heap_size": "256M", "nodes": NODES}


# --- site.yml against what runs ---------------------------------------------------------------


def planned(*versions: str | None, copies: tuple[str | None, ...] = (None, None, None)) -> list[dict[str, Any]]:
    """The node module's check-mode results: what each host held, and its rollback copy."""
    return [
        {
            "item": node,
            "observed": {"exists": version is not None, "image": f"{REPO}:{version}" if version else ""},
            "rollback_copy": None if copy is None else {"name": f"{node['name']}-rollback", "image": f"{REPO}:{copy}"},
        }
        for node, version, copy in zip(NODES, versions, copies)
    ]


def test_the_version_that_runs_is_no_problem() -> None:
    assert desired.running_state_problems(stack("3.10"), planned("3.10", "3.10", "3.10")) == []


def test_a_new_cluster_is_no_problem() -> None:
    assert desired.running_state_problems(stack("3.9"), planned(None, None, None)) == []


def test_an_older_inventory_is_refused_naming_both_versions() -> None:
    problems = desired.running_state_problems(stack("3.9"), planned("3.10", "3.10", "3.10"))
    assert len(problems) == 1
    assert "asks for Cassandra 3.9 (cassandra_stack_version), but cdb1, cdb2, cdb3 run 3.10" in problems[0]
    assert "downgrade" in problems[0] and 'cassandra_stack_version: "3.10"' in problems[0]


def test_a_newer_inventory_is_refused_with_the_command_to_run() -> None:
    problems = desired.running_state_problems(stack("3.10"), planned("3.9", "3.9", None))
    assert len(problems) == 1
    assert "asks for Cassandra 3.10 (cassandra_stack_version), but cdb1, cdb2 run 3.9" in problems[0]
    assert "`ansible-playbook upgrade.yml -e version=3.10`" in problems[0]


def test_a_mixed_cluster_names_each_version() -> None:
    problems = desired.running_state_problems(stack("3.10"), planned("3.9", "3.10", "3.11.19"))
    assert [problem.split(":", maxsplit=1)[0] for problem in problems] == [
        "the inventory asks for Cassandra 3.10 (cassandra_stack_version), but cdb1 runs 3.9",
        "the inventory asks for Cassandra 3.10 (cassandra_stack_version), but cdb3 runs 3.11.19",
    ]


@pytest.mark.parametrize("inventory", ["3.9", "3.10"])
def test_an_upgrade_under_way_is_refused_naming_finish_and_rollback(inventory: str) -> None:
    problems = desired.running_state_problems(stack(inventory), planned("3.10", "3.10", "3.9", copies=("3.9", "3.9", None)))
    assert len(problems) == 1
    assert "an upgrade is under way: cdb1, cdb2 keep rollback copies (of 3.9)" in problems[0]
    assert desired.FINISH in problems[0] and desired.ROLLBACK in problems[0]


def test_tags_that_are_no_release_are_not_compared() -> None:
    assert desired.running_state_problems(stack("latest"), planned("3.10", "3.10", "3.10")) == []


# --- an upgrade with a node down ----------------------------------------------------------------


def test_an_upgrade_with_a_node_stopped_is_refused_naming_it() -> None:
    containers = [
        container_info(NODES[0], "3.9", status="running"),
        container_info(NODES[1], "3.9", status="running"),
        container_info(NODES[2], "3.9", status="exited"),
    ]
    copies = [container_info(node, None) for node in NODES]
    problems = upgrade.plan(stack("3.10"), containers, copies, "upgrade", "3.10")["problems"]
    assert len(problems) == 1
    assert problems[0].startswith("cdb3 on lab-host3 is not running (its container is exited)")
    assert "no record of an upgrade to 3.10" in problems[0]


def test_a_node_down_that_this_upgrade_created_is_resumed() -> None:
    record = {node_labels.UPGRADED_FROM: f"{REPO}:3.9"}
    containers = [
        container_info(NODES[0], "3.10", status="running"),
        container_info(NODES[1], "3.10", status="exited", labels=record),
        container_info(NODES[2], "3.9", status="running"),
    ]
    copies = [
        container_info(NODES[0], "3.9", status="exited"),
        container_info(NODES[1], "3.9", status="exited"),
        container_info(NODES[2], None),
    ]
    plan = upgrade.plan(stack("3.10"), containers, copies, "upgrade", "3.10")
    assert plan["problems"] == [] and plan["order"][0] == "cdb2"
    # Without its copy the record alone shows it is this upgrade's node.
    plan = upgrade.plan(stack("3.10"), containers, [*copies[:1], container_info(NODES[1], None), copies[2]], "upgrade", "3.10")
    assert plan["problems"] == []


def test_a_node_down_on_another_upgrades_version_is_refused() -> None:
    record = {node_labels.UPGRADED_FROM: f"{REPO}:3.8"}
    containers = [
        container_info(NODES[0], "3.9", status="running"),
        container_info(NODES[1], "3.9", status="exited", labels=record),
        container_info(NODES[2], "3.9", status="running"),
    ]
    copies = [container_info(node, None) for node in NODES]
    problems = upgrade.plan(stack("3.10"), containers, copies, "upgrade", "3.10")["problems"]
    assert len(problems) == 1 and problems[0].startswith("cdb2 on lab-host2 is not running")


# --- finish and rollback take the recorded settings ----------------------------------------------


def recorded(node: dict[str, Any], version: str, ports: list[str]) -> dict[str, str]:
    settings = {
        "image": f"{REPO}:{version}",
        "ipv4_address": node["ip"],
        "published_ports": ports,
        "env": {},
        "max_heap_size": "512M",
        "seeds": ["10.42.0.48"],
    }
    return {node_labels.SETTINGS: node_labels.canonical_json(settings), node_labels.CASSANDRA_YAML: '{"auto_snapshot":true}'}


def test_finish_takes_the_settings_the_upgrade_ran_with() -> None:
    containers = [
        container_info(node, "3.10", status="running", labels=recorded(node, "3.10", ["9042:9042/tcp"])) for node in NODES
    ]
    copies = [container_info(node, "3.9", status="exited", labels=recorded(node, "3.9", [])) for node in NODES]
    model = upgrade.recorded_stack(stack("3.9"), containers, copies, "finish")
    assert model["image"] == f"{REPO}:3.10" and model["max_heap_size"] == "512M" and model["seeds"] == ["10.42.0.48"]
    assert [node["published_ports"] for node in model["nodes"]] == [["9042:9042/tcp"]] * 3
    assert model["nodes"][0]["cassandra_yaml"] == {"auto_snapshot": True} and model["nodes"][0]["host"] == "lab-host1"
    rolled_back = upgrade.recorded_stack(stack("3.9"), containers, copies, "rollback")
    assert rolled_back["image"] == f"{REPO}:3.9" and [node["published_ports"] for node in rolled_back["nodes"]] == [[]] * 3


def test_without_records_the_model_stays() -> None:
    containers = [container_info(node, "3.10", status="running") for node in NODES]
    copies = [container_info(node, None) for node in NODES]
    assert upgrade.recorded_stack(stack("3.9"), containers, copies, "finish") == stack("3.9")
    with_records = [
        container_info(node, "3.10", status="running", labels=recorded(node, "3.10", ["9042:9042"])) for node in NODES
    ]
    assert upgrade.recorded_stack(stack("3.9"), with_records, copies, "upgrade") == stack("3.9")


def test_a_stack_setting_the_records_disagree_on_stays_the_models() -> None:
    containers = [container_info(node, "3.10", status="running", labels=recorded(node, "3.10", [])) for node in NODES[:2]]
    containers.append(container_info(NODES[2], "3.9", status="running", labels=recorded(NODES[2], "3.9", [])))
    model = upgrade.recorded_stack(stack("3.9"), containers, [container_info(node, None) for node in NODES], "finish")
    assert model["image"] == f"{REPO}:3.9" and model["max_heap_size"] == "512M"


def with_tokens(results: list[dict[str, Any]], *tokens: int | None) -> list[dict[str, Any]]:
    for result, count in zip(results, tokens):
        result["observed"].update(num_tokens=count, data_present=True)
    return results


def test_site_yml_refuses_to_give_nodes_another_number_of_tokens_than_their_containers() -> None:
    # After 3.11 -> 4.1 the containers keep 256 (CASSANDRA_NUM_TOKENS); the inventory left unset means 4.1's 16.
    problems = desired.running_state_problems(dict(stack("4.1.10"), num_tokens=None),
                                              with_tokens(planned("4.1.10", "4.1.10", "4.1.10"), 256, 256, 256))
    assert problems == [
        "cdb1, cdb2, cdb3 run with num_tokens 256 (CASSANDRA_NUM_TOKENS of their containers; an upgrade keeps the "
        "number the data holds), and the inventory gives 16 (cassandra_stack_num_tokens unset, 4.1.10's default of "
        "16): Cassandra refuses to start a node on data with another number of tokens. Set cassandra_stack_num_tokens: "
        "256 in the inventory"
    ]
    given = desired.running_state_problems(dict(stack("4.1.10"), num_tokens=32),
                                           with_tokens(planned("4.1.10", "4.1.10", "4.1.10"), 256, None, 256))
    assert len(given) == 2 and all("(cassandra_stack_num_tokens: 32)" in problem for problem in given), given
    assert given[0].startswith("cdb2 runs with num_tokens 16 (the default of 4.1.10: its container was given no "
                               "CASSANDRA_NUM_TOKENS)"), given
    assert given[1].startswith("cdb1, cdb3 run with num_tokens 256 (CASSANDRA_NUM_TOKENS of their containers")


def test_a_container_given_no_number_holds_its_releases_default() -> None:
    # 3.11 deployed with num_tokens unset holds 3.x's 256; an inventory that now says 16 would crash every node.
    problems = desired.running_state_problems(dict(stack("3.11.19"), num_tokens=16),
                                              with_tokens(planned("3.11.19", "3.11.19", "3.11.19"), None, None, None))
    assert len(problems) == 1 and problems[0].startswith(
        "cdb1, cdb2, cdb3 run with num_tokens 256 (the default of 3.11.19: their containers were given no "
        "CASSANDRA_NUM_TOKENS), and the inventory gives 16 (cassandra_stack_num_tokens: 16)"), problems
    assert desired.running_state_problems(dict(stack("3.11.19"), num_tokens=256),
                                          with_tokens(planned("3.11.19", "3.11.19", "3.11.19"), None, None, None)) == []


@pytest.mark.parametrize(("num_tokens", "tokens"), [(256, (256, 256, 256)), (None, (16, None, 16)), (None, (None,) * 3)])
def test_the_same_number_of_tokens_is_no_problem(num_tokens: int | None, tokens: tuple[int | None, ...]) -> None:
    results = with_tokens(planned("4.1.10", "4.1.10", "4.1.10"), *tokens)
    assert desired.running_state_problems(dict(stack("4.1.10"), num_tokens=num_tokens), results) == []


def test_a_container_without_data_may_change_its_number_of_tokens() -> None:
    results = with_tokens(planned("4.1.10", "4.1.10", "4.1.10"), 256, 256, 256)
    for result in results:
        result["observed"]["data_present"] = False
    assert desired.running_state_problems(dict(stack("4.1.10"), num_tokens=None), results) == []
