# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The canary of a rolling change: a small CQL client that shows what clients see while nodes change.

    python3 canary.py run  --hosts IP,IP --replication JSON --out FILE [--rate N] [--drop-at-exit]   until SIGTERM
    python3 canary.py drop --hosts IP,IP                                                             drop its keyspace

`run` creates its own keyspace (replicated as --replication says) and table, then writes a row and reads a
row back at QUORUM, --rate operations a second in all, and appends one JSON line per second to --out:
{"t": start, "s": seconds, "ops": n, "failed": n, "lat_ms": [every latency], "errors": [first few]}.
With --drop-at-exit it drops its keyspace once stopped, through the session it already holds, and ends the file
with {"dropped": keyspace} (exit 0), or {"drop_failed": why} (exit 3): then `drop` is still to run.
A failed operation is one that still failed after the driver's retries (each statement is idempotent and
retried on another node twice at most). The password is read from --password-file (never an argument).
It runs inside the stack's own Cassandra image: python3 with Debian's python3-cassandra, or the driver that
the image's cqlsh bundles under /opt/cassandra/lib. Python 3.6 or later, the standard library and the driver.
"""

import argparse
import glob
import json
import signal
import sys
import time

try:
    import cassandra  # noqa: F401  # pylint: disable=unused-import
except ImportError:  # the official image: the driver bundled with cqlsh
    sys.path[:0] = sorted(glob.glob("/opt/cassandra/lib/cassandra-driver-internal-only-*.zip"))[-1:]

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import (
    ConstantReconnectionPolicy,
    DCAwareRoundRobinPolicy,
    HostDistance,
    RetryPolicy,
    TokenAwarePolicy,
)

KEYSPACE = "corral_canary"
TABLE = "probe"
MAX_RETRIES = 2
# Rows written cycle over this many keys, so the table stays small however long the run.
KEYS = 10000
ERRORS_PER_LINE = 3


class IdempotentRetry(RetryPolicy):
    """Every statement is idempotent (fixed values, reads by key): another node, twice at most."""

    def _next(self, retry_num):
        return (self.RETRY_NEXT_HOST, None) if retry_num < MAX_RETRIES else (self.RETHROW, None)

    def on_read_timeout(self, query, consistency, required_responses, received_responses, data_retrieved, retry_num):
        return self._next(retry_num)

    def on_write_timeout(self, query, consistency, write_type, required_responses, received_responses, retry_num):
        return self._next(retry_num)

    def on_unavailable(self, query, consistency, required_replicas, alive_replicas, retry_num):
        return self._next(retry_num)

    def on_request_error(self, query, consistency, error, retry_num):
        return self._next(retry_num)


def connect(args):
    auth = None
    if args.user:
        with open(args.password_file, encoding="utf-8") as handle:
            auth = PlainTextAuthProvider(args.user, handle.read().strip())
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        retry_policy=IdempotentRetry(),
        consistency_level=ConsistencyLevel.QUORUM,
        request_timeout=args.timeout,
    )
    cluster = Cluster(
        args.hosts.split(","),
        port=args.port,
        auth_provider=auth,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        reconnection_policy=ConstantReconnectionPolicy(1.0),
        connect_timeout=10,
    )
    session = cluster.connect()
    settle(cluster, session, args.timeout)
    return cluster, session


def settle(cluster, session, seconds):
    """Wait, at most `seconds`, until each node the driver would use is either connected or marked down.

    After a schema change the driver waits for the nodes it does not hold down to agree (max_schema_agreement_wait,
    10 s). A contact point counts as up until its connection fails, and a peer as not down until it is tried: a dead
    node (one being replaced) would hold the canary's CREATE statements for those 10 s, with no agreement at the end.
    """
    deadline = time.time() + seconds
    while time.time() < deadline:
        pools = session.get_pool_state()
        unsettled = [
            host
            for host in cluster.metadata.all_hosts()
            if host.is_up is not False
            and not (pools.get(host) or {}).get("open_count")
            and cluster.profile_manager.distance(host) != HostDistance.IGNORED
        ]
        if not unsettled:
            return
        time.sleep(0.2)


def cmd_drop(args):
    cluster, session = connect(args)
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}", timeout=60)
    finally:
        cluster.shutdown()
    print(json.dumps({"dropped": KEYSPACE}))
    return 0


def cmd_run(args):
    stop = []
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.append(True))
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.append(True))
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115 (open for the whole run)
    cluster, session = connect(args)
    replication = json.loads(args.replication)
    # Schema changes wait for the live nodes to agree: slower than a request.
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {json.dumps(replication)}".replace('"', "'"), timeout=60
    )
    session.execute(f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.{TABLE} (k int PRIMARY KEY, v bigint)", timeout=60)
    insert = session.prepare(f"INSERT INTO {KEYSPACE}.{TABLE} (k, v) VALUES (?, ?)")
    select = session.prepare(f"SELECT v FROM {KEYSPACE}.{TABLE} WHERE k = ?")
    insert.is_idempotent = True
    select.is_idempotent = True
    window = {"t": time.time(), "ops": 0, "failed": 0, "lat_ms": [], "errors": []}

    def flush(now):
        line = dict(window, t=round(window["t"], 3), s=round(now - window["t"], 3))
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
        out.flush()
        window.update(t=now, ops=0, failed=0, lat_ms=[], errors=[])

    def probe(statement, values):
        began = time.time()
        error = None
        try:
            session.execute(statement, values)
        except Exception as exc:  # every failure the driver gives up on is what a client sees
            error = f"{type(exc).__name__}: {exc}"[:240]
        window["ops"] += 1
        window["lat_ms"].append(round((time.time() - began) * 1000, 1))
        if error is not None:
            window["failed"] += 1
            if len(window["errors"]) < ERRORS_PER_LINE:
                window["errors"].append(error)

    interval = 2.0 / max(args.rate, 1)
    written = 0
    next_at = time.time()
    while not stop:
        key = written % KEYS
        probe(insert, (key, written))
        written += 1
        probe(select, (key,))
        next_at += interval
        now = time.time()
        if now - window["t"] >= 1.0:
            flush(now)
        if next_at > now:
            time.sleep(next_at - now)
        else:
            next_at = now
    flush(time.time())
    code = 0
    if args.drop_at_exit:
        try:
            session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}", timeout=args.timeout)
            out.write(json.dumps({"dropped": KEYSPACE}) + "\n")
        except Exception as exc:  # the caller drops it with `drop` instead
            out.write(json.dumps({"drop_failed": f"{type(exc).__name__}: {exc}"[:240]}) + "\n")
            code = 3
    out.close()
    cluster.shutdown()
    return code


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "drop"])
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--user", default="")
    parser.add_argument("--password-file", default="/canary/password")
    parser.add_argument("--replication", default='{"class": "SimpleStrategy", "replication_factor": 1}')
    parser.add_argument("--out", default="/canary/figures.jsonl")
    parser.add_argument("--rate", type=int, default=50, help="operations a second (half writes, half reads)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one request may take")
    parser.add_argument("--drop-at-exit", action="store_true", help="run: drop its keyspace once stopped")
    args = parser.parse_args()
    return {"run": cmd_run, "drop": cmd_drop}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
