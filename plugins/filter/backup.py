# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the cassandra_backup role: the preflight's refusals and Medusa's output read back.

Thin wrappers: the logic lives in plugins/plugin_utils/_backup/medusa.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._backup import medusa
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import refusing


@refusing
def plan(reads: dict[str, Any], action: str, name: str, mode: str) -> dict[str, Any]:
    """What each host holds of the stack -> the nodes to run Medusa on, or a refusal naming every problem."""
    return medusa.plan(str(action), str(name or ""), str(mode), medusa.nodes_from_reads(_plain(reads)))


def report(runs: list[dict[str, Any]], action: str, ips: dict[str, str]) -> dict[str, Any]:
    """The sidekicks' docker_container results (loop items: the nodes) -> lines to print, figures per node, problems."""
    return medusa.report(str(action), medusa.outputs(_plain(runs)), _plain(ips))


class FilterModule:
    """corral.cassandra.cassandra_backup_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cassandra_backup_plan": plan,
            "cassandra_backup_report": report,
        }
