# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Addresses for the Cassandra services of an export that gives none (Rancher chose them itself).

Controller-side and free of Ansible imports. A node without io.rancher.container.requested_ip
gets, in this order: the address its existing data was written under (when the caller found one:
`found`), else the next free address after the stack's lowest given address (the first free one
of the subnet when none is given). Free: not the network, broadcast or gateway address, not given
to another service, not held on the overlay by another container. Same input, same addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node_labels import STACK

GIVEN = "given: io.rancher.container.requested_ip"
FROM_DATA = "found: the address its data was written under"


@dataclass(frozen=True)
class Address:
    ip: str
    source: str  # GIVEN, FROM_DATA, or "chosen: ..."


def choose_addresses(
    services: Sequence[str],
    given: Mapping[str, str],
    subnet: str | None,
    gateway: str | None = None,
    held: Iterable[str] = (),
    found: Mapping[str, str] | None = None,
) -> tuple[dict[str, Address], list[str]]:
    """({service: Address} for every one of `services`, problems).

    given: {service: requested_ip} of every service of the stack (Cassandra or not);
    held: addresses other containers hold on the overlay; found: {service: address its data holds}.
    """
    result = {name: Address(given[name], GIVEN) for name in services if name in given}
    missing = sorted(name for name in services if name not in given)
    if not missing:
        return result, []
    if not subnet:
        return result, [
            f"service {name!r} (Cassandra): io.rancher.container.requested_ip is missing and the overlay has no "
            "IPv4 subnet to choose one from"
            for name in missing
        ]
    network = ipaddress.IPv4Network(subnet, strict=False)
    gate = ipaddress.IPv4Address(gateway) if gateway else network.network_address + 1
    taken = {network.network_address, network.broadcast_address, gate}
    taken.update(ipaddress.IPv4Address(ip) for ip in (*given.values(), *held))
    # The seam for a node's own data: its address wins when it is still free.
    for name in missing:
        ip = (found or {}).get(name)
        if ip and ipaddress.IPv4Address(ip) in network and ipaddress.IPv4Address(ip) not in taken:
            result[name] = Address(ip, FROM_DATA)
            taken.add(ipaddress.IPv4Address(ip))
    inside = sorted(ipaddress.IPv4Address(ip) for ip in given.values() if ipaddress.IPv4Address(ip) in network)
    start = inside[0] if inside else network.network_address
    source = f"chosen: the next free address after {start}" if inside else f"chosen: the first free address of {network}"
    problems = []
    candidate = start
    size = network.num_addresses
    for name in (name for name in missing if name not in result):
        for _step in range(size):
            candidate = candidate + 1 if candidate < network.broadcast_address else network.network_address
            if candidate not in taken:
                break
        else:
            problems.append(f"service {name!r} (Cassandra): no free address is left in {network}")
            continue
        result[name] = Address(str(candidate), source)
        taken.add(candidate)
    return result, problems


def held_addresses(containers: Mapping[str, Sequence[Mapping[str, Any]]], stack: str, network: str) -> list[str]:
    """Addresses held on the overlay by containers that are not the stack's ({host: docker ps entries})."""
    held = set()
    for entries in containers.values():
        for entry in entries or []:
            if dict(entry.get("Labels") or {}).get(STACK) == stack:
                continue
            networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
            endpoint = networks.get(network) or {}
            ip = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or endpoint.get("IPAddress") or ""
            if ip:
                held.add(str(ip))
    return sorted(held, key=ipaddress.IPv4Address)
