"""Rows of random bytes for the backup drills and the backup bench, run inside a container with the image's driver.

    python3 blob_rows.py write  KEYSPACE.TABLE ROWS BYTES HOSTS   rows 0..ROWS-1 of BYTES random bytes, at QUORUM
                                                                 (a write that timed out is written again: an
                                                                 insert is idempotent; the count of rewrites on stderr)
    python3 blob_rows.py digest KEYSPACE.TABLE HOSTS              "COUNT SHA256" of every row, read at ALL

The table (id int PRIMARY KEY, payload blob) has compression off, so that its files are as large as its rows, in a
keyspace replicated to 3 in dc1. HOSTS: addresses separated by commas. The superuser admin's password comes from
the environment (CQLPW), else from the file /work/password; it is never an argument.
"""

import hashlib
import os
import sys
import time

from cassandra import ConsistencyLevel, OperationTimedOut, WriteTimeout
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

CHUNK = 5000
# Rounds of rewrites of the rows whose write timed out (a loaded lab drops mutations under a bulk load, as
# cassandra-stress and dsbulk meet it too): another error, or a row still failing after them, fails the load.
REWRITES = 5


def connect(hosts):
    password = os.environ.get("CQLPW")
    if password is None:
        with open("/work/password", encoding="utf-8") as secret:
            password = secret.read().strip()
    cluster = Cluster(hosts.split(","), auth_provider=PlainTextAuthProvider("admin", password))
    return cluster, cluster.connect()


def write(session, table, rows, size):
    keyspace = table.split(".")[0]
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
                    "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
    session.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, payload blob) "
                    "WITH compression = {'enabled': 'false'}")
    insert = session.prepare(f"INSERT INTO {table} (id, payload) VALUES (?, ?)")
    insert.consistency_level = ConsistencyLevel.QUORUM
    rewritten = 0
    for start in range(0, rows, CHUNK):
        pending = [(i, os.urandom(size)) for i in range(start, min(rows, start + CHUNK))]
        for rewrite in range(REWRITES + 1):
            results = execute_concurrent_with_args(session, insert, pending, concurrency=64, raise_on_first_error=False)
            failed = [(row, result) for row, (ok, result) in zip(pending, results) if not ok]
            for _row, error in failed:
                if not isinstance(error, (WriteTimeout, OperationTimedOut)) or rewrite == REWRITES:
                    raise error
            if not failed:
                break
            pending = [row for row, _error in failed]
            rewritten += len(pending)
            time.sleep(2 ** rewrite)
    if rewritten:
        print(f"{rewritten} writes timed out and were written again", file=sys.stderr)


def digest(session, table):
    statement = SimpleStatement(f"SELECT id, payload FROM {table}", fetch_size=CHUNK,
                                consistency_level=ConsistencyLevel.ALL)
    rows = sorted((row.id, bytes(row.payload)) for row in session.execute(statement, timeout=120))
    hashed = hashlib.sha256()
    for key, payload in rows:
        hashed.update(key.to_bytes(4, "big") + payload)
    return f"{len(rows)} {hashed.hexdigest()}"


def main(argv):
    action, table = argv[1], argv[2]
    cluster, session = connect(argv[-1])
    try:
        if action == "write":
            write(session, table, int(argv[3]), int(argv[4]))
        else:
            print(digest(session, table))
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
