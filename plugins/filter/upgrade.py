# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the cassandra_upgrade role: the upgrade's plan, its steps and its messages.

Thin wrappers: the logic lives in plugins/plugin_utils/_upgrade/plan.py (and rollback.py, canary.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import canary, rollback
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade


def plan(
    stack: dict[str, Any],
    containers: list[Any],
    copies: list[Any],
    action: str,
    version: str | None = None,
    since: Any = None,
    quiesced: Any = None,
) -> dict[str, Any]:
    """The stack model + each node's container and rollback copy -> the plan (problems refuse it)."""
    return upgrade.plan(
        _plain(stack), _plain(containers), _plain(copies), str(action), _plain(version), _plain(since), _plain(quiesced)
    )


def recorded_stack(stack: dict[str, Any], containers: list[Any], copies: list[Any], action: str) -> dict[str, Any]:
    """The stack model with the settings the containers record (finish: the upgraded ones; rollback: the copies)."""
    return upgrade.recorded_stack(_plain(stack), _plain(containers), _plain(copies), str(action))


def num_tokens(stack: dict[str, Any], ring_views: list[Any], action: str) -> dict[str, Any]:
    """The stack model + the preflight's ring views -> the num_tokens the new containers get (what the nodes hold)."""
    return upgrade.kept_num_tokens(_plain(stack), _plain(ring_views or []), str(action))


def read_containers(stack: dict[str, Any], reads: dict[str, Any]) -> dict[str, Any]:
    """Each host's read look ({host: result}) -> containers and copies (what plan takes)."""
    return upgrade.read_containers(_plain(stack), _plain(reads))


def steps(plan_: dict[str, Any], module_results: list[Any]) -> list[dict[str, Any]]:
    return upgrade.steps(_plain(plan_), _plain(module_results))


def recover_steps(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    return upgrade.recover_steps(_plain(plan_))


def finish_problems(plan_: dict[str, Any], module_results: list[Any]) -> list[str]:
    return upgrade.finish_problems(_plain(plan_), _plain(module_results))


def health_expected(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    return upgrade.health_expected(_plain(plan_))


def failure_text(result: Any) -> str:
    return upgrade.failure_text(_plain(result))


def node_failure(
    plan_: dict[str, Any], node: str, failure: str, rolled_back: bool, rollback_failure: str = "", kept: Any = None
) -> str:
    return upgrade.node_failure_message(
        _plain(plan_), str(node), str(failure), bool(rolled_back), str(rollback_failure), _plain(kept) or None
    )


def failed_node_kept(plan_: dict[str, Any], node: str, reads: dict[str, Any], snapshot: Any = True) -> dict[str, Any]:
    """Whether the node whose upgrade failed is kept on its newer version (its on-disk format changed) rather than
    rolled back on its own."""
    return rollback.failed_node_kept(_plain(plan_), str(node), _plain(reads or {}), bool(snapshot))


def look_spec(
    expected: list[Any], deadline: float, per_release: bool, schema_node: dict[str, Any], changed: str = ""
) -> dict[str, Any]:
    return upgrade.look_spec(_plain(expected), float(deadline), bool(per_release), _plain(schema_node), str(changed or ""))


def wait_failures(results: dict[str, Any]) -> dict[str, list[str]]:
    return upgrade.wait_failures(_plain(results))


def script(text: str, variables: dict[str, Any]) -> str:
    """The host script with its variables set first: ansible.builtin.raw runs it as it is, with no environment."""
    return upgrade.script_with(str(text), _plain(variables))


def newest_node(plan_: dict[str, Any]) -> dict[str, Any]:
    return upgrade.newest_node(_plain(plan_))


def schema_witness(plan_: dict[str, Any], todo: list[Any], name: str) -> dict[str, Any]:
    return upgrade.schema_witness(_plain(plan_), _plain(todo), str(name))


def summary(plan_: dict[str, Any], todo: list[Any]) -> list[str]:
    return upgrade.summary(_plain(plan_), _plain(todo))


def canary_problems(settings: dict[str, Any]) -> list[str]:
    return canary.settings_problems(_plain(settings))


def canary_baseline(text: str, settings: dict[str, Any]) -> dict[str, Any]:
    return canary.baseline(str(text or ""), _plain(settings))


def canary_verdict(
    text: str, healthy_line: int, baseline: dict[str, Any], settings: dict[str, Any], node: str, timed_out: bool
) -> dict[str, Any]:
    return canary.verdict(str(text or ""), int(healthy_line), _plain(baseline), _plain(settings), str(node), bool(timed_out))


def canary_report(text: str, baseline_lines: int, first_step_line: int) -> list[str]:
    return canary.report(str(text or ""), int(baseline_lines), int(first_step_line))


def rollback_restores(plan_: dict[str, Any], reads: dict[str, Any], acknowledged: Any = False) -> dict[str, Any]:
    """The plan + each host's data read -> the nodes a rollback restores from snapshots, the repairs, refusals."""
    return rollback.rollback_restores(_plain(plan_), _plain(reads), bool(acknowledged))


def restore_line(restore: dict[str, Any], output: str) -> str:
    return rollback.restore_line(_plain(restore), str(output or ""))


def restore_report(restores: dict[str, Any], repairs: list[Any], back: dict[str, Any] | None = None) -> list[str]:
    return rollback.restore_report(_plain(restores), _plain(repairs or []), _plain(back or {}))


class FilterModule:
    """corral.cassandra.cassandra_upgrade_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cassandra_upgrade_plan": plan,
            "cassandra_upgrade_read_containers": read_containers,
            "cassandra_upgrade_recorded_stack": recorded_stack,
            "cassandra_upgrade_num_tokens": num_tokens,
            "cassandra_upgrade_steps": steps,
            "cassandra_upgrade_recover_steps": recover_steps,
            "cassandra_upgrade_finish_problems": finish_problems,
            "cassandra_upgrade_health_expected": health_expected,
            "cassandra_upgrade_failure_text": failure_text,
            "cassandra_upgrade_node_failure": node_failure,
            "cassandra_upgrade_failed_node_kept": failed_node_kept,
            "cassandra_upgrade_summary": summary,
            "cassandra_upgrade_look_spec": look_spec,
            "cassandra_upgrade_wait_failures": wait_failures,
            "cassandra_upgrade_script": script,
            "cassandra_upgrade_newest_node": newest_node,
            "cassandra_upgrade_schema_witness": schema_witness,
            "cassandra_upgrade_canary_problems": canary_problems,
            "cassandra_upgrade_canary_baseline": canary_baseline,
            "cassandra_upgrade_canary_verdict": canary_verdict,
            "cassandra_upgrade_canary_report": canary_report,
            "cassandra_upgrade_rollback_restores": rollback_restores,
            "cassandra_upgrade_restore_line": restore_line,
            "cassandra_upgrade_restore_report": restore_report,
        }
