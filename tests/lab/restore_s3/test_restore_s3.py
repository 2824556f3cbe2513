"""Backups to an S3-compatible store over TLS with a private CA (cassandra_backup_storage=s3_compatible).

The server is moto's S3 server (moto_server, Apache-2.0, from PyPI: lab/images/moto, built and pushed by the restore
scenario's prepare) over https, with a certificate for its overlay address signed by a CA that the prepare made with
community.crypto (.cache/restore-s3-tls on the controller; a second CA that did not sign it), in a container on the
stack's overlay network, on lab-host1; the sidekicks reach it from their node's network namespace. Run after
tests/lab/restore_overwrite on the restore scenario's 5.0.8 stack.
What it shows on the real lab:
- without the CA, and with the wrong CA, backup.yml is refused in seconds before Medusa runs, naming each node, the
  endpoint and the TLS error (Medusa alone retried such an error for more than 14 minutes); a CA file that is no
  certificate is refused by the preflight;
- with the CA (cassandra_backup_s3_ca_file), every node's part goes to the bucket under CassandraDB/ and nothing into
  the hosts' backup directories, with Medusa's multi_part_upload_threshold and multipart_chunksize lowered to 5MB:
  each data file above the threshold is uploaded in parts of 5 MiB, as the server's own record shows (its multipart
  ETag "<md5>-<parts>" and its log of the part uploads);
- `list` sees the backup complete on 3/3 nodes, `verify` passes, the dropped table comes back from it equal row for
  row at ALL, and the S3 keys are never printed.
What it does not show: a real provider's behaviour (moto keeps objects in memory and checks no signature).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import shlex
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import NODES, superuser_password
from medusa_report import report
from refusal import ROOT, Run, containers, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
SERVER, ADDRESS, PORT, BUCKET = "corral-lab-s3", "10.42.1.10", 9000, "corral-backups"
ENDPOINT = f"https://{ADDRESS}:{PORT}"
IMAGE = "172.30.42.1:5000/corral/moto-s3:5.2.5"
# Made by the restore scenario's prepare (community.crypto); server.pem, server.key and ca.pem also on lab-host1.
TLS = ROOT / ".cache" / "restore-s3-tls"
HOST_TLS = "/etc/corral-lab/restore-s3"
KEYSPACE, TABLE, BACKUP = "s3test", "s3test.t", "s1"
# 10,000 rows of 2 KB random bytes, compression off: a data file of about 20 MB on each node (every node a replica).
ROWS, ROW_BYTES = 10_000, 2048
# Medusa's sizes: MB is 1024 * 1024 bytes. Parts of 5 MiB, the least S3 takes but for the last.
THRESHOLD, CHUNK, PART = "5MB", "5MB", 5 * 1024 * 1024
# The server keeps every object in memory and checks no signature: the keys only have to reach Medusa unprinted.
ACCESS_KEY = "corral-lab-" + secrets.token_hex(4)
SECRET_KEY = secrets.token_hex(20)
S3 = {
    "cassandra_backup_storage": "s3_compatible", "cassandra_backup_s3_host": ADDRESS, "cassandra_backup_s3_port": PORT,
    "cassandra_backup_s3_secure": True, "cassandra_backup_s3_ssl_verify": True, "cassandra_backup_s3_bucket": BUCKET,
    "cassandra_backup_s3_access_key_id": ACCESS_KEY, "cassandra_backup_s3_secret_access_key": SECRET_KEY,
    "cassandra_backup_s3_ca_file": str(TLS / "ca.pem"), "cassandra_backup_s3_multipart_threshold": THRESHOLD,
    "cassandra_backup_s3_multipart_chunksize": CHUNK,
}
# The tests' own client in the server's container, over https with the CA: create the bucket, list it.
CLIENT = f"""
import sys, time, boto3
from botocore.config import Config
c = boto3.client('s3', endpoint_url='{ENDPOINT}', verify='/tls/ca.pem', aws_access_key_id='x',
                 aws_secret_access_key='x', region_name='us-east-1', config=Config(retries={{'max_attempts': 1}}))
if sys.argv[1] == 'create':
    for _ in range(60):
        try:
            c.create_bucket(Bucket='{BUCKET}'); break
        except Exception:
            time.sleep(0.5)
    else:
        raise SystemExit('no S3 server')
else:
    for p in c.get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}'):
        for o in p.get('Contents', []):
            print(o['Key'], o['Size'], o['ETag'].strip('"'))
"""
# tests/lab/blob_rows.py, run in cdb1's container with the 5.0.8 image's Python driver: the rows, their digest at ALL.
BLOB_ROWS = (ROOT / "tests" / "lab" / "blob_rows.py").read_text(encoding="utf-8")
STORE_REFUSAL = "Refuse a store a node cannot use"


def playbook(name: str, extra: dict[str, Any]) -> Run:
    run = run_playbook(name, {**S3, **extra})
    printed = run.output + json.dumps(run.tasks)
    assert SECRET_KEY not in printed and ACCESS_KEY not in printed, "an S3 key was printed"
    return run


def refused(lab_host: Callable[[str], Host], extra: dict[str, Any], task: str) -> tuple[str, float]:
    """backup.yml must stop at `task`, change no container and write nothing to the bucket: its message, its time."""
    before = containers(lab_host)
    objects = bucket(lab_host("lab-host1"))
    start = time.monotonic()
    run = playbook("backup.yml", {"backup_name": "refused", **extra})
    seconds = time.monotonic() - start
    assert run.rc != 0, run.output
    last = run.tasks[-1]
    assert last["name"].endswith(task), f"the run went on to {last['name']!r}: {run.output}"
    message = "\n".join(
        "\n".join([str(result.get("msg", "")), *map(str, result.get("problems", []))])
        for result in last["hosts"].values() if result.get("failed")
    )
    assert message, last
    assert containers(lab_host) == before, "a refused run changed a container"
    assert bucket(lab_host("lab-host1")) == objects, "a refused run wrote to the bucket"
    print(f"\nrefused in {seconds:.1f} s (the whole playbook run):\n{message}")
    return message, seconds


def rows_at_all(host: Host) -> dict[str, Any]:
    result = host.run(f"docker exec -e CQLPW={shlex.quote(superuser_password())} cdb1 "
                      f"python3 -c {shlex.quote(BLOB_ROWS)} digest {TABLE} {NODES['cdb1'][2]}")
    assert result.rc == 0, result.stdout + result.stderr
    count, digest = result.stdout.split()
    return {"count": int(count), "sha256": digest}


def bucket(host: Host) -> dict[str, tuple[int, str]]:
    """Every object of the bucket, as the server lists it: key -> (size, ETag)."""
    listing = host.check_output(f"docker exec {SERVER} /opt/moto/bin/python -c {shlex.quote(CLIENT)} list")
    return {key: (int(size), etag) for key, size, etag in (line.split() for line in listing.splitlines() if line)}


@pytest.fixture(scope="module")
def server(lab_host: Callable[[str], Host]) -> Iterator[Host]:
    host = lab_host("lab-host1")
    host.run(f"docker rm -f {SERVER}")
    started = host.run(f"docker run -d --name {SERVER} --label io.corral.test=restore_s3 --network managed "
                       f"--ip {ADDRESS} -v {HOST_TLS}:/tls:ro {IMAGE} -c /tls/server.pem -k /tls/server.key")
    assert started.rc == 0, started.stderr
    try:
        made = host.run(f"docker exec {SERVER} /opt/moto/bin/python -c {shlex.quote(CLIENT)} create")
        assert made.rc == 0, made.stdout + made.stderr
        yield host
    finally:
        host.run(f"docker rm -f {SERVER}")


def test_an_untrusted_certificate_is_refused_in_seconds_naming_the_endpoint(
        server: Host, lab_host: Callable[[str], Host]) -> None:
    message, seconds = refused(lab_host, {"cassandra_backup_s3_ca_file": ""}, STORE_REFUSAL)
    assert message.startswith("the backup is refused before Medusa ran"), message
    for node in NODES:
        assert re.search(rf"^{node} cannot use the S3 store {re.escape(ENDPOINT)} \(bucket {BUCKET}\) after [\d.]+ s: "
                         r"TLS: .*CERTIFICATE_VERIFY_FAILED.*give that CA as cassandra_backup_s3_ca_file", message,
                         flags=re.M), message
    assert seconds < 120, seconds


def test_a_wrong_ca_is_refused_in_seconds(server: Host, lab_host: Callable[[str], Host]) -> None:
    message, seconds = refused(lab_host, {"cassandra_backup_s3_ca_file": str(TLS / "other-ca.pem")}, STORE_REFUSAL)
    assert message.count("CERTIFICATE_VERIFY_FAILED") == len(NODES), message
    assert message.count("its certificate is not signed by the CA of cassandra_backup_s3_ca_file") == len(NODES)
    assert seconds < 120, seconds


def test_a_ca_file_that_is_no_certificate_is_refused_by_the_preflight(
        server: Host, lab_host: Callable[[str], Host]) -> None:
    key = str(TLS / "server.key")
    message = refused(lab_host, {"cassandra_backup_s3_ca_file": key}, "Refuse what cannot be backed up")[0]
    assert f"cassandra_backup_s3_ca_file '{key}' is not a PEM certificate" in message, message


@pytest.fixture(scope="module")
def backed_up(server: Host, lab_host: Callable[[str], Host]) -> dict[str, Any]:
    written = server.run(f"docker exec -e CQLPW={shlex.quote(superuser_password())} cdb1 "
                         f"python3 -c {shlex.quote(BLOB_ROWS)} write {TABLE} {ROWS} {ROW_BYTES} {NODES['cdb1'][2]}")
    assert written.rc == 0, written.stdout + written.stderr
    # One data file of the table on each node, whatever the memtable flushed on the way: above the threshold.
    for node, (host, _label, _ip, _data) in NODES.items():
        for command in ("flush", "compact"):
            lab_host(host).check_output(f"docker exec {node} nodetool {command} {KEYSPACE} t")
    source = rows_at_all(server)
    start = time.monotonic()
    run = playbook("backup.yml", {"backup_name": BACKUP})
    seconds = time.monotonic() - start
    assert run.rc == 0, run.output
    return {"source": source, "run": run, "seconds": seconds, "bucket": bucket(server),
            "log": server.check_output(f"docker logs {SERVER} 2>&1")}


def test_every_node_part_is_in_the_bucket_and_none_in_the_hosts_directories(
        backed_up: dict[str, Any], lab_host: Callable[[str], Host]) -> None:
    for task in backed_up["run"].tasks:
        if task["name"].endswith("Show how each node reached the S3 store"):
            print("\n" + "\n".join(next(iter(task["hosts"].values()))["msg"]))
    print("\n".join(report(backed_up["run"])["lines"]))
    print(f"backup.yml took {backed_up['seconds']:.1f} s")
    keys = backed_up["bucket"]
    for node, (host, _label, ip, _data) in NODES.items():
        assert f"CassandraDB/{ip}/{BACKUP}/meta/manifest.json" in keys, (node, sorted(keys)[:20])
        assert f"CassandraDB/{ip}/{BACKUP}/meta/schema.cql" in keys, node
        assert any(key.startswith(f"CassandraDB/{ip}/data/{KEYSPACE}/t-") for key in keys), node
        assert not lab_host(host).file(f"/cassandra/backups/CassandraDB/{ip}/{BACKUP}").exists, node
        folder = f"/etc/corral-cassandra/medusa/CassandraDB/{node}"
        credentials = lab_host(host).file(f"{folder}/s3-credentials")
        assert credentials.mode == 0o600 and credentials.uid == 999, node
        assert lab_host(host).file(f"{folder}/s3-ca.pem").content_string == (TLS / "ca.pem").read_text(), node
    print(f"{len(keys)} objects, {sum(size for size, _etag in keys.values())} bytes in the bucket")


def test_files_above_the_threshold_went_up_in_parts(backed_up: dict[str, Any]) -> None:
    keys, log = backed_up["bucket"], backed_up["log"]
    threshold = 5 * 1024 * 1024
    for _node, (_host, _label, ip, _data) in NODES.items():
        large = {key: (size, etag) for key, (size, etag) in keys.items()
                 if key.startswith(f"CassandraDB/{ip}/data/{KEYSPACE}/t-") and size >= threshold}
        assert large, f"no file of {TABLE} above {THRESHOLD} on {ip}: {sorted(keys)[:20]}"
        for key, (size, etag) in large.items():
            # S3's ETag of an object uploaded in N parts is "<md5 of the parts' md5s>-N".
            assert etag.endswith(f"-{math.ceil(size / PART)}"), (key, size, etag)
            parts = re.findall(rf'"PUT /{BUCKET}/{re.escape(key)}\?[^"]*partNumber=(\d+)', log)
            assert sorted(map(int, parts)) == list(range(1, math.ceil(size / PART) + 1)), (key, parts)
            print(f"{key}: {size} bytes, ETag {etag}, parts {sorted(map(int, parts))} in the server's log")
        small = [key for key, (size, etag) in keys.items() if key.startswith(f"CassandraDB/{ip}/") and size < threshold]
        assert small and not any("-" in keys[key][1] for key in small), "a file below the threshold went up in parts"


def test_list_and_verify_through_s3(backed_up: dict[str, Any]) -> None:
    listed = playbook("backup.yml", {"backup_action": "list"})
    assert listed.rc == 0, listed.output
    lines = report(listed)["lines"]
    print("\n".join(lines))
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[BACKUP][2] == "3/3" and rows[BACKUP][-1] == "complete", lines
    verified = playbook("backup.yml", {"backup_action": "verify", "backup_name": BACKUP})
    assert verified.rc == 0, verified.output
    assert all(f"{BACKUP} verified" in line for line in report(verified)["lines"]), verified.output


def test_a_dropped_table_is_restored_from_s3_row_for_row(backed_up: dict[str, Any], server: Host) -> None:
    dropped = server.run(f"docker exec -e CQLPW={shlex.quote(superuser_password())} cdb1 sh -c "
                         + shlex.quote(f'cqlsh -u admin -p "$CQLPW" {NODES["cdb1"][2]} -e "DROP TABLE {TABLE};"'))
    assert dropped.rc == 0, dropped.stdout + dropped.stderr
    start = time.monotonic()
    run = playbook("restore.yml", {"backup_name": BACKUP, "restore_tables": TABLE})
    seconds = time.monotonic() - start
    assert run.rc == 0, run.output
    for task in run.tasks:
        if task["name"].endswith(("Show the restore's plan", "Show what each node loaded")):
            for result in task["hosts"].values():
                print("\n".join(result.get("msg") or []))
    print(f"restore.yml took {seconds:.1f} s")
    restored = rows_at_all(server)
    assert restored == backed_up["source"]
    assert restored["count"] == ROWS
    assert hashlib.sha256(b"").hexdigest() != restored["sha256"]
