"""Each Cassandra image of the lab starts a single node on a lab host that answers CQL and nodetool.

LAB_SMOKE_SKIP names versions to leave out, separated by spaces: ./dev test leaves out those that a later scenario of
the same run deploys as a three-node cluster anyway (3.9: default; 3.10: upgrade; 5.0.8: stack-current).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = "172.30.42.1:5000"


def versions() -> list[str]:
    lines = (ROOT / "lab/images/cassandra/versions.tsv").read_text().splitlines()
    listed = [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]
    skipped = os.environ.get("LAB_SMOKE_SKIP", "").split()
    return [version for version in listed if version not in skipped]


@pytest.mark.parametrize("version", versions())
def test_image_starts_a_node_in_the_lab(version: str) -> None:
    smoke = subprocess.run(
        ["bash", str(ROOT / "lab/images/cassandra/smoke.sh"), version, "docker", "exec", "corral-lab-host2", "docker"],
        env={"IMAGE": f"{REGISTRY}/corral/cassandra:{version}", "SMOKE_TIMEOUT": "300", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True, text=True, timeout=420, check=False,
    )
    assert smoke.returncode == 0, smoke.stderr[-3000:]
