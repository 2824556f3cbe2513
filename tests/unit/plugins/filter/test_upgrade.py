"""The upgrade filters: names, plain data in and out."""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.filter.upgrade import FilterModule

FILTERS = FilterModule().filters()
NODE = {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"}
STACK = {"name": "CassandraDB", "image": "reg:5000/corral/cassandra:3.10", "version": "3.10", "nodes": [NODE]}


def info(version: str | None) -> dict[str, Any]:
    if version is None:
        return {"item": NODE, "exists": False}
    config = {"Image": f"reg:5000/corral/cassandra:{version}"}
    return {"item": NODE, "exists": True, "container": {"Id": "c1", "State": {"Running": True}, "Config": config}}


def test_filter_names_are_prefixed() -> None:
    assert all(name.startswith("cassandra_upgrade_") for name in FILTERS)


def test_plan_steps_and_summary() -> None:
    plan = FILTERS["cassandra_upgrade_plan"](STACK, [info("3.9")], [info(None)], "upgrade", "3.10")
    assert plan["problems"] == []
    steps = FILTERS["cassandra_upgrade_steps"](plan, [{"item": NODE, "actions": ["recreated cdb1"]}])
    assert [step["name"] for step in steps] == ["cdb1"]
    assert FILTERS["cassandra_upgrade_summary"](plan, steps)[-1].endswith("one node at a time: cdb1")
    assert FILTERS["cassandra_upgrade_health_expected"](plan) == [NODE]


def test_a_number_is_refused_as_a_number() -> None:
    plan = FILTERS["cassandra_upgrade_plan"](STACK, [info("3.9")], [info(None)], "upgrade", 3.1)
    assert "is a number" in plan["problems"][0]


def test_failure_text_and_node_failure() -> None:
    plan = FILTERS["cassandra_upgrade_plan"](STACK, [info("3.9")], [info(None)], "upgrade", "3.10")
    assert FILTERS["cassandra_upgrade_failure_text"]({"msg": "boom"}) == "boom"
    text = FILTERS["cassandra_upgrade_node_failure"](plan, "cdb1", "boom", True)
    assert text.startswith("The upgrade of cdb1 to 3.10 failed:\nboom.\n")


def test_num_tokens_and_failed_node_kept() -> None:
    stack = dict(STACK, image="reg:5000/corral/cassandra:4.1.10", version="4.1.10", num_tokens=None)
    view = {"rc": 0, "stdout": "--  Address  Load  Tokens  Owns  Host ID  Rack\nUN  10.42.0.48  1 KiB  256  ?  h1  rack1"}
    assert FILTERS["cassandra_upgrade_num_tokens"](stack, [view], "upgrade")["num_tokens"] == 256
    plan = FILTERS["cassandra_upgrade_plan"](STACK, [info("3.9")], [info(None)], "upgrade", "3.10")
    assert FILTERS["cassandra_upgrade_failed_node_kept"](plan, "cdb1", {}, True)["keep"] is False
    assert FILTERS["cassandra_upgrade_node_failure"](plan, "cdb1", "boom", True, "", {}).startswith("The upgrade of cdb1")
