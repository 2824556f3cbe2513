"""Backups with Medusa: the preflight's refusals and Medusa's output read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._backup import medusa
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import Refusal

IPS = {"cdb1": "10.42.0.48", "cdb2": "10.42.0.49", "cdb3": "10.42.0.50"}


def ring(states: dict[str, str]) -> str:
    rows = [f"{state}  {ip}  100 KiB  16  66.7%  hid-{ip}  rack1" for ip, state in states.items()]
    return "Datacenter: dc1\n=======\n--  Address  Load  Tokens  Owns  Host ID  Rack\n" + "\n".join(rows) + "\n"


def container(name: str, running: bool = True, image: str = "reg:5000/corral/cassandra:5.0.8") -> dict[str, Any]:
    return {
        "Name": f"/{name}",
        "State": {"Running": running},
        "Config": {"Image": image, "Labels": {"io.corral.requested-ip": IPS.get(name.removesuffix("-rollback"), ""),
                                              "io.corral.data-container": f"data{name[3]}"}},
    }


def reads(down: str = "", sees: dict[str, str] | None = None) -> dict[str, Any]:
    healthy = ring(dict.fromkeys(IPS.values(), "UN") | (sees or {}))
    return {
        f"lab-host{i}": {
            "containers": [container(node, running=node != down)],
            "rings": {} if node == down else {node: healthy},
        }
        for i, node in enumerate(IPS, start=1)
    }


def test_nodes_are_read_from_the_containers_and_rollback_copies_left_out() -> None:
    read = reads()
    read["lab-host1"]["containers"].append(container("cdb1-rollback", running=False))
    nodes = medusa.nodes_from_reads(read)
    assert [(n["name"], n["host"], n["ip"], n["data_container"], n["running"]) for n in nodes] == [
        ("cdb1", "lab-host1", "10.42.0.48", "data1", True),
        ("cdb2", "lab-host2", "10.42.0.49", "data2", True),
        ("cdb3", "lab-host3", "10.42.0.50", "data3", True),
    ]


def test_a_healthy_stack_is_planned_with_each_node_version() -> None:
    planned = medusa.plan("backup", "b1", "differential", medusa.nodes_from_reads(reads()))
    assert [(n["name"], n["version"]) for n in planned["nodes"]] == [
        ("cdb1", "5.0.8"), ("cdb2", "5.0.8"), ("cdb3", "5.0.8")]


@pytest.mark.parametrize(
    ("action", "name", "mode", "read", "expected"),
    [
        ("snapshot", "b1", "differential", reads(), "backup_action 'snapshot' is not one of backup, list, verify, purge"),
        ("restore", "", "differential", reads(), "a restore needs the backup's name"),
        ("verify", "", "differential", reads(), "backup_action=verify needs the backup's name"),
        ("backup", "../b1", "differential", reads(), "backup_name '../b1' is not a name Medusa can store"),
        ("backup", "b1", "incremental", reads(), "cassandra_backup_mode 'incremental' is not one of differential, full"),
        ("backup", "b1", "differential", reads(down="cdb2"),
         "cdb2 on lab-host2 is down (its container is not running): every node must be up"),
        ("list", "", "differential", reads(sees={"10.42.0.50": "DN"}),
         "cdb1 on lab-host1 sees 10.42.0.50 as DN, not UN: every node must be Up/Normal"),
        ("purge", "", "differential", {"lab-host1": {"containers": [], "rings": {}}},
         "no Cassandra container of the stack runs on any host of the play"),
    ],
)
def test_refusals_name_the_problem(action: str, name: str, mode: str, read: dict[str, Any], expected: str) -> None:
    with pytest.raises(Refusal) as refusal:
        medusa.plan(action, name, mode, medusa.nodes_from_reads(read))
    what = "restore" if action == "restore" else "backup"
    assert str(refusal.value).startswith(f"the {what} is refused; nothing was changed:\n")
    assert expected in str(refusal.value)


S3 = {"storage": "s3_compatible", "host": "10.42.1.10", "port": 9000, "bucket": "corral-backups", "keys": True}


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ({"storage": "nfs"}, ["cassandra_backup_storage 'nfs' is not one of local, s3_compatible"]),
        ({"storage": "local", "host": ""}, []),
        (S3, []),
        ({**S3, "port": "443"}, []),
        ({**S3, "host": ""}, ["cassandra_backup_s3_host '' is not a host name or address of the S3-compatible server"]),
        ({**S3, "host": "http://s3.example"}, ["cassandra_backup_s3_host 'http://s3.example' is not a host name"]),
        ({**S3, "bucket": "CassandraDB"}, ["cassandra_backup_s3_bucket 'CassandraDB' is not an S3 bucket name"]),
        ({**S3, "bucket": "a..b"}, ["cassandra_backup_s3_bucket 'a..b' is not an S3 bucket name"]),
        ({**S3, "port": 0}, ["cassandra_backup_s3_port '0' is not a port number"]),
        ({**S3, "keys": False}, ["cassandra_backup_s3_access_key_id and cassandra_backup_s3_secret_access_key must both"]),
    ],
)
def test_the_store_settings_are_checked(storage: dict[str, Any], expected: list[str]) -> None:
    problems = medusa.storage_problems(storage)
    assert len(problems) == len(expected) and all(problem.startswith(text) for problem, text in zip(problems, expected))


def test_a_bad_store_is_refused_before_anything_changes() -> None:
    with pytest.raises(Refusal) as refusal:
        medusa.plan("backup", "b1", "differential", medusa.nodes_from_reads(reads()), {**S3, "bucket": ""})
    assert "cassandra_backup_s3_bucket '' is not an S3 bucket name" in str(refusal.value)
    assert medusa.plan("backup", "b1", "differential", medusa.nodes_from_reads(reads()), S3)["nodes"]


def test_a_node_that_does_not_answer_nodetool_is_refused() -> None:
    read = reads()
    read["lab-host3"]["rings"] = {"cdb3": "nodetool: Failed to connect to '127.0.0.1:7199'"}
    with pytest.raises(Refusal, match="cdb3 on lab-host3 did not answer nodetool status"):
        medusa.plan("backup", "b1", "full", medusa.nodes_from_reads(read))


@pytest.mark.parametrize(
    ("image", "version"),
    [("reg:5000/corral/cassandra:5.0.8", "5.0.8"), ("cassandra:4.1.10", "4.1.10"), ("cassandra", ""),
     ("reg:5000/cassandra", ""), ("cassandra@sha256:abc", "")],
)
def test_image_version(image: str, version: str) -> None:
    assert medusa.image_version(image) == version


BACKUP_OUTPUT = """[2026-12-06 10:20:01,000] INFO: Creating snapshot
[2026-12-06 10:20:09,000] INFO: Backup done: b2 (differential)
[2026-12-06 10:20:09,000] INFO: - Started: 2026-12-06 10:20:00
                        - Started extracting data: 2026-12-06 10:20:01
                        - Finished: 2026-12-06 10:20:09
[2026-12-06 10:20:09,000] INFO: - Real duration: 0:00:08.1 (excludes time waiting for other nodes)
[2026-12-06 10:20:09,000] INFO: - 140 files, 1.52 MB
[2026-12-06 10:20:09,000] INFO: - 12 files copied from host (11 new, 1 reuploaded)
[2026-12-06 10:20:09,000] INFO: - 128 kept from previous backup (b2)
"""


def test_backup_figures() -> None:
    assert medusa.backup_figures(BACKUP_OUTPUT) == {
        "name": "b2", "kind": "differential", "files": 140, "size": "1.52 MB",
        "copied": 12, "new": 11, "reuploaded": 1, "kept": 128,
    }


def test_a_backup_without_summary_is_a_problem_naming_the_node_and_the_last_lines() -> None:
    out = medusa.report("backup", {"cdb1": BACKUP_OUTPUT, "cdb2": "ERROR: Unable to connect\nTraceback"}, IPS)
    assert out["problems"] == ["cdb2: Medusa printed no backup summary: ERROR: Unable to connect | Traceback"]


def listing(node: str, name: str, started: int, finished: int | None, size: int = 1000) -> str:
    part = {"fqdn": IPS[node], "started": started, "finished": finished, "size": size if finished else 0,
            "num_objects": 10 if finished else 0}
    cluster = {"name": name, "backup_type": "differential", "nodes": [part] if finished else [],
               "incomplete_nodes_list": [] if finished else [part]}
    return json.dumps([cluster])


def test_list_joins_every_node_own_store_into_one_table() -> None:
    outputs = {
        node: "[2026-12-06 10:20:01,000] INFO: Loading\n" + json.dumps(
            json.loads(listing(node, "b1", 100, 110)) + json.loads(listing(node, "b2", 200, None if node == "cdb3" else 210)))
        for node in IPS
    }
    out = medusa.report("list", outputs, IPS)
    assert out["problems"] == []
    assert [line.split() for line in out["lines"]] == [
        ["BACKUP", "TYPE", "NODES", "SIZE", "FILES", "STATE"],
        ["b1", "differential", "3/3", "2.93", "KiB", "30", "complete"],
        ["b2", "differential", "2/3", "1.95", "KiB", "20", "INCOMPLETE"],
    ]


def test_an_empty_list() -> None:
    assert medusa.report("list", dict.fromkeys(IPS, "[]"), IPS)["lines"] == ["no backups"]


@pytest.mark.parametrize(
    ("result", "line", "problem"),
    [
        ({"name": "b1", "exists": True, "finished": True, "errors": [], "objects": 42},
         "cdb1: b1 verified: 42 files as the manifest lists them", None),
        ({"name": "b1", "exists": False}, None, "cdb1: holds no backup b1"),
        ({"name": "b1", "exists": True, "finished": False}, None, "cdb1: its part of b1 never finished"),
        ({"name": "b1", "exists": True, "finished": True, "errors": ["  - [data/ks/t/nb-1-big-Data.db] Doesn't exists"]},
         None, "cdb1: - [data/ks/t/nb-1-big-Data.db] Doesn't exists"),
    ],
)
def test_verify(result: dict[str, Any], line: str | None, problem: str | None) -> None:
    out = medusa.report("verify", {"cdb1": "[2026] INFO: x\n" + json.dumps(result)}, IPS)
    assert out["lines"] == ([line] if line else [])
    assert out["problems"] == ([problem] if problem else [])


def test_purge_figures() -> None:
    output = ("INFO: Starting purge\nINFO: 1 backups are candidate to be purged\n"
              "INFO: Purged 57 objects with a total size of 1.02 MB\n")
    assert medusa.report("purge", {"cdb1": output}, IPS)["lines"] == [
        "cdb1: 1 backups purged, 57 files freed (1.02 MB)"]


def test_outputs_of_the_sidekicks() -> None:
    runs = [
        {"item": {"name": "cdb1"}, "container": {"Output": "done"}, "status": 0},
        {"item": {"name": "cdb2"}, "failed": True, "msg": "Error starting container: no such image"},
    ]
    assert medusa.outputs(runs) == {"cdb1": "done", "cdb2": "Error starting container: no such image"}
