"""Bad input is refused before any container changes (container ids compared before and after)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host
from upgrade_lab import FROM, TO, playbook

testinfra_hosts = ["lab-manager"]

MAJOR = {"3": "5.0.8", "4": "6.0.0", "5": "7.0.0"}
OLDER = {"3": "3.8", "4": "4.0.19", "5": "4.1.10"}


def containers(lab_host: Callable[[str], Host]) -> list[str]:
    """Every container on the three hosts: id, name and state."""
    found = []
    for name in ("lab-host1", "lab-host2", "lab-host3"):
        listing = lab_host(name).check_output("docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}}'")
        found += [f"{name} {line}" for line in sorted(listing.splitlines())]
    return found


CASES = [
    pytest.param(
        ["-e", f"version={FROM.split('.')[0]}.99.1"],
        "Not every host can pull the images; no container was touched",
        id="version-that-does-not-exist",
    ),
    pytest.param(["-e", f"version={OLDER[FROM[0]]}"], "cannot be downgraded", id="downgrade"),
    pytest.param(["-e", f"version={MAJOR[FROM[0]]}"], "skips a major version", id="jump-over-a-major"),
    pytest.param(["-e", "upgrade_action=upgrayedd"], "upgrade, finish, rollback", id="unknown-action"),
    pytest.param(["-e", '{"version": 3.10}'], "is a number", id="version-as-a-number"),
    pytest.param([], "needs the version to upgrade to", id="no-version"),
    pytest.param(["-e", f"version={TO}", "-e", "upgrade_action=finish"], "there is no upgrade to", id="finish-nothing"),
]


@pytest.mark.parametrize(("args", "message"), CASES)
def test_refused_with_nothing_changed(lab_host: Callable[[str], Host], args: list[str], message: str) -> None:
    before = containers(lab_host)
    result = playbook("upgrade.yml", *args, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert containers(lab_host) == before
