"""bench/topology.py's reading of a site.yml run: the JSON callback's task times, the canary's report and gates (as
plugins/plugin_utils/_upgrade/canary.py writes them), and a joining node's log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import canary
from bench_loader import load_bench

bench = load_bench("topology")
SETTINGS = {"rate": 50, "baseline": 2, "window": 2, "timeout": 60, "p99_factor": 5, "p99_floor_ms": 250}


def seconds(*latencies: list[float], failed: int = 0) -> str:
    """The canary's file: one JSON line per second."""
    return "".join(
        json.dumps({"t": 1000 + i, "s": 1.0, "ops": len(lat), "failed": failed, "lat_ms": lat, "errors": []}) + "\n"
        for i, lat in enumerate(latencies)
    )


def task(name: str, start: str, end: str, **hosts: dict[str, Any]) -> dict[str, Any]:
    return {"task": {"name": name, "duration": {"start": start, "end": end}}, "hosts": hosts}


def run_of(*tasks: dict[str, Any], started: float = 0.0) -> Any:
    report = {"plays": [{"play": {"name": "p"}, "tasks": list(tasks)}], "stats": {}}
    return bench.Run(100.0, 0, bench.tasks_of(report), started)


def report_task(lines: list[str]) -> dict[str, Any]:
    name = f"corral.cassandra.cassandra_upgrade : {bench.CANARY_REPORT}"
    return task(name, "2026-12-06T21:00:00Z", "2026-12-06T21:00:01Z", **{"lab-host1": {"msg": lines}})


def verdict_task(step: str, result: dict[str, Any]) -> dict[str, Any]:
    name = f"corral.cassandra.cassandra_upgrade : {bench.CANARY_VERDICT}{step}"
    return task(name, "2026-12-06T21:00:00Z", "2026-12-06T21:00:01Z", **{"lab-host1": result})


def test_the_canary_report_is_read_as_the_plugin_writes_it() -> None:
    text = seconds([9.0], [1.0, 2.0], [2.0, 3.0], [4.0, 40.0], [5.0, 6.0])
    lines = canary.report(text, 3, 3)
    figures = bench.canary_figures(run_of(report_task(lines)).tasks)
    assert figures["before"] == {"ops": 4, "seconds": 2.0, "failed": 0, "p50_ms": 2.0, "p99_ms": 3.0}
    assert figures["during"] == {"ops": 4, "seconds": 2.0, "failed": 0, "p50_ms": 5.0, "p99_ms": 40.0}


def test_a_passed_gate_gives_the_steps_figures_a_failed_one_its_message() -> None:
    base = canary.baseline(seconds([1.0], [2.0], [3.0]), SETTINGS)
    passed = canary.verdict(seconds([5.0, 60.0], [4.0], [3.0]), 1, base["figures"], SETTINGS, "cdb4", False)
    assert passed["ok"], passed
    failed = {"failed": True, "msg": "the canary failed 2 of 90 operations during the step of cdb1"}
    steps = bench.canary_steps(run_of(
        verdict_task("one node at a time: cdb4", {"msg": passed["message"]}),
        verdict_task("cleanup on cdb1, cdb2, cdb3", failed),
    ).tasks)
    assert steps["one node at a time: cdb4"] == {
        "node": "cdb4", "ops": 4.0, "p99_ms": 60.0, "max_ms": 60.0, "window_p99_ms": 4.0, "window_s": 2.0,
        "limit_ms": 250.0,
    }
    assert steps["cleanup on cdb1, cdb2, cdb3"] == {"failed": True, "message": failed["msg"]}


ADD = run_of(
    task("corral.cassandra.cassandra_stack : Start the canary and take its baseline, as the ring changes",
         "2026-12-06T21:00:10.000000Z", "2026-12-06T21:00:10.100000Z"),
    task("corral.cassandra.cassandra_stack : Start: one node at a time: cdb4",
         "2026-12-06T21:00:20.500000Z", "2026-12-06T21:00:20.600000Z"),
    task("corral.cassandra.cassandra_stack : Wait: cdb4 Up/Normal", "2026-12-06T21:00:30Z", "2026-12-06T21:01:05Z"),
    task("corral.cassandra.cassandra_stack : Canary: gate on what clients saw: one node at a time: cdb4",
         "2026-12-06T21:01:10.500000Z", "2026-12-06T21:01:11Z"),
    task(f"corral.cassandra.cassandra_stack : {bench.CLEANUP_TASK}", "2026-12-06T21:01:20Z", "2026-12-06T21:01:44.250000Z"),
    started=bench.stamp("2026-12-06T21:00:00Z"),
)


@pytest.mark.parametrize(
    ("begin", "until", "expected"),
    [
        (bench.CANARY_START, "Start: one node at a time: cdb4", 10.5),
        ("Start: one node at a time: cdb4", "Canary: gate on what clients saw: one node at a time: cdb4", 50.0),
        (bench.CLEANUP_TASK, None, 24.2),
        ("Wait: cdb4", None, 35.0),
        (bench.DECOMMISSION_TASK, None, None),
        ("Start: one node at a time: cdb4", "No such task", None),
        # `until` counts only from `begin` on.
        ("Wait: cdb4", "Start: one node at a time: cdb4", None),
    ],
)
def test_a_span_runs_from_a_tasks_start_to_the_next_ones_start_or_its_own_end(
    begin: str, until: str | None, expected: float | None
) -> None:
    assert bench.span(ADD.tasks, begin, until) == expected


def test_the_joining_phase_and_the_time_before_it() -> None:
    assert bench.joining_phase(ADD.tasks, "cdb4") == "one node at a time: cdb4"
    assert bench.since_start(ADD, "Start: one node at a time: cdb4") == 20.5
    assert bench.since_start(ADD, "No such task") is None


def test_a_step_report_sets_each_step_against_the_canarys_baseline() -> None:
    text = seconds([9.0], [1.0], [2.0], [3.0], [20.0])
    base = canary.baseline(seconds([1.0], [2.0], [2.0]), SETTINGS)
    passed = canary.verdict(seconds([3.0], [8.0], [2.0]), 1, base["figures"], SETTINGS, "cdb4", False)
    run = run_of(*[verdict_task("one node at a time: cdb4", {"msg": passed["message"]}),
                   report_task(canary.report(text, 3, 3))])
    report = bench.step_report(run, {"bootstrap": 42.0})
    assert report["bootstrap_s"] == 42.0
    assert report["canary"]["before"]["p99_ms"] == 2.0
    assert report["p99_during_to_before"] == 10.0
    assert report["p99_step_to_before"] == {"one node at a time: cdb4": 4.0}
    assert len(report["slowest_tasks"]) == 2


def test_a_missing_figure_gives_no_ratio() -> None:
    assert bench.ratio(None, 10.0) is None
    assert bench.ratio(30.0, 0.0) is None
    assert bench.ratio(30.0, 12.0) == 2.5


DOCKER_LOG = """\
2026-12-06T21:00:21.100000000Z INFO  21:00:21.100 Loading settings from file:/etc/cassandra/cassandra.yaml
2026-12-06T21:00:29.000000000Z INFO  21:00:29.000 JOINING: waiting for ring information
2026-12-06T21:00:31.000000000Z INFO  21:00:31.000 JOINING: schema complete, ready to bootstrap
2026-12-06T21:00:31.500000000Z INFO  21:00:31.500 JOINING: sleeping 30000 ms for pending range setup
2026-12-06T21:01:01.600000000Z INFO  21:01:01.600 JOINING: Starting to bootstrap...
2026-12-06T21:01:04.100000000Z INFO  21:01:04.100 Bootstrap completed! for the tokens [1, 2]
2026-12-06T21:01:05.000000000Z INFO  21:01:05.000 Starting listening for CQL clients on /0.0.0.0:9042 (unencrypted)...
a line without a stamp
"""


def test_a_joining_nodes_log_gives_when_it_joined_slept_streamed_and_served() -> None:
    assert bench.join_marks(DOCKER_LOG) == {
        "joining": 7.9, "ring_delay_sleep": 10.4, "streaming": 40.5, "streamed": 43.0, "cql": 43.9,
    }
    assert bench.join_marks("Error: No such container: cdb4\n") == {}
