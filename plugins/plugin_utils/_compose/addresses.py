# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Addresses for the Cassandra services of an export that gives none (Rancher chose them itself).

Controller-side and free of Ansible imports. A node keeps the address its existing data was written
under (`found`, read from the data by the caller): without io.rancher.container.requested_ip it gets
that address; a requested_ip other than it, that address outside the overlay's subnet or taken by
another node or container, or data that could not be read (`unread`), is refused naming both. A node
with new data and no requested_ip gets the next free address after the stack's lowest given address
(the first free one of the subnet when none is given). Free: not the network, broadcast or gateway
address, not given to another service or found in another node's data, not held on the overlay by
another container. Same input, same addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node_labels import STACK

GIVEN = "given: io.rancher.container.requested_ip"
FROM_DATA = "from the data: the address it was written under"


@dataclass(frozen=True)
class Address:
    ip: str
    source: str  # GIVEN, FROM_DATA, or "chosen: ..."


def _where(name: str) -> str:
    return f"service {name!r} (Cassandra)"


def _data_problems(
    services: Sequence[str],
    given: Mapping[str, str],
    found: Mapping[str, str],
    unread: Mapping[str, str],
    network: ipaddress.IPv4Network | None,
    reserved: Mapping[ipaddress.IPv4Address, str],
    held: Mapping[str, str],
) -> list[str]:
    """What keeps a node from its data's address: a requested_ip other than it, it being outside the subnet or
    someone else's, its data unread. reserved: the subnet's own addresses -> what they are."""
    problems = []
    owners: dict[str, list[str]] = {}
    for name in services:
        ip = found.get(name)
        if name in unread and name not in given:
            problems.append(
                f"{_where(name)}: io.rancher.container.requested_ip is missing and the address its data was written "
                f"under could not be read ({unread[name]}): give the node's address as its requested_ip"
            )
        if not ip:
            continue
        owners.setdefault(ip, []).append(name)
        if name in given:
            if given[name] != ip:
                problems.append(
                    f"{_where(name)}: io.rancher.container.requested_ip {given[name]} differs from {ip}, the address its "
                    f"data was written under: its peers know it at {ip}; give {ip} (or no requested_ip), or move the "
                    "data away to start it as a new node"
                )
            continue
        address = ipaddress.IPv4Address(ip)
        if network is not None and address not in network:
            problems.append(
                f"{_where(name)}: its data was written under {ip}, outside the overlay's subnet {network}: give it an "
                "address as its requested_ip"
            )
            continue
        others = [other for other, other_ip in given.items() if other_ip == ip and other != name]
        holder = (
            f"service {others[0]!r} requests it"
            if others
            else reserved.get(address) or (f"container {held[ip]} holds it on the overlay" if ip in held else "")
        )
        if holder:
            problems.append(
                f"{_where(name)}: its data was written under {ip}, but {holder}: free that address, or give the node "
                "another as its requested_ip"
            )
    for ip, names in sorted(owners.items()):
        if len(names) > 1:
            problems.append(
                f"services {', '.join(repr(name) for name in sorted(names))} (Cassandra): their data were all written "
                f"under {ip}: one of them is a copy; give each node its own data directory"
            )
    return problems


def choose_addresses(
    services: Sequence[str],
    given: Mapping[str, str],
    subnet: str | None,
    gateway: str | None = None,
    held: Mapping[str, str] | None = None,
    found: Mapping[str, str] | None = None,
    unread: Mapping[str, str] | None = None,
) -> tuple[dict[str, Address], list[str]]:
    """({service: Address} for every one of `services`, problems).

    given: {service: requested_ip} of every service of the stack (Cassandra or not); held: {address: container}
    other containers hold on the overlay; found: {service: address its data was written under}; unread:
    {service: why its data could not be read}.
    """
    found = dict(found or {})
    unread = dict(unread or {})
    held = dict(held or {})
    network = ipaddress.IPv4Network(subnet, strict=False) if subnet else None
    reserved: dict[ipaddress.IPv4Address, str] = {}
    if network is not None:
        gate = ipaddress.IPv4Address(gateway) if gateway else network.network_address + 1
        reserved = {
            network.network_address: f"it is the network address of {network}",
            network.broadcast_address: f"it is the broadcast address of {network}",
            gate: "it is the overlay's gateway",
        }
    problems = _data_problems(services, given, found, unread, network, reserved, held)
    result = {name: Address(given[name], GIVEN) for name in services if name in given}
    result.update({name: Address(found[name], FROM_DATA) for name in services if name not in given and name in found})
    missing = sorted(name for name in services if name not in result and name not in unread)
    if problems or not missing:
        return result, problems
    if network is None:
        return result, [
            f"{_where(name)}: io.rancher.container.requested_ip is missing and the overlay has no "
            "IPv4 subnet to choose one from"
            for name in missing
        ]
    taken = set(reserved)
    taken.update(ipaddress.IPv4Address(ip) for ip in (*given.values(), *held, *found.values()))
    inside = sorted(ipaddress.IPv4Address(ip) for ip in given.values() if ipaddress.IPv4Address(ip) in network)
    start = inside[0] if inside else network.network_address
    source = f"chosen: the next free address after {start}" if inside else f"chosen: the first free address of {network}"
    candidate = start
    size = network.num_addresses
    for name in missing:
        for _step in range(size):
            candidate = candidate + 1 if candidate < network.broadcast_address else network.network_address
            if candidate not in taken:
                break
        else:
            problems.append(f"{_where(name)}: no free address is left in {network}")
            continue
        result[name] = Address(str(candidate), source)
        taken.add(candidate)
    return result, problems


def held_addresses(containers: Mapping[str, Sequence[Mapping[str, Any]]], stack: str, network: str) -> dict[str, str]:
    """{address: 'NAME on HOST'} held on the overlay by containers that are not the stack's, in address order
    (containers: {host: docker ps entries})."""
    held: dict[str, str] = {}
    for host, entries in sorted(containers.items()):
        for entry in entries or []:
            if dict(entry.get("Labels") or {}).get(STACK) == stack:
                continue
            networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
            endpoint = networks.get(network) or {}
            ip = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or endpoint.get("IPAddress") or ""
            if ip:
                name = ", ".join(str(item).lstrip("/") for item in entry.get("Names") or []) or "?"
                held.setdefault(str(ip), f"{name} on {host}")
    return dict(sorted(held.items(), key=lambda item: ipaddress.IPv4Address(item[0])))
