"""The upgrade keeps the number of tokens the nodes' data holds (nodetool status), or refuses before any change."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade

NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50"},
]


def stack(version: str = "4.1.10", num_tokens: int | None = None) -> dict[str, Any]:
    return {"name": "CassandraDB", "image": f"reg:5000/corral/cassandra:{version}", "version": version,
            "num_tokens": num_tokens, "nodes": NODES}


def status(*tokens: int, down: str = "") -> str:
    """`nodetool status` as 3.11 prints it, one row per node with its number of tokens."""
    rows = [
        f"{'DN' if node['name'] == down else 'UN'}  {node['ip']}  {'?' if node['name'] == down else '108.45 KiB'}  "
        f"{count}  ?  6c1c4b1e-0000-4000-8000-00000000000{index}  rack1"
        for index, (node, count) in enumerate(zip(NODES, tokens))
    ]
    return "\n".join([
        "Datacenter: dc1", "===============", "Status=Up/Down", "|/ State=Normal/Leaving/Joining/Moving",
        "--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack", *rows,
    ])


def views(*tokens: int, down: str = "") -> list[dict[str, Any]]:
    return [{"item": node, "rc": 0, "stdout": status(*tokens, down=down)} for node in NODES if node["name"] != down]


def test_the_tokens_each_node_holds_come_from_the_ring_views() -> None:
    assert upgrade.held_tokens(stack(), views(256, 256, 16)) == {"cdb1": 256, "cdb2": 256, "cdb3": 16}
    assert upgrade.held_tokens(stack(), [{"rc": 1, "stdout": status(256, 256, 256)}, "skipped"]) == {}


def test_3_11_to_4_1_keeps_the_256_tokens_the_nodes_hold() -> None:
    kept = upgrade.kept_num_tokens(stack(), views(256, 256, 256), "upgrade")
    assert (kept["num_tokens"], kept["kept"], kept["problems"]) == (256, True, [])
    assert kept["notes"] == [
        "num_tokens: the nodes hold 256 tokens each and 4.1.10's image defaults to 16: the new containers are given "
        "256 (Cassandra refuses to change it on data). Put cassandra_stack_num_tokens: 256 in the inventory, as "
        "site.yml would otherwise give them the default"
    ]


def test_a_node_down_in_the_views_is_still_counted() -> None:
    # A node left down by an interrupted run: its peers' views still list its tokens.
    kept = upgrade.kept_num_tokens(stack(), views(256, 256, 256, down="cdb2"), "upgrade")
    assert (kept["num_tokens"], kept["kept"]) == (256, True)


@pytest.mark.parametrize(("version", "tokens"), [("4.1.10", 16), ("5.0.8", 16), ("3.10", 256), ("3.11.19", 256)])
def test_nothing_is_set_when_the_nodes_hold_the_new_release_default(version: str, tokens: int) -> None:
    kept = upgrade.kept_num_tokens(stack(version), views(tokens, tokens, tokens), "upgrade")
    assert kept == {"num_tokens": None, "kept": False, "problems": [], "notes": []}


def test_the_number_given_is_kept_when_the_nodes_hold_it() -> None:
    kept = upgrade.kept_num_tokens(stack(num_tokens=256), views(256, 256, 256), "upgrade")
    assert kept == {"num_tokens": 256, "kept": False, "problems": [], "notes": []}


def test_another_number_given_is_refused_naming_the_setting() -> None:
    kept = upgrade.kept_num_tokens(stack(num_tokens=16), views(256, 256, 256), "upgrade")
    assert kept["problems"] == [
        "cassandra_stack_num_tokens=16, but the nodes' data holds other numbers of tokens (cdb1, cdb2, cdb3: 256; "
        "nodetool status, its Tokens column): Cassandra refuses to start a node on data with another number "
        "(\"Cannot change the number of tokens\"). Set cassandra_stack_num_tokens to what the nodes hold (256), or "
        "leave it unset: the upgrade then keeps what the nodes hold"
    ]


def test_nodes_that_hold_different_numbers_are_refused() -> None:
    kept = upgrade.kept_num_tokens(stack(), views(256, 16, 256), "upgrade")
    assert len(kept["problems"]) == 1
    assert kept["problems"][0].startswith(
        "the nodes' data holds different numbers of tokens (cdb2: 16; cdb1, cdb3: 256; nodetool status")
    assert "cassandra_stack_num_tokens" in kept["problems"][0]


@pytest.mark.parametrize("action", ["finish", "rollback", "restart"])
def test_other_actions_take_what_the_containers_record(action: str) -> None:
    kept = upgrade.kept_num_tokens(stack(num_tokens=None), views(256, 256, 256), action)
    assert kept == {"num_tokens": None, "kept": False, "problems": [], "notes": []}


def test_without_a_view_nothing_is_judged() -> None:
    assert upgrade.kept_num_tokens(stack(num_tokens=16), [], "upgrade")["problems"] == []
