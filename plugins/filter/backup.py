# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the cassandra_backup role: the preflight's refusals, Medusa's output read back, the restore's plan.

Thin wrappers: the logic lives in plugins/plugin_utils/_backup/medusa.py and restore.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._backup import medusa, restore
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import refusing


@refusing
def plan(reads: dict[str, Any], action: str, name: str, mode: str, storage: dict[str, Any] | None = None) -> dict[str, Any]:
    """What each host holds of the stack -> the nodes to run Medusa on, or a refusal naming every problem."""
    return medusa.plan(str(action), str(name or ""), str(mode), medusa.nodes_from_reads(_plain(reads)),
                       _plain(storage or {}))


def report(runs: list[dict[str, Any]], action: str, ips: dict[str, str]) -> dict[str, Any]:
    """The sidekicks' docker_container results (loop items: the nodes) -> lines to print, figures per node, problems."""
    return medusa.report(str(action), medusa.outputs(_plain(runs)), _plain(ips))


@refusing
def restore_plan(nodes: list[dict[str, Any]], runs: list[dict[str, Any]], name: str, tables: list[str],
                 overwrite: bool) -> dict[str, Any]:
    """The nodes and each node's `restore_node.py read` (sidekick results) -> what to create, truncate and load."""
    return restore.plan(_plain(nodes), medusa.outputs(_plain(runs)), str(name), [str(item) for item in tables],
                        bool(overwrite))


def restore_load(run: dict[str, Any], node: str) -> dict[str, Any]:
    """One node's `restore_node.py load` (its sidekick's docker_container result) -> its line and figures, or a problem."""
    return restore.load_report(str(node), medusa.outputs([{**_plain(run), "item": {"name": str(node)}}])[str(node)])


class FilterModule:
    """corral.cassandra.cassandra_backup_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cassandra_backup_plan": plan,
            "cassandra_backup_report": report,
            "cassandra_backup_restore_plan": restore_plan,
            "cassandra_backup_restore_load": restore_load,
        }
