#!/usr/bin/env python3
"""A CQL client for the upgrade tests, run in a container on the overlay with the lab image's driver.

    cqlclient.py load   --rows 10000           write rows 0..9999 at QUORUM
    cqlclient.py run    --start-id 1000000     write new rows and read known ones at QUORUM until SIGTERM
    cqlclient.py verify                        read every row at ALL and compare with what was acknowledged
    cqlclient.py count  --ranges 0:10000,...   read every row at ALL; how many ids of each [low, high) range exist

Common options: --hosts 10.42.0.48,10.42.0.49,10.42.0.50 --user admin --password-file DIR/password --dir DIR.
`run` writes one JSON line per second to DIR/stats-<start id>.jsonl (operations, failures, latencies)
and, when stopped, DIR/run-<start id>.json: the ids it wrote, the writes that failed, the errors.
A failed operation is one that still failed after the driver's retries (this client's retry policy
retries each statement, all idempotent, up to twice on another node).
Only the Python standard library and the DataStax driver (Debian python3-cassandra) are needed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import (
    ConstantReconnectionPolicy,
    DCAwareRoundRobinPolicy,
    RetryPolicy,
    TokenAwarePolicy,
)
from cassandra.query import SimpleStatement

KEYSPACE = "upgrade_test"
TABLE = "rows"
MAX_RETRIES = 2


class IdempotentRetry(RetryPolicy):
    """Every statement here is idempotent (fixed values, reads by key): try another node, twice at most.

    The driver passes the error's details as keyword arguments: the names must be RetryPolicy's own.
    """

    def _next(self, retry_num: int) -> tuple[int, Any]:
        return (self.RETRY_NEXT_HOST, None) if retry_num < MAX_RETRIES else (self.RETHROW, None)

    def on_read_timeout(
        self,
        query: Any,
        consistency: Any,
        required_responses: int,
        received_responses: int,
        data_retrieved: bool,
        retry_num: int,
    ) -> tuple[int, Any]:
        return self._next(retry_num)

    def on_write_timeout(
        self,
        query: Any,
        consistency: Any,
        write_type: Any,
        required_responses: int,
        received_responses: int,
        retry_num: int,
    ) -> tuple[int, Any]:
        return self._next(retry_num)

    def on_unavailable(
        self, query: Any, consistency: Any, required_replicas: int, alive_replicas: int, retry_num: int
    ) -> tuple[int, Any]:
        return self._next(retry_num)

    def on_request_error(self, query: Any, consistency: Any, error: Any, retry_num: int) -> tuple[int, Any]:
        return self._next(retry_num)


def connect(args: argparse.Namespace, consistency: int) -> tuple[Cluster, Any]:
    password = Path(args.password_file).read_text(encoding="utf-8").strip()
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        retry_policy=IdempotentRetry(),
        consistency_level=consistency,
        request_timeout=args.timeout,
    )
    for attempt in range(30):
        cluster = Cluster(
            args.hosts.split(","),
            port=args.port,
            auth_provider=PlainTextAuthProvider(args.user, password),
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            reconnection_policy=ConstantReconnectionPolicy(1.0),
            connect_timeout=10,
        )
        try:
            return cluster, cluster.connect()
        except Exception as exc:  # the cluster may still be settling right after a deploy
            cluster.shutdown()
            if attempt == 29:
                raise
            print(f"connect failed ({exc}), retrying", file=sys.stderr)
            time.sleep(2)
    raise RuntimeError("unreachable")


def prepare(session: Any, rf: int) -> tuple[Any, Any]:
    replication = f"{{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {replication}")
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.{TABLE} (id bigint PRIMARY KEY, payload text, written double)"
    )
    insert = session.prepare(f"INSERT INTO {KEYSPACE}.{TABLE} (id, payload, written) VALUES (?, ?, ?)")
    select = session.prepare(f"SELECT id, payload FROM {KEYSPACE}.{TABLE} WHERE id = ?")
    insert.is_idempotent = True
    select.is_idempotent = True
    return insert, select


def payload(row_id: int) -> str:
    return f"row {row_id} " + "x" * 64


def cmd_load(args: argparse.Namespace) -> int:
    cluster, session = connect(args, ConsistencyLevel.QUORUM)
    insert, _select = prepare(session, args.rf)
    started = time.time()
    rows = [(row_id, payload(row_id), started) for row_id in range(args.first_id, args.first_id + args.rows)]
    results = execute_concurrent_with_args(session, insert, rows, concurrency=32, raise_on_first_error=False)
    failed = [rows[index][0] for index, (ok, _result) in enumerate(results) if not ok]
    cluster.shutdown()
    report = {"rows": args.rows, "first_id": args.first_id, "failed": len(failed), "failed_ids": failed[:20],
              "seconds": round(time.time() - started, 1)}
    Path(args.dir, "load.json" if not args.first_id else f"load-{args.first_id}.json").write_text(
        json.dumps(report), encoding="utf-8")
    print(json.dumps(report))
    return 0 if not failed else 1


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cmd_run(args: argparse.Namespace) -> int:
    stop = {"now": False}

    def on_signal(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cluster, session = connect(args, ConsistencyLevel.QUORUM)
    insert, select = prepare(session, args.rf)
    out = Path(args.dir)
    stats = (out / f"stats-{args.start_id}.jsonl").open("a", encoding="utf-8")
    next_id = args.start_id
    failed_writes: list[int] = []
    errors: list[dict[str, Any]] = []
    totals = {"ops": 0, "failed": 0, "writes": 0, "reads": 0, "read_missing": 0}
    window: dict[str, Any] = {"start": time.time(), "ops": 0, "failed": 0, "latencies": []}
    all_latencies: list[float] = []
    rng = random.Random(args.start_id)

    def flush_window(now: float) -> None:
        latencies = window["latencies"]
        line = {
            "t": round(window["start"], 3),
            "seconds": round(now - window["start"], 3),
            "ops": window["ops"],
            "failed": window["failed"],
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies, default=0.0) * 1000, 2),
            # Every latency, so that percentiles over any span can be computed afterwards (bench/upgrade.py).
            "lat_ms": [round(latency * 1000, 1) for latency in latencies],
        }
        stats.write(json.dumps(line) + "\n")
        stats.flush()
        window.update(start=now, ops=0, failed=0, latencies=[])

    def record(kind: str, began: float, error: str | None, row_id: int) -> None:
        elapsed = time.time() - began
        totals["ops"] += 1
        window["ops"] += 1
        window["latencies"].append(elapsed)
        all_latencies.append(elapsed)
        if error is not None:
            totals["failed"] += 1
            window["failed"] += 1
            if len(errors) < 100:
                # The hosts the driver held up when the operation failed: a retry goes to these only.
                up = sorted(host.address for host in cluster.metadata.all_hosts() if host.is_up)
                errors.append({"t": round(began, 3), "end": round(time.time(), 3), "op": kind, "id": row_id,
                               "error": error, "driver_up": up})

    run_started = time.time()
    while not stop["now"]:
        row_id = next_id
        next_id += 1
        began = time.time()
        try:
            session.execute(insert, (row_id, payload(row_id), began))
            totals["writes"] += 1
            record("write", began, None, row_id)
        except Exception as exc:
            failed_writes.append(row_id)
            record("write", began, f"{type(exc).__name__}: {exc}"[:600], row_id)
        # Read back a row known to be written: one of the loaded rows or one of ours.
        known = rng.randrange(args.initial_rows + (next_id - args.start_id))
        read_id = known if known < args.initial_rows else args.start_id + known - args.initial_rows
        if read_id in failed_writes[-50:]:
            read_id = rng.randrange(args.initial_rows) if args.initial_rows else row_id
        began = time.time()
        try:
            found = session.execute(select, (read_id,)).one()
            totals["reads"] += 1
            if found is None and read_id not in failed_writes:
                totals["read_missing"] += 1
                record("read", began, "row missing", read_id)
            else:
                record("read", began, None, read_id)
        except Exception as exc:
            record("read", began, f"{type(exc).__name__}: {exc}"[:600], read_id)
        now = time.time()
        if now - window["start"] >= 1.0:
            flush_window(now)
        if args.seconds > 0 and now - run_started >= args.seconds:
            break
    flush_window(time.time())
    stats.close()
    cluster.shutdown()
    summary = {
        "start_id": args.start_id,
        "next_id": next_id,
        "failed_writes": failed_writes,
        "totals": totals,
        "p99_ms": round(percentile(all_latencies, 0.99) * 1000, 2),
        "errors": errors,
    }
    (out / f"run-{args.start_id}.json").write_text(json.dumps(summary), encoding="utf-8")
    print(json.dumps({key: value for key, value in summary.items() if key != "errors"}))
    return 0


def expected_ids(directory: Path, initial_rows: int) -> set[int]:
    ids = set(range(initial_rows))
    for run_file in sorted(directory.glob("run-*.json")):
        run = json.loads(run_file.read_text(encoding="utf-8"))
        ids.update(range(run["start_id"], run["next_id"]))
        ids.difference_update(run["failed_writes"])
    return ids


def ids_at_all(args: argparse.Namespace) -> set[int]:
    """Every id of the table, read at ALL."""
    cluster, session = connect(args, ConsistencyLevel.ALL)
    statement = SimpleStatement(
        f"SELECT id FROM {KEYSPACE}.{TABLE}", fetch_size=5000, consistency_level=ConsistencyLevel.ALL
    )
    statement.is_idempotent = True
    found = {row.id for row in session.execute(statement, timeout=120)}
    cluster.shutdown()
    return found


def cmd_verify(args: argparse.Namespace) -> int:
    found = ids_at_all(args)
    expected = expected_ids(Path(args.dir), args.initial_rows)
    missing = sorted(expected - found)
    report = {"expected": len(expected), "found": len(found), "missing": len(missing), "missing_ids": missing[:20]}
    Path(args.dir, "verify.json").write_text(json.dumps(report), encoding="utf-8")
    print(json.dumps(report))
    return 0 if not missing else 1


def cmd_count(args: argparse.Namespace) -> int:
    found = ids_at_all(args)
    counts = {}
    for span in args.ranges.split(","):
        low, high = (int(part) for part in span.split(":"))
        counts[span] = sum(1 for row_id in found if low <= row_id < high)
    print(json.dumps({"found": len(found), "counts": counts}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["load", "run", "verify", "count"])
    parser.add_argument("--hosts", default="10.42.0.48,10.42.0.49,10.42.0.50")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", default=os.path.join("/work", "password"))
    parser.add_argument("--dir", default="/work")
    parser.add_argument("--rf", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--first-id", type=int, default=0, help="load: the first id (rows first..first+rows-1)")
    parser.add_argument("--ranges", default="0:10000", help="count: low:high,... id ranges")
    parser.add_argument("--initial-rows", type=int, default=10000)
    parser.add_argument("--start-id", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=0, help="run: stop after this long (0: until SIGTERM)")
    parser.add_argument("--timeout", type=float, default=12.0)
    args = parser.parse_args()
    return {"load": cmd_load, "run": cmd_run, "verify": cmd_verify, "count": cmd_count}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
