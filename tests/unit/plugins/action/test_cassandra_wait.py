"""The wait's decisions, on scripted polls: ready, a crash, one restart that recovers, a reset, another host's crash."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.action import cassandra_wait
from ansible_collections.corral.cassandra.plugins.action.cassandra_wait import _Waiter

NODE = {"name": "cdb3", "ip": "10.42.0.50", "data_container": "data3", "data_dir": "/cassandra/data"}
LISTEN = {"listen": True, "ring": False, "cql": False, "schema": False}
KEPT = "/var/log/corral-cassandra/cdb3-20261206T030000Z.log"


def poll(status: str, restarts: int, listening: bool) -> str:
    """What one poll prints for cdb3."""
    out = f"@@corral-node cdb3\nstate {status} {restarts} 0 2026-12-06T03:00:00Z\n"
    if status == "running":
        out += "\n@@corral-part gossip 0\n" + f"\n@@corral-part listen {0 if listening else 1}\n"
    return out


class Task:
    def __init__(self) -> None:
        self._uuid = str(uuid.uuid4())


class Action:
    """Stands in for the action plugin: scripted poll outputs, recorded module calls."""

    def __init__(self, polls: list[str], reset: dict[str, Any] | None = None) -> None:
        self.polls, self.reset = list(polls), reset or {"changed": True, "actions": ["stopped cdb3", "emptied /x"]}
        self.modules: list[dict[str, Any]] = []
        self.commands: list[str] = []
        self._task = Task()

    def _low_level_execute_command(self, command: str, sudoable: bool = True) -> dict[str, Any]:
        if command.startswith("docker logs"):
            return {"rc": 0, "stdout": "ERROR Unable to contact any seeds!\n"}
        if command.startswith("f=/var/log/corral-cassandra/"):
            return {"rc": 0, "stdout": KEPT + "\n"}
        self.commands.append(command)
        return {"rc": 0, "stdout": self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]}

    def _execute_module(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        self.modules.append(module_args)
        return self.reset


def waiter(action: Action, **args: Any) -> _Waiter:
    # The plugin's own defaults, as validate_argument_spec gives them.
    defaults: dict[str, Any] = {key: spec.get("default") for key, spec in cassandra_wait.ARGUMENT_SPEC.items()}
    defaults.update(nodes=[NODE], gate=LISTEN, timeout=30, poll=0.0)
    return _Waiter(action, {}, "lab-host3", {**defaults, **args})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra_wait.time, "sleep", lambda _seconds: None)


def test_ready_once_listening() -> None:
    result = waiter(Action([poll("running", 0, False), poll("running", 0, True)])).wait()
    assert not result.get("failed") and result["nodes"]["cdb3"]["ready"] and result["ready"] is True


def test_a_restarting_container_fails_at_once_with_its_first_error() -> None:
    result = waiter(Action([poll("restarting", 1, False)])).wait()
    # `ready` and `crashed` stay when the caller turns `failed` off (failed_when: false) to judge it itself.
    assert result["failed"] and result["ready"] is False and result["crashed"] is True
    assert result["msg"] == (
        "cdb3 on lab-host3: its container is restarting (restart 1): ERROR Unable to contact any seeds! "
        f"(its whole log is kept in {KEPT} on lab-host3)"
    )


def test_one_restart_that_recovers_is_reported_not_failed_a_second_is() -> None:
    started = [{"item": NODE, "actions": ["created cdb3"]}]
    recovered = waiter(Action([poll("running", 1, False), poll("running", 1, True)]), started=started).wait()
    assert not recovered.get("failed")
    looping = waiter(Action([poll("running", 1, False), poll("running", 2, False)]), started=started).wait()
    assert looping["failed"] and "restarted by Docker 1 time(s)" in looping["msg"]
    # A gate of an upgrade takes any restart for a crash.
    strict = waiter(Action([poll("running", 1, False), poll("running", 1, True)]), started=started, tolerate_restart=False)
    assert strict.wait()["crashed"] is True


def test_a_failed_first_boot_is_reset_then_ready() -> None:
    action = Action([poll("restarting", 2, False), poll("running", 0, False), poll("running", 0, True)])
    result = waiter(action, heal_first_boot=True).wait()
    assert not result.get("failed") and result["changed"]
    reset = {"name": "cdb3", "state": "first_boot_reset", "data_container": "data3", "data_dir": "/cassandra/data"}
    assert action.modules == [reset]
    assert result["healed"][0].startswith("cdb3: first boot failed (its container is restarting (restart 2))")


def test_a_refused_reset_fails_the_wait() -> None:
    action = Action([poll("restarting", 2, False)], reset={"failed": True, "msg": "cdb3 is not reset: it has served CQL"})
    result = waiter(action, heal_first_boot=True).wait()
    assert result["failed"] and result["msg"].startswith("cdb3 on lab-host3: its container is restarting")


def test_resets_are_bounded() -> None:
    action = Action([poll("restarting", 1, False)])
    result = waiter(action, heal_first_boot=True, heal_attempts=2).wait()
    assert result["failed"] and len(action.modules) == 2


def test_a_crash_on_another_host_stops_this_wait_without_failing_it() -> None:
    action = Action([poll("running", 0, False)])
    crashed = waiter(action)
    crashed._share("cdb2 on lab-host2: its container has exited (exit code 1)")
    other = waiter(action).wait()
    assert other.get("stopped") and not other.get("failed")


def test_a_poll_is_held_in_the_container_only_while_every_node_of_the_host_starts() -> None:
    action = Action([poll("running", 0, False), poll("running", 0, False), poll("created", 0, False), poll("running", 0, True)])
    assert waiter(action).wait()["ready"] is True
    ticks = [command.split("HOLD_TICKS=")[1].split()[0] for command in action.commands]
    assert ticks == ["0", "10", "10", "0"]
