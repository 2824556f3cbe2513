"""After export, remove and import as CassandraDB2: same addresses, hosts and data; three UN; rows back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from compose_lab import CITIES, NODES, STACKS, docker, inspect_stack

testinfra_hosts = ["lab-manager"]


def test_nothing_of_the_old_stack_is_left() -> None:
    assert inspect_stack("CassandraDB") == {}


def test_each_node_is_back_at_its_address_on_the_host_its_label_names() -> None:
    stack = inspect_stack("CassandraDB2")
    assert sorted(stack) == ["cdb1", "cdb2", "cdb3", "data1", "data2", "data3"]
    for node, (host, ip, data) in NODES.items():
        container = stack[node]
        assert container["_host"] == host
        assert container["State"]["Running"]
        assert container["NetworkSettings"]["Networks"]["managed"]["IPAMConfig"]["IPv4Address"] == ip
        label = container["Config"]["Labels"]["io.corral.host-label"]
        swarm_id = docker(host, "info", "-f", "{{.Swarm.NodeID}}").strip()
        labels = docker("lab-manager", "node", "inspect", "-f", "{{json .Spec.Labels}}", swarm_id)
        key, value = label.split("=")
        assert f'"{key}":"{value}"' in labels
        assert container["HostConfig"]["VolumesFrom"] == [data]


def test_host_data_directories_are_reattached() -> None:
    stack = inspect_stack("CassandraDB2")
    for node, (host, _ip, data) in NODES.items():
        assert stack[data]["HostConfig"]["Binds"] == ["/cassandra/data:/var/lib/cassandra:rw"]
        # the keyspace written before the remove is in the re-attached directory
        assert node in stack
        listing = subprocess.run(
            ["docker", "exec", f"corral-{host}", "ls", "/cassandra/data/data"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "testdata" in listing.split()


def test_three_nodes_up_normal() -> None:
    for node, (host, _ip, _data) in NODES.items():
        status = docker(host, "exec", node, "nodetool", "status")
        states = {ip: state for state, ip in re.findall(r"^([UD][NJLM])\s+(\S+)", status, re.M)}
        assert states == {ip: "UN" for _h, ip, _d in NODES.values()}, status


def test_the_five_weather_rows_read_back_at_all() -> None:
    password = (Path.home() / ".config/corral-cassandra/CassandraDB2.credentials").read_text().split()[0]
    out = docker(
        "lab-host1",
        "exec",
        "-e",
        "CQL_PASSWORD=" + password,
        "cdb1",
        "sh",
        "-c",
        'exec cqlsh -u admin -p "$CQL_PASSWORD" -e "CONSISTENCY ALL; SELECT city FROM testdata.weather;" 10.42.0.48',
    )
    assert sorted(re.findall(r"^\s*(Sapporo|Tokyo|Osaka|Hakata|Naha)\s*$", out, re.M)) == sorted(CITIES), out
    assert "(5 rows)" in out


def test_exporting_the_imported_stack_gives_the_same_files() -> None:
    for name in ("docker-compose.yml", "rancher-compose.yml"):
        first = (STACKS / "CassandraDB" / name).read_text()
        second = (STACKS / "CassandraDB2" / name).read_text()
        assert first == second
    assert "10.42.0.48" in (STACKS / "CassandraDB" / "docker-compose.yml").read_text()


def test_the_export_is_rancher_1x_with_the_labels_of_the_stack() -> None:
    compose = yaml.safe_load((STACKS / "CassandraDB" / "docker-compose.yml").read_text())
    rancher = yaml.safe_load((STACKS / "CassandraDB" / "rancher-compose.yml").read_text())
    assert compose["version"] == rancher["version"] == "2"
    assert sorted(compose["services"]) == ["cdb1", "cdb2", "cdb3", "data1", "data2", "data3"]
    for node, (_host, ip, data) in NODES.items():
        cdb, sidekick = compose["services"][node], compose["services"][data]
        label = f"hostname=cassandra{node[-1]}"
        assert cdb["labels"]["io.rancher.container.requested_ip"] == ip
        assert cdb["labels"]["io.rancher.sidekicks"] == data
        assert cdb["labels"]["io.rancher.scheduler.affinity:host_label"] == label
        assert cdb["volumes_from"] == [data]
        assert cdb["environment"]["CASSANDRA_SEEDS"] == "10.42.0.48"
        assert sidekick["labels"] == {
            "io.rancher.container.start_once": "true",
            "io.rancher.scheduler.affinity:host_label": label,
        }
        assert sidekick["volumes"] == ["/cassandra/data:/var/lib/cassandra"]
        assert rancher["services"][node]["scale"] == 1 and rancher["services"][node]["retain_ip"] is True
        assert rancher["services"][node]["health_check"]["port"] == 9042
