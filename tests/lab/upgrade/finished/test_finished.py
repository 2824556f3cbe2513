"""After finish: every node on the new version, rollback copies gone, same addresses and data, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from testinfra.host import Host
from upgrade_lab import DATA, FROM, NODES, TO, image, overlay_ip, ring_states, verify_rows

testinfra_hosts = ["lab-manager"]


def test_rollback_copies_are_gone(stack: Callable[[], dict[str, dict[str, Any]]], before: dict[str, dict[str, Any]]) -> None:
    now = stack()
    for node, (_host, ip) in NODES.items():
        assert f"{node}-rollback" not in now
        assert now[node]["Config"]["Image"] == image(TO) and now[node]["State"]["Running"]
        assert overlay_ip(now[node]) == ip
        assert now[DATA[node]]["Id"] == before[DATA[node]]["Id"]


def test_three_nodes_up_normal(ring: Callable[[str], str]) -> None:
    for node in NODES:
        assert ring_states(ring(node)) == dict.fromkeys((ip for _host, ip in NODES.values()), "UN")


def test_every_row_reads_back_at_all() -> None:
    report = verify_rows()
    assert report["missing"] == 0, report


def test_a_major_upgrade_rewrote_the_data_files(lab_host: Callable[[str], Host]) -> None:
    """finish ran nodetool upgradesstables on each node: no data file from before it is left."""
    if FROM.split(".")[0] == TO.split(".")[0]:
        pytest.skip(f"{FROM} -> {TO} is no major upgrade: finish does not rewrite data files")
    for host_name, _ip in NODES.values():
        member = lab_host(host_name)
        before = set(json.loads(member.file("/var/tmp/corral-upgrade/sstables-before-finish.json").content_string))
        now = set(member.check_output("find /cassandra/data/data/upgrade_test -name '*-Data.db'").split())
        assert before and now and not before & now, (host_name, sorted(before), sorted(now))
