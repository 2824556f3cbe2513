"""After the upgrade is finished, the inventory still says the old version: site.yml is refused, naming both
versions, before any container changes (ids, states, start times compared); in check mode too, with no
downgrade plan."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from refusal import refused
from testinfra.host import Host
from upgrade_lab import TO, inventory_version

testinfra_hosts = ["lab-manager"]
REFUSE_TASK = "Refuse another version, or a change while an upgrade is under way"


@pytest.mark.parametrize("args", [(), ("--check", "--diff")], ids=["real", "check-mode"])
def test_site_with_the_stale_inventory_is_refused(lab_host: Callable[[str], Host], args: tuple[str, ...]) -> None:
    stale = inventory_version()
    assert stale != TO
    message = refused(lab_host, "site.yml", {}, REFUSE_TASK, *args)
    assert f"asks for Cassandra {stale} (cassandra_stack_version), but cdb1, cdb2, cdb3 run {TO}" in message, message
    assert "cannot be downgraded" in message and f'cassandra_stack_version: "{TO}"' in message, message
