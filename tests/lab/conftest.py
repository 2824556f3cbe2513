"""Fixtures shared by the lab's testinfra suites: other lab hosts, reached like the one under test."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import testinfra
from testinfra.host import Host


@pytest.fixture(scope="module")
def lab_host(request: pytest.FixtureRequest) -> Callable[[str], Host]:
    """Return a function giving any lab host by inventory name, through the scenario's inventory."""
    inventory = request.config.option.ansible_inventory
    connection = request.config.option.connection or "ansible"

    def get(name: str) -> Host:
        return testinfra.get_host(f"{connection}://{name}", ansible_inventory=inventory)

    return get
