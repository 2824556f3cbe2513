# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Compose import/export: running containers <-> the Rancher stack <-> the Cassandra stack model.

Controller-side and free of Ansible imports. Export reads each container's io.corral.* labels and
inspect data back into a RancherStack (_rancher_model); import maps a parsed RancherStack onto the
cassandra_stack role's variables (Cassandra services) and onto plain container specs (all others).
Every problem is collected and raised at once as a RancherComposeError, before anything changes.

The io.corral.* names are those the node module writes (module_utils/_cassandra_node_labels.py, docs/labels.md).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import (
    CASSANDRA_DATA_PATH,
    DEFAULT_RPC_ADDRESS,
    env_dict,
)
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node_labels import (
    CASSANDRA_YAML,
    DATA_CONTAINER,
    HOST_LABEL,
    REQUESTED_IP,
    ROLE,
    ROLE_CASSANDRA,
    ROLE_DATA,
    SERVICE,
    STACK,
    canonical_json,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.addresses import choose_addresses
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import (
    RancherComposeError,
    RancherStack,
    Service,
)

# On containers of services that are not Cassandra (this file writes them, see docs/labels.md).
COMPOSE_SERVICE = "io.corral.compose-service"
COMPOSE_INDEX = "io.corral.compose-index"
ROLE_COMPOSE = "compose"

DEFAULT_RESTART = "unless-stopped"
# Containers an upgrade or a recreate keeps aside; not part of the stack's picture.
ASIDE_SUFFIXES = ("-rollback", "-previous")
# Bring-up options of a brand-new cluster (plugins/plugin_utils/_stack/model.py), not stack settings.
FAST_START_OPTS = frozenset(
    {
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.ring_delay_ms=1000",
        "-Dcassandra.consistent.rangemovement=false",
    }
)
# Environment the node module derives from the requested address: implied by requested_ip.
ADDRESS_ENV = ("CASSANDRA_LISTEN_ADDRESS", "CASSANDRA_BROADCAST_ADDRESS", "CASSANDRA_BROADCAST_RPC_ADDRESS")
# Environment -> cassandra_stack setting that holds it for the whole stack.
STACK_ENV = {
    "CASSANDRA_CLUSTER_NAME": "cluster_name",
    "CASSANDRA_ENDPOINT_SNITCH": "endpoint_snitch",
    "CASSANDRA_NUM_TOKENS": "num_tokens",
    "MAX_HEAP_SIZE": "max_heap_size",
    "HEAP_NEWSIZE": "heap_newsize",
}
# Environment -> node setting.
NODE_ENV = {"CASSANDRA_DC": "dc", "CASSANDRA_RACK": "rack"}
# The name the official image gives a cluster when CASSANDRA_CLUSTER_NAME is not set (Rancher set none).
IMAGE_DEFAULT_CLUSTER_NAME = "Test Cluster"
_PORT_KEY = re.compile(r"^(?P<port>[0-9]+)/(?P<proto>tcp|udp)$")


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("Name") or "").lstrip("/")


def _labels(container: Mapping[str, Any]) -> dict[str, str]:
    return dict((container.get("Config") or {}).get("Labels") or {})


def _ports(container: Mapping[str, Any]) -> list[str]:
    """HostConfig.PortBindings -> ['9042:9042/tcp', '127.0.0.1:8080:80/tcp'], sorted."""
    result = []
    for key, bindings in ((container.get("HostConfig") or {}).get("PortBindings") or {}).items():
        match = _PORT_KEY.match(str(key))
        if not match:
            continue
        for binding in bindings or []:
            host_ip = str(binding.get("HostIp") or "")
            host_port = str(binding.get("HostPort") or "")
            prefix = f"{host_ip}:" if host_ip and host_ip != "0.0.0.0" else ""
            port = f"{host_port}:{match['port']}" if host_port else match["port"]
            result.append(f"{prefix}{port}/{match['proto']}")
    return sorted(result)


def _binds(container: Mapping[str, Any]) -> list[str]:
    """HostConfig.Binds, without the default :rw."""
    result = []
    for bind in (container.get("HostConfig") or {}).get("Binds") or []:
        parts = str(bind).split(":")
        result.append(":".join(parts[:2]) if parts[2:] == ["rw"] else str(bind))
    return result


# --- export ----------------------------------------------------------------------------------------


def from_containers(
    name: str, containers: Sequence[Mapping[str, Any]], images: Sequence[Mapping[str, Any]]
) -> RancherStack:
    """docker inspect of a stack's containers and of their images (on every host) -> the stack.

    A Cassandra node gives two services: itself and its data sidekick. What the image sets
    (environment, labels) and what bring-up or the address imply is left out, so the files
    show what the stack asked for.
    """
    problems: list[str] = []
    services: dict[str, Service] = {}
    by_tag = {str(tag): image for image in images for tag in image.get("RepoTags") or []}
    ours = [c for c in containers if _labels(c).get(STACK) == name and not _name(c).endswith(ASIDE_SUFFIXES)]
    by_name = {_name(c): c for c in ours}
    for container in sorted(ours, key=_name):
        labels = _labels(container)
        role = labels.get(ROLE)
        if role == ROLE_CASSANDRA:
            _export_node(container, by_name, by_tag, services, problems)
        elif role == ROLE_COMPOSE:
            _export_compose(container, services, problems)
        elif role != ROLE_DATA:
            problems.append(f"container {_name(container)}: unknown {ROLE} {role!r}")
    if not services and not problems:
        problems.append(f"no container on these hosts carries the label {STACK}={name}: is the stack deployed?")
    if problems:
        raise RancherComposeError(problems)
    return RancherStack(name=name, services=dict(sorted(services.items())))


def _export_node(
    container: Mapping[str, Any],
    by_name: Mapping[str, Mapping[str, Any]],
    images: Mapping[str, Mapping[str, Any]],
    services: dict[str, Service],
    problems: list[str],
) -> None:
    node = _name(container)
    labels = _labels(container)
    config = container.get("Config") or {}
    image = str(config.get("Image") or "")
    image_info = images.get(image) or {}
    image_config = image_info.get("Config") or {}
    image_env = env_dict(image_config.get("Env"))
    image_labels = dict(image_config.get("Labels") or {})
    ip = labels.get(REQUESTED_IP, "")
    env = {key: value for key, value in env_dict(config.get("Env")).items() if image_env.get(key) != value}
    for key in ADDRESS_ENV:
        if env.get(key) == ip:
            env.pop(key)
    if env.get("CASSANDRA_RPC_ADDRESS") == DEFAULT_RPC_ADDRESS:
        env.pop("CASSANDRA_RPC_ADDRESS")
    opts = [opt for opt in env.pop("JVM_EXTRA_OPTS", "").split(" ") if opt and opt not in FAST_START_OPTS]
    if opts:
        env["JVM_EXTRA_OPTS"] = " ".join(opts)
    data_name = labels.get(DATA_CONTAINER, "")
    data = by_name.get(data_name)
    if data is None:
        problems.append(f"node {node}: its data container {data_name!r} is not on its host")
        return
    rules = [rule for rule in labels.get(HOST_LABEL, "").split(",") if rule]
    user_labels = {
        key: value
        for key, value in labels.items()
        if not key.startswith("io.corral.") and image_labels.get(key) != value
    }
    if labels.get(CASSANDRA_YAML, "{}") != "{}":
        user_labels[CASSANDRA_YAML] = labels[CASSANDRA_YAML]
    restart = str(((container.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no")
    services[node] = Service(
        name=node,
        image=image,
        environment=env,
        volumes_from=[data_name],
        ports=_ports(container),
        restart=None if restart == DEFAULT_RESTART else restart,
        labels=user_labels,
        sidekicks=[data_name],
        host_label=rules,
        requested_ip=ip or None,
    )
    services[data_name] = Service(
        name=data_name,
        image=str((data.get("Config") or {}).get("Image") or ""),
        volumes=_binds(data),
        host_label=list(rules),
        start_once=True,
    )


def _export_compose(container: Mapping[str, Any], services: dict[str, Service], problems: list[str]) -> None:
    labels = _labels(container)
    try:
        spec = json.loads(labels.get(COMPOSE_SERVICE, ""))
        stack = RancherStack.from_dict({"services": {spec["name"]: spec}})
    except (ValueError, KeyError, TypeError, RancherComposeError) as exc:
        problems.append(f"container {_name(container)}: label {COMPOSE_SERVICE} cannot be read: {exc}")
        return
    service = next(iter(stack.services.values()))
    # The image really running wins over the one recorded at import.
    service.image = str((container.get("Config") or {}).get("Image") or service.image)
    services.setdefault(service.name, service)


# --- import: the Cassandra services ----------------------------------------------------------------


def _same(values: dict[str, Any], what: str, problems: list[str]) -> Any:
    """The one value every node gives; a problem naming them when they differ."""
    distinct = sorted({json.dumps(value, sort_keys=True) for value in values.values()})
    if len(distinct) > 1:
        given = ", ".join(f"{node}: {value!r}" for node, value in sorted(values.items()))
        problems.append(f"{what} must be the same on every Cassandra service ({given})")
    return next(iter(values.values()), None)


def _image_parts(image: str) -> tuple[str, str]:
    repository, sep, tag = image.rpartition(":")
    if sep and "/" not in tag and "@" not in image:
        return repository, tag
    return image.split("@", 1)[0], "latest"


def cassandra_settings(
    stack: RancherStack,
    current: Mapping[str, Any],
    subnet: str | None = None,
    gateway: str | None = None,
    held: Mapping[str, str] | None = None,
    found: Mapping[str, str] | None = None,
    unread: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The cassandra_stack_* settings (without the prefix) that deploy the stack's Cassandra services.

    current: the settings in force now (inventory), kept where the files say nothing (heap, snitch,
    tokens, cluster name). subnet, gateway and held ({address: container} other containers hold on the
    overlay) let a node without a requested_ip get one; found ({service: address}) is where its data was
    written, unread ({service: why}) whose data could not be read (addresses.py). {} when the stack has
    no Cassandra service. RancherComposeError names every service, key or label the Cassandra path cannot
    honour. Besides the settings: `addresses` ({node: {ip, source}}), `cluster_name_source`,
    `cluster_name_from_data` (no name in the files or the inventory: import.yml takes the data's) and
    `mapped` (how each Rancher key was honoured), for the plan.
    """
    problems: list[str] = []
    nodes: list[dict[str, Any]] = []
    stack_env: dict[str, dict[str, str]] = {key: {} for key in STACK_ENV}
    images: dict[str, str] = {}
    busybox: dict[str, str] = {}
    restart: dict[str, str] = {}
    seeds: dict[str, str] = {}
    units = []
    for unit in stack.units():
        primary = unit[0]
        if not primary.is_cassandra:
            kicks = [kick.name for kick in unit[1:] if kick.is_cassandra]
            if kicks:
                problems.append(
                    f"service {primary.name!r}: its sidekicks {', '.join(kicks)} are Cassandra: "
                    "a Cassandra node must be a primary service"
                )
            continue
        node = _cassandra_node(primary, unit[1:], problems)
        if node is None:
            continue
        nodes.append(node)
        units.append(unit)
        env = dict(primary.environment)
        for key in STACK_ENV:
            if key in env:
                stack_env[key][primary.name] = env[key]
        images[primary.name] = primary.image
        busybox[primary.name] = unit[1].image
        restart[primary.name] = primary.restart or DEFAULT_RESTART
        if "CASSANDRA_SEEDS" in env:
            seeds[primary.name] = env["CASSANDRA_SEEDS"]
    if not nodes:
        if problems:
            raise RancherComposeError(problems)
        return {}
    image = _same(images, "image", problems)
    _same(busybox, "the data sidekick's image", problems)
    _same(restart, "restart", problems)
    settings: dict[str, Any] = {
        "name": stack.name,
        "nodes": nodes,
        "busybox_image": next(iter(busybox.values())),
        "restart_policy": next(iter(restart.values())),
        "env": {},
        "jvm_extra_opts": [],
        "cassandra_yaml": {},
        "published_ports": [],
        "endpoint_snitch": current.get("endpoint_snitch") or "GossipingPropertyFileSnitch",
        "num_tokens": current.get("num_tokens"),
        "max_heap_size": current.get("max_heap_size"),
        "heap_newsize": current.get("heap_newsize"),
    }
    settings["image_repository"], settings["version"] = _image_parts(str(image))
    for key, setting in STACK_ENV.items():
        given = stack_env[key]
        if given and len(given) != len(nodes):
            missing = sorted({node["name"] for node in nodes} - set(given))
            problems.append(f"environment {key} is given on some Cassandra services but not on {', '.join(missing)}")
        elif given:
            settings[setting] = _same(given, f"environment {key}", problems)
    settings.update(_cluster_name(settings.get("cluster_name"), current.get("cluster_name")))
    if settings["num_tokens"] is not None:
        try:
            settings["num_tokens"] = int(settings["num_tokens"])
        except ValueError:
            problems.append(f"environment CASSANDRA_NUM_TOKENS {settings['num_tokens']!r} is not a whole number")

    given_ips = {name: service.requested_ip for name, service in stack.services.items() if service.requested_ip}
    addresses, address_problems = choose_addresses(
        [node["name"] for node in nodes], given_ips, subnet, gateway, held, found, unread
    )
    problems.extend(address_problems)
    for node in nodes:
        node["ip"] = addresses[node["name"]].ip if node["name"] in addresses else None
    settings["addresses"] = {name: {"ip": item.ip, "source": item.source} for name, item in sorted(addresses.items())}

    seed_text = _same(seeds, "environment CASSANDRA_SEEDS", problems) if seeds else None
    by_name = {node["name"]: node["ip"] for node in nodes}
    seed_ips: list[str] = []
    strangers: list[str] = []
    for entry in (item.strip() for item in str(seed_text or "").split(",") if item.strip()):
        ip = by_name.get(entry, entry)  # Rancher's DNS gave each service its name
        (seed_ips if ip in by_name.values() else strangers).append(ip)
    if strangers:
        problems.append(
            f"environment CASSANDRA_SEEDS names {', '.join(strangers)}, which is no Cassandra service's address "
            "or name: the seeds must be nodes of this stack"
        )
    for node in nodes:
        node["seed"] = node["ip"] in seed_ips if seed_ips else node is nodes[0]
    settings["mapped"] = _mapped(units)
    if problems:
        raise RancherComposeError(problems)
    return settings


def _cluster_name(files: str | None, inventory: str | None) -> dict[str, Any]:
    """The cluster name and where it comes from: the files, the inventory, else the data (read by import.yml)."""
    if files:
        return {
            "cluster_name": files,
            "cluster_name_source": "the files (CASSANDRA_CLUSTER_NAME)",
            "cluster_name_from_data": False,
        }
    if inventory:
        return {
            "cluster_name": inventory,
            "cluster_name_source": "cassandra_stack_cluster_name (the inventory or -e)",
            "cluster_name_from_data": False,
        }
    return {
        "cluster_name": IMAGE_DEFAULT_CLUSTER_NAME,
        "cluster_name_source": (
            f"none in the files: the name the nodes' data holds, read before the plan; {IMAGE_DEFAULT_CLUSTER_NAME!r} "
            "(the official image's default, as under Rancher) on new data"
        ),
        "cluster_name_from_data": True,
    }


def _names(services: Sequence[Service]) -> str:
    return ", ".join(service.name for service in services)


def _mapped(units: Sequence[Sequence[Service]]) -> list[str]:
    """How each Rancher key of the Cassandra services was honoured, one line per key and value."""
    primaries = [unit[0] for unit in units]
    sidekicks = [kick for unit in units for kick in unit[1:]]
    everyone = [*primaries, *sidekicks]
    lines: list[tuple[list[Service], str]] = [
        (
            [s for s in everyone if s.pull_image == "always"],
            "io.rancher.container.pull_image always: the image is pulled on each host that lacks it",
        ),
        (
            [s for s in sidekicks if s.start_once],
            "io.rancher.container.start_once true: the data container is created once, holds the volume, never runs",
        ),
        ([s for s in everyone if s.tty], "tty true: dropped, a node and its data container need no terminal"),
        ([s for s in everyone if s.stdin_open], "stdin_open true: dropped, nothing reads a node's input"),
        ([s for s in primaries if s.scale == 1], "scale 1: one service is one node"),
        ([s for s in everyone if s.start_on_create], "start_on_create true: every node is started"),
        ([s for s in primaries if s.retain_ip], "retain_ip true: every node keeps its fixed address"),
        (
            [s for s in primaries if not s.retain_ip],
            "retain_ip false (or not given): every node keeps a fixed address all the same",
        ),
        (
            [s for s in primaries if s.health_check is not None],
            "health_check on 9042: the stack's own gates (CQL on 9042, the ring, the schema)",
        ),
        (
            [s for s in primaries if s.upgrade_strategy is not None],
            "upgrade_strategy: upgrade.yml, one node at a time, each gated on its health",
        ),
    ]
    return [f"{text} ({_names(services)})" for services, text in lines if services]


def _cassandra_node(primary: Service, sidekicks: list[Service], problems: list[str]) -> dict[str, Any] | None:
    where = f"service {primary.name!r} (Cassandra)"
    before = len(problems)
    unsupported = {
        "command": primary.command,
        "entrypoint": primary.entrypoint,
        "volumes": primary.volumes,
        "io.rancher.scheduler.affinity:host_label_ne": primary.host_label_ne,
        "io.rancher.scheduler.affinity:host_label_soft": primary.host_label_soft,
        "io.rancher.scheduler.affinity:host_label_soft_ne": primary.host_label_soft_ne,
        "io.rancher.scheduler.affinity:container_label_ne": primary.container_label_ne,
        "io.rancher.scheduler.affinity:container_label_soft_ne": primary.container_label_soft_ne,
        "io.rancher.scheduler.global": primary.scheduler_global,
        "io.rancher.container.start_once": primary.start_once,
        "io.rancher.container.hostname_override": primary.hostname_override,
    }
    for key, value in unsupported.items():
        if value:
            problems.append(f"{where}: {key} is not supported on a Cassandra node")
    if primary.start_on_create is False:
        problems.append(f"{where}: start_on_create false is not supported: the Cassandra path starts every node")
    if primary.upgrade_strategy is not None and primary.upgrade_strategy.start_first:
        problems.append(
            f"{where}: upgrade_strategy start_first true is not supported: two nodes cannot run on one data directory"
        )
    if primary.scale != 1:
        problems.append(f"{where}: scale {primary.scale} is not supported: one service is one node (give scale 1)")
    if primary.health_check is not None and primary.health_check.port != 9042:
        problems.append(
            f"{where}: health_check on port {primary.health_check.port} is not supported: "
            "the Cassandra path checks CQL on 9042, the ring and the schema"
        )
    if not primary.host_label:
        problems.append(
            f"{where}: io.rancher.scheduler.affinity:host_label is missing: each node is tied to one host by its labels"
        )
    labels = dict(primary.labels)
    cassandra_yaml: dict[str, Any] = {}
    if CASSANDRA_YAML in labels:
        try:
            cassandra_yaml = json.loads(labels.pop(CASSANDRA_YAML))
        except ValueError:
            cassandra_yaml = None  # type: ignore[assignment]
        if not isinstance(cassandra_yaml, dict):
            problems.append(f"{where}: label {CASSANDRA_YAML} is not a JSON object")
            cassandra_yaml = {}
    if labels:
        problems.append(f"{where}: labels {', '.join(sorted(labels))} are not supported on a Cassandra node")
    env = dict(primary.environment)
    for key in ADDRESS_ENV:
        value = env.pop(key, None)
        if value is not None and value != primary.requested_ip:
            problems.append(
                f"{where}: environment {key}={value} differs from io.rancher.container.requested_ip "
                f"{primary.requested_ip or '(none)'}: the node's address is its requested_ip"
            )
    for key in (*STACK_ENV, "CASSANDRA_SEEDS"):
        env.pop(key, None)
    node_values = {setting: env.pop(key) for key, setting in NODE_ENV.items() if key in env}
    jvm = [opt for opt in env.pop("JVM_EXTRA_OPTS", "").split(" ") if opt]

    data = None
    if len(sidekicks) != 1 or primary.volumes_from != [sidekicks[0].name]:
        problems.append(
            f"{where}: a Cassandra node needs exactly one data sidekick that it takes its volumes from "
            f"(io.rancher.sidekicks and volumes_from naming the same one service); got sidekicks "
            f"{[kick.name for kick in sidekicks]} and volumes_from {primary.volumes_from}"
        )
    else:
        data = _data_sidekick(primary, sidekicks[0], problems)
    if len(problems) > before or data is None:
        return None
    node: dict[str, Any] = {
        "name": primary.name,
        "host_label": ",".join(primary.host_label),
        "ip": primary.requested_ip,
        "seed": False,
        "data_container": data[0],
        "data_dir": data[1],
        "published_ports": list(primary.ports),
        "env": env,
        "jvm_extra_opts": jvm,
        "cassandra_yaml": cassandra_yaml,
    }
    node.update(node_values)
    return node


def _data_sidekick(primary: Service, data: Service, problems: list[str]) -> tuple[str, str] | None:
    where = f"service {data.name!r} (data sidekick of {primary.name!r})"
    before = len(problems)
    for key, value in {
        "command": data.command,
        "entrypoint": data.entrypoint,
        "ports": data.ports,
        "environment": data.environment,
        "labels": data.labels,
        "volumes_from": data.volumes_from,
        "io.rancher.container.requested_ip": data.requested_ip,
    }.items():
        if value:
            problems.append(f"{where}: {key} is not supported on the data container of a Cassandra node")
    rules = sorted(set(data.host_label) - set(primary.host_label))
    if rules or data.host_label_ne:
        problems.append(
            f"{where}: host rules must be those of {primary.name!r} or none: a sidekick goes where its primary goes"
        )
    binds = [volume.split(":") for volume in data.volumes]
    sources = [
        parts[0]
        for parts in binds
        if len(parts) in (2, 3)
        and posixpath.normpath(parts[1]) == CASSANDRA_DATA_PATH
        and parts[2:] in ([], ["rw"])
        and parts[0].startswith("/")
    ]
    if len(binds) != 1 or len(sources) != 1:
        problems.append(
            f"{where}: volumes must be one host directory bound to {CASSANDRA_DATA_PATH}, "
            f"like /cassandra/data:{CASSANDRA_DATA_PATH}; got {data.volumes}"
        )
    if len(problems) > before:
        return None
    return data.name, posixpath.normpath(sources[0])


# --- import: everything else -----------------------------------------------------------------------


def container_name(stack: str, service: str, index: int) -> str:
    """Rancher 1.x's naming: <stack>-<service>-<n>."""
    return f"{stack}-{service}-{index}"


def plain_containers(stack: RancherStack, placement: Mapping[str, list[str]], network: str) -> list[dict[str, Any]]:
    """The containers of the services that are not Cassandra, sidekicks before their primary.

    Each: host, name, service, start (started or present), start_once, health_check_port and
    health_check_seconds (None without a health_check), and the community.docker.docker_container
    options in `options`.
    """
    cassandra = {service.name for unit in stack.units() if unit[0].is_cassandra for service in unit}
    result: list[dict[str, Any]] = []
    for unit in stack.units():
        if unit[0].name in cassandra:
            continue
        for service in [*unit[1:], unit[0]]:
            for index, host in enumerate(placement.get(service.name) or [], 1):
                result.append(_plain_container(stack.name, service, index, host, network))
    return result


def _plain_container(stack: str, service: Service, index: int, host: str, network: str) -> dict[str, Any]:
    name = container_name(stack, service.name, index)
    recorded = asdict(service)
    recorded.pop("is_cassandra", None)
    labels = {
        **service.labels,
        STACK: stack,
        SERVICE: service.name,
        ROLE: ROLE_COMPOSE,
        COMPOSE_INDEX: str(index),
        COMPOSE_SERVICE: canonical_json(recorded),
    }
    if service.host_label:
        labels[HOST_LABEL] = ",".join(service.host_label)
    # Only a fixed address needs `networks`: community.docker looks that network up on the host, and a
    # worker lists the attachable overlay only once a container there has joined it.
    endpoints = [{"name": network, "ipv4_address": service.requested_ip}] if service.requested_ip else []
    options: dict[str, Any] = {
        "name": name,
        "image": service.image,
        "labels": labels,
        "env": dict(service.environment),
        "volumes": list(service.volumes),
        "volumes_from": [
            container_name(stack, source, index) + (f":{mode}" if mode else "")
            for source, _sep, mode in (entry.partition(":") for entry in service.volumes_from)
        ],
        "published_ports": list(service.ports),
        "networks": endpoints,
        "network_mode": network,
        "restart_policy": "no" if service.start_once else service.restart or DEFAULT_RESTART,
        "tty": service.tty,
        "interactive": service.stdin_open,
        "pull": service.pull_image == "always",
    }
    if service.command is not None:
        options["command"] = service.command
    if service.entrypoint is not None:
        options["entrypoint"] = (
            service.entrypoint if isinstance(service.entrypoint, list) else service.entrypoint.split()
        )
    if service.hostname_override == "container_name":
        options["hostname"] = name
    check = service.health_check
    return {
        "host": host,
        "name": name,
        "service": service.name,
        "start": "present" if service.start_on_create is False else "started",
        "start_once": service.start_once,
        # Rancher's check connected to this port; the import waits until the container listens on it.
        "health_check_port": check.port if check is not None and not service.start_once else None,
        "health_check_seconds": -(-check.initializing_timeout // 1000) if check and check.initializing_timeout else None,
        "options": options,
    }


# --- remove ----------------------------------------------------------------------------------------


def host_data_dirs(containers: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    """The host directories the stack's containers bind (data containers and plain ones), sorted."""
    result: set[str] = set()
    for container in containers:
        labels = _labels(container)
        if labels.get(STACK) != name or labels.get(ROLE) not in (ROLE_DATA, ROLE_COMPOSE):
            continue
        for bind in _binds(container):
            source = bind.split(":", 1)[0]
            if source.startswith("/"):
                result.add(posixpath.normpath(source))
    return sorted(result)


# --- import: what is already there ---------------------------------------------------------------


def planned(plain: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{host, name, ip}] of every container an import creates: Cassandra nodes (from the stack model),
    their data containers, and the plain containers."""
    result: list[dict[str, Any]] = []
    for node in nodes:
        result.append({"host": node["host"], "name": node["name"], "ip": node["ip"]})
        result.append({"host": node["host"], "name": node["data_container"], "ip": None})
    for item in plain:
        endpoint = (item["options"].get("networks") or [{}])[0]
        result.append({"host": item["host"], "name": item["name"], "ip": endpoint.get("ipv4_address")})
    return result


def conflicts(
    planned: Sequence[Mapping[str, Any]], name: str, containers: Mapping[str, Sequence[Mapping[str, Any]]], network: str
) -> list[str]:
    """Containers of the plan ({host, name, ip}) that clash with containers of other stacks, on any host.

    containers: {host: docker ps entries (all, verbose)}. A container of the same name, or holding a
    planned address on the network, that is not this stack's would be taken over or fail at start.
    """
    names = {str(item["name"]): item for item in planned}
    ips = {str(item["ip"]): item for item in planned if item.get("ip")}
    problems = []
    for host, entries in sorted(containers.items()):
        for entry in entries or []:
            labels = dict(entry.get("Labels") or {})
            if labels.get(STACK) == name:
                continue
            owner = f"stack {labels[STACK]!r}" if STACK in labels else "no stack of this collection"
            for container in (str(n).lstrip("/") for n in entry.get("Names") or []):
                if container in names:
                    problems.append(
                        f"container {container} (for {names[container]['host']}) already exists on {host} "
                        f"and belongs to {owner}: remove that first (remove.yml -e stack=NAME)"
                    )
            endpoint = ((entry.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
            ip = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or endpoint.get("IPAddress") or ""
            if ip in ips:
                label = ", ".join(str(n).lstrip("/") for n in entry.get("Names") or [])
                problems.append(
                    f"address {ip} (for {ips[ip]['name']}) is held on {network} by container {label} on {host}, "
                    f"which belongs to {owner}"
                )
    return problems


# --- import: the plan shown before any change ------------------------------------------------------


def import_plan(
    settings: Mapping[str, Any],
    model: Mapping[str, Any],
    plain: Sequence[Mapping[str, Any]],
    data_found: Mapping[str, bool],
    ignored: Sequence[str] = (),
) -> list[str]:
    """The plan, one line each: per container its host, address and where it came from, image, data; then the
    cluster name and where it came from, how each Rancher key was honoured, and what was ignored as asked.

    settings: cassandra_settings()'s result ({} without Cassandra); model: the Cassandra stack model built from
    them; data_found: {'host:directory': whether it holds a node's data already}.
    """
    lines: list[str] = []
    addresses = settings.get("addresses") or {}
    for node in model.get("nodes") or []:
        address = addresses.get(node["name"]) or {"ip": node["ip"], "source": "given"}
        found = data_found.get(f"{node['host']}:{node['data_dir']}")
        data = "found, holds a node's data" if found else "new" if found is not None else "not looked at"
        role = "seed" if node.get("seed") else "node"
        lines.append(
            f"{node['name']} on {node['host']}: Cassandra {role}, address {address['ip']} ({address['source']}), "
            f"image {model['image']}, data {node['data_dir']} ({data}) in {node['data_container']} "
            f"(image {model['busybox_image']})"
        )
    if model.get("nodes"):
        lines.append(f"cluster name: {model['cluster_name']!r}, from {settings.get('cluster_name_source')}")
        lines.append(f"seeds: {', '.join(model.get('seeds') or [])}")
    for item in plain:
        options = item["options"]
        endpoint = (options.get("networks") or [{}])[0]
        address = f"{endpoint['ipv4_address']} (given: io.rancher.container.requested_ip)" if endpoint else "Docker's choice"
        volumes = f", volumes {', '.join(options['volumes'])}" if options.get("volumes") else ""
        lines.append(f"{item['name']} on {item['host']}: address {address}, image {options['image']}{volumes}")
    lines.extend(f"mapped: {line}" for line in settings.get("mapped") or [])
    lines.extend(f"ignored as asked: {line}" for line in ignored)
    return lines or ["nothing to create"]
