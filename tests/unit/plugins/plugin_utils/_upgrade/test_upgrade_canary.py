"""The canary's figures and its gate: settings, baseline, verdict after a node, the report at the end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import canary

SETTINGS: dict[str, Any] = {"rate": 50, "baseline": 3, "window": 3, "timeout": 30, "p99_factor": 3, "p99_floor_ms": 50}


def line(latencies: list[float], failed: int = 0, errors: list[str] | None = None, seconds: float = 1.0) -> str:
    return json.dumps(
        {"t": 1.0, "s": seconds, "ops": len(latencies), "failed": failed, "lat_ms": latencies, "errors": errors or []}
    )


def text(*lines: str) -> str:
    return "".join(item + "\n" for item in lines)


def test_percentile_is_nearest_rank() -> None:
    values = [float(value) for value in range(1, 101)]
    assert canary.percentile(values, 0.99) == 99.0
    assert canary.percentile(values, 0.50) == 50.0
    assert canary.percentile([7.0], 0.99) == 7.0
    assert canary.percentile([], 0.99) == 0.0


def test_figures_sum_seconds_and_take_percentiles_over_all_latencies() -> None:
    samples = canary.parse(text(line([1.0] * 98), line([2.0, 300.0], failed=1, errors=["Timeout"])))
    taken = canary.figures(samples)
    assert taken == {
        "seconds": 2.0, "ops": 100, "failed": 1, "p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 300.0, "errors": ["Timeout"]
    }


def test_a_cut_last_line_is_left_out() -> None:
    whole = text(line([1.0]), line([2.0]))
    assert len(canary.parse(whole + line([3.0])[:20])) == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"window": 0}, "cassandra_upgrade_canary_window=0"),
        ({"p99_factor": 0.5}, "cassandra_upgrade_canary_p99_factor=0.5"),
        ({"p99_floor_ms": -1}, "cassandra_upgrade_canary_p99_floor_ms=-1"),
        ({"rate": "many"}, "cassandra_upgrade_canary_rate='many'"),
        ({"baseline": True}, "cassandra_upgrade_canary_baseline=True"),
        ({"timeout": 2}, "cassandra_upgrade_canary_timeout=2 is shorter than cassandra_upgrade_canary_window=3"),
    ],
)
def test_bad_settings_are_named(change: dict[str, Any], named: str) -> None:
    problems = canary.settings_problems({**SETTINGS, **change})
    assert len(problems) == 1
    assert problems[0].startswith(named), problems


def test_good_settings_pass() -> None:
    assert canary.settings_problems(SETTINGS) == []
    assert canary.settings_problems({**SETTINGS, "p99_factor": "2.5", "p99_floor_ms": 0}) == []


def test_baseline_skips_the_warm_up_second_and_waits_for_enough_seconds() -> None:
    warm_up = line([900.0])
    waiting = canary.baseline(text(warm_up, line([2.0]), line([3.0])), SETTINGS)
    assert not waiting["done"]
    done = canary.baseline(text(warm_up, line([2.0]), line([3.0]), line([4.0])), SETTINGS)
    assert done["done"] and done["ok"]
    assert done["figures"]["p99_ms"] == 4.0
    assert done["lines"] == 4


def test_baseline_with_a_failure_refuses_the_run() -> None:
    failed = canary.baseline(text(line([1.0]), line([2.0], failed=1, errors=["Unavailable: 1 of 2"])), SETTINGS)
    assert failed["done"] and not failed["ok"]
    assert "failed 1 of 1 operations before any node changed" in failed["message"]
    assert "Unavailable: 1 of 2" in failed["message"]


BASE = {"p99_ms": 10.0}


def test_limit_is_the_factor_or_the_floor() -> None:
    assert canary.limit_ms(BASE, SETTINGS) == 50.0
    assert canary.limit_ms({"p99_ms": 40.0}, SETTINGS) == 120.0


def test_gate_passes_on_a_fresh_window_under_the_limit() -> None:
    step = text(line([200.0, 5.0]), line([5.0]), line([6.0]), line([7.0]), line([8.0]))
    result = canary.verdict(step, 2, BASE, SETTINGS, "cdb2", False)
    assert result["done"] and result["ok"], result
    assert result["window"]["p99_ms"] == 8.0
    assert result["step"]["max_ms"] == 200.0
    assert result["message"].startswith("canary, cdb2: 6 ops, 0 failed during its step")


def test_gate_waits_for_enough_fresh_seconds() -> None:
    step = text(line([5.0]), line([5.0]), line([6.0]))
    result = canary.verdict(step, 1, BASE, SETTINGS, "cdb2", False)
    assert not result["done"]


def test_gate_fails_at_once_on_a_failure_during_the_step() -> None:
    step = text(line([5.0]), line([5.0, 10000.0], failed=1, errors=["OperationTimedOut: errors={}"]))
    result = canary.verdict(step, 2, BASE, SETTINGS, "cdb2", False)
    assert result["done"] and not result["ok"]
    assert result["message"] == (
        "the canary failed 1 of 3 operations during the step of cdb2 (first: OperationTimedOut: errors={}): "
        "clients saw errors"
    )


def test_gate_waits_while_p99_is_high_then_fails_naming_the_figures() -> None:
    step = text(line([5.0]), line([80.0]), line([90.0]), line([70.0]))
    waiting = canary.verdict(step, 1, BASE, SETTINGS, "cdb3", False)
    assert not waiting["done"]
    failed = canary.verdict(step, 1, BASE, SETTINGS, "cdb3", True)
    assert failed["done"] and not failed["ok"]
    assert "p99 after cdb3 was healthy stayed at 90.0 ms" in failed["message"]
    assert "over the limit of 50.0 ms" in failed["message"]
    assert "3 x the baseline's p99 of 10.0 ms and 50 ms" in failed["message"]


def test_gate_passes_when_p99_comes_down_within_the_time() -> None:
    step = text(line([5.0]), line([80.0]), line([9.0]), line([9.0]), line([9.0]))
    result = canary.verdict(step, 1, BASE, SETTINGS, "cdb3", False)
    assert result["done"] and result["ok"]


def test_gate_fails_when_the_canary_stopped_writing() -> None:
    result = canary.verdict(text(line([5.0]), line([5.0])), 1, BASE, SETTINGS, "cdb1", True)
    assert result["done"] and not result["ok"]
    assert "wrote only 1.0 s of figures after cdb1 was healthy" in result["message"]


def test_report_before_and_during() -> None:
    whole = text(line([500.0]), line([1.0, 2.0]), line([3.0]), line([4.0, 40.0], failed=1, errors=["Unavailable"]))
    lines = canary.report(whole, 3, 3)
    assert lines[1] == "before: 3 ops in 2.0 s, 0 failed, p50 2.0 ms, p99 3.0 ms, max 3.0 ms"
    assert lines[2] == "during: 2 ops in 1.0 s, 1 failed, p50 4.0 ms, p99 40.0 ms, max 40.0 ms; first errors: Unavailable"
