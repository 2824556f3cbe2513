"""Bad compose files are refused on the lab with their exact error, before any container changes.

Each case runs import.yml against the real swarm (its host labels, the overlay's subnet, the containers
of the stacks already there) and compares every container on every lab host before and after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compose_lab import LAB_REGISTRY, PlaybookRun, container_ids, run_playbook

testinfra_hosts = ["lab-manager"]

W = "docker-compose.yml: service 'web'"
IMAGE = f"{LAB_REGISTRY}/corral/busybox:stable"
GOOD = f"version: '2'\nservices:\n  web:\n    image: {IMAGE}\n"
HOSTS = "lab-host1 (hostname=cassandra1), lab-host2 (hostname=cassandra2), lab-host3 (hostname=cassandra3)"


def labelled(*labels: str, image: str = IMAGE, name: str = "web") -> str:
    return f"  {name}:\n    image: {image}\n    labels:\n" + "".join(f"      {label}\n" for label in labels)


CASES: list[tuple[str, str, dict[str, str], list[str]]] = [
    (
        "not-yaml",
        f"web:\n  image: {IMAGE}\n   command: httpd\n",
        {},
        ["docker-compose.yml: not valid YAML at line 3, column 11: mapping values are not allowed here"],
    ),
    (
        "unknown-version",
        f"version: '3'\nservices:\n  web:\n    image: {IMAGE}\n",
        {},
        ["docker-compose.yml: compose version '3' is not supported: use '2', or no version for v1"],
    ),
    (
        "unset-variable",
        "version: '2'\nservices:\n  web:\n    image: ${REGISTRY}/corral/busybox:stable\n",
        {"OTHER": "x"},
        [f"{W}: image: variable REGISTRY is not set"],
    ),
    (
        "requested-ip-outside-subnet",
        "version: '2'\nservices:\n" + labelled("io.rancher.container.requested_ip: 10.43.0.5"),
        {},
        [f"{W}: io.rancher.container.requested_ip 10.43.0.5 is outside the subnet 10.42.0.0/16"],
    ),
    (
        "requested-ip-taken-twice",
        "version: '2'\nservices:\n"
        + labelled("io.rancher.container.requested_ip: 10.42.0.61")
        + labelled("io.rancher.container.requested_ip: 10.42.0.61", name="api"),
        {},
        ["docker-compose.yml: services 'web' and 'api' both request 10.42.0.61"],
    ),
    (
        "requested-ip-held-by-another-stack",
        "version: '2'\nservices:\n" + labelled("io.rancher.container.requested_ip: 10.42.0.48"),
        {},
        [
            "address 10.42.0.48 (for bad-web-1) is held on managed by container cdb1 on lab-host1, "
            "which belongs to stack 'CassandraDB2'"
        ],
    ),
    (
        "host-rule-no-host-matches",
        "version: '2'\nservices:\n" + labelled("io.rancher.scheduler.affinity:host_label: hostname=cassandra9"),
        {},
        [f"{W}: io.rancher.scheduler.affinity:host_label hostname=cassandra9 matches no host (hosts: {HOSTS})"],
    ),
    (
        "unknown-rancher-label",
        "version: '2'\nservices:\n" + labelled("io.rancher.container.dns: 'true'"),
        {},
        [f"{W}: label io.rancher.container.dns is not supported"],
    ),
]


@pytest.fixture(scope="module")
def untouched() -> dict[str, dict[str, str]]:
    return container_ids()


@pytest.mark.parametrize(("docker_compose", "variables", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_its_exact_error_and_nothing_changed(
    tmp_path: Path,
    untouched: dict[str, dict[str, str]],
    docker_compose: str,
    variables: dict[str, str],
    expected: list[str],
) -> None:
    (tmp_path / "docker-compose.yml").write_text(docker_compose)
    (tmp_path / "rancher-compose.yml").write_text("version: '2'\nservices:\n  web:\n    scale: 1\n")
    run: PlaybookRun = run_playbook(
        "import.yml",
        "-e",
        "stack=bad",
        "-e",
        f"compose_dir={tmp_path}",
        "-e",
        json.dumps({"variables": variables}),
    )
    assert run.rc != 0, run
    assert run.problems() == expected, run
    assert set(run.changed().values()) == {0}, run
    assert container_ids() == untouched


def test_a_good_file_passes_the_same_checks(tmp_path: Path, untouched: dict[str, dict[str, str]]) -> None:
    """The refusals above come from what is wrong in each file, not from the way the import is run."""
    (tmp_path / "docker-compose.yml").write_text(GOOD)
    run = run_playbook("import.yml", "-e", "stack=bad", "-e", f"compose_dir={tmp_path}", "--check")
    assert run.rc == 0, run
    assert container_ids() == untouched


def test_a_rancher_load_balancer_and_external_links_are_named(tmp_path: Path, untouched: dict[str, dict[str, str]]) -> None:
    """tests/unit/fixtures/rancher/lb-links: Rancher's haproxy in front of the nodes, a client linked across stacks."""
    source = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "rancher" / "lb-links"
    for name in ("docker-compose.yml", "rancher-compose.yml"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    run = run_playbook("import.yml", "-e", "stack=tools", "-e", f"compose_dir={tmp_path}")
    assert run.rc != 0, run
    assert run.problems() == [
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.agent.role is not supported: "
        "it belongs to Rancher's own services (like its load balancer)",
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.agent_service.drain_provider is not supported",
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.create_agent is not supported: "
        "it belongs to Rancher's own services (like its load balancer)",
        "rancher-compose.yml: service 'cql-lb': key lb_config is not supported: "
        "a Rancher load balancer has no equivalent here; run a proxy of your own as a service",
        "docker-compose.yml: service 'reaper': key external_links is not supported: "
        "links to other stacks have no equivalent here; give the other stack's address on the overlay",
    ], run
    assert container_ids() == untouched
