#!/usr/bin/python
# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

# The work is done by the action plugin of the same name (plugins/action/refuse.py), on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: refuse
short_description: Fail with a refusal of this collection, each of its problems shown once
version_added: 0.1.0
description:
  - Fails the task with O(refusal), the C(error) text a filter of this collection returns when it refuses its input
    (a headline, a colon, then one problem per line).
  - The message of the failure is the headline; the problems are returned as the list RV(problems). ansible-core 2.19
    prints a failed task's message twice (as C([ERROR]) and in the result), so a refusal given as the whole message would
    show each problem twice.
  - Used by the roles of this collection; its options may change between minor releases.
author:
  - corral.cassandra developers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Refuses in check mode too.
  diff_mode:
    support: none
    description: Changes nothing to compare.
  action:
    support: full
    description: Runs on the controller only.
  platform:
    support: full
    platforms: posix
    description: Needs nothing on the host.
options:
  refusal:
    description: The refusal, like C(headline:\nproblem one\nproblem two).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse files that cannot be imported
  corral.cassandra.refuse:
    refusal: "{{ stack.error }}"
  when: stack.error is defined
"""

RETURN = r"""
msg:
  description: The headline of the refusal.
  returned: always
  type: str
  sample: "the Rancher stack 'X' cannot be imported; nothing was changed"
problems:
  description: Each problem, once.
  returned: always
  type: list
  elements: str
  sample: ["service 'cdb2' (Cassandra): io.rancher.container.hostname_override is not supported on a Cassandra node"]
"""
