"""The cassandra_node module: its documentation matches its argument spec, and main() wires it up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node as model
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_docker as engine
from ansible_collections.corral.cassandra.plugins.modules import cassandra_node

DOCS = yaml.safe_load(cassandra_node.DOCUMENTATION)


def test_documentation_options_match_argument_spec() -> None:
    documented = DOCS["options"]
    assert set(documented) == set(model.ARGUMENT_SPEC)
    for name, spec in model.ARGUMENT_SPEC.items():
        doc = documented[name]
        for key in ("type", "default", "choices", "elements", "required"):
            assert doc.get(key) == spec.get(key), f"option {name}: {key}"


@pytest.mark.parametrize("section", ["EXAMPLES", "RETURN"])
def test_examples_and_return_are_yaml(section: str) -> None:
    assert yaml.safe_load(getattr(cassandra_node, section))


def test_examples_use_documented_options() -> None:
    for task in yaml.safe_load(cassandra_node.EXAMPLES):
        assert set(task["corral.cassandra.cassandra_node"]) <= set(DOCS["options"])


def test_module_header() -> None:
    assert DOCS["version_added"] == "0.1.0"
    assert DOCS["author"]
    assert set(DOCS["attributes"]) >= {"check_mode", "diff_mode", "idempotent"}


def run_main(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        cassandra_node.main()
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "cdb1", "image": "x:1", "ipv4_address": "10.42.0.999"}, "ipv4_address='10.42.0.999'"),
        ({"name": "cdb1", "image": "x:1"}, "state is present but all of the following are missing: ipv4_address"),
        ({"name": "cdb1", "image": "x:1", "ipv4_address": "10.42.0.48", "seeds": ["seed1"]}, "seeds entry='seed1'"),
    ],
)
def test_main_fails_before_touching_anything(
    args: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cassandra_node, "connect", lambda host: pytest.fail("connected to the engine"))
    result = run_main(args, capsys)
    assert result["failed"]
    assert message in result["msg"]


def test_main_reports_engine_errors_with_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable:
        def inspect_container(self, name: str) -> None:
            raise engine.APIError("500 Server Error: dial unix /var/run/docker.sock: connect: no such file")

    monkeypatch.setattr(cassandra_node, "connect", lambda host: Unreachable())
    data_dir = tmp_path / "data"
    args = {
        "name": "cdb1",
        "image": "x:1",
        "ipv4_address": "10.42.0.48",
        "data_dir": str(data_dir),
        "data_uid": os.getuid(),
        "data_gid": os.getgid(),
    }
    result = run_main(args, capsys)
    assert result["failed"]
    assert result["msg"].startswith("cannot inspect container cdb1-data: 500 Server Error")
    assert result["actions"] == []
    assert not data_dir.exists()
