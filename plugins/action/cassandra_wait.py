# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Action plugin: wait for the Cassandra nodes of one host, printing each node's progress as it happens.

It polls on the controller, so it can print a line when a node's stage changes, and it stops at
the first poll that shows a node's container exited or restarted, with the first error line of its
log. Nodes of a brand-new cluster whose first boot failed can be reset and started again
(cassandra_node state=first_boot_reset, which refuses any node that holds data).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.wait import (
    Look,
    asks,
    crashed,
    elapsed,
    first_error,
    first_error_command,
    judge,
    keep_log_command,
    look_command,
    parse_look,
    restart_baseline,
)

display = Display()
# Seconds between polls while a node is not listening for CQL yet (a poll then costs no JVM).
EARLY_POLL = 0.5
# While every node of the host runs and starts (not listening for CQL yet), a poll watches their ports from inside
# the container for up to this many seconds and answers as soon as one starts listening: the same half second to
# see a stage, without a docker exec from the host every half second taking CPU from the starting JVMs.
START_HOLD = 5.0

ARGUMENT_SPEC: dict[str, Any] = {
    "nodes": {"type": "list", "elements": "dict", "required": True},
    "expected_ips": {"type": "list", "elements": "str", "default": []},
    "gate": {"type": "dict", "required": True},
    "schema_node": {"type": "str", "default": ""},
    "timeout": {"type": "int", "default": 300},
    "poll": {"type": "float", "default": 2.0},
    "java_tool_options": {"type": "str", "default": ""},
    # The node module's results of this run: a container it created counts its restarts from 0.
    "started": {"type": "list", "elements": "dict", "default": []},
    # Schema agreement per Cassandra release (an upgrade across a major version is under way).
    "per_release": {"type": "bool", "default": False},
    # A container that Docker restarted once and that runs again is reported, not failed: a loop fails.
    "tolerate_restart": {"type": "bool", "default": True},
    "heal_first_boot": {"type": "bool", "default": False},
    "heal_attempts": {"type": "int", "default": 2},
    # The host named in the progress lines (the task's host, unless the task is delegated).
    "label": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        nodes: list[dict[str, Any]] = args["nodes"]
        if self._task.check_mode:
            return dict(result, skipped=True, msg="check mode: nothing was started, nothing to wait for")
        if not nodes:
            return dict(result, changed=False, ready=True, nodes={}, ring_views=[], healed=[])
        host = args["label"] or str((task_vars or {}).get("inventory_hostname", "?"))
        waiter = _Waiter(self, task_vars or {}, host, args)
        return dict(result, **waiter.wait())


class _Waiter:
    """One host's wait: polls, prints stage changes, stops at a crash or when every node is ready."""

    def __init__(self, action: ActionModule, task_vars: dict[str, Any], host: str, args: dict[str, Any]) -> None:
        self.action, self.task_vars, self.host, self.args = action, task_vars, host, args
        self.nodes: list[dict[str, Any]] = args["nodes"]
        self.gate: dict[str, Any] = args["gate"]
        self.baseline: dict[str, int | None] = restart_baseline(args["started"])
        self.stages: dict[str, str] = {}
        self.healed: list[str] = []
        self.attempts: dict[str, int] = {}
        self.tolerated: dict[str, bool] = {}
        self.start = time.monotonic()
        # Hosts of one task share a note: a crash seen on one host stops the waits of the others.
        self.note = os.path.join(tempfile.gettempdir(), f"corral-wait-{action._task._uuid}")

    def _run(self, command: str) -> dict[str, Any]:
        return self.action._low_level_execute_command(command, sudoable=True)

    def _say(self, text: str) -> None:
        display.display(f"  [{self.host}] {text} ({elapsed(time.monotonic() - self.start)})")

    def wait(self) -> dict[str, Any]:
        args = self.args
        deadline = self.start + args["timeout"]
        hold = 0.0
        while True:
            stopped = self._stopped_elsewhere()
            if stopped:
                # Not a failure of this host: the host that saw the crash reports it, once.
                self._say(f"stopped waiting, since {stopped}")
                return dict(self._done({}, {}), stopped=True)
            polled = time.monotonic()
            raw = self._run(look_command(self.nodes, self.gate, args["schema_node"], args["java_tool_options"], hold))
            polled = time.monotonic() - polled
            looks = parse_look(str(raw.get("stdout") or ""))
            verdicts: dict[str, dict[str, Any]] = {}
            for node in self.nodes:
                name = str(node["name"])
                look = looks.get(name) or Look(name)
                if self.baseline.get(name) is None and look.status == "running":
                    self.baseline[name] = look.restarts
                why = crashed(look, self.baseline.get(name))
                if why:
                    error = self._first_error(name)
                    kept = self._keep_log(name)
                    if self._heal(node, why, error, kept):
                        verdicts[name] = {"stage": "started again", "ready": False, "problems": ["started again"]}
                        continue
                    if look.status == "running" and args["tolerate_restart"] and not self.tolerated.get(name):
                        # Docker started it again and it runs: once is reported, not a loop yet.
                        self.tolerated[name] = True
                        self.baseline[name] = look.restarts
                        self._say(f"{name}: {why}{': ' + error if error else ''}; it runs again")
                    else:
                        message = (
                            f"{name} on {self.host}: {why}" + (f": {error}" if error else "")
                            + (f" (its whole log is kept in {kept} on {self.host})" if kept else "")
                        )
                        self._share(message)
                        return dict(self._failed(message, looks), crashed=True)
                asked = asks(node, self.gate, args["schema_node"])
                verdicts[name] = judge(look, asked, args["expected_ips"], args["per_release"])
                if verdicts[name]["stage"] != self.stages.get(name):
                    self.stages[name] = verdicts[name]["stage"]
                    self._say(f"{name}: {verdicts[name]['stage']}")
            if all(verdict["ready"] for verdict in verdicts.values()):
                return self._done(looks, verdicts)
            if time.monotonic() >= deadline:
                problems = [f"{name}: {'; '.join(v['problems'])}" for name, v in verdicts.items() if not v["ready"]]
                return self._failed(
                    f"not ready within {args['timeout']} s: " + "; ".join(problems), looks, verdicts
                )
            # Until every node listens for CQL only its ports are read (no JVM): then poll more often, or hold the
            # next poll inside the containers while they all start.
            hold = 0.0
            if all(verdict["stage"] in ("starting", "gossiping") for verdict in verdicts.values()):
                # Each node of the host is held in turn: together they take START_HOLD at most.
                hold = max(0.0, min(START_HOLD / len(self.nodes), deadline - time.monotonic()))
                # Never more often than before, whatever a poll returned early for (a failed exec among them).
                time.sleep(max(0.0, EARLY_POLL - polled))
                continue
            early = any(verdict["stage"] in ("absent", "created", "starting", "gossiping") for verdict in verdicts.values())
            time.sleep(min(args["poll"], EARLY_POLL) if early else args["poll"])

    def _first_error(self, name: str) -> str:
        return first_error(str(self._run(first_error_command(name)).get("stdout") or ""))

    def _keep_log(self, name: str) -> str:
        kept = self._run(keep_log_command(name))
        return str(kept.get("stdout") or "").strip() if kept.get("rc") == 0 else ""

    def _heal(self, node: dict[str, Any], why: str, error: str, kept: str) -> bool:
        """A brand-new node whose first boot failed: reset it (the module refuses one with data) and start it again."""
        name = str(node["name"])
        if not self.args["heal_first_boot"] or self.attempts.get(name, 0) >= self.args["heal_attempts"]:
            return False
        self.attempts[name] = self.attempts.get(name, 0) + 1
        attempt = f"attempt {self.attempts[name]} of {self.args['heal_attempts']}"
        self._say(
            f"{name}: first boot failed ({why}{': ' + error if error else ''}{'; its log kept in ' + kept if kept else ''});"
            f" resetting it, {attempt}"
        )
        reset = self.action._execute_module(
            module_name="corral.cassandra.cassandra_node",
            module_args={
                "name": name,
                "state": "first_boot_reset",
                "data_container": node.get("data_container") or f"{name}-data",
                "data_dir": node.get("data_dir") or "/cassandra/data",
            },
            task_vars=self.task_vars,
        )
        if reset.get("failed"):
            self._say(f"{name}: not reset: {reset.get('msg')}")
            return False
        self._say(f"{name}: {'; '.join(reset.get('actions') or [])}")
        self.healed.append(f"{name}: first boot failed ({why}); {'; '.join(reset.get('actions') or [])} ({attempt})")
        self.baseline[name] = None
        self.stages.pop(name, None)
        return True

    def _share(self, message: str) -> None:
        try:
            with open(self.note, "a", encoding="utf-8") as note:
                note.write(json.dumps({"time": time.time(), "message": message}) + "\n")
        except OSError:
            pass

    def _stopped_elsewhere(self) -> str:
        try:
            with open(self.note, encoding="utf-8") as note:
                lines = [json.loads(line) for line in note if line.strip()]
        except (OSError, ValueError):
            return ""
        recent = [line["message"] for line in lines if line.get("time", 0) >= time.time() - 3600]
        return recent[0] if recent else ""

    def _views(self, looks: dict[str, Look] | None) -> list[dict[str, Any]]:
        views = []
        for node in self.nodes:
            ring = ((looks or {}).get(str(node["name"])) or Look("")).parts.get("ring")
            if ring is not None and ring["rc"] == 0:
                views.append({"item": node, "rc": 0, "stdout": ring["stdout"]})
        return views

    def _done(self, looks: dict[str, Look], verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "changed": bool(self.healed),
            "ready": True,
            "nodes": verdicts,
            "ring_views": self._views(looks),
            "healed": self.healed,
            "elapsed": round(time.monotonic() - self.start, 1),
        }

    def _failed(
        self, message: str, looks: dict[str, Look] | None = None, verdicts: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {
            "failed": True,
            "ready": False,
            "msg": message,
            "changed": bool(self.healed),
            "nodes": verdicts or {},
            "ring_views": self._views(looks),
            "healed": self.healed,
            "elapsed": round(time.monotonic() - self.start, 1),
        }
