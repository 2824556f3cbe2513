# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Action plugin: fail with a refusal, its headline as the message and each problem once, as a list.

ansible-core 2.19 shows a failed task's msg twice (the "[ERROR]: Task failed: Action failed: MSG" line, then
the result with MSG); a refusal of many lines read as each problem printed twice. Here msg is the headline
alone, so every problem appears once, in `problems`.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import split_refusal

ARGUMENT_SPEC: dict[str, Any] = {"refusal": {"type": "str", "required": True}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        headline, problems = split_refusal(args["refusal"])
        return dict(result, failed=True, changed=False, msg=headline, problems=problems)
