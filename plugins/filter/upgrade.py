# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the cassandra_upgrade role: the upgrade's plan, its steps and its messages.

Thin wrappers: the logic lives in plugins/plugin_utils/_upgrade_plan.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.filter.stack import _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils import _upgrade_plan as upgrade


def plan(
    stack: dict[str, Any], containers: list[Any], copies: list[Any], action: str, version: str | None = None
) -> dict[str, Any]:
    """The stack model + each node's container and rollback copy -> the plan (problems refuse it)."""
    return upgrade.plan(_plain(stack), _plain(containers), _plain(copies), str(action), _plain(version))


def split_reads(results: list[Any]) -> dict[str, list[dict[str, Any]]]:
    return upgrade.split_reads(_plain(results))


def steps(plan_: dict[str, Any], module_results: list[Any]) -> list[dict[str, Any]]:
    return upgrade.steps(_plain(plan_), _plain(module_results))


def finish_problems(plan_: dict[str, Any], module_results: list[Any]) -> list[str]:
    return upgrade.finish_problems(_plain(plan_), _plain(module_results))


def health_expected(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    return upgrade.health_expected(_plain(plan_))


def failure_text(result: Any) -> str:
    return upgrade.failure_text(_plain(result))


def host_failures(registered: list[Any], hosts: list[str]) -> list[str]:
    return upgrade.host_failures(_plain(registered), [str(host) for host in hosts])


def node_failure(plan_: dict[str, Any], node: str, failure: str, rolled_back: bool, rollback_failure: str = "") -> str:
    return upgrade.node_failure_message(_plain(plan_), str(node), str(failure), bool(rolled_back), str(rollback_failure))


def schema_problems(stdout: str, ips: list[Any]) -> list[str]:
    return upgrade.schema_by_release_problems(str(stdout), [str(ip) for ip in ips])


def newest_node(plan_: dict[str, Any]) -> dict[str, Any]:
    return upgrade.newest_node(_plain(plan_))


def schema_witness(plan_: dict[str, Any], todo: list[Any], name: str) -> dict[str, Any]:
    return upgrade.schema_witness(_plain(plan_), _plain(todo), str(name))


def summary(plan_: dict[str, Any], todo: list[Any]) -> str:
    return upgrade.summary(_plain(plan_), _plain(todo))


class FilterModule:
    """corral.cassandra.cassandra_upgrade_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cassandra_upgrade_plan": plan,
            "cassandra_upgrade_split_reads": split_reads,
            "cassandra_upgrade_steps": steps,
            "cassandra_upgrade_finish_problems": finish_problems,
            "cassandra_upgrade_health_expected": health_expected,
            "cassandra_upgrade_failure_text": failure_text,
            "cassandra_upgrade_host_failures": host_failures,
            "cassandra_upgrade_node_failure": node_failure,
            "cassandra_upgrade_summary": summary,
            "cassandra_upgrade_schema_problems": schema_problems,
            "cassandra_upgrade_newest_node": newest_node,
            "cassandra_upgrade_schema_witness": schema_witness,
        }
