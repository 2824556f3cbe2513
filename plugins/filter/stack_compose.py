# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the stack_compose role: running containers -> stack (export), stack -> deployments (import).

Thin wrappers: the logic lives in plugins/plugin_utils/_compose/stack.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import stack as stack_compose
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.addresses import held_addresses
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import RancherComposeError, RancherStack
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import refused, refusing


@refusing
def from_containers(containers: list[Any], name: str, images: list[Any] | None = None) -> dict[str, Any]:
    """docker inspect of the stack's containers and of their images -> the stack as plain data."""
    with refused(f"the stack {name!r} cannot be exported; nothing was written", RancherComposeError):
        return _plain(stack_compose.from_containers(str(name), _plain(containers), _plain(images or [])).to_dict())


@refusing
def cassandra_settings(
    stack: dict[str, Any],
    current: dict[str, Any],
    ipam: list[Any] | None = None,
    containers: dict[str, Any] | None = None,
    network: str = "",
    found: dict[str, str] | None = None,
    unread: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A parsed stack + the settings in force -> cassandra_stack_* settings for its Cassandra services ({} if none).

    ipam: the overlay's IPAM.Config; containers: {host: docker ps entries}; both for choosing missing addresses;
    found and unread: the addresses the nodes' data was written under, and the nodes whose data could not be read.
    """
    data = _plain(stack)
    config: dict[str, Any] = next((item for item in _plain(ipam or []) if ":" not in str(item.get("Subnet") or ":")), {})
    with refused(f"the Rancher stack {data.get('name')!r} cannot be imported; nothing was changed", RancherComposeError):
        return _plain(
            stack_compose.cassandra_settings(
                RancherStack.from_dict(data),
                _plain(current),
                subnet=config.get("Subnet") or None,
                gateway=config.get("Gateway") or None,
                held=held_addresses(_plain(containers or {}), str(data.get("name") or ""), str(network)),
                found=_plain(found or {}),
                unread=_plain(unread or {}),
            )
        )


@refusing
def plain_containers(stack: dict[str, Any], placement: dict[str, list[str]], network: str) -> list[dict[str, Any]]:
    """A parsed, placed stack -> the containers of its services that are not Cassandra."""
    with refused("the Rancher stack cannot be imported; nothing was changed", RancherComposeError):
        return _plain(
            stack_compose.plain_containers(RancherStack.from_dict(_plain(stack)), _plain(placement), str(network))
        )


def host_data_dirs(containers: list[Any], name: str) -> list[str]:
    """The host directories bound by the stack's data containers and plain containers."""
    return stack_compose.host_data_dirs(_plain(containers), str(name))


def planned(plain: list[Any], nodes: list[Any]) -> list[dict[str, Any]]:
    """[{host, name, ip}] of the containers an import creates (plain containers + the model's nodes)."""
    return stack_compose.planned(_plain(plain), _plain(nodes))


def plan(
    settings: dict[str, Any],
    model: dict[str, Any],
    plain: list[Any],
    data_found: dict[str, bool] | None = None,
    ignored: list[str] | None = None,
) -> list[str]:
    """The import's plan, one line per container, then the cluster name, the Rancher keys as mapped, what was ignored."""
    return stack_compose.import_plan(
        _plain(settings), _plain(model), _plain(plain), _plain(data_found or {}), _plain(ignored or [])
    )


def conflicts(planned: list[Any], name: str, containers: dict[str, Any], network: str) -> list[str]:
    """Planned containers that clash (by name or address) with containers of other stacks."""
    return stack_compose.conflicts(_plain(planned), str(name), _plain(containers), str(network))


class FilterModule:
    """corral.cassandra.stack_compose_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "stack_compose_from_containers": from_containers,
            "stack_compose_cassandra_settings": cassandra_settings,
            "stack_compose_plain_containers": plain_containers,
            "stack_compose_host_data_dirs": host_data_dirs,
            "stack_compose_planned": planned,
            "stack_compose_conflicts": conflicts,
            "stack_compose_plan": plan,
        }
