# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""A Rancher 1.x stack as plain data: its services, and what their io.rancher.* labels mean.

Controller-side and free of Ansible imports. _rancher_compose reads and writes the export
files, _rancher_placement puts the containers on hosts; both share these types.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    HostLabel,
    parse_host_label,
)

# --- the labels Rancher 1.x gives meaning to ---------------------------------------------------

SIDEKICKS = "io.rancher.sidekicks"
GLOBAL = "io.rancher.scheduler.global"
REQUESTED_IP = "io.rancher.container.requested_ip"
START_ONCE = "io.rancher.container.start_once"
PULL_IMAGE = "io.rancher.container.pull_image"
HOSTNAME_OVERRIDE = "io.rancher.container.hostname_override"

# Service field -> the scheduling label it decodes; each holds 'key=value' rules.
RULE_LABELS: dict[str, str] = {
    "host_label": "io.rancher.scheduler.affinity:host_label",
    "host_label_ne": "io.rancher.scheduler.affinity:host_label_ne",
    "host_label_soft": "io.rancher.scheduler.affinity:host_label_soft",
    "host_label_soft_ne": "io.rancher.scheduler.affinity:host_label_soft_ne",
    "container_label_ne": "io.rancher.scheduler.affinity:container_label_ne",
    "container_label_soft_ne": "io.rancher.scheduler.affinity:container_label_soft_ne",
}

# Labels every Rancher container carried; container_label rules usually name the second.
STACK_NAME_LABEL = "io.rancher.stack.name"
STACK_SERVICE_LABEL = "io.rancher.stack_service.name"
# Rancher macros in container_label rules, written $${stack_name} in the files.
MACROS = ("${stack_name}", "${service_name}")

# Environment the Cassandra image reads: a client's CASSANDRA_HOST does not make a service Cassandra.
CASSANDRA_ENV = frozenset(
    {
        "CASSANDRA_SEEDS",
        "CASSANDRA_CLUSTER_NAME",
        "CASSANDRA_LISTEN_ADDRESS",
        "CASSANDRA_BROADCAST_ADDRESS",
        "CASSANDRA_RPC_ADDRESS",
        "CASSANDRA_BROADCAST_RPC_ADDRESS",
        "CASSANDRA_START_RPC",
        "CASSANDRA_NUM_TOKENS",
        "CASSANDRA_DC",
        "CASSANDRA_RACK",
        "CASSANDRA_ENDPOINT_SNITCH",
    }
)


class RancherComposeError(ValueError):
    """A stack that cannot be read, written or placed; .problems names every offending value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def is_cassandra_image(image: str) -> bool:
    """'cassandra:3.10', 'registry:5000/corral/cassandra@sha256:..' -> True; 'cassandra-reaper' -> False."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0] == "cassandra"


def split_rule(rule: str) -> tuple[str, str]:
    """'hostname=cassandra1' -> ('hostname', 'cassandra1')."""
    key, _sep, value = rule.partition("=")
    return key.strip(), value.strip()


@functools.lru_cache(maxsize=1024)
def host_rule(rule: str) -> HostLabel:
    """'hostname=cassandra1' -> the stack model's HostLabel: one matcher for both paths.

    StackError (a ValueError) when the rule is not key=value; parse_stack has refused those already.
    """
    return parse_host_label(rule)


def host_rule_fits(kind: str, rule: str, labels: Mapping[str, str]) -> bool:
    """Whether a host with these labels meets one host_label[_soft][_ne] rule (one key=value pair)."""
    return host_rule(rule).matches(labels if isinstance(labels, dict) else dict(labels)) != kind.endswith("_ne")


def unit_fits(unit: Iterable[Service], labels: Mapping[str, str]) -> bool:
    """Whether a host with these labels meets every hard host rule of a primary and its sidekicks."""
    return all(
        host_rule_fits(kind, rule, labels)
        for service in unit
        for kind in ("host_label", "host_label_ne")
        for rule in getattr(service, kind)
    )


def describe_hosts(hosts: Mapping[str, Mapping[str, str]]) -> str:
    """'lab-host1 (hostname=cassandra1), lab-host2 (no labels)'."""
    described = (
        f"{name} ({','.join(f'{key}={value}' for key, value in sorted(labels.items())) or 'no labels'})"
        for name, labels in sorted(hosts.items())
    )
    return ", ".join(described) or "none"


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class HealthCheck:
    """rancher-compose.yml health_check; times in milliseconds as Rancher wrote them."""

    port: int
    interval: int | None = None
    response_timeout: int | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None
    initializing_timeout: int | None = None
    reinitializing_timeout: int | None = None
    strategy: str | None = None  # none, recreate, recreateOnQuorum
    quorum: int | None = None  # recreate_on_quorum_strategy_config.quorum
    request_line: str | None = None  # an HTTP check, like 'GET /healthz HTTP/1.0'


@dataclass
class UpgradeStrategy:
    start_first: bool | None = None
    batch_size: int | None = None
    interval_millis: int | None = None


# The check an export gives Cassandra services: CQL port open, no automatic recreate.
CASSANDRA_HEALTH_CHECK = HealthCheck(
    port=9042,
    interval=5000,
    response_timeout=2000,
    healthy_threshold=2,
    unhealthy_threshold=3,
    initializing_timeout=300000,
    strategy="none",
)


@dataclass
class Service:
    """One service of the stack: its compose keys, its io.rancher.* labels decoded, its rancher-compose."""

    name: str
    image: str
    environment: dict[str, str] = field(default_factory=dict)
    command: str | list[str] | None = None
    entrypoint: str | list[str] | None = None
    volumes: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    restart: str | None = None
    tty: bool = False
    stdin_open: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # all but io.rancher.*, given to the containers
    # io.rancher.* labels
    sidekicks: list[str] = field(default_factory=list)
    host_label: list[str] = field(default_factory=list)
    host_label_ne: list[str] = field(default_factory=list)
    host_label_soft: list[str] = field(default_factory=list)
    host_label_soft_ne: list[str] = field(default_factory=list)
    container_label_ne: list[str] = field(default_factory=list)
    container_label_soft_ne: list[str] = field(default_factory=list)
    scheduler_global: bool = False
    requested_ip: str | None = None
    start_once: bool = False
    pull_image: str | None = None  # 'always'
    hostname_override: str | None = None  # 'container_name'
    # rancher-compose.yml
    scale: int = 1
    retain_ip: bool = False
    start_on_create: bool | None = None
    health_check: HealthCheck | None = None
    upgrade_strategy: UpgradeStrategy | None = None
    # derived: deploy it through the Cassandra path
    is_cassandra: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_cassandra = is_cassandra_image(self.image) or any(key in CASSANDRA_ENV for key in self.environment)


@dataclass
class RancherStack:
    name: str
    services: dict[str, Service]
    # What the files held that the import drops, because the caller accepted to ignore it.
    ignored: list[str] = field(default_factory=list, compare=False)

    def primary_of(self, name: str) -> str:
        """The service whose io.rancher.sidekicks lists this one, else the service itself."""
        return next((primary.name for primary in self.services.values() if name in primary.sidekicks), name)

    def units(self) -> list[list[Service]]:
        """Primary then its sidekicks: the containers Rancher always put on one host together."""
        return [
            [service, *(self.services[kick] for kick in service.sidekicks if kick in self.services)]
            for service in self.services.values()
            if self.primary_of(service.name) == service.name
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RancherStack:
        """to_dict()'s output (say, through Ansible) -> the stack; RancherComposeError on unknown fields."""
        problems: list[str] = []
        services: dict[str, Service] = {}
        known = {item.name for item in fields(Service) if item.init}
        for key, raw in (data.get("services") or {}).items():
            raw = dict(raw)
            raw.pop("is_cassandra", None)
            unknown = sorted(set(raw) - known)
            if unknown:
                problems.append(f"service {key!r}: unknown fields {', '.join(unknown)}")
                continue
            try:
                if raw.get("health_check") is not None:
                    raw["health_check"] = HealthCheck(**raw["health_check"])
                if raw.get("upgrade_strategy") is not None:
                    raw["upgrade_strategy"] = UpgradeStrategy(**raw["upgrade_strategy"])
                services[key] = Service(**{**raw, "name": key})
            except TypeError as exc:  # a missing or unknown field in health_check, upgrade_strategy
                problems.append(f"service {key!r}: {exc}")
        if problems:
            raise RancherComposeError(problems)
        return cls(name=str(data.get("name") or ""), services=services, ignored=list(data.get("ignored") or []))
