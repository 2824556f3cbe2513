"""The cassandra_backup role's reading of Medusa's output, as a playbook run of backup.yml or restore.yml reports it."""

from __future__ import annotations

from typing import Any

from refusal import Run

REPORT_TASK = "Read Medusa's output of every node"


def report(run: Run) -> dict[str, Any]:
    """The role's reading of Medusa's output (lines, figures per node, problems)."""
    for task in run.tasks:
        if task["name"].endswith(REPORT_TASK):
            for result in task["hosts"].values():
                found: dict[str, Any] = result["ansible_facts"]["__cassandra_backup_report"]
                return found
    raise AssertionError(f"no report in the run: {run.output}")
