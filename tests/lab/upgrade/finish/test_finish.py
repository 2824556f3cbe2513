"""While the upgrade is under way site.yml is refused, naming finish and rollback; then finish, typed as README.md
prints it (no -e but upgrade_action, although the upgrade published 9042), removes the rollback copies and changes
no node: it takes the settings the upgrade ran with from the containers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from refusal import refused
from testinfra.host import Host
from upgrade_lab import FINISH, FROM, NODES, ROLLBACK, TO, image, playbook, readme_command

testinfra_hosts = ["lab-manager"]
REFUSE_TASK = "Refuse another version, or a change while an upgrade is under way"


def test_site_is_refused_while_the_upgrade_is_under_way(lab_host: Callable[[str], Host]) -> None:
    message = refused(lab_host, "site.yml", {}, REFUSE_TASK)
    assert "an upgrade is under way: cdb1, cdb2, cdb3 keep rollback copies" in message, message
    assert f"`{FINISH}`" in message and f"`{ROLLBACK}`" in message, message


def test_finish_as_the_readme_prints_it(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    before = stack()
    for node in NODES:
        assert before[node]["Config"]["Image"] == image(TO) and f"{node}-rollback" in before, before.keys()
        assert before[node]["Config"]["Labels"]["io.corral.upgraded-from"] == image(FROM)
    result = playbook(*readme_command(FINISH))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    now = stack()
    for node in NODES:
        assert f"{node}-rollback" not in now
        # The node itself is untouched: same container, its published port kept.
        assert now[node]["Id"] == before[node]["Id"] and now[node]["State"]["Running"]
        bindings = now[node]["HostConfig"]["PortBindings"] or {}
        assert [binding["HostPort"] for binding in bindings.get("9042/tcp", [])] == ["9042"], bindings
