# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Placement: each container of a Rancher 1.x stack to a host, by the rules Rancher's scheduler kept.

Controller-side and free of Ansible imports. A primary and its sidekicks go to one host. Hard
rules must hold: host_label and host_label_ne, container_label_ne (checked both ways, so the
order services are placed in does not matter) and free published host ports. The hosts left
are ranked by soft rules met, then by how few containers they hold (spread), then by name, so
the result is deterministic. A dead end backtracks, so an error means no placement exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import (
    GLOBAL,
    RULE_LABELS,
    STACK_NAME_LABEL,
    STACK_SERVICE_LABEL,
    RancherComposeError,
    RancherStack,
    Service,
    describe_hosts,
    host_rule_fits,
    split_rule,
    unit_fits,
)

MAX_TRIES = 10000
_CONTAINER_NE = RULE_LABELS["container_label_ne"]
_PUBLISHED = re.compile(r"^(?:[0-9.]+:)?(?P<host>[0-9]+(?:-[0-9]+)?):[0-9-]+(?:/(?P<proto>tcp|udp))?$")


@dataclass
class _Unit:
    """A primary and its sidekicks, with what placement needs to know about them."""

    name: str
    services: list[Service]
    labels: list[dict[str, str]]  # each container's, with the labels Rancher added
    hard_ne: list[tuple[str, str]]  # container_label_ne, macros expanded
    soft_ne: list[tuple[str, str]]
    ports: set[str]  # published host ports, like 9042/tcp
    fits: list[str]  # hosts meeting its hard host rules

    def matches(self, rules: list[tuple[str, str]]) -> tuple[str, str] | None:
        return next(((k, v) for k, v in rules if any(labels.get(k) == v for labels in self.labels)), None)


def _expand(rule: str, stack: str, service: str) -> tuple[str, str]:
    key, value = split_rule(rule)
    return key, value.replace("${stack_name}", stack).replace("${service_name}", service)


def _published(service: Service) -> set[str]:
    result: set[str] = set()
    for port in service.ports:
        match = _PUBLISHED.match(port)
        if match:
            first, _sep, last = match["host"].partition("-")
            result.update(f"{number}/{match['proto'] or 'tcp'}" for number in range(int(first), int(last or first) + 1))
    return result


def _unit(stack: RancherStack, services: list[Service], hosts: Mapping[str, Mapping[str, str]]) -> _Unit:
    return _Unit(
        name=services[0].name,
        services=services,
        labels=[
            {**s.labels, STACK_NAME_LABEL: stack.name, STACK_SERVICE_LABEL: f"{stack.name}/{s.name}"} for s in services
        ],
        hard_ne=[_expand(rule, stack.name, s.name) for s in services for rule in s.container_label_ne],
        soft_ne=[_expand(rule, stack.name, s.name) for s in services for rule in s.container_label_soft_ne],
        ports=set().union(*(_published(s) for s in services)),
        fits=[host for host in sorted(hosts) if unit_fits(services, hosts[host])],
    )


def _conflict(unit: _Unit, there: list[_Unit]) -> str | None:
    """Why the unit cannot join these containers on one host, or None."""
    for other in there:
        rule = other.matches(unit.hard_ne)
        if rule:
            return f"{other.name} matches {_CONTAINER_NE} {rule[0]}={rule[1]}"
        rule = unit.matches(other.hard_ne)
        if rule:
            return f"{other.name} has {_CONTAINER_NE} {rule[0]}={rule[1]}"
        clash = sorted(unit.ports & other.ports)
        if clash:
            return f"{other.name} publishes port {', '.join(clash)}"
    return None


def _score(unit: _Unit, labels: Mapping[str, str], there: list[_Unit]) -> int:
    met = sum(
        host_rule_fits(kind, rule, labels)
        for service in unit.services
        for kind in ("host_label_soft", "host_label_soft_ne")
        for rule in getattr(service, kind)
    )
    return met + sum(not any(other.matches([rule]) for other in there) for rule in unit.soft_ne)


def place_stack(stack: RancherStack, hosts: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    """{service: [host of container 1, 2, ...]} for every service (a sidekick gets its primary's hosts).

    hosts: {host: its labels}. RancherComposeError names what cannot be placed, and why.
    """
    hosts = {str(host): dict(labels or {}) for host, labels in hosts.items()}
    units = [_unit(stack, services, hosts) for services in stack.units()]
    problems = []
    for unit in units:
        primary = unit.services[0]
        alone = _conflict(unit, [unit])
        if not unit.fits:
            problems.append(
                f"service {unit.name!r}: no host meets its hard host rules (hosts: {describe_hosts(hosts)})"
            )
        elif not primary.scheduler_global and primary.scale > len(unit.fits) and alone:
            problems.append(
                f"service {unit.name!r}: scale {primary.scale} needs {primary.scale} hosts ({alone}), "
                f"but only {len(unit.fits)} meet its host rules: {', '.join(unit.fits)}"
            )
    if problems:
        raise RancherComposeError(problems)

    # Global units have their hosts already; then the units with the fewest hosts to choose from.
    slots: list[tuple[_Unit, int, str | None]] = [
        (unit, index, host)
        for unit in units
        if unit.services[0].scheduler_global
        for index, host in enumerate(unit.fits, 1)
    ]
    ordered = sorted((u for u in units if not u.services[0].scheduler_global), key=lambda u: (len(u.fits), u.name))
    slots += [(unit, index, None) for unit in ordered for index in range(1, unit.services[0].scale + 1)]
    chosen: list[str] = []
    on_host: dict[str, list[_Unit]] = {host: [] for host in hosts}
    deepest: tuple[int, str] = (-1, "")
    tries = 0

    def search(position: int) -> bool:
        nonlocal tries, deepest
        if position == len(slots):
            return True
        unit, index, fixed = slots[position]
        ranked = sorted(
            [fixed] if fixed else unit.fits,
            key=lambda h: (-_score(unit, hosts[h], on_host[h]), len(on_host[h]), h),
        )
        reasons = []
        for host in ranked:
            reason = _conflict(unit, on_host[host])
            if reason:
                reasons.append(f"on {host}, {reason}")
                continue
            tries += 1
            if tries > MAX_TRIES:
                raise RancherComposeError(
                    [f"placing stack {stack.name!r} gave up after {MAX_TRIES} tries: loosen its {_CONTAINER_NE} rules"]
                )
            on_host[host].append(unit)
            chosen.append(host)
            if search(position + 1):
                return True
            on_host[host].pop()
            chosen.pop()
        if reasons and position > deepest[0]:
            what = f"on {fixed} (as {GLOBAL} asks)" if fixed else f"for container {index} of {unit.services[0].scale}"
            deepest = (position, f"service {unit.name!r}: no host {what}: {'; '.join(reasons)}")
        return False

    if not search(0):
        raise RancherComposeError([deepest[1]])
    hosts_of: dict[str, list[str]] = {}
    for (unit, _rank, _count), host in zip(slots, chosen):
        for service in unit.services:
            hosts_of.setdefault(service.name, []).append(host)
    return {name: hosts_of.get(name, []) for name in stack.services}
