"""The canary script's wait before its schema changes (roles/cassandra_upgrade/files/canary.py), with stand-ins for
the driver's cluster and session."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from cassandra.policies import HostDistance

SCRIPT = Path(__file__).resolve().parents[5] / "roles" / "cassandra_upgrade" / "files" / "canary.py"


@pytest.fixture(scope="module")
def canary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corral_canary_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    """time.time and time.sleep: the sleeps advance it; each sleep may change the hosts (the driver's threads)."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now = 1000.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep:
            self.on_sleep(self.sleeps)


class Host:
    """A driver's Host: hashable, with is_up (True, False, or None before it was tried)."""

    def __init__(self, name: str, is_up: bool | None) -> None:
        self.name = name
        self.is_up = is_up


def cluster_and_session(hosts: dict[str, dict[str, Any]]) -> tuple[Any, Any, dict[str, Host]]:
    """hosts: name -> {up: True/False/None, open: 0/1 (its pool, when it has one), ignored: bool}."""
    objects = {name: Host(name, state["up"]) for name, state in hosts.items()}
    cluster = SimpleNamespace(
        metadata=SimpleNamespace(all_hosts=lambda: list(objects.values())),
        profile_manager=SimpleNamespace(
            distance=lambda host: HostDistance.IGNORED if hosts[host.name].get("ignored") else HostDistance.LOCAL
        ),
    )
    session = SimpleNamespace(
        get_pool_state=lambda: {objects[name]: {"open_count": state["open"]} for name, state in hosts.items() if "open" in state}
    )
    return cluster, session, objects


@pytest.mark.parametrize(
    ("hosts", "sleeps"),
    [
        # Connected nodes and a node marked down: nothing to wait for.
        ({"a": {"up": True, "open": 1}, "b": {"up": False}}, 0),
        # A node of another data centre that the driver never connects to is not waited for.
        ({"a": {"up": True, "open": 1}, "c": {"up": None, "ignored": True}}, 0),
    ],
)
def test_settled_nodes_are_not_waited_for(canary: ModuleType, monkeypatch: pytest.MonkeyPatch, hosts: Any, sleeps: int) -> None:
    clock = Clock()
    monkeypatch.setattr(canary, "time", clock)
    cluster, session, _objects = cluster_and_session(hosts)
    canary.settle(cluster, session, 10)
    assert clock.sleeps == sleeps


def test_a_dead_contact_point_is_waited_for_until_it_is_marked_down(canary: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # The dead node counts as up (a contact point) with no pool, until its connection fails after 3 s.
    hosts: dict[str, dict[str, Any]] = {"a": {"up": True, "open": 1}, "dead": {"up": True}}
    cluster, session, objects = cluster_and_session(hosts)

    def fail_at_3s(sleeps: int) -> None:
        if sleeps == 15:
            objects["dead"].is_up = False

    clock = Clock(fail_at_3s)
    monkeypatch.setattr(canary, "time", clock)
    canary.settle(cluster, session, 10)
    assert clock.sleeps == 15


def test_the_wait_ends_at_its_limit(canary: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(canary, "time", clock)
    cluster, session, _objects = cluster_and_session({"a": {"up": True, "open": 1}, "peer": {"up": None}})
    canary.settle(cluster, session, 10)
    assert 10 <= clock.now - 1000.0 < 10.5


@pytest.mark.parametrize(("drop_error", "code", "last"), [(None, 0, {"dropped": "corral_canary"}), ("no quorum", 3, None)])
def test_once_stopped_it_drops_its_keyspace_and_says_so(
    canary: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, drop_error: str | None, code: int, last: Any
) -> None:
    """run --drop-at-exit: SIGTERM ends the loop, its last second is written, then the DROP and its outcome."""
    handlers: dict[int, Any] = {}
    statements: list[str] = []

    def execute(statement: Any, values: Any = None, timeout: float = 0) -> None:
        statements.append(str(statement))
        if str(statement).startswith("DROP") and drop_error:
            raise RuntimeError(drop_error)

    session = SimpleNamespace(execute=execute, prepare=lambda text: SimpleNamespace(text=text, is_idempotent=False))
    cluster = SimpleNamespace(shutdown=lambda: statements.append("shutdown"))
    clock = Clock(lambda _sleeps: handlers[canary.signal.SIGTERM](canary.signal.SIGTERM, None))
    monkeypatch.setattr(canary, "time", clock)
    monkeypatch.setattr(canary, "connect", lambda _args: (cluster, session))
    monkeypatch.setattr(canary.signal, "signal", handlers.__setitem__)
    out = tmp_path / "figures.jsonl"
    args = SimpleNamespace(out=str(out), replication='{"class": "SimpleStrategy", "replication_factor": 1}', rate=50,
                           timeout=10.0, drop_at_exit=True)
    assert canary.cmd_run(args) == code
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-2]["ops"] == 2 and lines[-2]["failed"] == 0
    assert lines[-1] == last if last else lines[-1]["drop_failed"] == "RuntimeError: no quorum"
    assert statements[-2:] == ["DROP KEYSPACE IF EXISTS corral_canary", "shutdown"]
