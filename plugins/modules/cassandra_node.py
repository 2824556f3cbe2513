#!/usr/bin/python
# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: cassandra_node
short_description: Ensure one Cassandra node (data container and Cassandra container) on a Docker host
version_added: 0.1.0
description:
  - Runs on the Docker host itself and talks to its engine through the Docker SDK for Python.
  - Keeps the node's data in the host directory O(data_dir), bound into a data container (BusyBox,
    created and never started) that the Cassandra container takes its volumes from, as the Rancher 1.x
    stacks did with a data sidekick.
  - The Cassandra container joins O(network) at the fixed address O(ipv4_address) and gets its settings
    as the environment variables that the image entrypoint writes into C(cassandra.yaml) at every start
    (the official C(cassandra) image and this collection's images both do). Settings without such a
    variable go in O(cassandra_yaml).
  - A setting that a running container cannot change (image, environment, ports, address, labels,
    O(cassandra_yaml)) makes the module recreate the Cassandra container. It stops the old one with
    O(stop_timeout), sets it aside, creates and starts the new one, and removes the old one; if the new one
    cannot be created or started the old one is put back. The data container and O(data_dir) are never
    touched by a recreate, so no data is lost. Drain the node before a change that recreates it.
  - A stopped Cassandra container that cannot rejoin its overlay network when started (as happens after
    a host restart) is recreated the same way, since a new container does join it.
  - For upgrades, O(rollback_copy=keep) keeps the old container of a recreate, stopped, as
    C(<name>-rollback) (the rollback copy); O(state=rolled_back) puts it back in place of the new one, and
    O(rollback_copy=remove) removes it once the upgrade is final. Drain the node before either.
  - The containers carry C(io.corral.*) labels (see C(docs/labels.md) in the collection) so that
    C(docker ps --filter label=io.corral.role=cassandra) finds them and an export can read them back.
author:
  - corral.cassandra developers (!UNKNOWN)
requirements:
  - Docker SDK for Python 5.0 or newer on the managed host (Debian C(python3-docker))
  - PyYAML on the managed host when O(cassandra_yaml) is set (Debian C(python3-yaml))
attributes:
  check_mode:
    support: full
    description: Reports the actions it would take in RV(actions), without pulling, creating or changing anything.
  diff_mode:
    support: full
    description: Returns the compared settings of the data directory, the data container and the Cassandra container.
  idempotent:
    support: partial
    description: A second run with the same options changes nothing.
    details:
      - With O(pull=always), a new image under the same name recreates the Cassandra container.
  platform:
    support: full
    platforms: posix
    description: Runs on the Docker host, talking to its engine through the local socket by default.
options:
  name:
    description:
      - Name of the Cassandra container, for example V(cdb1). Also its hostname.
    type: str
    required: true
  state:
    description:
      - V(present) creates the node if needed and makes sure the Cassandra container runs.
      - V(stopped) creates the node if needed and makes sure the Cassandra container does not run.
      - V(absent) stops (with O(stop_timeout)) and removes the Cassandra container and its rollback copy. The
        data container goes too only with O(remove_data_container=true). O(data_dir) is never deleted.
      - V(rolled_back) puts the rollback copy C(<name>-rollback) back as C(<name>) and starts it; the Cassandra
        container it replaces is stopped (with O(stop_timeout)) and removed. If the copy cannot be started, both
        containers are put back as they were. Without a rollback copy it only makes sure C(<name>) runs. Only
        O(name), O(data_container) and O(stop_timeout) matter then; the copy keeps the settings it was created with.
      - V(first_boot_reset) is for a node of a brand-new cluster whose first start failed. It stops the Cassandra
        container, empties O(data_dir) and starts the container again. It refuses, changing nothing, unless the
        container was created for a brand-new cluster (computed tokens in its JVM options), its log shows it never
        served CQL, O(data_dir) holds no keyspace but the system ones, and the container has crashed (it is not
        running, or Docker restarted it). Only O(name), O(data_container), O(data_dir) and O(stop_timeout) matter then.
    type: str
    default: present
    choices: [present, stopped, absent, rolled_back, first_boot_reset]
  image:
    description:
      - Cassandra image, like V(registry.example:5000/corral/cassandra:3.10) or the official V(cassandra:3.11).
      - Required unless O(state=absent).
    type: str
  pull:
    description:
      - When to pull O(image) and O(busybox_image). V(missing) pulls an image that is not on the host,
        V(always) pulls every time (a new image under the same name recreates the Cassandra container),
        V(never) fails when an image is missing.
    type: str
    default: missing
    choices: [missing, always, never]
  data_container:
    description:
      - Name of the data container. Defaults to O(name) followed by C(-data).
      - If a container of that name exists but binds another directory than O(data_dir), the module fails
        instead of replacing it.
    type: str
  busybox_image:
    description:
      - Image of the data container. It is never started, so any image with C(/bin/true) will do.
    type: str
    default: busybox:stable
  data_dir:
    description:
      - Host directory that holds the node's data, bound to C(/var/lib/cassandra) in the data container.
      - Created if missing and owned by O(data_uid):O(data_gid) (only the directory itself is changed).
    type: path
    default: /cassandra/data
  data_uid:
    description:
      - Owner of O(data_dir); 999 is the C(cassandra) user of the official image and of this collection's.
    type: int
    default: 999
  data_gid:
    description:
      - Group of O(data_dir).
    type: int
    default: 999
  network:
    description:
      - Docker network the Cassandra container joins, usually the attachable overlay of the swarm.
    type: str
    default: managed
  ipv4_address:
    description:
      - Fixed address of the node on O(network). Becomes C(CASSANDRA_LISTEN_ADDRESS),
        C(CASSANDRA_BROADCAST_ADDRESS) and C(CASSANDRA_BROADCAST_RPC_ADDRESS).
      - Required unless O(state=absent).
    type: str
  seeds:
    description:
      - IPv4 addresses of the seed nodes (C(CASSANDRA_SEEDS)). The node is a seed when O(ipv4_address) is
        among them. Empty leaves the image default (the node seeds itself).
    type: list
    elements: str
    default: []
  cluster_name:
    description:
      - C(CASSANDRA_CLUSTER_NAME). Unset leaves the image default.
    type: str
  dc:
    description:
      - C(CASSANDRA_DC), used by C(GossipingPropertyFileSnitch).
    type: str
  rack:
    description:
      - C(CASSANDRA_RACK), used by C(GossipingPropertyFileSnitch).
    type: str
  endpoint_snitch:
    description:
      - C(CASSANDRA_ENDPOINT_SNITCH), like V(GossipingPropertyFileSnitch).
    type: str
  num_tokens:
    description:
      - C(CASSANDRA_NUM_TOKENS).
    type: int
  max_heap_size:
    description:
      - C(MAX_HEAP_SIZE), like V(4G). Give O(heap_newsize) too, C(cassandra-env.sh) refuses one without the other.
    type: str
  heap_newsize:
    description:
      - C(HEAP_NEWSIZE), like V(800M).
    type: str
  jvm_extra_opts:
    description:
      - JVM options, joined with spaces into C(JVM_EXTRA_OPTS).
    type: list
    elements: str
    default: []
  env:
    description:
      - More environment variables. Those the options above set cannot be set here.
      - C(CASSANDRA_RPC_ADDRESS) defaults to V(0.0.0.0) so that published ports reach CQL.
    type: dict
    default: {}
  cassandra_yaml:
    description:
      - Settings merged over the image's own C(cassandra.yaml) (mappings key by key, anything else replaced)
        and written into the container before its first start. Key names depend on the Cassandra version
        (for example C(commitlog_sync_period_in_ms) in 3.x, C(commitlog_sync_period) in 4.1 and later).
      - The rewritten file loses the original's comments. Keys the entrypoint sets from the environment
        (C(listen_address), C(broadcast_address), C(broadcast_rpc_address), C(rpc_address), C(cluster_name),
        C(endpoint_snitch), C(num_tokens)) are refused here; use their options.
    type: dict
    default: {}
  published_ports:
    description:
      - Ports published on the host, as V([host_ip:]host_port:container_port[/tcp|udp]), like V(9042:9042).
    type: list
    elements: str
    default: []
  restart_policy:
    description:
      - Restart policy of the Cassandra container.
    type: str
    default: unless-stopped
    choices: ['no', on-failure, always, unless-stopped]
  stack:
    description:
      - Stack name, the C(io.corral.stack) label of both containers.
    type: str
    default: cassandra
  service:
    description:
      - Service name, the C(io.corral.service) label of both containers.
    type: str
    default: cassandra
  host_label:
    description:
      - The placement rule that chose this host, like V(hostname=cassandra1), kept in the
        C(io.corral.host-label) label.
    type: str
  labels:
    description:
      - More labels for the Cassandra container. Names under C(io.corral.) belong to the module.
    type: dict
    default: {}
  stop_timeout:
    description:
      - Seconds to wait for Cassandra to stop before it is killed, when the container is stopped, recreated
        or removed.
    type: int
    default: 120
  remove_data_container:
    description:
      - With O(state=absent), remove the data container as well. O(data_dir) and its files stay.
    type: bool
    default: false
  rollback_copy:
    description:
      - What to do with the rollback copy C(<name>-rollback), the old Cassandra container an upgrade keeps.
      - V(keep) keeps the old container of a recreate, stopped and renamed C(<name>-rollback), instead of
        removing it, unless a rollback copy is already there (that one is older and stays). Docker cannot add
        labels to an existing container, so the copy is known by its name, its C(io.corral.role=cassandra) label
        and its O(data_container).
      - V(remove) removes the rollback copy, if any, after making sure of O(state) (an upgrade made final).
      - V(ignore) leaves a rollback copy as it is.
      - A container named C(<name>-rollback) that is not this node's copy makes the module fail.
    type: str
    default: ignore
    choices: [ignore, keep, remove]
  docker_host:
    description:
      - The engine's API address on the host.
    type: str
    default: unix:///var/run/docker.sock
notes:
  - The node is not waited for; check C(nodetool status) or CQL afterwards.
"""

EXAMPLES = r"""
- name: Run the seed node cdb1 on this host
  corral.cassandra.cassandra_node:
    name: cdb1
    data_container: data1
    image: registry.example:5000/corral/cassandra:3.9
    busybox_image: registry.example:5000/corral/busybox:stable
    ipv4_address: 10.42.0.48
    seeds: [10.42.0.48]
    cluster_name: weather
    endpoint_snitch: GossipingPropertyFileSnitch
    dc: dc1
    rack: rack1
    max_heap_size: 4G
    heap_newsize: 800M
    published_ports: ["9042:9042"]
    host_label: hostname=cassandra1
    cassandra_yaml:
      concurrent_writes: 64
      auto_snapshot: true

- name: Upgrade it in place (after nodetool drain); the data stays in /cassandra/data
  corral.cassandra.cassandra_node:
    name: cdb1
    data_container: data1
    image: registry.example:5000/corral/cassandra:3.10
    ipv4_address: 10.42.0.48
    seeds: [10.42.0.48]
    cluster_name: weather
  register: node

- name: Upgrade it in place and keep the old container, stopped, as cdb1-rollback
  corral.cassandra.cassandra_node:
    name: cdb1
    data_container: data1
    image: registry.example:5000/corral/cassandra:3.10
    ipv4_address: 10.42.0.48
    seeds: [10.42.0.48]
    cluster_name: weather
    rollback_copy: keep

- name: Roll it back after nodetool drain, cdb1-rollback becomes cdb1 again
  corral.cassandra.cassandra_node:
    name: cdb1
    data_container: data1
    state: rolled_back

- name: Remove the node but keep its data container and data
  corral.cassandra.cassandra_node:
    name: cdb1
    data_container: data1
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (in check mode, what would be done), in order.
  returned: always
  type: list
  elements: str
  sample:
    - created data1
    - created cdb1
    - started cdb1
    - "recreated cdb1: image changed 3.9 -> 3.10"
    - "kept the old cdb1 (registry.example:5000/corral/cassandra:3.9) stopped as cdb1-rollback"
images_missing:
  description:
    - The images the node needs (O(image), and O(busybox_image) while the data container is absent) that were
      not on the host when the run began; outside check mode they have been pulled since.
    - A plan in check mode lists what a host would have to pull, so that it can be pulled before anything changes.
  returned: always
  type: list
  elements: str
  sample:
    - registry.example:5000/corral/cassandra:3.10
observed:
  description:
    - What the host held when the run began, read before anything changed; null unless O(state=present) or
      O(state=stopped).
  returned: always
  type: dict
  contains:
    data_present:
      description: Whether O(data_dir) holds C(data), the directory of Cassandra's data files.
      type: bool
    exists:
      description: Whether the Cassandra container existed.
      type: bool
    running:
      description: Whether it was running.
      type: bool
    image:
      description: The image reference it was created from; empty when there was none.
      type: str
    jvm_extra_opts:
      description: Its C(JVM_EXTRA_OPTS) environment value; null when there was no container or no value.
      type: str
    num_tokens:
      description: Its C(CASSANDRA_NUM_TOKENS) environment value; null when there was no container or no value
        (the image's default).
      type: int
  sample:
    data_present: true
    exists: true
    running: true
    image: registry.example:5000/corral/cassandra:3.9
    jvm_extra_opts: -Dcassandra.ring_delay_ms=1000
    num_tokens: null
cassandra_container:
  description: The Cassandra container after the run; null when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description: Container ID; null in check mode before creation.
      type: str
    name:
      description: Container name.
      type: str
    image:
      description: Image reference it was created from.
      type: str
    image_id:
      description: ID of that image.
      type: str
    network:
      description: Network it is attached to.
      type: str
    ipv4_address:
      description: Its address on that network.
      type: str
    state:
      description: V(running) or V(stopped).
      type: str
  sample:
    id: 4f0c1e9b2a7d
    name: cdb1
    image: registry.example:5000/corral/cassandra:3.10
    image_id: sha256:0d2f
    network: managed
    ipv4_address: 10.42.0.48
    state: running
data_container:
  description: The data container; null when it is absent.
  returned: always
  type: dict
  contains:
    id:
      description: Container ID; null in check mode before creation.
      type: str
    name:
      description: Container name.
      type: str
    data_dir:
      description: Host directory it binds to C(/var/lib/cassandra).
      type: str
  sample:
    id: 9a1b7c
    name: data1
    data_dir: /cassandra/data
config_hash:
  description:
    - Digest of the requested settings, also in the C(io.corral.config-hash) label; null when O(state=absent).
    - With O(state=rolled_back), the digest the restored container was created with.
  returned: always
  type: str
  sample: sha256:5e1d...
rollback_copy:
  description: The rollback copy C(<name>-rollback) after the run; null when there is none.
  returned: always
  type: dict
  contains:
    id:
      description: Container ID.
      type: str
    name:
      description: Container name.
      type: str
    image:
      description: Image reference it was created from (the version a rollback returns to).
      type: str
    state:
      description: V(stopped), normally.
      type: str
  sample:
    id: 77d0c3a1e5b2
    name: cdb1-rollback
    image: registry.example:5000/corral/cassandra:3.9
    state: stopped
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import (
    ARGUMENT_SPEC,
    REQUIRED_IF,
    NodeSpecError,
    build_spec,
)
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node_docker import (
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    DockerException,
    NodeError,
    NodeManager,
    connect,
    explain,
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    try:
        spec = build_spec(module.params)
    except NodeSpecError as exc:
        module.fail_json(msg=str(exc))

    docker_host = module.params["docker_host"]
    try:
        client = connect(docker_host)
    except DockerException as exc:
        module.fail_json(msg=f"cannot reach the Docker engine at {docker_host}: {explain(exc)}")

    manager = NodeManager(client, spec, check_mode=module.check_mode)
    result: dict[str, Any]
    try:
        result = manager.run()
    except NodeError as exc:
        module.fail_json(msg=str(exc), actions=manager.actions)
    except DockerException as exc:
        module.fail_json(msg=f"Docker engine error on {spec.name}: {explain(exc)}", actions=manager.actions)
    for warning in manager.warnings:
        module.warn(warning)
    if module._diff:
        result["diff"] = manager.diff()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
