"""The rolling restart's plan: refusals before anything changes, order, resuming an interrupted restart, messages."""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade
from ansible_collections.corral.cassandra.tests.unit.plugins.plugin_utils._upgrade.docker_fakes import REPO, container_info

NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50"},
]
STACK = {"name": "CassandraDB", "image": f"{REPO}:5.0.8", "version": "5.0.8", "nodes": NODES}
# 2026-12-06 10:00:00 UTC
SINCE = 1796551200.0


def restart_plan(
    started: tuple[str, str, str] = ("2026-12-06T09:00:00.5Z",) * 3,
    status: tuple[str, str, str] = ("running",) * 3,
    copies: tuple[bool, bool, bool] = (False, False, False),
    since: Any = None,
    quiesced: dict[str, Any] | None = None,
) -> dict[str, Any]:
    containers = [
        container_info(node, "5.0.8", status=status[index], started=started[index], container_id=f"{node['name']}-id")
        for index, node in enumerate(NODES)
    ]
    rollback = [
        container_info(node, "5.0.8" if copy else None, status="exited", started="", container_id=f"{node['name']}-id")
        for node, copy in zip(NODES, copies)
    ]
    return upgrade.plan(STACK, containers, rollback, "restart", None, since, quiesced)


def test_every_node_in_the_stack_order() -> None:
    plan = restart_plan()
    assert plan["problems"] == []
    assert plan["order"] == ["cdb1", "cdb2", "cdb3"]
    assert plan["target"] == {"image": f"{REPO}:5.0.8", "version": "5.0.8"}
    steps = upgrade.steps(plan, [])
    assert [(step["name"], step["actions"], step["drain"]) for step in steps] == [
        ("cdb1", ["restarted"], True),
        ("cdb2", ["restarted"], True),
        ("cdb3", ["restarted"], True),
    ]
    assert [node["name"] for node in steps[0]["expected"]] == ["cdb1", "cdb2", "cdb3"]
    assert upgrade.summary(plan, steps) == [
        "restart, one node at a time (drain, restart the same container, gate): cdb1, cdb2, cdb3"
    ]


def test_a_node_down_is_refused_naming_it() -> None:
    plan = restart_plan(status=("running", "exited", "running"))
    assert len(plan["problems"]) == 1
    assert plan["problems"][0].startswith("cdb2 is not running (cdb2 on lab-host2: exited): a rolling restart never starts")


def test_an_upgrade_under_way_is_refused() -> None:
    plan = restart_plan(copies=(True, False, False))
    assert any(problem.startswith("an upgrade is under way (cdb1 keep rollback copies)") for problem in plan["problems"])


def test_a_missing_container_is_refused() -> None:
    started = "2026-12-06T09:00:00Z"
    containers = [
        container_info(NODES[0], "5.0.8", status="running", started=started, container_id="cdb1-id"),
        container_info(NODES[1], None),
        container_info(NODES[2], "5.0.8", status="running", started=started, container_id="cdb3-id"),
    ]
    rollback = [container_info(node, None) for node in NODES]
    plan = upgrade.plan(STACK, containers, rollback, "restart", None)
    assert plan["problems"][0].startswith("cdb2 has no Cassandra container")


def test_a_resumed_restart_skips_the_nodes_started_since_it_began() -> None:
    plan = restart_plan(started=("2026-12-06T10:00:31.25Z", "2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"), since=SINCE)
    assert plan["problems"] == []
    assert plan["order"] == ["cdb2", "cdb3"]
    assert plan["notes"] == [
        "resuming the restart begun at 2026-12-06 10:00:00 UTC: cdb1 restarted since then "
        "(-e restart_all=true restarts every node again)"
    ]


def test_a_resumed_restart_starts_the_node_it_left_stopped_first() -> None:
    plan = restart_plan(
        started=("2026-12-06T10:00:31Z", "2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"),
        status=("running", "running", "exited"),
        since=str(SINCE),
    )
    assert plan["problems"] == []
    assert plan["order"] == ["cdb3", "cdb2"]
    assert plan["may_be_down"] == ["cdb3"]
    steps = upgrade.steps(plan, [])
    assert [(step["name"], step["actions"], step["drain"]) for step in steps] == [
        ("cdb3", ["started"], False),
        ("cdb2", ["restarted"], True),
    ]


def test_two_nodes_down_are_refused_even_when_resuming() -> None:
    plan = restart_plan(status=("exited", "running", "exited"), since=SINCE)
    assert plan["problems"][0].startswith("cdb1, cdb3 are not running")


def test_the_failure_message_says_how_to_go_on() -> None:
    plan = restart_plan()
    text = upgrade.node_failure_message(plan, "cdb2", "the canary failed 2 of 90 operations", False)
    assert text.startswith("The restart of cdb2 failed:\nthe canary failed 2 of 90 operations.\nThe run stopped there")
    assert "re-run `ansible-playbook restart.yml`" in text


def test_started_at_is_read_with_its_fraction() -> None:
    assert upgrade._epoch("2026-12-06T10:00:00.5Z") == SINCE + 0.5
    assert upgrade._epoch("0001-01-01T00:00:00Z") is None
    assert upgrade._epoch(None) is None


def test_a_note_older_than_every_node_start_restarts_every_node() -> None:
    plan = restart_plan(started=("2026-12-06T10:05:00Z",) * 3, since=SINCE)
    assert plan["problems"] == []
    assert plan["order"] == ["cdb1", "cdb2", "cdb3"]
    assert plan["notes"] == [
        "the note of a restart begun at 2026-12-06 10:00:00 UTC is older than every node's start: restarting every node"
    ]
    # The note is written again with this run's start, not kept.
    assert plan["since"] is None


def test_a_resumed_restart_keeps_the_time_it_began() -> None:
    plan = restart_plan(started=("2026-12-06T10:00:31Z", "2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"), since=str(SINCE))
    assert plan["since"] == SINCE


LEFT_QUIESCED = (
    "cdb2 was left quiesced (clients and gossip off, drained) by an earlier run that stopped at it: it comes first, "
    "without a second quiesce"
)


def test_a_resumed_restart_takes_the_node_it_left_quiesced_first_without_waiting_for_it() -> None:
    # Killed during cdb2's quiesce (begun 10:01:10, after its start): cdb1 was restarted, cdb2 runs drained.
    plan = restart_plan(
        started=("2026-12-06T10:00:31Z", "2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"),
        since=SINCE,
        quiesced={"cdb1": str(SINCE + 20), "cdb2": str(SINCE + 70)},
    )
    assert plan["problems"] == []
    assert plan["order"] == ["cdb2", "cdb3"]
    assert plan["may_be_down"] == ["cdb2"]
    assert plan["notes"][-1] == LEFT_QUIESCED
    steps = upgrade.steps(plan, [])
    assert [(step["name"], step["actions"], step["drain"], step["quiesced"]) for step in steps] == [
        ("cdb2", ["restarted"], True, True),
        ("cdb3", ["restarted"], True, False),
    ]
    # cdb2 need not be Up/Normal before its own step, and must be after it.
    assert [node["name"] for node in upgrade.health_expected(plan)] == ["cdb1", "cdb3"]
    assert [node["name"] for node in steps[0]["expected"]] == ["cdb1", "cdb2", "cdb3"]


def test_a_quiesce_note_older_than_the_node_start_is_spent() -> None:
    # cdb1's quiesce at 10:00:20 was followed by its restart at 10:00:31: it runs a new process.
    plan = restart_plan(started=("2026-12-06T10:00:31Z", "2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"),
                        quiesced={"cdb1": SINCE + 20})
    assert plan["problems"] == []
    assert plan["may_be_down"] == []
    assert [node["quiesced"] for node in plan["nodes"]] == [False, False, False]


def test_a_node_left_quiesced_and_another_down_are_refused() -> None:
    plan = restart_plan(status=("running", "running", "exited"), since=SINCE, quiesced={"cdb2": SINCE + 70})
    assert any(problem.startswith("cdb2, cdb3 are down or left quiesced") for problem in plan["problems"]), plan
