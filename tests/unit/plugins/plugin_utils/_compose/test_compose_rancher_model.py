"""The Rancher stack types: sidekick units, host rules, plain data in and out."""

from __future__ import annotations

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import (
    HealthCheck,
    RancherComposeError,
    RancherStack,
    Service,
    UpgradeStrategy,
    describe_hosts,
    host_rule,
    host_rule_fits,
    unit_fits,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import HostLabel, StackError


def stack() -> RancherStack:
    return RancherStack(
        name="S",
        services={
            "data": Service(name="data", image="busybox", start_once=True),
            "cdb": Service(
                name="cdb",
                image="cassandra:3.10",
                sidekicks=["data"],
                host_label=["hostname=cassandra1"],
                health_check=HealthCheck(port=9042),
                upgrade_strategy=UpgradeStrategy(start_first=False),
            ),
            "web": Service(name="web", image="nginx", host_label_ne=["hostname=cassandra1"]),
        },
    )


def test_units_put_a_primary_first_with_its_sidekicks() -> None:
    units = stack().units()
    assert [[service.name for service in unit] for unit in units] == [["cdb", "data"], ["web"]]
    assert [stack().primary_of(name) for name in ("data", "cdb", "web")] == ["cdb", "cdb", "web"]


@pytest.mark.parametrize(
    ("kind", "rule", "labels", "expected"),
    [
        ("host_label", "hostname=cassandra1", {"hostname": "cassandra1"}, True),
        ("host_label", "hostname=cassandra1", {"hostname": "cassandra2"}, False),
        ("host_label", "hostname=cassandra1", {}, False),
        ("host_label_ne", "hostname=cassandra1", {"hostname": "cassandra1"}, False),
        ("host_label_ne", "hostname=cassandra1", {}, True),
        ("host_label_soft", "disk = ssd", {"disk": "ssd"}, True),
        ("host_label_soft_ne", "disk=ssd", {"disk": "hdd"}, True),
    ],
)
def test_host_rule_fits(kind: str, rule: str, labels: dict[str, str], expected: bool) -> None:
    assert host_rule_fits(kind, rule, labels) is expected


@pytest.mark.parametrize(
    "labels",
    [{}, {"hostname": "cassandra1"}, {"hostname": "cassandra2"}, {"hostname": "cassandra1", "disk": "ssd"}],
)
def test_host_rules_use_the_stack_models_matcher(labels: dict[str, str]) -> None:
    """The compose side and the Cassandra stack model decide host labels with one matcher."""
    rule = host_rule("hostname = cassandra1")
    assert isinstance(rule, HostLabel)
    assert rule.pairs == (("hostname", "cassandra1"),)
    assert host_rule_fits("host_label", "hostname=cassandra1", labels) is rule.matches(labels)
    assert host_rule_fits("host_label_ne", "hostname=cassandra1", labels) is not rule.matches(labels)


@pytest.mark.parametrize("rule", ["hostname", "=cassandra1", "a b=1"])
def test_a_rule_the_stack_model_cannot_read_is_an_error(rule: str) -> None:
    with pytest.raises(StackError):
        host_rule_fits("host_label", rule, {})


def test_a_unit_fits_a_host_meeting_every_hard_rule_of_its_services() -> None:
    cdb, data = stack().units()[0]
    data.host_label_ne = ["disk=hdd"]
    assert unit_fits([cdb, data], {"hostname": "cassandra1"})
    assert not unit_fits([cdb, data], {"hostname": "cassandra1", "disk": "hdd"})


def test_describe_hosts() -> None:
    assert describe_hosts({"b": {}, "a": {"z": "1", "y": "2"}}) == "a (y=2,z=1), b (no labels)"
    assert describe_hosts({}) == "none"


def test_plain_data_round_trip() -> None:
    data = stack().to_dict()
    assert data["services"]["cdb"]["is_cassandra"] is True
    assert data["services"]["cdb"]["health_check"]["port"] == 9042
    assert RancherStack.from_dict(data) == stack()


def test_from_dict_names_what_it_does_not_know() -> None:
    data = stack().to_dict()
    data["services"]["web"]["links"] = ["db"]
    data["services"]["cdb"]["health_check"]["timeout"] = 3
    with pytest.raises(RancherComposeError) as info:
        RancherStack.from_dict(data)
    assert info.value.problems == [
        "service 'cdb': HealthCheck.__init__() got an unexpected keyword argument 'timeout'",
        "service 'web': unknown fields links",
    ]
    assert str(info.value) == "\n".join(info.value.problems)
