# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Rancher 1.x stack exports: docker-compose.yml + rancher-compose.yml <-> RancherStack.

Controller-side and free of Ansible imports. parse_stack() validates before anything is
deployed and names every problem at once: each key and io.rancher.* label is honoured or
named, unless the caller accepted to ignore it. Problems are reported per stage (the files,
then ${VAR}s, then their content), so one bad value does not echo as several.
render_stack() writes the pair back with a stable order: parse_stack(render_stack(x)) == x.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import yaml
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import (
    CASSANDRA_HEALTH_CHECK,
    GLOBAL,
    HOSTNAME_OVERRIDE,
    MACROS,
    PULL_IMAGE,
    REQUESTED_IP,
    RULE_LABELS,
    SIDEKICKS,
    START_ONCE,
    HealthCheck,
    RancherComposeError,
    RancherStack,
    Service,
    UpgradeStrategy,
    describe_hosts,
    host_rule_fits,
    unit_fits,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import StackError, parse_host_label

DOCKER_COMPOSE = "docker-compose.yml"
RANCHER_COMPOSE = "rancher-compose.yml"
COMPOSE_VERSIONS = ("2", "2.0", "2.1")  # what Rancher 1.x read besides v1 (no version)
SERVICE_KEYS = (
    "image",
    "environment",
    "command",
    "entrypoint",
    "volumes",
    "volumes_from",
    "ports",
    "restart",
    "tty",
    "stdin_open",
    "labels",
)
RANCHER_KEYS = ("scale", "retain_ip", "start_on_create", "health_check", "upgrade_strategy")
HEALTH_CHECK_INTS = (
    "port",
    "interval",
    "response_timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "initializing_timeout",
    "reinitializing_timeout",
)
HEALTH_CHECK_STRATEGIES = ("none", "recreate", "recreateOnQuorum")
_QUORUM_CONFIG = "recreate_on_quorum_strategy_config"
# Rancher features met in real exports that have no equivalent here: the refusal says what to do instead.
UNSUPPORTED_HINTS = {
    "lb_config": "a Rancher load balancer has no equivalent here; run a proxy of your own as a service",
    "external_links": "links to other stacks have no equivalent here; give the other stack's address on the overlay",
    "links": "Rancher's DNS names have no equivalent here; give the service's requested_ip",
    "io.rancher.container.agent.role": "it belongs to Rancher's own services (like its load balancer)",
    "io.rancher.container.create_agent": "it belongs to Rancher's own services (like its load balancer)",
}
_RULE_FIELDS = {label: name for name, label in RULE_LABELS.items()}
_HOST_RULES = frozenset(label for name, label in RULE_LABELS.items() if name.startswith("host_label"))

_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESTART = re.compile(r"^(?:no|always|unless-stopped|on-failure(?::[0-9]+)?)$")
_PORT = re.compile(
    r"^(?:(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}):)?(?:(?P<host>[0-9]+(?:-[0-9]+)?):)?"
    r"(?P<container>[0-9]+(?:-[0-9]+)?)(?:/(?P<proto>tcp|udp))?$"
)
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_A-Za-z][_A-Za-z0-9]*)"
    r"|\{(?P<braced>[_A-Za-z][_A-Za-z0-9]*)(?:(?P<sep>:?-)(?P<default>[^}]*))?\}|(?P<invalid>))"
)


# --- YAML as Rancher read it ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML as compose's Go parser reads it: 22:22 is a string, not base 60; a key given twice is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _load(text: str, filename: str, problems: list[str]) -> Any:
    try:
        return yaml.load(text.replace("\r\n", "\n"), Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(f"{filename}: not valid YAML{where}: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        problems.append(f"{filename}: not valid YAML: {exc}")
    return None


def _text(value: Any) -> str:
    """A YAML scalar as compose passes it on: true -> 'true', 3 -> '3', null -> ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, datetime.date))  # bool is an int


# --- ${VAR} ----------------------------------------------------------------------------------------


def interpolate(value: Any, variables: Mapping[str, str], where: str, problems: list[str], path: str = "") -> Any:
    """${VAR}, $VAR, ${VAR:-default}, ${VAR-default} and $$ in every string value, as compose does.

    Unlike compose, an unset variable without a default is an error, as it was in Rancher.
    Problems read '{where}: {path}: ...', path like environment.JAVA_OPTS or ports[0].
    """
    if isinstance(value, dict):
        return {
            key: interpolate(item, variables, where, problems, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate(item, variables, where, problems, f"{path}[{i}]") for i, item in enumerate(value)]
    where = f"{where}: {path}" if path else where
    if not isinstance(value, str):
        return value
    unset: list[str] = []
    invalid = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal invalid
        if match["escaped"]:
            return "$"
        if match["invalid"] is not None:
            invalid = True
            return ""
        name = match["named"] or match["braced"]
        if name in variables and not (match["sep"] == ":-" and variables[name] == ""):
            return variables[name]
        if match["sep"]:
            return match["default"]
        unset.append(name)
        return ""

    result = _VARIABLE.sub(substitute, value)
    if invalid:
        problems.append(f"{where}: invalid interpolation in {value!r}: write $$ for a literal $")
    problems.extend(f"{where}: variable {name} is not set" for name in dict.fromkeys(unset))
    return result


# --- reading -------------------------------------------------------------------------------------


class _Reader:
    """Collects every problem, and what the caller accepted to ignore."""

    def __init__(self, ignore: Iterable[str]) -> None:
        self.problems: list[str] = []
        self.ignore = frozenset(ignore)
        self.ignored: list[str] = []

    def unsupported(self, where: str, what: str, name: str) -> None:
        if name in self.ignore:
            self.ignored.append(f"{where}: {what} {name}")
        else:
            hint = UNSUPPORTED_HINTS.get(name)
            self.problems.append(f"{where}: {what} {name} is not supported" + (f": {hint}" if hint else ""))

    def check(self) -> None:
        if self.problems:
            raise RancherComposeError(self.problems)

    # --- value shapes ---

    def boolean(self, value: Any, where: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problems.append(f"{where} must be true or false, not {value!r}")
        return False

    def number(self, value: Any, where: str, least: int = 0) -> int | None:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= least:
            return value
        self.problems.append(f"{where} {value!r} is not a whole number of at least {least}")
        return None

    def strings(self, value: Any, where: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, list) and all(_is_scalar(item) for item in value):
            return [_text(item) for item in value]
        self.problems.append(f"{where} must be a list of strings, not {value!r}")
        return []

    def pairs(self, value: Any, where: str, need_value: bool) -> dict[str, str]:
        """environment and labels: {KEY: value} or [KEY=value]."""
        if value is None:
            return {}
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = [(key, rest if sep else None) for key, sep, rest in (item.partition("=") for item in value)]
        else:
            self.problems.append(f"{where} must be a mapping or a list of KEY=value, not {value!r}")
            return {}
        result: dict[str, str] = {}
        for key, item in items:
            if item is None and need_value:
                self.problems.append(f"{where} {key} has no value (the files must give it)")
            elif item is not None and not _is_scalar(item):
                self.problems.append(f"{where} {key} must be a string, not {item!r}")
            else:
                result[str(key)] = _text(item)
        return result

    def command(self, value: Any, where: str) -> str | list[str] | None:
        """command and entrypoint: a string, or a list of its words."""
        if value is None or isinstance(value, str):
            return value
        return self.strings(value, where) or None

    # --- the files ---

    def services(self, document: Any, filename: str, required: bool) -> dict[str, Any]:
        """A compose file's services, v1 (top level) or v2 (under services:)."""
        if document is None and not required:
            return {}
        if not isinstance(document, dict):
            kind = "empty" if document is None else f"a {type(document).__name__}, not a mapping"
            self.problems.append(f"{filename}: not a compose file: the top level is {kind}")
            return {}
        if "version" not in document:
            services = document
        else:
            version = _text(document["version"])
            if version not in COMPOSE_VERSIONS:
                self.problems.append(
                    f"{filename}: compose version {version!r} is not supported: use '2', or no version for v1"
                )
                return {}
            for key in document:
                if key not in ("version", "services"):
                    self.unsupported(filename, "top-level key", str(key))
            services = document.get("services") or {}
            if not isinstance(services, dict):
                self.problems.append(f"{filename}: services must be a mapping, not {services!r}")
                return {}
        if required and not services:
            self.problems.append(f"{filename}: no services")
        for name, spec in services.items():
            if not isinstance(name, str) or not _SERVICE_NAME.match(name):
                self.problems.append(f"{filename}: service name {name!r} is not valid: use letters, digits, _ . -")
            elif not isinstance(spec, dict):
                self.problems.append(f"{filename}: service {name!r} must be a mapping, not {spec!r}")
        return {name: spec for name, spec in services.items() if isinstance(name, str) and isinstance(spec, dict)}

    def service(self, name: str, spec: dict[str, Any], rancher: dict[str, Any]) -> Service:
        where = f"{DOCKER_COMPOSE}: service {name!r}"
        for key in spec:
            if key not in SERVICE_KEYS:
                self.unsupported(where, "key", str(key))
        image = spec.get("image")
        if not isinstance(image, str) or not image:
            self.problems.append(
                f"{where}: image is missing" if image is None else f"{where}: image {image!r} is not valid"
            )
            image = ""
        restart = spec.get("restart")
        if restart is False:  # restart: no, read as YAML 1.1
            restart = "no"
        if restart is not None and not (isinstance(restart, str) and _RESTART.match(restart)):
            self.problems.append(f"{where}: restart {restart!r} is not no, always, unless-stopped or on-failure[:N]")
            restart = None
        ports = self.strings(spec.get("ports"), f"{where}: ports")
        for port in ports:
            self.port(port, where)
        service = Service(
            name=name,
            image=image,
            environment=self.pairs(spec.get("environment"), f"{where}: environment", need_value=True),
            command=self.command(spec.get("command"), f"{where}: command"),
            entrypoint=self.command(spec.get("entrypoint"), f"{where}: entrypoint"),
            volumes=self.strings(spec.get("volumes"), f"{where}: volumes"),
            volumes_from=self.strings(spec.get("volumes_from"), f"{where}: volumes_from"),
            ports=ports,
            restart=restart,
            tty=self.boolean(spec.get("tty", False), f"{where}: tty"),
            stdin_open=self.boolean(spec.get("stdin_open", False), f"{where}: stdin_open"),
        )
        self.labels(service, self.pairs(spec.get("labels"), f"{where}: labels", need_value=False), where)
        self.rancher(service, rancher)
        return service

    def port(self, port: str, where: str) -> None:
        match = _PORT.match(port)
        numbers = re.findall(r"[0-9]+", f"{match['host'] or ''} {match['container']}") if match else []
        if not match or not all(1 <= int(number) <= 65535 for number in numbers):
            self.problems.append(f"{where}: port {port!r} is not [ip:][host_port:]container_port[/tcp|udp]")

    def labels(self, service: Service, labels: dict[str, str], where: str) -> None:
        for key, value in labels.items():
            if not key.startswith("io.rancher."):
                service.labels[key] = value
            elif key == SIDEKICKS:
                service.sidekicks = [kick.strip() for kick in value.split(",") if kick.strip()]
            elif key in _RULE_FIELDS:
                setattr(service, _RULE_FIELDS[key], self.rules(key, value, where))
            elif key == GLOBAL:
                service.scheduler_global = self.boolean(value, f"{where}: {key}")
            elif key == START_ONCE:
                service.start_once = self.boolean(value, f"{where}: {key}")
            elif key == REQUESTED_IP:
                try:
                    service.requested_ip = str(ipaddress.IPv4Address(value.strip()))
                except ValueError:
                    self.problems.append(f"{where}: {key} {value!r} is not an IPv4 address")
            elif key == PULL_IMAGE:
                if value != "always":
                    self.problems.append(f"{where}: {key} {value!r} is not 'always'")
                service.pull_image = value
            elif key == HOSTNAME_OVERRIDE:
                if value != "container_name":
                    self.problems.append(f"{where}: {key} {value!r} is not 'container_name'")
                service.hostname_override = value
            else:
                self.unsupported(where, "label", key)

    def rules(self, label: str, value: str, where: str) -> list[str]:
        rules = []
        for part in value.split(","):
            key, sep, rule_value = (item.strip() for item in part.partition("="))
            if not (key and sep and rule_value):
                self.problems.append(f"{where}: {label} has {part.strip()!r}, not key=value[,key=value]")
                continue
            if label in _HOST_RULES:
                try:
                    parse_host_label(f"{key}={rule_value}", f"{where}: {label}")
                except StackError as exc:  # a key no host label can have
                    self.problems.append(str(exc))
                    continue
            rest = rule_value
            for macro in MACROS:
                rest = rest.replace(macro, "")
            if "$" in rest:
                self.problems.append(
                    f"{where}: {label} {part.strip()!r} has a macro other than $${{stack_name}} and $${{service_name}}"
                )
            rules.append(f"{key}={rule_value}")
        return rules

    def rancher(self, service: Service, spec: dict[str, Any]) -> None:
        where = f"{RANCHER_COMPOSE}: service {service.name!r}"
        for key in spec:
            if key not in RANCHER_KEYS:
                self.unsupported(where, "key", str(key))
        if "scale" in spec:
            service.scale = self.number(spec["scale"], f"{where}: scale", least=1) or 1
        service.retain_ip = self.boolean(spec.get("retain_ip", False), f"{where}: retain_ip")
        if spec.get("start_on_create") is not None:
            service.start_on_create = self.boolean(spec["start_on_create"], f"{where}: start_on_create")
        if spec.get("health_check") is not None:
            service.health_check = self.health_check(spec["health_check"], f"{where}: health_check")
        if spec.get("upgrade_strategy") is not None:
            service.upgrade_strategy = self.upgrade_strategy(spec["upgrade_strategy"], f"{where}: upgrade_strategy")

    def health_check(self, spec: Any, where: str) -> HealthCheck | None:
        if not isinstance(spec, dict):
            self.problems.append(f"{where} must be a mapping, not {spec!r}")
            return None
        for key in spec:
            if key not in (*HEALTH_CHECK_INTS, "strategy", "request_line", _QUORUM_CONFIG):
                self.problems.append(f"{where}: key {key} is not supported")
        if "port" not in spec:
            self.problems.append(f"{where}: port is missing")
        ints = {key: self.number(spec[key], f"{where}: {key}") for key in HEALTH_CHECK_INTS if key in spec}
        port = ints.pop("port", None)
        if port is not None and not 1 <= port <= 65535:
            self.problems.append(f"{where}: port {port} is not a port number")
        check = HealthCheck(port=port or 0)
        for key, value in ints.items():
            setattr(check, key, value)
        strategy = spec.get("strategy")
        if strategy is not None and strategy not in HEALTH_CHECK_STRATEGIES:
            self.problems.append(f"{where}: strategy {strategy!r} is not one of {', '.join(HEALTH_CHECK_STRATEGIES)}")
        check.strategy = strategy
        quorum_config = spec.get(_QUORUM_CONFIG)
        if quorum_config is not None:
            if not isinstance(quorum_config, dict) or set(quorum_config) != {"quorum"}:
                self.problems.append(f"{where}: {_QUORUM_CONFIG} must be a mapping with quorum only")
            else:
                check.quorum = self.number(quorum_config["quorum"], f"{where}: {_QUORUM_CONFIG}: quorum", least=1)
        if (strategy == "recreateOnQuorum") != (check.quorum is not None):
            self.problems.append(f"{where}: strategy recreateOnQuorum and {_QUORUM_CONFIG} go together")
        request_line = spec.get("request_line")
        if request_line is not None and not isinstance(request_line, str):
            self.problems.append(f"{where}: request_line must be a string, not {request_line!r}")
        check.request_line = request_line if isinstance(request_line, str) else None
        return check

    def upgrade_strategy(self, spec: Any, where: str) -> UpgradeStrategy | None:
        if not isinstance(spec, dict):
            self.problems.append(f"{where} must be a mapping, not {spec!r}")
            return None
        for key in spec:
            if key not in ("start_first", "batch_size", "interval_millis"):
                self.problems.append(f"{where}: key {key} is not supported")
        strategy = UpgradeStrategy()
        if spec.get("start_first") is not None:
            strategy.start_first = self.boolean(spec["start_first"], f"{where}: start_first")
        if spec.get("batch_size") is not None:
            strategy.batch_size = self.number(spec["batch_size"], f"{where}: batch_size", least=1)
        if spec.get("interval_millis") is not None:
            strategy.interval_millis = self.number(spec["interval_millis"], f"{where}: interval_millis")
        return strategy

    # --- the stack as a whole ---

    def relations(self, stack: RancherStack, scaled: set[str]) -> None:
        """Sidekicks, volumes_from, global and scale: what ties services together."""
        services = stack.services
        primaries: dict[str, str] = {}
        for service in services.values():
            where = f"{DOCKER_COMPOSE}: service {service.name!r}"
            for kick in service.sidekicks:
                if kick == service.name:
                    self.problems.append(f"{where}: {SIDEKICKS} names the service itself")
                elif kick not in services:
                    self.problems.append(f"{where}: {SIDEKICKS} names {kick!r}, which is not a service of this stack")
                elif kick in primaries:
                    both = f"{primaries[kick]!r} and {service.name!r}"
                    self.problems.append(f"{DOCKER_COMPOSE}: service {kick!r} is a sidekick of both {both}")
                else:
                    primaries[kick] = service.name
        for kick, primary_name in primaries.items():
            where = f"{DOCKER_COMPOSE}: service {kick!r}"
            if services[kick].sidekicks:
                self.problems.append(f"{where}: a sidekick of {primary_name!r} cannot have sidekicks of its own")
            if services[kick].scheduler_global and not services[primary_name].scheduler_global:
                self.problems.append(
                    f"{where}: {GLOBAL} is set on this sidekick but not on its primary {primary_name!r}"
                )
        for service in services.values():
            primary = services[primaries.get(service.name, service.name)]
            where = f"{RANCHER_COMPOSE}: service {service.name!r}"
            if primary.scheduler_global and service.name in scaled:
                self.problems.append(f"{where}: scale does not go with {GLOBAL}, which runs one on each host")
            elif primary is not service and service.name in scaled and service.scale != primary.scale:
                self.problems.append(
                    f"{where}: scale {service.scale} differs from {primary.name!r}'s {primary.scale}: "
                    "a sidekick runs beside each container of its primary"
                )
            service.scale = primary.scale
            self.volumes_from(service, primary, stack)

    def volumes_from(self, service: Service, primary: Service, stack: RancherStack) -> None:
        where = f"{DOCKER_COMPOSE}: service {service.name!r}"
        unit = {primary.name, *primary.sidekicks}
        for entry in service.volumes_from:
            source, _sep, mode = entry.partition(":")
            if mode not in ("", "ro", "rw") or source not in stack.services:
                self.problems.append(f"{where}: volumes_from names {entry!r}, which is not a service of this stack")
            elif source == service.name or source not in unit:
                self.problems.append(
                    f"{where}: volumes_from names {source!r}, which is not its primary or a sidekick of it: "
                    "volumes are shared only between containers on one host"
                )

    def combinations(self, stack: RancherStack) -> None:
        """What Rancher itself refused: start_first runs the new container beside the old one."""
        for service in stack.services.values():
            if not (service.upgrade_strategy and service.upgrade_strategy.start_first):
                continue
            where = f"{RANCHER_COMPOSE}: service {service.name!r}: upgrade_strategy start_first true"
            if service.retain_ip:
                self.problems.append(f"{where} does not go with retain_ip true: two containers cannot hold one address")
            if service.requested_ip:
                self.problems.append(
                    f"{where} does not go with {REQUESTED_IP} {service.requested_ip}: two containers cannot hold one address"
                )

    def addresses(self, stack: RancherStack, subnet: str | None) -> None:
        network = ipaddress.IPv4Network(subnet, strict=False) if subnet else None
        taken: dict[str, str] = {}
        for service in stack.services.values():
            ip = service.requested_ip
            if ip is None:
                continue
            where = f"{DOCKER_COMPOSE}: service {service.name!r}: {REQUESTED_IP}"
            address = ipaddress.IPv4Address(ip)
            if service.scale > 1 or stack.services[stack.primary_of(service.name)].scheduler_global:
                self.problems.append(f"{where} is one address: it needs scale 1 and no {GLOBAL}")
            if network is not None and address not in network:
                self.problems.append(f"{where} {ip} is outside the subnet {network}")
            elif network is not None and address in (
                network.network_address,
                network.broadcast_address,
                network.network_address + 1,
            ):
                self.problems.append(f"{where} {ip} is the network, broadcast or gateway address of {network}")
            if ip in taken:
                self.problems.append(f"{DOCKER_COMPOSE}: services {taken[ip]!r} and {service.name!r} both request {ip}")
            taken.setdefault(ip, service.name)

    def host_rules(self, stack: RancherStack, hosts: Mapping[str, Mapping[str, str]]) -> None:
        known = describe_hosts(hosts)
        for unit in stack.units():
            before = len(self.problems)
            for service in unit:
                where = f"{DOCKER_COMPOSE}: service {service.name!r}"
                for field_name in ("host_label", "host_label_ne"):
                    for rule in getattr(service, field_name):
                        if not any(host_rule_fits(field_name, rule, labels) for labels in hosts.values()):
                            self.problems.append(
                                f"{where}: {RULE_LABELS[field_name]} {rule} matches no host (hosts: {known})"
                            )
            if len(self.problems) == before and not any(unit_fits(unit, labels) for labels in hosts.values()):
                self.problems.append(
                    f"{DOCKER_COMPOSE}: service {unit[0].name!r}: no host meets all the hard host rules of it "
                    f"and its sidekicks together (hosts: {known})"
                )


def parse_stack(
    name: str,
    docker_compose: str,
    rancher_compose: str = "",
    *,
    variables: Mapping[str, Any] | None = None,
    ignore: Iterable[str] = (),
    subnet: str | None = None,
    hosts: Mapping[str, Mapping[str, str]] | None = None,
) -> RancherStack:
    """A Rancher 1.x export -> the stack; RancherComposeError listing every problem otherwise.

    variables fill ${VAR}; ignore names keys and labels to drop instead of refusing them;
    subnet (like 10.42.0.0/16) and hosts ({host: its labels}) check requested IPs and hard host rules.
    """
    reader = _Reader(ignore)
    documents = {
        DOCKER_COMPOSE: _load(docker_compose, DOCKER_COMPOSE, reader.problems),
        RANCHER_COMPOSE: _load(rancher_compose or "", RANCHER_COMPOSE, reader.problems),
    }
    reader.check()
    found = {
        filename: reader.services(document, filename, required=filename == DOCKER_COMPOSE)
        for filename, document in documents.items()
    }
    reader.check()
    values = {str(key): _text(value) for key, value in (variables or {}).items()}
    docker, rancher = (
        {
            service: interpolate(spec, values, f"{filename}: service {service!r}", reader.problems)
            for service, spec in found[filename].items()
        }
        for filename in (DOCKER_COMPOSE, RANCHER_COMPOSE)
    )
    reader.check()
    for service in rancher:
        if service not in docker:
            reader.problems.append(f"{RANCHER_COMPOSE}: service {service!r} is not in {DOCKER_COMPOSE}")
    stack = RancherStack(
        name=name,
        services={service: reader.service(service, spec, rancher.get(service, {})) for service, spec in docker.items()},
        ignored=reader.ignored,
    )
    reader.relations(stack, {service for service, spec in rancher.items() if "scale" in spec})
    reader.combinations(stack)
    reader.addresses(stack, subnet)
    reader.check()
    if hosts is not None:
        reader.host_rules(stack, hosts)
        reader.check()
    return stack


# --- writing -------------------------------------------------------------------------------------


def _escape(value: Any) -> Any:
    """$ -> $$ in every string value, so the import's interpolation gives it back."""
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value.replace("$", "$$") if isinstance(value, str) else value


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(_escape(document), sort_keys=False, default_flow_style=False, width=1_000_000)


def _compose_service(service: Service) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": service.image}
    if service.environment:
        spec["environment"] = dict(sorted(service.environment.items()))
    for key in ("command", "entrypoint", "volumes", "volumes_from", "ports", "restart", "tty", "stdin_open"):
        if getattr(service, key):
            spec[key] = copy.copy(getattr(service, key))
    labels = dict(service.labels)
    if service.sidekicks:
        labels[SIDEKICKS] = ",".join(service.sidekicks)
    for field_name, label in RULE_LABELS.items():
        if getattr(service, field_name):
            labels[label] = ",".join(getattr(service, field_name))
    flags = {GLOBAL: service.scheduler_global, START_ONCE: service.start_once}
    labels.update({label: "true" for label, on in flags.items() if on})
    texts = {
        REQUESTED_IP: service.requested_ip,
        PULL_IMAGE: service.pull_image,
        HOSTNAME_OVERRIDE: service.hostname_override,
    }
    labels.update({label: text for label, text in texts.items() if text})
    if labels:
        spec["labels"] = dict(sorted(labels.items()))
    return spec


def _rancher_service(service: Service, unit_global: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {} if unit_global else {"scale": service.scale}
    if service.retain_ip:
        spec["retain_ip"] = True
    if service.start_on_create is not None:
        spec["start_on_create"] = service.start_on_create
    check = service.health_check
    if check is not None:
        spec["health_check"] = {
            key: getattr(check, key) for key in HEALTH_CHECK_INTS if getattr(check, key) is not None
        }
        if check.strategy is not None:
            spec["health_check"]["strategy"] = check.strategy
        if check.quorum is not None:
            spec["health_check"][_QUORUM_CONFIG] = {"quorum": check.quorum}
        if check.request_line is not None:
            spec["health_check"]["request_line"] = check.request_line
    strategy = service.upgrade_strategy
    if strategy is not None:
        spec["upgrade_strategy"] = {
            key: getattr(strategy, key)
            for key in ("start_first", "batch_size", "interval_millis")
            if getattr(strategy, key) is not None
        }
    return spec


def render_stack(stack: RancherStack) -> dict[str, str]:
    """The stack -> {'docker-compose.yml': text, 'rancher-compose.yml': text}, compose version '2'.

    Services and keys come in a fixed order, so two exports of one stack are byte-identical.
    The text is read back before it is returned: what an export writes, an import accepts.
    """
    problems = [
        f"service {name!r}: label {key} comes from its field; remove it from labels"
        for name, service in stack.services.items()
        for key in service.labels
        if key.startswith("io.rancher.")
    ]
    if problems:
        raise RancherComposeError(problems)
    compose: dict[str, Any] = {}
    rancher: dict[str, Any] = {}
    for name in sorted(stack.services):
        service = stack.services[name]
        compose[name] = _compose_service(service)
        spec = _rancher_service(service, stack.services[stack.primary_of(name)].scheduler_global)
        if spec:
            rancher[name] = spec
    files = {
        DOCKER_COMPOSE: _dump({"version": "2", "services": compose}),
        RANCHER_COMPOSE: _dump({"version": "2", "services": rancher}),
    }
    try:
        parse_stack(stack.name, files[DOCKER_COMPOSE], files[RANCHER_COMPOSE])
    except RancherComposeError as exc:
        raise RancherComposeError(
            [f"stack {stack.name!r}: the export would not import: {text}" for text in exc.problems]
        ) from None
    return files


def with_export_defaults(stack: RancherStack) -> RancherStack:
    """What an export states about a stack deployed here: IPs retained, Cassandra services health-checked."""
    result = copy.deepcopy(stack)
    for service in result.services.values():
        service.retain_ip = True
        if service.is_cassandra and service.health_check is None:
            service.health_check = copy.deepcopy(CASSANDRA_HEALTH_CHECK)
    return result
