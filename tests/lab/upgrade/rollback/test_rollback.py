"""The rollback, typed as README.md prints it: no -e but upgrade_action, although the upgrade published 9042."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from upgrade_lab import FROM, NODES, ROLLBACK, TO, image, playbook, readme_command

testinfra_hosts = ["lab-manager"]


def test_rollback_as_the_readme_prints_it(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    now = stack()
    for node in NODES:
        assert now[node]["Config"]["Image"] == image(TO) and f"{node}-rollback" in now, now.keys()
    result = playbook(*readme_command(ROLLBACK))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    now = stack()
    for node in NODES:
        assert now[node]["Config"]["Image"] == image(FROM) and now[node]["State"]["Running"]
