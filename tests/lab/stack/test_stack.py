"""site.yml's Cassandra stack on the real lab: placement, IPs, data, ring, schema, data at QUORUM, auth."""
from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from cluster import CITIES, NODES, STACK, cql, nodetool, select_count, up_normal
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]


@pytest.fixture(scope="module")
def hosts(lab_host: Callable[[str], Host]) -> dict[str, Host]:
    return {node: lab_host(place[0]) for node, place in NODES.items()}


def inspect(host: Host, name: str) -> dict:
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


@pytest.mark.parametrize("node", NODES)
def test_node_on_the_host_its_label_names(host: Host, hosts: dict[str, Host], node: str) -> None:
    inventory_host, label, _ip, data = NODES[node]
    key, value = label.split("=")
    swarm = json.loads(host.check_output(f"docker node inspect {inventory_host}"))[0]
    assert swarm["Spec"]["Labels"][key] == value
    container = inspect(hosts[node], node)
    assert container["State"]["Running"]
    assert container["Config"]["Labels"]["io.corral.stack"] == STACK
    assert container["HostConfig"]["VolumesFrom"] == [data]
    data_container = inspect(hosts[node], data)
    assert data_container["State"]["Status"] == "created", "a data container never runs"
    assert [bind.removesuffix(":rw") for bind in data_container["HostConfig"]["Binds"]] == ["/cassandra/data:/var/lib/cassandra"]


@pytest.mark.parametrize("node", NODES)
def test_declared_ip(hosts: dict[str, Host], node: str) -> None:
    networks = inspect(hosts[node], node)["NetworkSettings"]["Networks"]
    assert networks["managed"]["IPAddress"] == NODES[node][2]
    assert networks["managed"]["IPAMConfig"]["IPv4Address"] == NODES[node][2]


@pytest.mark.parametrize("node", NODES)
def test_host_data_dir_holds_system_keyspaces(hosts: dict[str, Host], node: str) -> None:
    keyspaces = set(hosts[node].check_output("ls /cassandra/data/data").split())
    assert {"system", "system_schema", "system_auth"} <= keyspaces


@pytest.mark.parametrize("node", NODES)
def test_every_node_sees_three_up_normal(hosts: dict[str, Host], node: str) -> None:
    assert sorted(up_normal(hosts[node], node)) == sorted(place[2] for place in NODES.values())


def test_one_schema_version(hosts: dict[str, Host]) -> None:
    described = nodetool(hosts["cdb1"], "cdb1", "describecluster")
    # From 4.0 a "Database versions:" section follows; schema versions are the UUID lines.
    versions = re.findall(r"^\s+[0-9a-fA-F-]{36}:", described, re.MULTILINE)
    assert len(versions) == 1, described


def test_weather_written_through_one_node_read_at_quorum_from_each(hosts: dict[str, Host]) -> None:
    rows = "".join(
        f"INSERT INTO testdata.weather (city, temperature) VALUES ('{city}', {10 + i});" for i, city in enumerate(CITIES)
    )
    rc, out = cql(hosts["cdb1"], "cdb1",
                  "CREATE KEYSPACE IF NOT EXISTS testdata WITH replication = {'class': 'SimpleStrategy', "
                  "'replication_factor': 3}; CREATE TABLE IF NOT EXISTS testdata.weather "
                  "(city text PRIMARY KEY, temperature int);" + rows, consistency="QUORUM")
    assert rc == 0, out
    for node, host in hosts.items():
        rc, out = cql(host, node, "SELECT city FROM testdata.weather;", consistency="QUORUM")
        assert rc == 0, out
        assert sorted(line.strip() for line in out.splitlines() if line.strip() in CITIES) == sorted(CITIES), node


def test_default_login_refused(hosts: dict[str, Host]) -> None:
    rc, out = cql(hosts["cdb1"], "cdb1", "SELECT release_version FROM system.local;",
                  user="cassandra", password="cassandra")
    assert rc != 0
    assert "AuthenticationFailed" in out or "Bad credentials" in out or "not allowed to log in" in out, out


def test_system_auth_replicated_to_three(hosts: dict[str, Host]) -> None:
    rc, out = cql(hosts["cdb1"], "cdb1", "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name='system_auth';")
    assert rc == 0, out
    assert "'3'" in out or ": '3'" in out, out


def test_no_host_port_published(hosts: dict[str, Host]) -> None:
    for node, host in hosts.items():
        assert inspect(host, node)["HostConfig"]["PortBindings"] in ({}, None)


def test_count_of_weather_rows(hosts: dict[str, Host]) -> None:
    rc, out = cql(hosts["cdb2"], "cdb2", "SELECT count(*) FROM testdata.weather;", consistency="ALL")
    assert rc == 0, out
    assert select_count(out) == len(CITIES)
