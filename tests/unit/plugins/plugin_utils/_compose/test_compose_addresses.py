"""Addresses for Cassandra services Rancher addressed itself: free, deterministic, the data's own preferred."""

from __future__ import annotations

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.addresses import (
    FROM_DATA,
    GIVEN,
    Address,
    choose_addresses,
    held_addresses,
)

AFTER_SEED = "chosen: the next free address after 10.42.0.48"


def test_the_classic_stack_gets_the_addresses_after_its_seed() -> None:
    chosen, problems = choose_addresses(["cdb1", "cdb2", "cdb3"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16")
    assert problems == []
    assert chosen == {
        "cdb1": Address("10.42.0.48", GIVEN),
        "cdb2": Address("10.42.0.49", AFTER_SEED),
        "cdb3": Address("10.42.0.50", AFTER_SEED),
    }


def test_the_same_input_gives_the_same_addresses_whatever_the_order() -> None:
    first = choose_addresses(["cdb3", "cdb1", "cdb2"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16")
    second = choose_addresses(["cdb1", "cdb2", "cdb3"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16")
    assert first == second


def test_addresses_given_to_other_services_and_held_on_the_overlay_are_skipped() -> None:
    chosen, _problems = choose_addresses(
        ["cdb1", "cdb2", "cdb3"],
        {"cdb1": "10.42.0.48", "probe": "10.42.0.49"},
        "10.42.0.0/16",
        held=["10.42.0.50"],
    )
    assert [chosen[name].ip for name in ("cdb1", "cdb2", "cdb3")] == ["10.42.0.48", "10.42.0.51", "10.42.0.52"]


def test_without_any_given_address_the_first_free_of_the_subnet_past_its_gateway() -> None:
    chosen, _problems = choose_addresses(["a", "b"], {}, "10.42.0.0/16", gateway="10.42.0.1", held=["10.42.0.2"])
    assert chosen == {
        "a": Address("10.42.0.3", "chosen: the first free address of 10.42.0.0/16"),
        "b": Address("10.42.0.4", "chosen: the first free address of 10.42.0.0/16"),
    }


def test_a_gateway_elsewhere_in_the_subnet_is_skipped() -> None:
    chosen, _problems = choose_addresses(["b"], {"a": "10.42.0.48"}, "10.42.0.0/16", gateway="10.42.0.49")
    assert chosen["b"].ip == "10.42.0.50"


def test_the_search_wraps_at_the_end_of_the_subnet_and_never_gives_the_broadcast() -> None:
    chosen, problems = choose_addresses(["b", "c"], {"a": "10.9.0.6"}, "10.9.0.0/29")
    assert problems == []
    assert [chosen["b"].ip, chosen["c"].ip] == ["10.9.0.2", "10.9.0.3"]  # .7 is the broadcast, .0/.1 network, gateway


def test_a_full_subnet_names_each_node_left_without() -> None:
    _chosen, problems = choose_addresses(["b", "c", "d"], {"a": "10.9.0.2"}, "10.9.0.0/29", held=["10.9.0.4", "10.9.0.5"])
    assert problems == [
        "service 'd' (Cassandra): no free address is left in 10.9.0.0/29",
    ]


def test_no_subnet_means_no_choice() -> None:
    _chosen, problems = choose_addresses(["cdb1", "cdb2"], {"cdb1": "10.42.0.48"}, None)
    assert problems == [
        "service 'cdb2' (Cassandra): io.rancher.container.requested_ip is missing and the overlay has no "
        "IPv4 subnet to choose one from"
    ]


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ({"cdb2": "10.42.7.7"}, Address("10.42.7.7", FROM_DATA)),
        ({"cdb2": "10.42.0.48"}, Address("10.42.0.49", AFTER_SEED)),  # given to another: not free
        ({"cdb2": "10.43.0.9"}, Address("10.42.0.49", AFTER_SEED)),  # not on the overlay
        ({"cdb2": "10.42.0.1"}, Address("10.42.0.49", AFTER_SEED)),  # the gateway
    ],
)
def test_the_address_a_nodes_data_holds_wins_when_it_is_free(found: dict[str, str], expected: Address) -> None:
    chosen, _problems = choose_addresses(["cdb1", "cdb2"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16", found=found)
    assert chosen["cdb2"] == expected


def test_held_addresses_leave_out_the_stacks_own_containers_and_other_networks() -> None:
    def entry(stack: str | None, network: str, ip: str, fixed: bool) -> dict[str, object]:
        endpoint = {"IPAMConfig": {"IPv4Address": ip}} if fixed else {"IPAMConfig": None, "IPAddress": ip}
        return {"Labels": {"io.corral.stack": stack} if stack else {}, "NetworkSettings": {"Networks": {network: endpoint}}}

    containers = {
        "lab-host1": [entry("CassandraDB", "managed", "10.42.0.48", True), entry("web", "managed", "10.42.0.60", True)],
        "lab-host2": [entry(None, "managed", "10.42.0.9", False), entry(None, "bridge", "172.17.0.2", False)],
    }
    assert held_addresses(containers, "CassandraDB", "managed") == ["10.42.0.9", "10.42.0.60"]
