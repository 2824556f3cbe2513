# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The canary's figures and the gate on them: what clients saw while a rolling change went node by node.

The canary (roles/cassandra_upgrade/files/canary.py) appends one JSON line per second to its file:
{"t": start, "s": seconds, "ops": n, "failed": n, "lat_ms": [every latency], "errors": [first few]}. The role
reads that file with `tail` and hands the text here. Controller-side and free of Ansible imports.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Setting name (without the cassandra_upgrade_canary_ prefix) -> (lowest value allowed, what it means).
SETTINGS: dict[str, tuple[float, str]] = {
    "rate": (1, "operations a second"),
    "baseline": (1, "seconds of figures taken before the first node"),
    "window": (1, "seconds of figures after a node is healthy"),
    "timeout": (1, "seconds a node's window may take to come under the p99 limit"),
    "p99_factor": (1, "times the baseline's p99"),
    "p99_floor_ms": (0, "milliseconds"),
}


def settings_problems(settings: dict[str, Any]) -> list[str]:
    """Why the canary settings ({name: value}, names without the prefix) are refused; [] when they are fine."""
    problems = []
    for name, (lowest, meaning) in SETTINGS.items():
        value = settings.get(name)
        number: float | None = None
        if not isinstance(value, bool) and isinstance(value, (int, float, str)):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number) or number < lowest:
            problems.append(
                f"cassandra_upgrade_canary_{name}={value!r} is not a number of {meaning} of at least {lowest:g}"
            )
    if not problems and float(settings["timeout"]) < float(settings["window"]):
        problems.append(
            f"cassandra_upgrade_canary_timeout={settings['timeout']} is shorter than cassandra_upgrade_canary_window="
            f"{settings['window']}: a node's window of figures could never be complete in time"
        )
    return problems


def parse(text: str) -> list[dict[str, Any]]:
    """The canary's lines -> one dict per second. A line being written (no newline yet, or cut) is left out."""
    samples = []
    for line in (text or "").splitlines():
        try:
            sample = json.loads(line)
        except ValueError:
            continue
        if isinstance(sample, dict) and isinstance(sample.get("lat_ms"), list):
            samples.append(sample)
    return samples


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def figures(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum of seconds: seconds, ops, failed, p50/p99/max latency (ms), the first errors."""
    latencies = [float(value) for sample in samples for value in sample.get("lat_ms") or []]
    errors = [str(error) for sample in samples for error in sample.get("errors") or []]
    return {
        "seconds": round(sum(float(sample.get("s") or 0) for sample in samples), 1),
        "ops": sum(int(sample.get("ops") or 0) for sample in samples),
        "failed": sum(int(sample.get("failed") or 0) for sample in samples),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "errors": errors[:3],
    }


def last_seconds(samples: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]] | None:
    """The last samples that together cover `seconds`; None when all of them cover less."""
    total = 0.0
    for index in range(len(samples) - 1, -1, -1):
        total += float(samples[index].get("s") or 0)
        if total >= seconds:
            return samples[index:]
    return None


def limit_ms(baseline: dict[str, Any], settings: dict[str, Any]) -> float:
    """The p99 a node's window must stay under: factor times the baseline's p99, never below the floor."""
    return round(max(float(settings["p99_factor"]) * float(baseline["p99_ms"]), float(settings["p99_floor_ms"])), 1)


def baseline(text: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The figures before the first node: `baseline` seconds after the first (warm-up) second.

    Returns {done, ok, figures, limit_ms, lines, message}: done once enough seconds are there (or the canary
    failed); ok when none of them failed; limit_ms, the p99 each node's window must stay under; lines, how many lines
    the file held."""
    samples = parse(text)
    window = last_seconds(samples[1:], float(settings["baseline"]))
    taken = figures(window if window is not None else samples[1:])
    result: dict[str, Any] = {
        "done": False,
        "ok": False,
        "figures": taken,
        "limit_ms": limit_ms(taken, settings),
        "lines": len(samples),
        "message": "",
    }
    if taken["failed"]:
        result.update(
            done=True,
            message=f"the canary failed {taken['failed']} of {taken['ops']} operations before any node changed "
            f"(first: {'; '.join(taken['errors']) or 'no error text'}): the cluster does not serve QUORUM reads and "
            "writes as it is; nothing was changed",
        )
    elif window is not None:
        result.update(done=True, ok=True)
    return result


def verdict(
    text: str,
    healthy_line: int,
    base: dict[str, Any],
    settings: dict[str, Any],
    node: str,
    timed_out: bool,
) -> dict[str, Any]:
    """The gate after `node`'s step. text: the canary's lines since the step began; healthy_line: how many of
    them were there when the node was found healthy.

    Zero failed operations since the step began, and p99 of the last `window` seconds after the node was healthy
    under the limit. Returns {done, ok, step, window, limit_ms, message}: done when it passed, failed, or timed out.
    """
    samples = parse(text)
    step, fresh = samples, samples[healthy_line:]
    limit = limit_ms(base, settings)
    window = last_seconds(fresh, float(settings["window"]))
    result: dict[str, Any] = {
        "done": False,
        "ok": False,
        "node": node,
        "step": figures(step),
        "window": figures(window or fresh),
        "limit_ms": limit,
        "message": "",
    }
    if result["step"]["failed"]:
        failed = result["step"]
        result.update(
            done=True,
            message=f"the canary failed {failed['failed']} of {failed['ops']} operations during the step of {node} "
            f"(first: {'; '.join(failed['errors']) or 'no error text'}): clients saw errors",
        )
        return result
    if window is not None and result["window"]["p99_ms"] <= limit:
        result.update(done=True, ok=True, message=_passed(result))
        return result
    if not timed_out:
        return result
    if window is None:
        result.update(
            done=True,
            message=f"the canary wrote only {result['window']['seconds']} s of figures after {node} was healthy, not "
            f"the {settings['window']} s the gate needs, within {settings['timeout']} s: it is not running (see the "
            "canary container's log)",
        )
    else:
        result.update(
            done=True,
            message=f"the canary's p99 after {node} was healthy stayed at {result['window']['p99_ms']} ms (last "
            f"{result['window']['seconds']} s, {result['window']['ops']} ops) for {settings['timeout']} s, over the limit "
            f"of {limit} ms (the larger of {settings['p99_factor']} x the baseline's p99 of {base['p99_ms']} ms and "
            f"{settings['p99_floor_ms']} ms)",
        )
    return result


def _passed(result: dict[str, Any]) -> str:
    step, window = result["step"], result["window"]
    return (
        f"canary, {result['node']}: {step['ops']} ops, 0 failed during its step (p99 {step['p99_ms']} ms, "
        f"max {step['max_ms']} ms); p99 {window['p99_ms']} ms over {window['seconds']} s after it was healthy, "
        f"under {result['limit_ms']} ms"
    )


def report(text: str, baseline_lines: int, first_step_line: int) -> list[str]:
    """The run's figures at the end, one line each: before the first node (the baseline) and during the change."""
    samples = parse(text)
    before = figures(samples[1:baseline_lines])
    during = figures(samples[first_step_line:])
    lines = ["canary (QUORUM writes and reads in its own keyspace):"]
    for name, taken in (("before", before), ("during", during)):
        lines.append(
            f"{name}: {taken['ops']} ops in {taken['seconds']} s, {taken['failed']} failed, p50 {taken['p50_ms']} ms, "
            f"p99 {taken['p99_ms']} ms, max {taken['max_ms']} ms"
            + (f"; first errors: {'; '.join(taken['errors'])}" if taken["errors"] else "")
        )
    return lines
