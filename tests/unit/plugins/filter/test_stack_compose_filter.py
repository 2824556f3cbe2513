"""The stack_compose_* filter wrappers: names, plain data in and out, refusals as {"error": the library's text}."""

from __future__ import annotations

from ansible_collections.corral.cassandra.plugins.filter.stack_compose import FilterModule

FILTERS = FilterModule().filters()


def test_filter_names_are_prefixed() -> None:
    assert all(name.startswith("stack_compose_") for name in FILTERS)


def test_planned_lists_nodes_their_data_and_plain_containers() -> None:
    node = {"host": "lab-host1", "name": "cdb1", "ip": "10.42.0.48", "data_container": "data1"}
    web = {"host": "lab-host2", "name": "web-1", "options": {"networks": [{"ipv4_address": "10.42.0.60"}]}}
    assert FILTERS["stack_compose_planned"]([web], [node]) == [
        {"host": "lab-host1", "name": "cdb1", "ip": "10.42.0.48"},
        {"host": "lab-host1", "name": "data1", "ip": None},
        {"host": "lab-host2", "name": "web-1", "ip": "10.42.0.60"},
    ]


def test_cassandra_settings_refusal_names_the_stack() -> None:
    stack = {"name": "Web", "services": {"web": {"unknown_field": 1}}}
    refused = FILTERS["stack_compose_cassandra_settings"](stack, {})
    assert refused["error"].startswith("the Rancher stack 'Web' cannot be imported; nothing was changed:\nservice 'web'")


def _classic() -> dict[str, object]:
    from pathlib import Path

    from ansible_collections.corral.cassandra.plugins.filter.rancher_compose import FilterModule as Rancher

    fixtures = Path(__file__).parents[2] / "fixtures" / "rancher" / "classic-3.10"
    parse = Rancher().filters()["rancher_compose_parse"]
    return parse(
        (fixtures / "docker-compose.yml").read_bytes().decode(),
        (fixtures / "rancher-compose.yml").read_bytes().decode(),
        "CassandraDB",
    )


def test_cassandra_settings_choose_addresses_from_the_overlay_and_what_holds_it() -> None:
    held = {"lab-host2": [{"Labels": {}, "NetworkSettings": {"Networks": {"managed": {"IPAddress": "10.42.0.49"}}}}]}
    ipam = [{"Subnet": "fd00::/64"}, {"Subnet": "10.42.0.0/16", "Gateway": "10.42.0.1"}]
    settings = FILTERS["stack_compose_cassandra_settings"](_classic(), {}, ipam, held, "managed")
    assert {name: item["ip"] for name, item in settings["addresses"].items()} == {
        "cdb1": "10.42.0.48",
        "cdb2": "10.42.0.50",
        "cdb3": "10.42.0.51",
    }


def test_plan_lines() -> None:
    assert FILTERS["stack_compose_plan"]({}, {}, []) == ["nothing to create"]
