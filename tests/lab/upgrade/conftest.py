"""Fixtures of the upgrade suites (helpers in upgrade_lab.py, next to this file)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upgrade_lab import BEFORE, NODES, inspect_all


@pytest.fixture
def stack(lab_host: Callable[[str], Host]) -> Callable[[], dict[str, dict[str, Any]]]:
    """A function giving every stack container on the three hosts, by name."""

    def read() -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for host_name in ("lab-host1", "lab-host2", "lab-host3"):
            found.update(inspect_all(lab_host(host_name)))
        return found

    return read


@pytest.fixture
def before(lab_host: Callable[[str], Host]) -> dict[str, dict[str, Any]]:
    """The stack's containers as the converge recorded them, before the first upgrade."""
    found: dict[str, dict[str, Any]] = {}
    for host_name in ("lab-host1", "lab-host2", "lab-host3"):
        found.update(
            {item["Name"].lstrip("/"): item for item in json.loads(lab_host(host_name).file(BEFORE).content_string)}
        )
    return found


@pytest.fixture
def ring(lab_host: Callable[[str], Host]) -> Callable[[str], str]:
    """`nodetool status` as one node sees it."""

    def read(node: str) -> str:
        return lab_host(NODES[node][0]).check_output(f"docker exec {node} nodetool status")

    return read
