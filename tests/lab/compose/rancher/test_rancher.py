"""The classic stack as Rancher 1.x's Export Config gave it after the 3.10 upgrade, imported onto the data it left.

The files (tests/unit/fixtures/rancher/classic-3.10, CRLF) give io.rancher.container.requested_ip on the seed
only and no CASSANDRA_CLUSTER_NAME. CassandraDB2 (imported by converge, on the data CassandraDB wrote) is
removed with its data kept; the files are imported as CassandraDB, first in check mode (the plan, and nothing
changes), then for real: each node is back on its own data (same host ID). cdb2 and cdb3, which the files give
no address, get the one their data was written under (converge put them where the chooser would not), read
offline like the cluster name the files do not give (no node runs); the seeds and the next export follow.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_lab import CITIES, NODES, ROOT, STACKS, PlaybookRun, container_ids, docker, inspect_stack, run_playbook

testinfra_hosts = ["lab-manager"]

EXPORT = ROOT / "tests" / "unit" / "fixtures" / "rancher" / "classic-3.10"
IMAGE = "172.30.42.1:5000/corral/cassandra:3.10"


def host_ids() -> dict[str, str]:
    found = {}
    for node, (host, _ip, _data) in NODES.items():
        info = docker(host, "exec", node, "nodetool", "info")
        found[node] = re.search(r"^ID\s*:\s*(\S+)", info, re.M).group(1)  # type: ignore[union-attr]
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    files = tmp_path_factory.mktemp("classic-3.10")
    for name in ("docker-compose.yml", "rancher-compose.yml"):
        shutil.copyfile(EXPORT / name, files / name)  # byte for byte: CRLF as Rancher wrote it
    before = host_ids()
    removed = run_playbook("remove.yml", "-e", "stack=CassandraDB2")
    assert removed.rc == 0, removed
    ids = container_ids()
    check = run_playbook("import.yml", "-e", "stack=CassandraDB", "-e", f"compose_dir={files}", "--check")
    ids_after_check = container_ids()
    real = run_playbook("import.yml", "-e", "stack=CassandraDB", "-e", f"compose_dir={files}")
    exported = run_playbook("export.yml", "-e", "stack=CassandraDB", "-e", f"compose_dir={STACKS / 'rancher-export'}")
    return {
        "before": before,
        "check": check,
        "unchanged": ids == ids_after_check,
        "real": real,
        "exported": exported,
    }


def plan(run: PlaybookRun) -> list[str]:
    return [
        line
        for play in run.result.get("plays", [])
        for task in play.get("tasks", [])
        if task["task"]["name"].endswith("stack_compose : Show the plan")
        for outcome in task["hosts"].values()
        for line in outcome.get("msg", [])
    ]


def test_the_files_are_rancher_s_crlf_export_with_one_requested_ip() -> None:
    text = (EXPORT / "docker-compose.yml").read_bytes().decode()
    assert "\r\n" in text and "CASSANDRA_CLUSTER_NAME" not in text
    assert text.count("io.rancher.container.requested_ip") == 1


def test_the_datas_addresses_are_not_the_ones_the_chooser_gives() -> None:
    from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.addresses import choose_addresses

    chosen, _problems = choose_addresses(["cdb2", "cdb3"], {"cdb1": "10.42.0.48"}, "10.42.0.0/16", "10.42.0.1")
    for node in ("cdb2", "cdb3"):
        assert chosen[node].ip != NODES[node][1], (node, chosen[node])


def test_check_mode_shows_the_plan_and_changes_nothing(runs: dict[str, Any]) -> None:
    check: PlaybookRun = runs["check"]
    assert check.rc == 0, check
    assert runs["unchanged"]
    lines = plan(check)
    from_data = "from the data: the address it was written under"
    for node, (host, ip, data) in NODES.items():
        source = "given: io.rancher.container.requested_ip" if node == "cdb1" else from_data
        role = "seed" if node == "cdb1" else "node"
        assert (
            f"{node} on {host}: Cassandra {role}, address {ip} ({source}), image {IMAGE}, "
            f"data /cassandra/data (found, holds a node's data) in {data} (image 172.30.42.1:5000/corral/busybox:stable)"
        ) in lines, lines
    named = [line for line in lines if line.startswith("cluster name: ")]
    assert len(named) == 1 and named[0].startswith(
        "cluster name: 'CassandraDB', from the data of cdb1 (its data directory /cassandra/data, read offline"
    ), lines
    assert all(f"{node} (its data directory /cassandra/data, read offline" in named[0] for node in NODES), named
    assert "seeds: 10.42.0.48" in lines
    assert any(line.startswith("mapped: io.rancher.container.pull_image always") for line in lines)


def test_each_node_is_back_on_its_own_data_at_its_address(runs: dict[str, Any]) -> None:
    assert runs["real"].rc == 0, runs["real"]
    stack = inspect_stack("CassandraDB")
    for node, (host, ip, data) in NODES.items():
        assert stack[node]["_host"] == host
        assert stack[node]["NetworkSettings"]["Networks"]["managed"]["IPAMConfig"]["IPv4Address"] == ip
        assert stack[node]["Config"]["Image"] == IMAGE
        assert stack[data]["HostConfig"]["Binds"] == ["/cassandra/data:/var/lib/cassandra:rw"]
        assert f"CASSANDRA_BROADCAST_ADDRESS={ip}" in stack[node]["Config"]["Env"]
        assert "CASSANDRA_SEEDS=10.42.0.48" in stack[node]["Config"]["Env"]  # the seed, cdb1
    assert host_ids() == runs["before"]


def test_three_up_normal_and_every_row_at_all(runs: dict[str, Any]) -> None:
    assert runs["real"].rc == 0, runs["real"]
    for node, (host, _ip, _data) in NODES.items():
        status = docker(host, "exec", node, "nodetool", "status")
        states = {ip: state for state, ip in re.findall(r"^([UD][NJLM])\s+(\S+)", status, re.M)}
        assert states == {ip: "UN" for _h, ip, _d in NODES.values()}, status
    password = (Path.home() / ".config/corral-cassandra/CassandraDB.credentials").read_text().split()[0]
    host, ip, _data = NODES["cdb2"]
    out = docker(
        host,
        "exec",
        "-e",
        "CQL_PASSWORD=" + password,
        "cdb2",
        "sh",
        "-c",
        f'exec cqlsh -u admin -p "$CQL_PASSWORD" -e "CONSISTENCY ALL; SELECT city FROM testdata.weather;" {ip}',
    )
    assert sorted(re.findall(r"^\s*(Sapporo|Tokyo|Osaka|Hakata|Naha)\s*$", out, re.M)) == sorted(CITIES), out


def test_the_next_export_gives_every_node_its_address(runs: dict[str, Any]) -> None:
    assert runs["exported"].rc == 0, runs["exported"]
    compose = yaml.safe_load((STACKS / "rancher-export" / "docker-compose.yml").read_text())
    assert {node: compose["services"][node]["labels"]["io.rancher.container.requested_ip"] for node in NODES} == {
        node: ip for node, (_host, ip, _data) in NODES.items()
    }
    assert {compose["services"][node]["environment"]["CASSANDRA_CLUSTER_NAME"] for node in NODES} == {"CassandraDB"}


def test_a_requested_ip_other_than_the_datas_is_refused_naming_both(runs: dict[str, Any], tmp_path: Path) -> None:
    """The nodes run now: their addresses are read from the running containers, not their data directories."""
    assert runs["real"].rc == 0, runs["real"]
    compose = yaml.safe_load((EXPORT / "docker-compose.yml").read_bytes().decode())
    compose["services"]["cdb2"]["labels"]["io.rancher.container.requested_ip"] = "10.42.0.49"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(compose))
    shutil.copyfile(EXPORT / "rancher-compose.yml", tmp_path / "rancher-compose.yml")
    before = container_ids()
    run = run_playbook("import.yml", "-e", "stack=CassandraDB", "-e", f"compose_dir={tmp_path}")
    assert run.rc != 0, run
    assert container_ids() == before, "a refused import changed a container"
    ip = NODES["cdb2"][1]
    assert run.problems() == [
        f"service 'cdb2' (Cassandra): io.rancher.container.requested_ip 10.42.0.49 differs from {ip}, the address its "
        f"data was written under: its peers know it at {ip}; give {ip} (or no requested_ip), or move the data away to "
        "start it as a new node"
    ], run
