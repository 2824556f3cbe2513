"""The restore's sidekick script (roles/cassandra_backup/files/restore_node.py), with stand-ins for Medusa: the read
opens a CQL session only when asked for the live cluster."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[5] / "roles" / "cassandra_backup" / "files" / "restore_node.py"
MEDUSA_MODULES = ("medusa", "medusa.config", "medusa.download", "medusa.cassandra_utils", "medusa.schema", "medusa.storage")


class Medusa:
    """What the script calls of Medusa: load_config, download_cmd, Storage, Cassandra and parse_schema."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []
        self.downloads: list[tuple[Any, ...]] = []
        self.sessions = 0
        self.download_fails: BaseException | None = None
        self.download_logs: list[str] = []

    def load_config(self, args: Any, path: Path) -> Any:
        self.configs.append({"fqdn": args["fqdn"], "path": str(path)})
        return SimpleNamespace(storage=SimpleNamespace(fqdn=args["fqdn"] or "10.42.0.48"))

    def download_cmd(self, config: Any, name: str, target: Path, keyspaces: Any, tables: Any, ignore: bool) -> None:
        self.downloads.append((config.storage.fqdn, name, target, tuple(keyspaces), tuple(tables), ignore))
        for line in self.download_logs:
            logging.error(line)
        if self.download_fails is not None:
            raise self.download_fails
        for table in tables:
            keyspace, name_ = table.split(".")
            directory = target / keyspace / f"{name_}-0123"
            directory.mkdir(parents=True)
            (directory / "nb-1-big-Data.db").write_text("rows")

    @staticmethod
    def storage(config: Any) -> Any:
        """A store that holds no backup."""

        class Storage:
            def __enter__(self) -> Any:
                return SimpleNamespace(list_node_backups=lambda: [])

            def __exit__(self, *args: Any) -> None:
                pass

        return Storage()

    def cassandra(self, config: Any) -> Any:
        medusa = self

        class Session:
            def __enter__(self) -> Any:
                medusa.sessions += 1
                return SimpleNamespace(tokenmap=lambda: {"10.42.0.48": {"tokens": [1]}},
                                       cluster=SimpleNamespace(metadata=SimpleNamespace(keyspaces={})))

            def __exit__(self, *args: Any) -> None:
                pass

        return SimpleNamespace(new_session=Session)


@pytest.fixture
def medusa(monkeypatch: pytest.MonkeyPatch) -> Medusa:
    fake = Medusa()
    modules = {name: ModuleType(name) for name in MEDUSA_MODULES}
    modules["medusa.config"].load_config = fake.load_config  # type: ignore[attr-defined]
    modules["medusa.download"].download_cmd = fake.download_cmd  # type: ignore[attr-defined]
    modules["medusa.storage"].Storage = fake.storage  # type: ignore[attr-defined]
    modules["medusa.cassandra_utils"].Cassandra = fake.cassandra  # type: ignore[attr-defined]
    modules["medusa.schema"].parse_schema = lambda text: {}  # type: ignore[attr-defined]
    modules["medusa"].config = modules["medusa.config"]  # type: ignore[attr-defined]
    modules["medusa"].download = modules["medusa.download"]  # type: ignore[attr-defined]
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return fake


@pytest.fixture
def script(medusa: Medusa) -> ModuleType:
    spec = importlib.util.spec_from_file_location("corral_restore_node_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("live", "sessions"), [(False, 0), (True, 1)])
def test_the_read_opens_a_cql_session_only_for_the_live_cluster(script: ModuleType, medusa: Medusa, live: bool,
                                                                sessions: int) -> None:
    found = script.read(medusa.load_config({"fqdn": None}, Path("medusa.ini")), "b2", live)
    assert medusa.sessions == sessions
    assert ("live_tokenmap" in found) is live and found["parts"] == {}


def test_main_reads_the_live_cluster_only_when_told(script: ModuleType, medusa: Medusa,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    script.main(["restore_node.py", "read", "medusa.ini", "b2"])
    script.main(["restore_node.py", "read", "medusa.ini", "b2", "live"])
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert "live_tokenmap" not in first and second["live_tokenmap"] == {"10.42.0.48": {"tokens": [1]}}
    assert medusa.sessions == 1
