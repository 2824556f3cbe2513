#!/usr/bin/python
# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

# The work is done by the action plugin of the same name (plugins/action/cassandra_wait.py), on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: cassandra_wait
short_description: Wait until the Cassandra nodes of a Docker host are ready, and stop at the first crash
version_added: 0.1.0
description:
  - Polls the Cassandra containers of the host (one command per poll) until each is ready as O(gate) asks, printing
    each node's stage when it changes, with the elapsed time (starting, gossiping, listening for CQL, Up/Normal as its
    peers see it, answering CQL, in schema agreement).
  - Stops at the first poll that shows a container exited or restarting, or restarted by Docker more than once (once
    with O(tolerate_restart=false)), and
    fails with the first error line of its log, instead of waiting until O(timeout).
  - With O(heal_first_boot=true), a crashed node of a brand-new cluster whose first start failed is reset with
    M(corral.cassandra.cassandra_node) O(corral.cassandra.cassandra_node#module:state=first_boot_reset) (which refuses
    any node that holds data) and started again, at most O(heal_attempts) times.
  - When the wait of one host of a task stops at a crash, the waits of the other hosts of that task stop at their next
    poll, without failing; the host that saw the crash reports it once.
  - Used by the roles of this collection; its options may change between minor releases.
author:
  - corral.cassandra developers (!UNKNOWN)
attributes:
  check_mode:
    support: none
    description: In check mode nothing was started, so it returns at once, skipped.
  diff_mode:
    support: none
    description: Changes nothing to compare.
  action:
    support: full
    description: Runs on the controller and polls the host through its connection.
  platform:
    support: full
    platforms: posix
    description: The host needs the docker command line; the nodes' images need nodetool, cqlsh and /proc.
options:
  nodes:
    description:
      - The nodes of this host to wait for, as the stack model gives them (C(name), C(ip), optional C(cql_port),
        C(storage_port), C(data_container), C(data_dir)).
      - A node may also carry C(ring), C(cql) and C(schema) (true or false) to ask of it other than O(gate) and
        O(schema_node) do.
    type: list
    elements: dict
    required: true
  expected_ips:
    description: Addresses every node must see Up/Normal when O(gate) asks for the ring.
    type: list
    elements: str
    default: []
  gate:
    description: What ready means, keys C(listen), C(ring), C(cql) and C(schema), each true or false.
    type: dict
    required: true
  schema_node:
    description: The node that checks schema agreement when O(gate) asks for it.
    type: str
    default: ""
  timeout:
    description: Seconds to wait in all.
    type: int
    default: 300
  poll:
    description: Seconds between two polls.
    type: float
    default: 2.0
  java_tool_options:
    description: E(JAVA_TOOL_OPTIONS) for nodetool, for example C(-XX:TieredStopAtLevel=1).
    type: str
    default: ""
  started:
    description:
      - The M(corral.cassandra.cassandra_node) results of this run. A container that they created counts its restarts
        from 0, so a restart before the first poll is seen too; other containers from their count at the first poll.
    type: list
    elements: dict
    default: []
  per_release:
    description:
      - Whether one schema version per Cassandra release is enough for schema agreement, as while an upgrade across a
        major version is under way (two major versions compute schema versions differently). The releases are read
        from C(nodetool describecluster) (4.0 and later); without them one version is required.
    type: bool
    default: false
  tolerate_restart:
    description:
      - Whether a container that Docker restarted once, and that runs again, is only reported. When false, any restart
        since the first poll (or since its creation, see O(started)) fails the wait at once.
    type: bool
    default: true
  heal_first_boot:
    description: Whether a node whose first boot failed may be reset and started again.
    type: bool
    default: false
  heal_attempts:
    description: How many times one node may be reset.
    type: int
    default: 2
  label:
    description: The host named in the progress lines; the task's host by default (set it when the task is delegated).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Wait until the nodes of this host see all three Up/Normal and answer CQL
  corral.cassandra.cassandra_wait:
    nodes: "{{ my_nodes }}"
    expected_ips: [10.42.0.48, 10.42.0.49, 10.42.0.50]
    gate: {listen: true, ring: true, cql: true, schema: false}
    timeout: 300
"""

RETURN = r"""
ready:
  description:
    - Whether every node became ready. False with C(failed) (a crash, or the timeout); a caller that judges the
      result itself (C(failed_when=false) turns C(failed) off) reads this.
  returned: always
  type: bool
nodes:
  description: Each node's last stage, whether it is ready, and what it still waited for.
  returned: always
  type: dict
  sample: {"cdb1": {"stage": "answering CQL", "ready": true, "problems": []}}
ring_views:
  description: The last C(nodetool status) of each node of the host, shaped as loop results with C(item) and C(stdout).
  returned: always
  type: list
  elements: dict
healed:
  description: One line per node that was reset and started again, with why.
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds the wait took.
  returned: always
  type: float
crashed:
  description: True when the wait failed because a container exited, is restarting or was restarted.
  returned: when a container crashed
  type: bool
stopped:
  description: True when the wait stopped because another host of the task saw a crash.
  returned: when another host saw a crash
  type: bool
"""
