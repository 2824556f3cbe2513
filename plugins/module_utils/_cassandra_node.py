# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The node model: module options -> NodeSpec, and a container compared with it.

Plain functions without Docker calls, so the unit tests cover them without an engine.
_cassandra_node_docker.py does the I/O with these.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_labels as node_labels

try:
    import yaml
except ImportError:  # pragma: no cover - only on a host without PyYAML
    HAS_YAML = False
else:
    HAS_YAML = True

CASSANDRA_DATA_PATH = "/var/lib/cassandra"
DEFAULT_CONF_DIR = "/etc/cassandra"
CASSANDRA_YAML_FILE = "cassandra.yaml"
DEFAULT_RPC_ADDRESS = "0.0.0.0"
SEED_PROVIDER_CLASS = "org.apache.cassandra.locator.SimpleSeedProvider"
# The old Cassandra container kept, stopped, by an upgrade (rollback_copy=keep) is '<name>-rollback'.
ROLLBACK_SUFFIX = "-rollback"

ARGUMENT_SPEC: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "state": {
        "type": "str",
        "default": "present",
        "choices": ["present", "stopped", "absent", "rolled_back", "first_boot_reset"],
    },
    "image": {"type": "str"},
    "pull": {"type": "str", "default": "missing", "choices": ["missing", "always", "never"]},
    "data_container": {"type": "str"},
    "busybox_image": {"type": "str", "default": "busybox:stable"},
    "data_dir": {"type": "path", "default": "/cassandra/data"},
    "data_uid": {"type": "int", "default": 999},
    "data_gid": {"type": "int", "default": 999},
    "network": {"type": "str", "default": "managed"},
    "ipv4_address": {"type": "str"},
    "seeds": {"type": "list", "elements": "str", "default": []},
    "cluster_name": {"type": "str"},
    "dc": {"type": "str"},
    "rack": {"type": "str"},
    "endpoint_snitch": {"type": "str"},
    "num_tokens": {"type": "int", "no_log": False},
    "max_heap_size": {"type": "str"},
    "heap_newsize": {"type": "str"},
    "jvm_extra_opts": {"type": "list", "elements": "str", "default": []},
    "env": {"type": "dict", "default": {}},
    "cassandra_yaml": {"type": "dict", "default": {}},
    "published_ports": {"type": "list", "elements": "str", "default": []},
    "restart_policy": {
        "type": "str",
        "default": "unless-stopped",
        "choices": ["no", "on-failure", "always", "unless-stopped"],
    },
    "stack": {"type": "str", "default": "cassandra"},
    "service": {"type": "str", "default": "cassandra"},
    "host_label": {"type": "str"},
    "labels": {"type": "dict", "default": {}},
    "stop_timeout": {"type": "int", "default": 120},
    "remove_data_container": {"type": "bool", "default": False},
    "rollback_copy": {"type": "str", "default": "ignore", "choices": ["ignore", "keep", "remove"]},
    "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
}

REQUIRED_IF: list[Any] = [
    ("state", "present", ("image", "ipv4_address")),
    ("state", "stopped", ("image", "ipv4_address")),
]

# Environment variables the options set; `env` may not set them too.
MANAGED_ENV = {
    "CASSANDRA_SEEDS": "seeds",
    "CASSANDRA_CLUSTER_NAME": "cluster_name",
    "CASSANDRA_DC": "dc",
    "CASSANDRA_RACK": "rack",
    "CASSANDRA_ENDPOINT_SNITCH": "endpoint_snitch",
    "CASSANDRA_NUM_TOKENS": "num_tokens",
    "MAX_HEAP_SIZE": "max_heap_size",
    "HEAP_NEWSIZE": "heap_newsize",
    "JVM_EXTRA_OPTS": "jvm_extra_opts",
    "CASSANDRA_LISTEN_ADDRESS": "ipv4_address",
    "CASSANDRA_BROADCAST_ADDRESS": "ipv4_address",
    "CASSANDRA_BROADCAST_RPC_ADDRESS": "ipv4_address",
}

# cassandra.yaml keys the image entrypoint rewrites from the environment at every start;
# setting them in cassandra_yaml would be silently undone, so they belong to options.
MANAGED_YAML_KEYS = {
    "listen_address": "ipv4_address",
    "broadcast_address": "ipv4_address",
    "broadcast_rpc_address": "ipv4_address",
    "rpc_address": "env CASSANDRA_RPC_ADDRESS",
    "cluster_name": "cluster_name",
    "endpoint_snitch": "endpoint_snitch",
    "num_tokens": "num_tokens",
}

# A node of a brand-new cluster carries its computed tokens in its JVM options (the stack's fast start).
FIRST_START_TOKENS_OPT = "-Dcassandra.initial_token="
# Keyspaces every node has before any user data is written.
SYSTEM_KEYSPACES = frozenset(
    {
        "system",
        "system_schema",
        "system_auth",
        "system_distributed",
        "system_traces",
        "system_views",
        "system_virtual_schema",
        "system_cluster_metadata",
    }
)
# Cassandra logs this once the node is in the ring and serves clients.
SERVED_MARKER = "Starting listening for CQL clients"


def first_boot_refusals(jvm_extra_opts: str | None, keyspaces: list[str], served: bool, status: str, restarts: int) -> list[str]:
    """Why a node may not be reset as a first boot that failed ([] when it may).

    Only a node created for a brand-new cluster, that never served CQL (so never joined the ring),
    whose data directory holds no keyspace but the system ones, and that has crashed, is reset:
    its data directory is emptied, so a node that holds or ever held data must never qualify.
    """
    reasons = []
    if FIRST_START_TOKENS_OPT not in (jvm_extra_opts or ""):
        reasons.append("it was not created for a brand-new cluster (its JVM options carry no computed tokens)")
    user = sorted(keyspace for keyspace in keyspaces if keyspace not in SYSTEM_KEYSPACES)
    if user:
        reasons.append(f"its data directory holds the keyspaces {', '.join(user)}")
    if served:
        reasons.append("its log shows that it has served CQL, so it has been in the ring")
    if status == "running" and restarts == 0:
        reasons.append("it runs and has not crashed")
    return reasons


# The stack model (plugin_utils/_stack/model.py) checks values with these too, before any host is touched.
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
HEAP_SIZE = re.compile(r"^[1-9][0-9]*[KkMmGg]?$")
# Values the image entrypoint writes into files with sed: keep to characters that survive it.
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
DC_RACK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PUBLISHED_PORT = re.compile(r"^(?:(?P<ip>[0-9.]+):)?(?P<host>[0-9]+):(?P<container>[0-9]+)(?:/(?P<proto>tcp|udp))?$")
_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SNITCH = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$]*$")

VIEW_KEYS = (
    "image",
    "networks",
    "env",
    "published_ports",
    "restart_policy",
    "hostname",
    "volumes_from",
    "labels",
    "cassandra_yaml",
)


class NodeSpecError(ValueError):
    """An option value that cannot work; the message names it."""


@dataclass(frozen=True)
class PortBinding:
    host_ip: str
    host_port: int
    container_port: int
    protocol: str

    @property
    def container_key(self) -> str:
        return f"{self.container_port}/{self.protocol}"

    def text(self) -> str:
        prefix = f"{self.host_ip}:" if self.host_ip else ""
        return f"{prefix}{self.host_port}:{self.container_port}/{self.protocol}"


@dataclass
class NodeSpec:
    """Everything the module was asked for, validated and normalised."""

    state: str
    name: str
    data_container: str
    data_dir: str
    stop_timeout: int
    remove_data_container: bool
    rollback_copy: str = "ignore"
    image: str = ""
    pull: str = "missing"
    busybox_image: str = ""
    data_uid: int = 999
    data_gid: int = 999
    network: str = ""
    ipv4_address: str = ""
    seeds: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    published_ports: list[PortBinding] = field(default_factory=list)
    restart_policy: str = "unless-stopped"
    cassandra_yaml: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    data_labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_seed(self) -> bool:
        return self.ipv4_address in self.seeds


# --- validation -------------------------------------------------------------------------


def _container_name(value: Any, option: str) -> str:
    text = str(value or "").lstrip("/")
    if not CONTAINER_NAME.match(text):
        raise NodeSpecError(
            f"{option}={value!r} is not a valid container name: use letters, digits, '_', '.' and '-', "
            "at least two characters, starting with a letter or digit"
        )
    return text


def _ipv4(value: Any, option: str) -> str:
    text = str(value or "").strip()
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise NodeSpecError(f"{option}={value!r} is not an IPv4 address (like 10.42.0.48)") from None
    if address.is_unspecified or address.is_multicast or address.is_loopback:
        raise NodeSpecError(f"{option}={value!r} cannot be a node address (unspecified, loopback or multicast)")
    return str(address)


def split_image_ref(ref: str) -> tuple[str, str]:
    """('repo', 'tag') or ('repo', 'sha256:...') for a digest; a missing tag is 'latest'."""
    if "@" in ref:
        repo, digest = ref.rsplit("@", 1)
        return repo, digest
    repo, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return ref, "latest"


def _image(value: Any, option: str) -> str:
    text = str(value or "")
    if not text.strip():
        raise NodeSpecError(f"{option} must name an image, like registry:5000/corral/cassandra:3.10; got {value!r}")
    if any(char.isspace() for char in text) or text.startswith("-"):
        raise NodeSpecError(f"{option}={value!r} is not an image reference (spaces or a leading '-')")
    repo, tag = split_image_ref(text)
    if not repo or not tag or repo != repo.lower():
        raise NodeSpecError(f"{option}={value!r} is not an image reference: the repository part must be lowercase")
    return text


def parse_port(value: Any) -> PortBinding:
    """'[host_ip:]host_port:container_port[/tcp|udp]' -> PortBinding."""
    text = str(value or "").strip()
    match = PUBLISHED_PORT.match(text)
    if not match:
        raise NodeSpecError(
            f"published_ports entry {value!r} is not '[host_ip:]host_port:container_port[/tcp|udp]', like '9042:9042'"
        )
    host_port, container_port = int(match["host"]), int(match["container"])
    for port in (host_port, container_port):
        if not 1 <= port <= 65535:
            raise NodeSpecError(f"published_ports entry {value!r} has port {port} outside 1-65535")
    host_ip = ""
    if match["ip"]:
        try:
            host_ip = str(ipaddress.IPv4Address(match["ip"]))
        except ValueError:
            raise NodeSpecError(f"published_ports entry {value!r} has host address {match['ip']!r}, not IPv4") from None
    return PortBinding(host_ip, host_port, container_port, match["proto"] or "tcp")


def _env_value(key: str, value: Any, option: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise NodeSpecError(f'{option}[{key!r}]={value!r} must be a string or a number; quote it in YAML (like "true")')
    return str(value)


def _check_plain_data(value: Any, where: str) -> None:
    """cassandra_yaml must hold YAML data only: mappings with string keys, lists, scalars."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NodeSpecError(f"cassandra_yaml{where} has a key {key!r} that is not a string")
            _check_plain_data(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain_data(item, f"{where}[{index}]")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise NodeSpecError(f"cassandra_yaml{where}={value!r} is not YAML data")


def _match(pattern: re.Pattern[str], value: str | None, option: str, hint: str) -> str | None:
    if value is None:
        return None
    if not pattern.match(value):
        raise NodeSpecError(f"{option}={value!r} is not valid: {hint}")
    return value


def build_env(params: dict[str, Any], ipv4_address: str, seeds: list[str]) -> dict[str, str]:
    """The environment the image entrypoint turns into cassandra.yaml and friends."""
    env: dict[str, str] = {}
    for key, value in (params.get("env") or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise NodeSpecError(f"env key {key!r} is not an environment variable name")
        if key in MANAGED_ENV:
            raise NodeSpecError(f"env sets {key}, which option {MANAGED_ENV[key]} sets; use that option instead")
        env[key] = _env_value(key, value, "env")
    env.setdefault("CASSANDRA_RPC_ADDRESS", DEFAULT_RPC_ADDRESS)
    env["CASSANDRA_LISTEN_ADDRESS"] = ipv4_address
    env["CASSANDRA_BROADCAST_ADDRESS"] = ipv4_address
    env["CASSANDRA_BROADCAST_RPC_ADDRESS"] = ipv4_address
    if seeds:
        env["CASSANDRA_SEEDS"] = ",".join(seeds)

    cluster_name = _match(
        CLUSTER_NAME, params.get("cluster_name"), "cluster_name", "use letters, digits, spaces, '_', '.' and '-'"
    )
    dc = _match(DC_RACK, params.get("dc"), "dc", "use letters, digits, '_', '.' and '-'")
    rack = _match(DC_RACK, params.get("rack"), "rack", "use letters, digits, '_', '.' and '-'")
    snitch = _match(
        _SNITCH,
        params.get("endpoint_snitch"),
        "endpoint_snitch",
        "give a snitch class, like GossipingPropertyFileSnitch",
    )
    for key, value in (
        ("CASSANDRA_CLUSTER_NAME", cluster_name),
        ("CASSANDRA_DC", dc),
        ("CASSANDRA_RACK", rack),
        ("CASSANDRA_ENDPOINT_SNITCH", snitch),
    ):
        if value is not None:
            env[key] = value

    num_tokens = params.get("num_tokens")
    if num_tokens is not None:
        if num_tokens < 1:
            raise NodeSpecError(f"num_tokens={num_tokens!r} must be 1 or more")
        env["CASSANDRA_NUM_TOKENS"] = str(num_tokens)

    max_heap, new_heap = params.get("max_heap_size"), params.get("heap_newsize")
    if (max_heap is None) != (new_heap is None):
        raise NodeSpecError(
            "max_heap_size and heap_newsize go together (cassandra-env.sh refuses one without the other): "
            f"got max_heap_size={max_heap!r}, heap_newsize={new_heap!r}"
        )
    if max_heap is not None and new_heap is not None:
        for option, value in (("max_heap_size", max_heap), ("heap_newsize", new_heap)):
            if not HEAP_SIZE.match(value):
                raise NodeSpecError(f"{option}={value!r} is not a heap size like 512M or 4G")
        env["MAX_HEAP_SIZE"] = max_heap
        env["HEAP_NEWSIZE"] = new_heap

    jvm_opts = [str(opt) for opt in params.get("jvm_extra_opts") or []]
    for opt in jvm_opts:
        if not opt.strip() or "\n" in opt:
            raise NodeSpecError(f"jvm_extra_opts entry {opt!r} is empty or spans lines")
    if jvm_opts:
        env["JVM_EXTRA_OPTS"] = " ".join(jvm_opts)
    return env


def _user_labels(value: dict[str, Any]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise NodeSpecError(f"labels key {key!r} is not a label name")
        if key.startswith(node_labels.LABEL_PREFIX):
            raise NodeSpecError(f"labels sets {key}: the {node_labels.LABEL_PREFIX}* labels belong to this module")
        result[key] = _env_value(key, item, "labels")
    return result


def build_spec(params: dict[str, Any]) -> NodeSpec:
    """Validate the options (before anything is touched) and build the desired node."""
    name = _container_name(params["name"], "name")
    data_container = _container_name(params.get("data_container") or f"{name}-data", "data_container")
    if data_container == name:
        raise NodeSpecError(f"data_container={data_container!r} must differ from name={name!r}")
    data_dir = str(params.get("data_dir") or "")
    if not os.path.isabs(data_dir) or os.path.normpath(data_dir) == "/":
        raise NodeSpecError(f"data_dir={data_dir!r} must be an absolute path below /, like /cassandra/data")
    data_dir = os.path.normpath(data_dir)
    stop_timeout = params.get("stop_timeout", 120)
    if stop_timeout < 0:
        raise NodeSpecError(f"stop_timeout={stop_timeout!r} must be 0 or more seconds")
    spec = NodeSpec(
        state=params.get("state", "present"),
        name=name,
        data_container=data_container,
        data_dir=data_dir,
        stop_timeout=stop_timeout,
        remove_data_container=bool(params.get("remove_data_container")),
        rollback_copy=params.get("rollback_copy") or "ignore",
    )
    if spec.state in ("absent", "first_boot_reset"):
        return spec
    if spec.state == "rolled_back":
        # The rollback copy brings its own settings; these only make messages more precise.
        spec.network = str(params.get("network") or "")
        if params.get("ipv4_address"):
            spec.ipv4_address = _ipv4(params.get("ipv4_address"), "ipv4_address")
        return spec

    spec.image = _image(params.get("image"), "image")
    spec.busybox_image = _image(params.get("busybox_image"), "busybox_image")
    spec.pull = params.get("pull", "missing")
    for option in ("data_uid", "data_gid"):
        if params.get(option, 999) < 0:
            raise NodeSpecError(f"{option}={params.get(option)!r} must be 0 or more")
    spec.data_uid = params.get("data_uid", 999)
    spec.data_gid = params.get("data_gid", 999)
    network = str(params.get("network") or "")
    if not _NETWORK_NAME.match(network):
        raise NodeSpecError(f"network={params.get('network')!r} is not a network name")
    spec.network = network
    spec.ipv4_address = _ipv4(params.get("ipv4_address"), "ipv4_address")
    seeds: list[str] = []
    for seed in params.get("seeds") or []:
        address = _ipv4(seed, "seeds entry")
        if address not in seeds:
            seeds.append(address)
    spec.seeds = seeds
    spec.env = build_env(params, spec.ipv4_address, seeds)

    ports = [parse_port(port) for port in params.get("published_ports") or []]
    seen: dict[str, str] = {}
    for port in ports:
        host_key = f"{port.host_ip or '*'}:{port.host_port}/{port.protocol}"
        if host_key in seen:
            raise NodeSpecError(
                f"published_ports {seen[host_key]!r} and {port.text()!r} both take host port {host_key}"
            )
        seen[host_key] = port.text()
    spec.published_ports = sorted(ports, key=lambda port: port.text())
    spec.restart_policy = params.get("restart_policy", "unless-stopped")

    cassandra_yaml = copy.deepcopy(params.get("cassandra_yaml") or {})
    _check_plain_data(cassandra_yaml, "")
    for key in cassandra_yaml:
        if key in MANAGED_YAML_KEYS:
            raise NodeSpecError(
                f"cassandra_yaml sets {key}, which the image entrypoint rewrites at every start from "
                f"{MANAGED_YAML_KEYS[key]}; set that instead"
            )
    spec.cassandra_yaml = cassandra_yaml

    stack = str(params.get("stack") or "")
    service = str(params.get("service") or "")
    for option, value in (("stack", stack), ("service", service)):
        if not value.strip():
            raise NodeSpecError(f"{option}={value!r} must not be empty")
    host_label = params.get("host_label") or None
    spec.labels = node_labels.cassandra_labels(
        stack=stack,
        service=service,
        data_container=data_container,
        requested_ip=spec.ipv4_address,
        seed=spec.is_seed,
        cassandra_yaml=cassandra_yaml,
        host_label=host_label,
        user_labels=_user_labels(params.get("labels") or {}),
        settings=recorded_options(params, spec),
    )
    spec.data_labels = node_labels.data_labels(stack=stack, service=service, sidekick_of=name, host_label=host_label)
    return spec


def recorded_options(params: dict[str, Any], spec: NodeSpec) -> dict[str, Any]:
    """The options that shape the container, as the io.corral.settings label keeps them: called again with
    these (and the cassandra_yaml label), the module finds nothing to change."""
    normalised = {
        "image": spec.image,
        "busybox_image": spec.busybox_image,
        "network": spec.network,
        "ipv4_address": spec.ipv4_address,
        "seeds": list(spec.seeds),
        "data_container": spec.data_container,
        "data_dir": spec.data_dir,
        "published_ports": [port.text() for port in spec.published_ports],
        "restart_policy": spec.restart_policy,
        "env": {str(key): str(value) for key, value in (params.get("env") or {}).items()},
        "jvm_extra_opts": [str(option) for option in params.get("jvm_extra_opts") or []],
    }
    return {option: normalised[option] if option in normalised else params.get(option) for option in node_labels.RECORDED_OPTIONS}


# --- cassandra.yaml -----------------------------------------------------------------------


def deep_merge(base: Any, override: Any) -> Any:
    """override over base: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = {key: copy.deepcopy(value) for key, value in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _set_seeds(config: dict[str, Any], seeds: str) -> None:
    providers = config.get("seed_provider")
    if not isinstance(providers, list) or not providers or not isinstance(providers[0], dict):
        config["seed_provider"] = [{"class_name": SEED_PROVIDER_CLASS, "parameters": [{"seeds": seeds}]}]
        return
    parameters = providers[0].get("parameters")
    if not isinstance(parameters, list) or not parameters or not isinstance(parameters[0], dict):
        providers[0]["parameters"] = [{"seeds": seeds}]
        return
    parameters[0]["seeds"] = seeds


def effective_cassandra_yaml(image_yaml: dict[str, Any], spec: NodeSpec) -> dict[str, Any]:
    """The image's cassandra.yaml, cassandra_yaml merged over it, and the values the environment sets.

    The environment's values are written too, because the rewritten file has lost the
    commented-out keys (like '# broadcast_address:') the entrypoint's sed would fill in.
    """
    merged: dict[str, Any] = deep_merge(image_yaml or {}, spec.cassandra_yaml)
    env = spec.env
    merged["listen_address"] = spec.ipv4_address
    merged["broadcast_address"] = spec.ipv4_address
    merged["broadcast_rpc_address"] = spec.ipv4_address
    merged["rpc_address"] = env.get("CASSANDRA_RPC_ADDRESS", DEFAULT_RPC_ADDRESS)
    if "CASSANDRA_CLUSTER_NAME" in env:
        merged["cluster_name"] = env["CASSANDRA_CLUSTER_NAME"]
    if "CASSANDRA_ENDPOINT_SNITCH" in env:
        merged["endpoint_snitch"] = env["CASSANDRA_ENDPOINT_SNITCH"]
    if "CASSANDRA_NUM_TOKENS" in env:
        merged["num_tokens"] = int(env["CASSANDRA_NUM_TOKENS"])
    if "CASSANDRA_SEEDS" in env:
        _set_seeds(merged, env["CASSANDRA_SEEDS"])
    return merged


def parse_cassandra_yaml(text: str, source: str) -> dict[str, Any]:
    if not HAS_YAML:
        raise NodeSpecError("cassandra_yaml needs PyYAML on the managed host (Debian: python3-yaml)")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NodeSpecError(f"cannot read {source}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NodeSpecError(f"{source} is not a YAML mapping")
    return data


def render_cassandra_yaml(config: dict[str, Any]) -> str:
    if not HAS_YAML:
        raise NodeSpecError("cassandra_yaml needs PyYAML on the managed host (Debian: python3-yaml)")
    header = (
        "# Written by corral.cassandra.cassandra_node: the image's cassandra.yaml with the node's\n"
        "# cassandra_yaml merged over it (the original's comments are not kept).\n"
    )
    return header + yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


# --- comparison ---------------------------------------------------------------------------


def env_dict(entries: Iterable[Any] | None) -> dict[str, str]:
    """A container's Config.Env (['KEY=value', ...]) -> {KEY: value}."""
    result: dict[str, str] = {}
    for entry in entries or []:
        key, _sep, value = str(entry).partition("=")
        result[key] = value
    return result


def _without_defaults(values: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """Drop what the image sets by itself: what is left is what the container was created with."""
    return {key: value for key, value in sorted(values.items()) if defaults.get(key) != value}


def _image_env_labels(image_attrs: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    config = (image_attrs or {}).get("Config") or {}
    return env_dict(config.get("Env")), dict(config.get("Labels") or {})


# Records of what was asked for (the settings) or done (upgraded-from): never a reason to recreate a container.
_DERIVED_LABELS = (
    node_labels.CONFIG_HASH,
    node_labels.CASSANDRA_YAML,
    node_labels.SETTINGS,
    node_labels.UPGRADED_FROM,
)


def _own_labels(container_labels: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in container_labels.items() if key not in _DERIVED_LABELS}


def desired_view(spec: NodeSpec) -> dict[str, Any]:
    """The compared settings of the container the spec asks for."""
    return {
        "image": spec.image,
        "networks": {spec.network: spec.ipv4_address},
        "env": dict(sorted(spec.env.items())),
        "published_ports": [port.text() for port in spec.published_ports],
        "restart_policy": spec.restart_policy,
        "hostname": spec.name,
        "volumes_from": [spec.data_container],
        "labels": dict(sorted(_own_labels(spec.labels).items())),
        "cassandra_yaml": spec.cassandra_yaml,
    }


def container_view(attrs: dict[str, Any], image_attrs: dict[str, Any] | None) -> dict[str, Any]:
    """The same settings read from a container's inspect data (image_attrs: its own image).

    env and labels hold what the container was created with: the engine merges the image's
    own into them, and those are left out.
    """
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    image_env, image_labels = _image_env_labels(image_attrs)
    container_labels = dict(config.get("Labels") or {})
    networks: dict[str, str | None] = {}
    for net_name, endpoint in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).items():
        networks[net_name] = ((endpoint or {}).get("IPAMConfig") or {}).get("IPv4Address") or None
    if not networks and host.get("NetworkMode"):
        networks[host["NetworkMode"]] = None
    ports: list[str] = []
    for key, bindings in (host.get("PortBindings") or {}).items():
        container_port, _sep, protocol = key.partition("/")
        for binding in bindings or []:
            prefix = f"{binding['HostIp']}:" if binding.get("HostIp") else ""
            ports.append(f"{prefix}{binding.get('HostPort') or ''}:{container_port}/{protocol or 'tcp'}")
    return {
        "image": config.get("Image", ""),
        "networks": networks,
        "env": _without_defaults(env_dict(config.get("Env")), image_env),
        "published_ports": sorted(ports),
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "hostname": config.get("Hostname", ""),
        "volumes_from": list(host.get("VolumesFrom") or []),
        "labels": _without_defaults(_own_labels(container_labels), image_labels),
        "cassandra_yaml": node_labels.read_labels(container_labels)["cassandra_yaml"],
    }


def compared_views(
    spec: NodeSpec,
    desired_image: dict[str, Any] | None,
    attrs: dict[str, Any],
    container_image: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(actual, desired) views of an existing container, ready for differences().

    env and labels are compared as the process sees them (image values included), on the
    keys either side sets: an option equal to the image default then matches a container
    created without it, and a value dropped from the options shows as going back to the
    image default (or away).
    """
    actual = container_view(attrs, container_image)
    desired = desired_view(spec)
    config = attrs.get("Config") or {}
    image_env, image_labels = _image_env_labels(desired_image)
    full = {
        "env": (env_dict(config.get("Env")), {**image_env, **spec.env}),
        "labels": (_own_labels(dict(config.get("Labels") or {})), {**image_labels, **_own_labels(spec.labels)}),
    }
    for key, (actual_full, desired_full) in full.items():
        keys = sorted(set(actual[key]) | set(desired[key]))
        actual[key] = {name: actual_full[name] for name in keys if name in actual_full}
        desired[key] = {name: desired_full[name] for name in keys if name in desired_full}
    return actual, desired


def config_hash(spec: NodeSpec) -> str:
    """A digest of what was asked for, kept in io.corral.config-hash for quick comparisons."""
    digest = hashlib.sha256(node_labels.canonical_json(desired_view(spec)).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def image_change(before: str, after: str) -> str:
    """'3.9 -> 3.10' when only the tag changed, else both references in full."""
    before_repo, before_tag = split_image_ref(before)
    after_repo, after_tag = split_image_ref(after)
    if before_repo == after_repo:
        return f"{before_tag} -> {after_tag}"
    return f"{before} -> {after}"


def _mapping_changes(what: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append(f"{what} {key} added")
        elif key not in after:
            changes.append(f"{what} {key} removed")
        elif before[key] != after[key]:
            changes.append(f"{what} {key} changed {before[key]} -> {after[key]}")
    return changes


def differences(actual: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Why a container does not match: one short reason per differing setting."""
    reasons: list[str] = []
    for key in VIEW_KEYS:
        before, after = actual.get(key), desired.get(key)
        if before == after:
            continue
        if key == "image":
            reasons.append(f"image changed {image_change(str(before), str(after))}")
        elif key == "networks" and isinstance(before, dict) and isinstance(after, dict) and list(before) == list(after):
            reasons.extend(
                f"ipv4_address on {network} changed {before[network]} -> {after[network]}"
                for network in after
                if before[network] != after[network]
            )
        elif key == "env":
            reasons.extend(_mapping_changes("env", before or {}, after or {}))
        elif key == "labels":
            reasons.extend(_mapping_changes("label", before or {}, after or {}))
        elif key == "cassandra_yaml":
            changed = [change.split(" ")[1] for change in _mapping_changes("key", before or {}, after or {})]
            reasons.append(f"cassandra_yaml changed ({', '.join(changed)})")
        else:
            reasons.append(f"{key} changed {before} -> {after}")
    return reasons


def data_bind_source(attrs: dict[str, Any]) -> str | None:
    """The host directory a data container binds to /var/lib/cassandra, if any."""
    for bind in (attrs.get("HostConfig") or {}).get("Binds") or []:
        parts = bind.split(":")
        if len(parts) >= 2 and os.path.normpath(parts[1]) == CASSANDRA_DATA_PATH:
            return os.path.normpath(parts[0])
    for mount in attrs.get("Mounts") or []:
        if mount.get("Type") == "bind" and os.path.normpath(mount.get("Destination", "")) == CASSANDRA_DATA_PATH:
            return os.path.normpath(mount.get("Source", ""))
    return None
