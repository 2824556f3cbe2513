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
