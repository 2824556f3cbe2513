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


S3 = {"storage": "s3_compatible", "host": "10.42.1.10", "port": 9000, "bucket": "corral-backups", "keys": True,
      "secure": True, "ssl_verify": True, "multipart_threshold": "20MB", "multipart_chunksize": "50MB"}
# community.crypto.x509_certificate_info's results (failed_when: false): a certificate read, and a failure.
CA_READ = {"expired": False, "not_after": "20361205000000Z", "subject": {"commonName": "corral lab S3 CA"}}
CA_EXPIRED = {**CA_READ, "expired": True, "not_after": "20251205000000Z"}
CA_UNREAD = {"failed": True, "msg": "Error while reading certificate file from disk: [Errno 2] No such file"}


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
        ({**S3, "multipart_threshold": "5MB"}, []),
        ({**S3, "multipart_threshold": "5242880"}, []),
        ({**S3, "multipart_threshold": "5 MiB"}, ["cassandra_backup_s3_multipart_threshold '5 MiB' is not a size"]),
        ({**S3, "multipart_threshold": ""}, ["cassandra_backup_s3_multipart_threshold '' is not a size"]),
        ({**S3, "multipart_chunksize": "5 parts"}, ["cassandra_backup_s3_multipart_chunksize '5 parts' is not a size"]),
        ({**S3, "ca_file": "/etc/ca.pem", "ca": CA_READ}, []),
        ({**S3, "ca_file": "ca.pem", "ca": {"skipped": True}},
         ["cassandra_backup_s3_ca_file 'ca.pem' is not an absolute path of a file on the controller"]),
        ({**S3, "ca_file": "/etc/ca.pem", "ca": CA_UNREAD},
         ["cassandra_backup_s3_ca_file '/etc/ca.pem' is not a PEM certificate: Error while reading certificate file"]),
        ({**S3, "ca_file": "/etc/ca.pem", "ca": CA_EXPIRED},
         ["cassandra_backup_s3_ca_file '/etc/ca.pem' has expired (20251205000000Z)"]),
        ({**S3, "ca_file": "/etc/ca.pem", "ca": CA_READ, "secure": "False"},
         ["cassandra_backup_s3_ca_file '/etc/ca.pem' is given, but the store's certificate is not checked"]),
        ({**S3, "ca_file": "/etc/ca.pem", "ca": CA_READ, "ssl_verify": False},
         ["cassandra_backup_s3_ca_file '/etc/ca.pem' is given, but the store's certificate is not checked"]),
        ({"storage": "local", "ca_file": "ca.pem", "multipart_threshold": "x"}, []),
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


ENDPOINT = "https://10.42.1.10:9000"
UNTRUSTED = (f"SSL validation failed for {ENDPOINT}/corral-backups [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
             "verify failed: unable to get local issuer certificate (_ssl.c:1006)")


def store(ok: bool, **result: Any) -> str:
    base = {"endpoint": ENDPOINT, "bucket": "corral-backups", "verify": True, "ca": False, "ok": ok, "seconds": 0.04}
    return "[2026-12-07 01:00:00,000] INFO: Using credentials CensoredCredentials(...)\n" + json.dumps({**base, **result})


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"error": "tls", "detail": UNTRUSTED},
         f"cdb2 cannot use the S3 store {ENDPOINT} (bucket corral-backups) after 0.04 s: TLS: {UNTRUSTED} (its "
         "certificate is not signed by a CA the sidekick trusts: give that CA as cassandra_backup_s3_ca_file)"),
        ({"error": "tls", "detail": UNTRUSTED, "ca": True}, "(its certificate is not signed by the CA of "
         "cassandra_backup_s3_ca_file)"),
        ({"error": "tls", "detail": "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, "
          "certificate is not valid for '10.42.1.10'", "ca": True},
         "(its certificate does not name the host the nodes reach it by (cassandra_backup_s3_host))"),
        ({"error": "tls", "detail": "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"},
         "(it does not answer TLS on that port (cassandra_backup_s3_secure=false for http))"),
        ({"error": "tls", "detail": f"SSL validation failed for {ENDPOINT}/corral-backups [X509: NO_CERTIFICATE_OR_CRL_FOUND] "
          "no certificate or crl found (_ssl.c:4154)", "ca": True},
         "(cassandra_backup_s3_ca_file holds no PEM certificate (a DER file must be converted to PEM))"),
        ({"error": "connect", "detail": f'Could not connect to the endpoint URL: "{ENDPOINT}/corral-backups"'},
         "connection: Could not connect to the endpoint URL"),
        ({"error": "http_404", "detail": "An error occurred (404) when calling the HeadBucket operation: Not Found"},
         "HTTP 404: An error occurred (404) when calling the HeadBucket operation: Not Found (the bucket does not "
         "exist: create it first)"),
        ({"error": "http_403", "detail": "An error occurred (403) when calling the HeadBucket operation: Forbidden"},
         "(the store refused the keys"),
    ],
)
def test_a_node_that_cannot_use_its_store_is_named_with_the_error_and_what_to_do(
        result: dict[str, Any], problem: str) -> None:
    out = medusa.report("store", {"cdb1": store(True), "cdb2": store(False, **result)}, IPS)
    assert out["lines"] == [f"cdb1: {ENDPOINT} (bucket corral-backups) answered in 0.04 s, certificate checked"]
    assert len(out["problems"]) == 1 and problem in out["problems"][0], out["problems"]


def test_a_store_check_that_printed_nothing_is_a_problem() -> None:
    out = medusa.report("store", {"cdb1": "Traceback (most recent call last):\nKeyError: 'x'"}, IPS)
    assert out["problems"] == ["cdb1: the store check printed no result: Traceback (most recent call last): | "
                               "KeyError: 'x'"]


def test_plain_http_is_said_so() -> None:
    out = medusa.report("store", {"cdb1": store(True, endpoint="http://10.42.1.10:9000", verify=False)}, IPS)
    assert out["lines"] == ["cdb1: http://10.42.1.10:9000 (bucket corral-backups) answered in 0.04 s, plain http"]
