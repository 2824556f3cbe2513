"""Fakes of what community.docker reads of a node's Cassandra container, shared by the upgrade's unit tests."""

from __future__ import annotations

from typing import Any

REPO = "reg:5000/corral/cassandra"


def container_info(
    node: dict[str, Any],
    version: str | None,
    *,
    running: bool | None = None,
    status: str | None = None,
    started: str | None = None,
    labels: dict[str, str] | None = None,
    container_id: str | None = None,
) -> dict[str, Any]:
    """One loop item of docker_container_info for node: its container running REPO:version (None: no such container).

    State.Running is running, or when not given whether status is "running" (True without a status). State.Status and
    State.StartedAt are there only when status and started are given. The Id is container_id, or "<name>-<version>".
    """
    if version is None:
        return {"item": node, "exists": False, "container": None}
    state: dict[str, Any] = {"Running": running if running is not None else status in (None, "running")}
    if status is not None:
        state["Status"] = status
    if started is not None:
        state["StartedAt"] = started
    return {
        "item": node,
        "exists": True,
        "container": {
            "Id": container_id or f"{node['name']}-{version}",
            "State": state,
            "Config": {"Image": f"{REPO}:{version}", "Labels": labels or {}, "Env": []},
        },
    }
