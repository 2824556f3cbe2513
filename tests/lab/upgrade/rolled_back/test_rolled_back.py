"""After the rollback: every node back on its original container, version and settings; nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upgrade_lab import DATA, FROM, NODES, image, overlay_ip, ring_states, verify_rows

testinfra_hosts = ["lab-manager"]


def test_every_node_is_its_original_container_again(
    stack: Callable[[], dict[str, dict[str, Any]]], before: dict[str, dict[str, Any]]
) -> None:
    now = stack()
    for node, (_host, ip) in NODES.items():
        assert now[node]["Id"] == before[node]["Id"]
        assert now[node]["Config"]["Image"] == image(FROM)
        assert now[node]["State"]["Running"]
        assert overlay_ip(now[node]) == ip
        assert now[DATA[node]]["Id"] == before[DATA[node]]["Id"]
        assert not now[node]["HostConfig"].get("PortBindings")
        assert f"{node}-rollback" not in now


def test_three_nodes_up_normal(ring: Callable[[str], str]) -> None:
    for node in NODES:
        assert ring_states(ring(node)) == dict.fromkeys((ip for _host, ip in NODES.values()), "UN")


def test_every_row_also_those_written_during_the_upgrade_reads_back_at_all() -> None:
    report = verify_rows()
    assert report["missing"] == 0, report
    assert report["expected"] > 10000
