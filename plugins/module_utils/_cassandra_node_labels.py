# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The io.corral.* labels that mark a Cassandra node's containers (described in docs/labels.md).

Writers (the node module) and readers (export, status, upgrade) share these names, so a
container selected with ``docker ps -a --filter label=io.corral.role=cassandra`` can be
read back into the stack model without guessing.
"""

from __future__ import annotations

import json
from typing import Any

LABEL_PREFIX = "io.corral."

STACK = "io.corral.stack"
SERVICE = "io.corral.service"
ROLE = "io.corral.role"
DATA_CONTAINER = "io.corral.data-container"
SIDEKICK_OF = "io.corral.sidekick-of"
REQUESTED_IP = "io.corral.requested-ip"
HOST_LABEL = "io.corral.host-label"
SEED = "io.corral.seed"
CASSANDRA_YAML = "io.corral.cassandra-yaml"
CONFIG_HASH = "io.corral.config-hash"
# What the node was deployed with (the module's options, as a replay of them gives the same container), and,
# on a container an upgrade created, the image of the container it replaced (kept as '<name>-rollback').
SETTINGS = "io.corral.settings"
UPGRADED_FROM = "io.corral.upgraded-from"
# The options SETTINGS records (cassandra_yaml has its own label).
RECORDED_OPTIONS = (
    "image",
    "busybox_image",
    "network",
    "ipv4_address",
    "seeds",
    "cluster_name",
    "dc",
    "rack",
    "endpoint_snitch",
    "num_tokens",
    "max_heap_size",
    "heap_newsize",
    "jvm_extra_opts",
    "env",
    "published_ports",
    "restart_policy",
    "stack",
    "service",
    "host_label",
    "data_container",
    "data_dir",
)

ROLE_CASSANDRA = "cassandra"
ROLE_DATA = "data"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cassandra_labels(
    *,
    stack: str,
    service: str,
    data_container: str,
    requested_ip: str,
    seed: bool,
    cassandra_yaml: dict[str, Any],
    host_label: str | None,
    user_labels: dict[str, str],
    settings: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Labels of the Cassandra container, without the config hash (computed over these)."""
    labels = dict(user_labels)
    if settings is not None:
        labels[SETTINGS] = canonical_json(settings)
    labels.update(
        {
            STACK: stack,
            SERVICE: service,
            ROLE: ROLE_CASSANDRA,
            DATA_CONTAINER: data_container,
            REQUESTED_IP: requested_ip,
            SEED: "true" if seed else "false",
            CASSANDRA_YAML: canonical_json(cassandra_yaml),
        }
    )
    if host_label:
        labels[HOST_LABEL] = host_label
    return labels


def data_labels(*, stack: str, service: str, sidekick_of: str, host_label: str | None) -> dict[str, str]:
    """Labels of the data container."""
    labels = {STACK: stack, SERVICE: service, ROLE: ROLE_DATA, SIDEKICK_OF: sidekick_of}
    if host_label:
        labels[HOST_LABEL] = host_label
    return labels


def read_labels(labels: dict[str, str] | None) -> dict[str, Any]:
    """Read the io.corral.* labels of one container back into plain values.

    Unknown io.corral.* keys are kept as text; a missing or unreadable
    io.corral.cassandra-yaml gives an empty dict.
    """
    labels = labels or {}
    result: dict[str, Any] = {}
    for key, value in labels.items():
        if not key.startswith(LABEL_PREFIX):
            continue
        name = key[len(LABEL_PREFIX) :].replace("-", "_")
        result[name] = value
    if SEED in labels:
        result["seed"] = labels[SEED] == "true"
    try:
        parsed = json.loads(labels.get(CASSANDRA_YAML, "{}"))
    except ValueError:
        parsed = {}
    result["cassandra_yaml"] = parsed if isinstance(parsed, dict) else {}
    result["settings"] = recorded_settings(labels)
    return result


def recorded_settings(labels: dict[str, str] | None) -> dict[str, Any] | None:
    """The options a container was deployed with (io.corral.settings, with its cassandra_yaml); None when it
    carries no readable record (created before the label existed)."""
    labels = labels or {}
    try:
        settings = json.loads(labels[SETTINGS])
        cassandra_yaml = json.loads(labels.get(CASSANDRA_YAML, "{}"))
    except (KeyError, ValueError):
        return None
    if not isinstance(settings, dict) or not isinstance(cassandra_yaml, dict):
        return None
    return {**settings, "cassandra_yaml": cassandra_yaml}
