"""bench/upgrade.py's reading of a node's start from its container's log (`docker logs -t`)."""

from __future__ import annotations

from bench_loader import load_bench

bench = load_bench("upgrade")

# Two starts of one container: the marks are read from the last one only.
LOG = """2026-12-07T00:40:01.000000000Z INFO  [main] 00:40:01.000 Configuration location: file:/etc/cassandra/cassandra.yaml
2026-12-07T00:40:09.000000000Z INFO  [main] 00:40:09.000 Starting Messaging Service on /10.42.0.50:7000 (eth0)
2026-12-07T00:40:20.000000000Z INFO  [main] 00:40:20.000 Starting listening for CQL clients on /10.42.0.50:9042
2026-12-07T00:58:06.500000000Z INFO  [main] 00:58:06.500 Configuration location: file:/etc/cassandra/cassandra.yaml
2026-12-07T00:58:30.250000000Z INFO  [main] 00:58:30.250 Starting Messaging Service on /10.42.0.50:7000 (eth0)
2026-12-07T00:58:47.000000000Z INFO  [main] 00:58:47.000 Starting listening for CQL clients on /10.42.0.50:9042
"""


def test_the_marks_of_the_last_start_count_from_the_container_start() -> None:
    marks = bench.start_marks("2026-12-07T00:58:01.123456789Z\n", LOG)
    assert marks == {"first_log": 5.4, "messaging": 29.1, "cql": 45.9}


def test_absent_marks_and_unreadable_starts_are_left_out() -> None:
    assert bench.start_marks("2026-12-07T00:58:01Z", LOG.splitlines()[3] + "\n") == {"first_log": 5.5}
    assert bench.start_marks("", LOG) == {}
