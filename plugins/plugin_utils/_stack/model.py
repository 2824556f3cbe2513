# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The stack model: role variables and the swarm's real node labels -> validated, placed nodes.

Controller-side and free of Ansible imports, so unit tests cover it directly. Every check
happens here, before any host is touched; a StackError lists every offending value found.
The role (roles/cassandra_stack) reads the model and never re-derives it; so will upgrade,
export and status.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# The node module's own checks and merge: the model refuses early what the module would refuse on the host.
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import (
    CLUSTER_NAME,
    CONTAINER_NAME,
    DC_RACK,
    HEAP_SIZE,
    PUBLISHED_PORT,
    deep_merge,
)

# --- constants ----------------------------------------------------------------------------

# The classic Rancher 1.x layout: cdb1 (seed) / cdb2 / cdb3, each with its BusyBox data sidekick.
DEFAULT_NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "host_label": "hostname=cassandra1", "ip": "10.42.0.48", "seed": True, "data_container": "data1"},
    {"name": "cdb2", "host_label": "hostname=cassandra2", "ip": "10.42.0.49", "seed": False, "data_container": "data2"},
    {"name": "cdb3", "host_label": "hostname=cassandra3", "ip": "10.42.0.50", "seed": False, "data_container": "data3"},
]

# A brand-new cluster (no node holds data) starts without any node bootstrapping: each node takes
# tokens computed here for the whole cluster (initial_token, as ccm does) and skips the bootstrap
# (auto_bootstrap=false), so no node depends on gossip timing at its first start. Joining by bootstrap
# with a shortened ring delay (ring_delay_ms=1000, what this collection did before) is unsafe: Cassandra
# 3.x resets its gossip state after the shadow round and checks for a seed one ring delay later; a seed
# slow to answer under load made the joiner die with "Unable to contact any seeds!", and its restart on
# half-written system tables never came up (seen on the lab). Nothing is streamed because there is
# nothing to stream. These options are safe only while the whole cluster is empty.
FAST_START_JVM_OPTS: tuple[str, ...] = ("-Dcassandra.skip_wait_for_gossip_to_settle=0",)
NO_BOOTSTRAP_OPT = "-Dcassandra.auto_bootstrap=false"
INITIAL_TOKEN_OPT = "-Dcassandra.initial_token="
# First-start options of earlier releases: a container still carrying them is left alone too.
LEGACY_FAST_START_JVM_OPTS: tuple[str, ...] = (
    "-Dcassandra.ring_delay_ms=1000",
    "-Dcassandra.consistent.rangemovement=false",
)
# A node that takes over a dead node's tokens at the same address (cassandra_stack_replace_nodes) starts once
# with this option; Cassandra ignores it once the node has bootstrapped, but the stack recreates the container
# without it as soon as the replacement is complete: left on, a later loss of the same disk (or a disk that failed
# to mount) would make the node replace itself at its next start, unasked and ungated.
REPLACE_ADDRESS_OPT = "-Dcassandra.replace_address_first_boot="
# Token ranges of the partitioners whose tokens are integers: (lowest, number of tokens).
TOKEN_RANGES: dict[str, tuple[int, int]] = {
    "Murmur3Partitioner": (-(2**63), 2**64),
    "RandomPartitioner": (0, 2**127),
}

# Secure by default; cassandra_yaml given by the user is merged over this.
SECURE_CASSANDRA_YAML: dict[str, Any] = {
    "authenticator": "PasswordAuthenticator",
    "authorizer": "CassandraAuthorizer",
    "role_manager": "CassandraRoleManager",
}

NODE_KEYS = frozenset(
    {
        "name",
        "host_label",
        "ip",
        "seed",
        "data_container",
        "data_dir",
        "dc",
        "rack",
        "published_ports",
        "env",
        "jvm_extra_opts",
        "cassandra_yaml",
    }
)

_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_ROLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class StackError(ValueError):
    """Input the stack cannot be built from; the text names each offending value."""


# --- placement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostLabel:
    """A Rancher-style host-label affinity rule: key=value[,key=value], every pair must match."""

    text: str
    pairs: tuple[tuple[str, str], ...]

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.pairs)


def parse_host_label(text: Any, where: str = "host_label") -> HostLabel:
    """'hostname=cassandra1,dc=dc1' -> HostLabel; StackError naming the bad part otherwise."""
    hint = "write key=value[,key=value], like hostname=cassandra1"
    if not isinstance(text, str) or not text.strip():
        raise StackError(f"{where}={text!r} is empty or not a string: {hint}")
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise StackError(f"{where}={text!r} is malformed at {part.strip()!r}: {hint}")
        if not _LABEL_KEY.match(key):
            raise StackError(f"{where}={text!r} has label key {key!r} with characters a label key cannot have")
        if key in pairs and pairs[key] != value:
            raise StackError(f"{where}={text!r} asks for {key}={pairs[key]} and {key}={value}: no host can match")
        pairs[key] = value
    return HostLabel(text=text.strip(), pairs=tuple(pairs.items()))


@dataclass(frozen=True)
class SwarmHost:
    """A swarm node as placement sees it, tied to the inventory host it is (None: not in the play)."""

    node_id: str
    hostname: str
    labels: dict[str, str]
    state: str
    availability: str
    host: str | None

    def describe(self) -> str:
        labels = ",".join(f"{key}={value}" for key, value in sorted(self.labels.items())) or "no labels"
        where = f"inventory host {self.host}" if self.host else "not a host of this play"
        return f"{self.hostname} ({labels}; {where})"


def swarm_hosts(swarm_nodes: list[dict[str, Any]], host_infos: dict[str, dict[str, Any]]) -> list[SwarmHost]:
    """Tie the swarm's nodes (docker node inspect) to inventory hosts (their docker info).

    A host is its swarm node by Swarm.NodeID when its engine reports one, else by the engine's
    Name matching the node's Description.Hostname.
    """
    by_id: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for inventory_host, info in sorted(host_infos.items()):
        info = info or {}
        node_id = str((info.get("Swarm") or {}).get("NodeID") or "")
        if node_id:
            if node_id in by_id:
                raise StackError(
                    f"inventory hosts {by_id[node_id]} and {inventory_host} are the same swarm node {node_id}: "
                    "list each machine once in the inventory"
                )
            by_id[node_id] = inventory_host
        else:
            by_name.setdefault(str(info.get("Name") or ""), []).append(inventory_host)
    result: list[SwarmHost] = []
    for node in swarm_nodes or []:
        node_id = str(node.get("ID") or "")
        spec = node.get("Spec") or {}
        hostname = str((node.get("Description") or {}).get("Hostname") or node_id)
        host: str | None = by_id.get(node_id)
        if host is None and len(by_name.get(hostname, [])) == 1:
            host = by_name[hostname][0]
        result.append(
            SwarmHost(
                node_id=node_id,
                hostname=hostname,
                labels={str(k): str(v) for k, v in (spec.get("Labels") or {}).items()},
                state=str((node.get("Status") or {}).get("State") or "unknown"),
                availability=str(spec.get("Availability") or "unknown"),
                host=host,
            )
        )
    return result


def place(rule: HostLabel, hosts: list[SwarmHost], node_name: str) -> SwarmHost:
    """The one swarm host the rule selects; StackError if none, several, or one outside the play."""
    matches = [host for host in hosts if rule.matches(host.labels)]
    known = "; ".join(host.describe() for host in hosts) or "none (is the swarm up?)"
    if not matches:
        raise StackError(
            f"node {node_name}: host_label {rule.text!r} matches no swarm node "
            f"(Rancher would leave it 'Activating' forever). The swarm's nodes: {known}"
        )
    down = [host for host in matches if host.state == "down"]
    if len(matches) > 1 and len(down) == len(matches) - 1:
        # A host that died and joined again on a new engine: its old swarm entry keeps its labels.
        stale = ", ".join(f"{host.hostname} ({host.node_id})" for host in down)
        ids = " ".join(host.node_id for host in down)
        raise StackError(
            f"node {node_name}: host_label {rule.text!r} matches a ready swarm node and {len(down)} down one(s) "
            f"with the same labels: {stale}, left by a host that is gone. Remove them on a manager: "
            f"docker node rm {ids} (the orchestrator role does it when a host of that name joins again)"
        )
    if len(matches) > 1:
        names = ", ".join(host.describe() for host in matches)
        raise StackError(
            f"node {node_name}: host_label {rule.text!r} matches {len(matches)} swarm nodes ({names}); "
            "it must select exactly one: add a label pair that tells them apart"
        )
    match = matches[0]
    if match.host is None:
        raise StackError(
            f"node {node_name}: host_label {rule.text!r} selects swarm node {match.hostname}, "
            "which is not a host of this play: add it to the play's hosts (cassandra_hosts) or fix the label"
        )
    if match.state != "ready":
        raise StackError(
            f"node {node_name}: host_label {rule.text!r} selects swarm node {match.hostname} "
            f"({match.host}), whose swarm state is {match.state!r}, not 'ready'"
        )
    return match


# --- the model ------------------------------------------------------------------------------


@dataclass
class Node:
    """One Cassandra node, placed and with every setting resolved."""

    name: str
    host: str
    swarm_hostname: str
    host_label: str
    ip: str
    seed: bool
    data_container: str
    data_dir: str
    dc: str
    rack: str
    published_ports: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    jvm_extra_opts: list[str] = field(default_factory=list)
    cassandra_yaml: dict[str, Any] = field(default_factory=dict)
    # Added on the node's very first start only, when the whole cluster is empty.
    fast_start_jvm_opts: list[str] = field(default_factory=list)
    # Where the node answers CQL once it is Up/Normal: the cheap readiness probe looks for this port.
    cql_port: int = 9042
    # Where the node gossips with its peers: a starting seed opens it just before gossip starts.
    storage_port: int = 7000


@dataclass
class Stack:
    name: str
    cluster_name: str
    image: str
    image_repository: str
    version: str
    busybox_image: str
    network: str
    endpoint_snitch: str
    num_tokens: int | None
    max_heap_size: str | None
    heap_newsize: str | None
    restart_policy: str
    stop_timeout: int
    password_auth: bool
    superuser_name: str
    seeds: list[str]
    system_auth_replication: dict[str, Any]
    # After system_auth's replication changes: [{name, host, argv}] of the `nodetool repair` runs, in order.
    system_auth_repairs: list[dict[str, Any]]
    # Whether a brand-new cluster's nodes get computed tokens (token_layout) and start without bootstrap.
    initial_tokens: bool
    nodes: list[Node]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_num_tokens(version: str) -> int | None:
    """The num_tokens of a release's own cassandra.yaml: 256 before 4.0, 16 from 4.0; None for a tag like 'latest'."""
    major = re.match(r"(\d+)\.", version)
    if major is None:
        return None
    return 256 if int(major.group(1)) < 4 else 16


def token_layout(nodes: list[tuple[str, str]], num_tokens: int | None, partitioner: str) -> dict[str, list[int]] | None:
    """Evenly spaced tokens for a brand-new cluster: [(node, dc)] -> {node: its num_tokens tokens}.

    Within a data centre the nodes' tokens interleave, so each node owns the same share; data centres
    are offset by one so that no token is taken twice. None when the partitioner has no integer tokens
    or the number of tokens is unknown: then nodes bootstrap, one at a time.
    """
    if num_tokens is None or num_tokens < 1 or partitioner.rsplit(".", 1)[-1] not in TOKEN_RANGES:
        return None
    lowest, span = TOKEN_RANGES[partitioner.rsplit(".", 1)[-1]]
    by_dc: dict[str, list[str]] = {}
    for name, dc in nodes:
        by_dc.setdefault(dc, []).append(name)
    layout: dict[str, list[int]] = {}
    for offset, members in enumerate(by_dc.values()):
        slots = len(members) * num_tokens
        for index, name in enumerate(members):
            # Slot k of the ring is the middle of its share: never the partitioner's minimum token.
            layout[name] = sorted(
                lowest + (2 * (vnode * len(members) + index) + 1) * span // (2 * slots) + offset
                for vnode in range(num_tokens)
            )
    return layout


def is_fast_start_option(option: str) -> bool:
    """Whether a JVM option is one a brand-new cluster's node gets at its first start (now or in earlier releases)."""
    return (
        option in FAST_START_JVM_OPTS
        or option in LEGACY_FAST_START_JVM_OPTS
        or option == NO_BOOTSTRAP_OPT
        or option.startswith(INITIAL_TOKEN_OPT)
    )


def _class_name(value: Any) -> str:
    """'PasswordAuthenticator', 'org...PasswordAuthenticator' or {class_name: ...} -> short class name."""
    if isinstance(value, dict):
        value = value.get("class_name", "")
    return str(value or "").rsplit(".", 1)[-1]


def system_auth_repairs(nodes: list[Node]) -> list[dict[str, Any]]:
    """The repairs that make system_auth consistent after its replication changed.

    While every node holds every range (min(3, n) equals the nodes of each data centre), one full
    repair on one node covers everything; otherwise every node repairs its primary ranges.
    """
    per_dc: dict[str, int] = {}
    for node in nodes:
        per_dc[node.dc] = per_dc.get(node.dc, 0) + 1
    if all(count <= 3 for count in per_dc.values()):
        return [{"name": nodes[0].name, "host": nodes[0].host, "argv": ["nodetool", "repair", "-full", "system_auth"]}]
    return [
        {"name": node.name, "host": node.host, "argv": ["nodetool", "repair", "-full", "-pr", "system_auth"]}
        for node in nodes
    ]


def system_auth_replication(snitch: str, nodes: list[Node]) -> dict[str, Any]:
    """system_auth replicated to min(3, nodes) per data centre."""
    if _class_name(snitch) == "SimpleSnitch":
        return {"class": "SimpleStrategy", "replication_factor": min(3, len(nodes))}
    per_dc: dict[str, int] = {}
    for node in nodes:
        per_dc[node.dc] = per_dc.get(node.dc, 0) + 1
    replication: dict[str, Any] = {"class": "NetworkTopologyStrategy"}
    for dc in sorted(per_dc):
        replication[dc] = min(3, per_dc[dc])
    return replication


class _Errors:
    """Collects every problem, so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def check(self) -> None:
        if self.items:
            raise StackError("; ".join(self.items) if len(self.items) == 1 else "\n".join(self.items))


def _str_list(value: Any, where: str, errors: _Errors) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add(f"{where}={value!r} must be a list of strings")
        return []
    return list(value)


def _str_dict(value: Any, where: str, errors: _Errors) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(f"{where}={value!r} must be a mapping")
        return {}
    return dict(value)


def _networks(subnets: list[dict[str, Any]]) -> list[tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]]:
    """[(subnet, gateway)] from a network's IPAM.Config; the gateway defaults to the first address."""
    result = []
    for config in subnets or []:
        subnet_text = config.get("Subnet") or config.get("subnet")
        if not subnet_text:
            continue
        try:
            subnet = ipaddress.IPv4Network(str(subnet_text), strict=False)
        except ValueError:
            continue  # an IPv6 subnet: the nodes use IPv4
        gateway_text = config.get("Gateway") or config.get("gateway")
        gateway = ipaddress.IPv4Address(str(gateway_text)) if gateway_text else subnet.network_address + 1
        result.append((subnet, gateway))
    return result


def _check_ip(
    value: Any,
    where: str,
    networks: list[tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]],
    network_name: str,
    errors: _Errors,
) -> str | None:
    try:
        address = ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        errors.add(f"{where} ip={value!r} is not an IPv4 address (like 10.42.0.48)")
        return None
    inside = [(subnet, gateway) for subnet, gateway in networks if address in subnet]
    if not inside:
        subnets = ", ".join(str(subnet) for subnet, _gateway in networks) or "none"
        errors.add(f"{where} ip={address} is outside the overlay {network_name!r} (subnet {subnets})")
        return None
    subnet, gateway = inside[0]
    if address in (subnet.network_address, subnet.broadcast_address):
        errors.add(f"{where} ip={address} is the network or broadcast address of {subnet}")
        return None
    if address == gateway:
        errors.add(f"{where} ip={address} is the gateway of {network_name!r}; pick another address in {subnet}")
        return None
    return str(address)


def _check_port(value: str, where: str, errors: _Errors) -> str | None:
    match = PUBLISHED_PORT.match(value.strip())
    if not match or not all(1 <= int(match[part]) <= 65535 for part in ("host", "container")):
        errors.add(f"{where} published_ports entry {value!r} is not '[host_ip:]host_port:container_port[/tcp|udp]'")
        return None
    return f"{match['ip'] or '*'}:{match['host']}/{match['proto'] or 'tcp'}"


def _optional(value: Any, pattern: re.Pattern[str], where: str, hint: str, errors: _Errors) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        errors.add(f"{where}={value!r} is not valid: {hint}")
        return None
    return value


def _yaml_port(cassandra_yaml: dict[str, Any], key: str, default: int, where: str, errors: _Errors) -> int:
    port = cassandra_yaml.get(key, default)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors.add(f"{where} cassandra_yaml {key}={port!r} is not a port number")
        return default
    return port


def _topology(
    raw: dict[str, Any], key: str, host: SwarmHost, label: str, default: str, where: str, errors: _Errors
) -> str:
    """A node's dc or rack: its own value, else its host's label (like dc=east), else the stack default."""
    hint = "use letters, digits, '_', '.', '-'"
    own = _optional(raw.get(key), DC_RACK, f"{where} {key}", hint, errors)
    if own:
        return own
    labelled = host.labels.get(label) if label else None
    from_label = _optional(labelled, DC_RACK, f"{where}: label {label} of {host.hostname}", hint, errors)
    return from_label or default


def build_stack(settings: dict[str, Any], hosts: list[SwarmHost], subnets: list[dict[str, Any]]) -> Stack:
    """Validate the settings, place every node, and resolve its settings. StackError lists all problems."""
    errors = _Errors()
    name = settings.get("name")
    if not isinstance(name, str) or not _STACK_NAME.match(name):
        errors.add(f"cassandra_stack_name={name!r} is not valid: use letters, digits, '_', '.' and '-'")
        name = str(name)
    network = str(settings.get("network") or "")
    networks = _networks(subnets)
    if not networks:
        errors.add(f"the overlay {network!r} has no IPv4 subnet: is the orchestrator's network there?")

    repository = settings.get("image_repository")
    version = settings.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        errors.add(f'cassandra_stack_version={version!r} is a number: quote it in YAML, like "3.10"')
    elif not isinstance(version, str) or not _VERSION.match(version):
        errors.add(f'cassandra_stack_version={version!r} is not an image tag, like "5.0.8"')
    if not isinstance(repository, str) or not repository or repository != repository.lower() or " " in repository:
        errors.add(f"cassandra_stack_image_repository={repository!r} is not a lowercase image repository")
    image = f"{repository}:{version}"

    cluster_name = _optional(
        settings.get("cluster_name"),
        CLUSTER_NAME,
        "cassandra_stack_cluster_name",
        "use letters, digits, spaces, '_', '.' and '-'",
        errors,
    )
    if cluster_name is None:
        errors.add("cassandra_stack_cluster_name must be set: it cannot change once the cluster holds data")
    snitch = str(settings.get("endpoint_snitch") or "GossipingPropertyFileSnitch")
    default_dc = _optional(
        settings.get("dc"), DC_RACK, "cassandra_stack_dc", "use letters, digits, '_', '.', '-'", errors
    )
    default_rack = _optional(
        settings.get("rack"), DC_RACK, "cassandra_stack_rack", "use letters, digits, '_', '.', '-'", errors
    )
    dc_label = str(settings.get("dc_label") or "")
    rack_label = str(settings.get("rack_label") or "")

    num_tokens = settings.get("num_tokens")
    if num_tokens is not None and (isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1):
        errors.add(f"cassandra_stack_num_tokens={num_tokens!r} must be a whole number of 1 or more, or null")
        num_tokens = None
    max_heap = settings.get("max_heap_size") or None
    new_heap = settings.get("heap_newsize") or None
    if (max_heap is None) != (new_heap is None):
        errors.add(
            "cassandra_stack_max_heap_size and cassandra_stack_heap_newsize go together (cassandra-env.sh "
            f"refuses one without the other): got {max_heap!r} and {new_heap!r}"
        )
    for option, heap in (("cassandra_stack_max_heap_size", max_heap), ("cassandra_stack_heap_newsize", new_heap)):
        if heap is not None and (not isinstance(heap, str) or not HEAP_SIZE.match(heap)):
            errors.add(f"{option}={heap!r} is not a heap size like 512M or 4G")

    stack_yaml = deep_merge(
        SECURE_CASSANDRA_YAML, _str_dict(settings.get("cassandra_yaml"), "cassandra_stack_cassandra_yaml", errors)
    )
    stack_env = _str_dict(settings.get("env"), "cassandra_stack_env", errors)
    stack_jvm = _str_list(settings.get("jvm_extra_opts"), "cassandra_stack_jvm_extra_opts", errors)
    stack_ports = _str_list(settings.get("published_ports"), "cassandra_stack_published_ports", errors)
    default_data_dir = str(settings.get("data_dir") or "/cassandra/data")

    superuser = settings.get("superuser_name")
    password_auth = _class_name(stack_yaml.get("authenticator")) == "PasswordAuthenticator"
    if password_auth and (
        not isinstance(superuser, str) or not _ROLE_NAME.match(superuser) or superuser == "cassandra"
    ):
        errors.add(
            f"cassandra_stack_superuser_name={superuser!r} is not valid: a role name of letters, digits and '_', "
            "starting with a letter, other than 'cassandra' (that default login is disabled)"
        )

    raw_nodes = settings.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        errors.add(f"cassandra_stack_nodes={raw_nodes!r} must be a non-empty list of nodes")
        raw_nodes = []

    nodes: list[Node] = []
    names: dict[str, str] = {}
    ips: dict[str, str] = {}
    per_host_dirs: dict[tuple[str, str], str] = {}
    per_host_ports: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(raw_nodes):
        where = f"cassandra_stack_nodes[{index}]"
        if not isinstance(raw, dict):
            errors.add(f"{where}={raw!r} must be a mapping with name, host_label and ip")
            continue
        node_name = raw.get("name")
        if isinstance(node_name, str) and node_name:
            where = f"node {node_name}"
        unknown = sorted(str(key) for key in set(raw) - NODE_KEYS)
        if unknown:
            errors.add(f"{where} has unknown keys {', '.join(unknown)}; known: {', '.join(sorted(NODE_KEYS))}")
        if not isinstance(node_name, str) or not CONTAINER_NAME.match(node_name):
            errors.add(f"{where} name={node_name!r} is not a container name (letters, digits, '_', '.', '-')")
            continue
        data_container = raw.get("data_container") or f"{node_name}-data"
        if not isinstance(data_container, str) or not CONTAINER_NAME.match(data_container):
            errors.add(f"{where} data_container={data_container!r} is not a container name")
            continue
        for container in (node_name, data_container):
            if container in names:
                errors.add(f"{where}: container name {container!r} is already used by {names[container]}")
        names.setdefault(node_name, f"node {node_name}")
        names.setdefault(data_container, f"the data container of node {node_name}")

        seed = raw.get("seed", False)
        if not isinstance(seed, bool):
            errors.add(f"{where} seed={seed!r} must be true or false")
            seed = False

        ip = _check_ip(raw.get("ip"), where, networks, network, errors) if "ip" in raw else None
        if "ip" not in raw:
            errors.add(f"{where} has no ip: every node has a fixed address on the overlay")
        if ip is not None:
            if ip in ips:
                errors.add(f"{where} ip={ip} is already the address of {ips[ip]}: two nodes cannot share one IP")
            ips.setdefault(ip, f"node {node_name}")

        try:
            rule = parse_host_label(raw.get("host_label"), f"{where} host_label")
            swarm_host = place(rule, hosts, node_name)
        except StackError as exc:
            errors.add(str(exc))
            continue
        host = str(swarm_host.host)  # place() refuses a swarm node outside the play

        data_dir = raw.get("data_dir") or default_data_dir
        if not isinstance(data_dir, str) or not data_dir.startswith("/") or data_dir.rstrip("/") == "":
            errors.add(f"{where} data_dir={data_dir!r} must be an absolute path below /, like /cassandra/data")
            continue
        data_dir = data_dir.rstrip("/")
        key = (host, data_dir)
        if key in per_host_dirs:
            errors.add(f"{where} data_dir={data_dir} on {host} is already the data of {per_host_dirs[key]}")
        per_host_dirs.setdefault(key, f"node {node_name}")

        ports = (
            _str_list(raw["published_ports"], f"{where} published_ports", errors)
            if "published_ports" in raw
            else list(stack_ports)
        )
        for port in ports:
            host_key = _check_port(port, where, errors)
            if host_key is None:
                continue
            if (host, host_key) in per_host_ports:
                errors.add(
                    f"{where} publishes host port {host_key} on {host}, "
                    f"already published by {per_host_ports[(host, host_key)]}"
                )
            per_host_ports.setdefault((host, host_key), f"node {node_name}")

        dc = _topology(raw, "dc", swarm_host, dc_label, default_dc or "dc1", where, errors)
        rack = _topology(raw, "rack", swarm_host, rack_label, default_rack or "rack1", where, errors)

        node_yaml = deep_merge(stack_yaml, _str_dict(raw.get("cassandra_yaml"), f"{where} cassandra_yaml", errors))
        env = {**stack_env, **_str_dict(raw.get("env"), f"{where} env", errors)}
        jvm = stack_jvm + _str_list(raw.get("jvm_extra_opts"), f"{where} jvm_extra_opts", errors)
        nodes.append(
            Node(
                name=node_name,
                host=host,
                swarm_hostname=swarm_host.hostname,
                host_label=rule.text,
                ip=ip or "",
                seed=seed,
                data_container=data_container,
                data_dir=data_dir,
                dc=dc,
                rack=rack,
                published_ports=ports,
                env=env,
                jvm_extra_opts=jvm,
                cassandra_yaml=node_yaml,
                cql_port=_yaml_port(node_yaml, "native_transport_port", 9042, where, errors),
                storage_port=_yaml_port(node_yaml, "storage_port", 7000, where, errors),
            )
        )

    if raw_nodes and not any(isinstance(raw, dict) and raw.get("seed") is True for raw in raw_nodes):
        errors.add("no node is a seed: mark at least one node with seed: true (the classic layout: cdb1)")
    errors.check()

    # Seeds start first; among seeds and among the others the declared order holds.
    nodes.sort(key=lambda node: not node.seed)
    effective_tokens = num_tokens if num_tokens is not None else default_num_tokens(str(version))
    partitioner = _class_name(nodes[0].cassandra_yaml.get("partitioner")) if nodes else ""
    layout = token_layout([(node.name, node.dc) for node in nodes], effective_tokens, partitioner or "Murmur3Partitioner")
    for node in nodes:
        node.fast_start_jvm_opts = list(FAST_START_JVM_OPTS)
        if layout is not None:
            node.fast_start_jvm_opts.append(INITIAL_TOKEN_OPT + ",".join(str(token) for token in layout[node.name]))
            if not node.seed:
                node.fast_start_jvm_opts.append(NO_BOOTSTRAP_OPT)

    return Stack(
        name=str(name),
        cluster_name=str(cluster_name),
        image=image,
        image_repository=str(repository),
        version=str(version),
        busybox_image=str(settings.get("busybox_image") or "busybox:stable"),
        network=network,
        endpoint_snitch=snitch,
        num_tokens=num_tokens,
        max_heap_size=max_heap,
        heap_newsize=new_heap,
        restart_policy=str(settings.get("restart_policy") or "unless-stopped"),
        stop_timeout=int(settings.get("stop_timeout") or 120),
        password_auth=password_auth,
        superuser_name=str(superuser or ""),
        seeds=[node.ip for node in nodes if node.seed],
        system_auth_replication=system_auth_replication(snitch, nodes),
        system_auth_repairs=system_auth_repairs(nodes),
        initial_tokens=layout is not None,
        nodes=nodes,
    )
