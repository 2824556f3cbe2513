"""Backup, list, verify and restore of one table through an S3-compatible store (cassandra_backup_storage=s3_compatible).

The server is moto's S3 server (moto_server, Apache-2.0, from PyPI: lab/images/moto, built and pushed by the restore
scenario's prepare) in a container on the stack's overlay network, on lab-host1, at a fixed address; the sidekicks
reach it from their node's network namespace. Run after tests/lab/restore_new_stack on stack-current's 5.0.8 stack.
What it shows on the real lab: Medusa's `s3_compatible` provider writes every node's part under the prefix
CassandraDB/ of the bucket (and nothing into the hosts' backup directories), `list` sees the backup complete on 3/3
nodes, `verify` passes, a dropped table comes back from it with every row, and the S3 keys are never printed.
What it does not show: TLS (moto serves plain http here), a real provider's consistency, multipart uploads (the
table's files are far below Medusa's 20 MB threshold; Medusa's storage layer did a 30 MB multipart upload against
the same moto outside the lab).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shlex
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import NODES, cql
from medusa_report import report
from refusal import Run, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
SERVER, ADDRESS, PORT, BUCKET = "corral-lab-s3", "10.42.1.10", 9000, "corral-backups"
IMAGE = "172.30.42.1:5000/corral/moto-s3:5.2.5"
TABLE, ROWS, BACKUP = "s3test.t", 300, "s1"
# The server keeps every object in memory and checks no signature: the keys only have to reach Medusa unprinted.
ACCESS_KEY = "corral-lab-" + secrets.token_hex(4)
SECRET_KEY = secrets.token_hex(20)
S3 = {
    "cassandra_backup_storage": "s3_compatible", "cassandra_backup_s3_host": ADDRESS, "cassandra_backup_s3_port": PORT,
    "cassandra_backup_s3_secure": False, "cassandra_backup_s3_ssl_verify": False, "cassandra_backup_s3_bucket": BUCKET,
    "cassandra_backup_s3_access_key_id": ACCESS_KEY, "cassandra_backup_s3_secret_access_key": SECRET_KEY,
}
# Lists the bucket from inside the server's container (the machine has no route to the overlay).
LIST_BUCKET = (
    "import boto3; c = boto3.client('s3', endpoint_url='http://127.0.0.1:9000', aws_access_key_id='x', "
    "aws_secret_access_key='x', region_name='us-east-1'); "
    f"[print(o['Key'], o['Size']) for p in c.get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}') "
    "for o in p.get('Contents', [])]"
)


def playbook(name: str, extra: dict[str, Any]) -> Run:
    run = run_playbook(name, {**S3, **extra})
    printed = run.output + json.dumps(run.tasks)
    assert SECRET_KEY not in printed and ACCESS_KEY not in printed, "an S3 key was printed"
    return run


def rows_at_all(host: Host) -> dict[str, Any]:
    rc, out = cql(host, "cdb1", f"SELECT id, v FROM {TABLE};", consistency="ALL")
    assert rc == 0, out
    rows = sorted((int(match[1]), match[2]) for match in re.finditer(r"^\s*(\d+) \| (.*?)\s*$", out, flags=re.M))
    return {"count": len(rows), "sha256": hashlib.sha256(repr(rows).encode()).hexdigest()}


def bucket(host: Host) -> dict[str, int]:
    listing = host.check_output(f"docker exec {SERVER} /opt/moto/bin/python -c {shlex.quote(LIST_BUCKET)}")
    return {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in listing.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def server(lab_host: Callable[[str], Host]) -> Iterator[Host]:
    host = lab_host("lab-host1")
    host.run(f"docker rm -f {SERVER}")
    started = host.run(f"docker run -d --name {SERVER} --label io.corral.test=restore_s3 --network managed "
                       f"--ip {ADDRESS} {IMAGE}")
    assert started.rc == 0, started.stderr
    try:
        create = ("import time, urllib.request as u\nfor _ in range(60):\n    try:\n"
                  f"        u.urlopen(u.Request('http://127.0.0.1:{PORT}/{BUCKET}', method='PUT')); break\n"
                  "    except OSError:\n        time.sleep(0.5)\nelse:\n    raise SystemExit('no S3 server')")
        made = host.run(f"docker exec {SERVER} /opt/moto/bin/python -c {shlex.quote(create)}")
        assert made.rc == 0, made.stdout + made.stderr
        yield host
    finally:
        host.run(f"docker rm -f {SERVER}")


@pytest.fixture(scope="module")
def backed_up(server: Host) -> dict[str, Any]:
    inserts = "".join(f"INSERT INTO {TABLE} (id, v) VALUES ({i}, 's3 row {i}');" for i in range(ROWS))
    rc, out = cql(server, "cdb1", "CREATE KEYSPACE IF NOT EXISTS s3test WITH replication = "
                  "{'class': 'NetworkTopologyStrategy', 'dc1': 3};"
                  f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, v text);" + inserts, consistency="QUORUM")
    assert rc == 0, out
    source = rows_at_all(server)
    run = playbook("backup.yml", {"backup_name": BACKUP})
    assert run.rc == 0, run.output
    return {"source": source, "run": run, "bucket": bucket(server)}


def test_every_node_part_is_in_the_bucket_and_none_in_the_hosts_directories(
        backed_up: dict[str, Any], lab_host: Callable[[str], Host]) -> None:
    print("\n".join(report(backed_up["run"])["lines"]))
    keys = backed_up["bucket"]
    for node, (host, _label, ip, _data) in NODES.items():
        assert f"CassandraDB/{ip}/{BACKUP}/meta/manifest.json" in keys, (node, sorted(keys)[:20])
        assert f"CassandraDB/{ip}/{BACKUP}/meta/schema.cql" in keys, node
        assert any(key.startswith(f"CassandraDB/{ip}/data/s3test/t-") for key in keys), node
        assert not lab_host(host).file(f"/cassandra/backups/CassandraDB/{ip}/{BACKUP}").exists, node
        credentials = lab_host(host).file(f"/etc/corral-cassandra/medusa/CassandraDB/{node}/s3-credentials")
        assert credentials.mode == 0o600 and credentials.uid == 999, node
    print(f"{len(keys)} objects, {sum(keys.values())} bytes in the bucket")


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


def test_a_dropped_table_is_restored_from_s3(backed_up: dict[str, Any], server: Host) -> None:
    rc, out = cql(server, "cdb1", f"DROP TABLE {TABLE};")
    assert rc == 0, out
    run = playbook("restore.yml", {"backup_name": BACKUP, "restore_tables": TABLE})
    assert run.rc == 0, run.output
    for task in run.tasks:
        if task["name"].endswith(("Show the restore's plan", "Show what each node loaded")):
            for result in task["hosts"].values():
                print("\n".join(result.get("msg") or []))
    assert rows_at_all(server) == backed_up["source"]
    assert backed_up["source"]["count"] == ROWS
