"""After finish: every node on the new version, rollback copies gone, same addresses and data, nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testinfra.host import Host
from upgrade_lab import DATA, FROM, NODES, TO, image, overlay_ip, ring_states, upgrade_snapshots, verify_rows

testinfra_hosts = ["lab-manager"]


def test_rollback_copies_are_gone(stack: Callable[[], dict[str, dict[str, Any]]], before: dict[str, dict[str, Any]]) -> None:
    now = stack()
    for node, (_host, ip) in NODES.items():
        assert f"{node}-rollback" not in now
        assert now[node]["Config"]["Image"] == image(TO) and now[node]["State"]["Running"]
        assert overlay_ip(now[node]) == ip
        assert now[DATA[node]]["Id"] == before[DATA[node]]["Id"]


def test_the_snapshots_taken_before_the_upgrade_are_gone(lab_host: Callable[[str], Host]) -> None:
    for host_name, _ip in NODES.values():
        assert upgrade_snapshots(lab_host(host_name), TO) == {}, host_name


def test_three_nodes_up_normal(ring: Callable[[str], str]) -> None:
    for node in NODES:
        assert ring_states(ring(node)) == dict.fromkeys((ip for _host, ip in NODES.values()), "UN")


def test_every_row_reads_back_at_all() -> None:
    report = verify_rows()
    assert report["missing"] == 0, report


def test_every_data_file_is_in_the_format_the_node_writes_now(lab_host: Callable[[str], Host]) -> None:
    """finish runs nodetool upgradesstables after a major upgrade: no data file is left in an older format.

    The format is the first part of a data file's name (mc-1-big-Data.db: mc); the newest file was
    written by the version running now. Cassandra 5.0 in its default storage_compatibility_mode
    CASSANDRA_4 still writes 4.x's format, so after 4.1 -> 5.0 the format does not change.
    """
    for host_name, _ip in NODES.values():
        listing = lab_host(host_name).check_output(
            "find /cassandra/data/data/upgrade_test -name '*-Data.db' -printf '%T@ %f\\n'"
        )
        files = sorted((float(stamp), name) for stamp, name in (line.split() for line in listing.splitlines()))
        assert files, host_name
        newest = files[-1][1].split("-")[0]
        formats = {name.split("-")[0] for _stamp, name in files}
        assert formats == {newest}, (host_name, FROM, TO, files)
        print(f"{host_name}: {len(files)} data files, all in format {newest}")
