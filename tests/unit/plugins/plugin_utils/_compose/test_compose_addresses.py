"""Addresses for Cassandra services Rancher addressed itself: the data's own kept, else free and deterministic."""

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
        held={"10.42.0.50": "probe on lab-host1"},
    )
    assert [chosen[name].ip for name in ("cdb1", "cdb2", "cdb3")] == ["10.42.0.48", "10.42.0.51", "10.42.0.52"]


def test_without_any_given_address_the_first_free_of_the_subnet_past_its_gateway() -> None:
    chosen, _problems = choose_addresses(["a", "b"], {}, "10.42.0.0/16", gateway="10.42.0.1", held={"10.42.0.2": "x on h"})
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
    held = {"10.9.0.4": "x on h", "10.9.0.5": "y on h"}
    _chosen, problems = choose_addresses(["b", "c", "d"], {"a": "10.9.0.2"}, "10.9.0.0/29", held=held)
    assert problems == [
        "service 'd' (Cassandra): no free address is left in 10.9.0.0/29",
    ]


def test_no_subnet_means_no_choice() -> None:
    _chosen, problems = choose_addresses(["cdb1", "cdb2"], {"cdb1": "10.42.0.48"}, None)
    assert problems == [
        "service 'cdb2' (Cassandra): io.rancher.container.requested_ip is missing and the overlay has no "
        "IPv4 subnet to choose one from"
    ]


def test_a_node_keeps_the_address_its_data_was_written_under_and_the_others_skip_it() -> None:
    chosen, problems = choose_addresses(
        ["cdb1", "cdb2", "cdb3", "cdb4"],
        {"cdb1": "10.42.0.48"},
        "10.42.0.0/16",
        found={"cdb2": "10.42.0.52", "cdb3": "10.42.0.49", "cdb1": "10.42.0.48"},
    )
    assert problems == []
    assert chosen == {
        "cdb1": Address("10.42.0.48", GIVEN),
        "cdb2": Address("10.42.0.52", FROM_DATA),
        "cdb3": Address("10.42.0.49", FROM_DATA),
        "cdb4": Address("10.42.0.50", AFTER_SEED),  # .49 is cdb3's data's
    }


@pytest.mark.parametrize(
    ("found", "held", "problem"),
    [
        (
            {"cdb2": "10.43.0.9"},
            {},
            "service 'cdb2' (Cassandra): its data was written under 10.43.0.9, outside the overlay's subnet 10.42.0.0/16: "
            "give it an address as its requested_ip",
        ),
        (
            {"cdb2": "10.42.0.48"},
            {},
            "service 'cdb2' (Cassandra): its data was written under 10.42.0.48, but service 'cdb1' requests it: "
            "free that address, or give the node another as its requested_ip",
        ),
        (
            {"cdb2": "10.42.0.60"},
            {"10.42.0.60": "web-probe-1 on lab-host1"},
            "service 'cdb2' (Cassandra): its data was written under 10.42.0.60, but container web-probe-1 on lab-host1 "
            "holds it on the overlay: free that address, or give the node another as its requested_ip",
        ),
        (
            {"cdb2": "10.42.0.1"},
            {},
            "service 'cdb2' (Cassandra): its data was written under 10.42.0.1, but it is the overlay's gateway: "
            "free that address, or give the node another as its requested_ip",
        ),
        (
            {"cdb1": "10.42.0.49"},
            {},
            "service 'cdb1' (Cassandra): io.rancher.container.requested_ip 10.42.0.48 differs from 10.42.0.49, the "
            "address its data was written under: its peers know it at 10.42.0.49; give 10.42.0.49 (or no "
            "requested_ip), or move the data away to start it as a new node",
        ),
        (
            {"cdb2": "10.42.0.49", "cdb3": "10.42.0.49"},
            {},
            "services 'cdb2', 'cdb3' (Cassandra): their data were all written under 10.42.0.49: one of them is a copy; "
            "give each node its own data directory",
        ),
    ],
)
def test_the_datas_address_that_cannot_be_kept_is_refused_naming_both(
    found: dict[str, str], held: dict[str, str], problem: str
) -> None:
    _chosen, problems = choose_addresses(
        ["cdb1", "cdb2", "cdb3"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16", held=held, found=found
    )
    assert problems == [problem]


def test_a_node_whose_data_could_not_be_read_needs_a_requested_ip() -> None:
    why = "its data directory /cassandra/data: no image of the node is on this host to read it with"
    chosen, problems = choose_addresses(
        ["cdb1", "cdb2"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16", unread={"cdb2": why, "cdb1": why}
    )
    assert problems == [
        "service 'cdb2' (Cassandra): io.rancher.container.requested_ip is missing and the address its data was "
        f"written under could not be read ({why}): give the node's address as its requested_ip"
    ]
    assert "cdb2" not in chosen


def test_held_addresses_leave_out_the_stacks_own_containers_and_other_networks() -> None:
    def entry(name: str, stack: str | None, network: str, ip: str, fixed: bool) -> dict[str, object]:
        endpoint = {"IPAMConfig": {"IPv4Address": ip}} if fixed else {"IPAMConfig": None, "IPAddress": ip}
        return {
            "Names": [f"/{name}"],
            "Labels": {"io.corral.stack": stack} if stack else {},
            "NetworkSettings": {"Networks": {network: endpoint}},
        }

    containers = {
        "lab-host1": [
            entry("cdb1", "CassandraDB", "managed", "10.42.0.48", True),
            entry("web-probe-1", "web", "managed", "10.42.0.60", True),
        ],
        "lab-host2": [entry("anchor", None, "managed", "10.42.0.9", False), entry("x", None, "bridge", "172.17.0.2", False)],
    }
    assert held_addresses(containers, "CassandraDB", "managed") == {
        "10.42.0.9": "anchor on lab-host2",
        "10.42.0.60": "web-probe-1 on lab-host1",
    }
