# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters for Rancher 1.x stack exports: read, place and write docker-compose.yml + rancher-compose.yml.

Thin wrappers: the logic lives in plugins/plugin_utils/_compose/rancher*.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import rancher as compose
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import rancher_placement as placement
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import RancherComposeError, RancherStack
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import refused, refusing


@refusing
def parse(
    docker_compose: str,
    rancher_compose: str = "",
    name: str = "",
    variables: dict[str, Any] | None = None,
    ignore: list[str] | None = None,
    subnet: str | None = None,
    hosts: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The text of docker-compose.yml (piped in) and rancher-compose.yml -> the stack as plain data."""
    with refused(f"the Rancher stack {name!r} cannot be imported; nothing was changed", RancherComposeError):
        stack = compose.parse_stack(
            str(name),
            str(docker_compose or ""),
            str(rancher_compose or ""),
            variables=_plain(variables or {}),
            ignore=[str(item) for item in ignore or []],
            subnet=str(subnet) if subnet else None,
            hosts=_plain(hosts) if hosts is not None else None,
        )
    return _plain(stack.to_dict())


@refusing
def place(stack: dict[str, Any], hosts: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """A parsed stack + {host: its labels} -> {service: [host of each container]}."""
    with refused("the Rancher stack cannot be placed; nothing was changed", RancherComposeError):
        return placement.place_stack(RancherStack.from_dict(_plain(stack)), _plain(hosts))


@refusing
def render(stack: dict[str, Any], export_defaults: bool = True) -> dict[str, str]:
    """A stack -> {'docker-compose.yml': text, 'rancher-compose.yml': text}.

    export_defaults: retain_ip on every service and a health check on 9042 for Cassandra services.
    """
    with refused("the Rancher stack cannot be exported", RancherComposeError):
        model = RancherStack.from_dict(_plain(stack))
        return compose.render_stack(compose.with_export_defaults(model) if export_defaults else model)


class FilterModule:
    """corral.cassandra.rancher_compose_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "rancher_compose_parse": parse,
            "rancher_compose_place": place,
            "rancher_compose_render": render,
        }
