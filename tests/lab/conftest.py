"""Fixtures shared by the lab's testinfra suites: other lab hosts, reached like the one under test; and the machine's
pauses (clock.py) seen during the session, named in the report of each test that fails."""
from __future__ import annotations

from collections.abc import Callable, Generator

import pytest
import testinfra
from clock import watch_in_background
from testinfra.host import Host

PAUSES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="module")
def lab_host(request: pytest.FixtureRequest) -> Callable[[str], Host]:
    """Return a function giving any lab host by inventory name, through the scenario's inventory."""
    inventory = request.config.option.ansible_inventory
    connection = request.config.option.connection or "ansible"

    def get(name: str) -> Host:
        return testinfra.get_host(f"{connection}://{name}", ansible_inventory=inventory)

    return get


def pytest_configure(config: pytest.Config) -> None:
    config.stash[PAUSES] = watch_in_background()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    pauses = item.config.stash.get(PAUSES, [])
    if report.failed and pauses:
        report.sections.append(("pauses of the machine during this session (a pause is no judgement of the "
                                "collection: the cluster froze with it)", "\n".join(pauses)))
    return report
