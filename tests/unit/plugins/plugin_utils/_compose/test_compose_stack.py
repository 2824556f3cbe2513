"""Compose export/import mapping: containers -> stack -> files -> stack -> Cassandra settings, plain containers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import rancher as compose
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import stack as stack_compose
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import RancherComposeError
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_placement import place_stack
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import SwarmHost, build_stack

FIXTURES = Path(__file__).parents[3] / "fixtures" / "rancher"
IMAGE = "172.30.42.1:5000/corral/cassandra:3.9"
BUSYBOX = "172.30.42.1:5000/corral/busybox:stable"
HOSTS = {f"lab-host{i}": {"hostname": f"cassandra{i}"} for i in (1, 2, 3)}


def _node(index: int, stack: str = "CassandraDB", name: str | None = None) -> dict[str, Any]:
    ip = f"10.42.0.{47 + index}"
    env = [
        "PATH=/usr/bin",
        "JAVA_HOME=/opt/java",
        f"CASSANDRA_LISTEN_ADDRESS={ip}",
        f"CASSANDRA_BROADCAST_ADDRESS={ip}",
        f"CASSANDRA_BROADCAST_RPC_ADDRESS={ip}",
        "CASSANDRA_RPC_ADDRESS=0.0.0.0",
        "CASSANDRA_SEEDS=10.42.0.48",
        "CASSANDRA_CLUSTER_NAME=CassandraDB",
        "CASSANDRA_DC=dc1",
        "CASSANDRA_RACK=rack1",
        "CASSANDRA_ENDPOINT_SNITCH=GossipingPropertyFileSnitch",
        "MAX_HEAP_SIZE=512M",
        "HEAP_NEWSIZE=128M",
        "JVM_EXTRA_OPTS=-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=1000",
    ]
    return {
        "Name": f"/{name or f'cdb{index}'}",
        "Config": {
            "Image": IMAGE,
            "Env": env,
            "Labels": {
                "io.corral.stack": stack,
                "io.corral.service": f"cdb{index}",
                "io.corral.role": "cassandra",
                "io.corral.data-container": f"data{index}",
                "io.corral.requested-ip": ip,
                "io.corral.seed": "true" if index == 1 else "false",
                "io.corral.host-label": f"hostname=cassandra{index}",
                "io.corral.cassandra-yaml": '{"authenticator":"PasswordAuthenticator"}',
                "io.corral.config-hash": "sha256:x",
                "io.corral.java": "8",
            },
        },
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}, "PortBindings": {}},
    }


def _data(index: int, stack: str = "CassandraDB") -> dict[str, Any]:
    return {
        "Name": f"/data{index}",
        "Config": {
            "Image": BUSYBOX,
            "Labels": {
                "io.corral.stack": stack,
                "io.corral.role": "data",
                "io.corral.sidekick-of": f"cdb{index}",
                "io.corral.host-label": f"hostname=cassandra{index}",
            },
        },
        "HostConfig": {"Binds": ["/cassandra/data:/var/lib/cassandra:rw"]},
    }


IMAGES = [
    {
        "RepoTags": [IMAGE],
        "Config": {"Env": ["PATH=/usr/bin", "JAVA_HOME=/opt/java"], "Labels": {"io.corral.java": "8"}},
    }
]


def _containers(stack: str = "CassandraDB") -> list[dict[str, Any]]:
    return [item for i in (1, 2, 3) for item in (_node(i, stack), _data(i, stack))]


def _export(stack: str = "CassandraDB") -> dict[str, str]:
    model = stack_compose.from_containers(stack, _containers(stack), IMAGES)
    return compose.render_stack(compose.with_export_defaults(model))


def test_export_shows_what_the_stack_asked_for() -> None:
    files = _export()
    doc = compose.yaml.safe_load(files["docker-compose.yml"])
    cdb1 = doc["services"]["cdb1"]
    assert cdb1["image"] == IMAGE
    assert cdb1["environment"] == {
        "CASSANDRA_CLUSTER_NAME": "CassandraDB",
        "CASSANDRA_DC": "dc1",
        "CASSANDRA_ENDPOINT_SNITCH": "GossipingPropertyFileSnitch",
        "CASSANDRA_RACK": "rack1",
        "CASSANDRA_SEEDS": "10.42.0.48",
        "HEAP_NEWSIZE": "128M",
        "MAX_HEAP_SIZE": "512M",
    }
    assert cdb1["volumes_from"] == ["data1"]
    assert cdb1["labels"]["io.rancher.container.requested_ip"] == "10.42.0.48"
    assert cdb1["labels"]["io.rancher.sidekicks"] == "data1"
    assert cdb1["labels"]["io.rancher.scheduler.affinity:host_label"] == "hostname=cassandra1"
    assert "io.corral.java" not in cdb1["labels"]
    data1 = doc["services"]["data1"]
    assert data1 == {
        "image": BUSYBOX,
        "volumes": ["/cassandra/data:/var/lib/cassandra"],
        "labels": {
            "io.rancher.container.start_once": "true",
            "io.rancher.scheduler.affinity:host_label": "hostname=cassandra1",
        },
    }
    rancher = compose.yaml.safe_load(files["rancher-compose.yml"])
    assert rancher["services"]["cdb1"]["health_check"]["port"] == 9042
    assert rancher["services"]["cdb1"]["retain_ip"] is True


def test_export_of_a_renamed_stack_gives_the_same_files() -> None:
    assert _export("CassandraDB") == _export("CassandraDB2")


def test_export_skips_rollback_copies_and_other_stacks() -> None:
    containers = [*_containers(), _node(1, name="cdb1-rollback"), _node(1, stack="other", name="x")]
    model = stack_compose.from_containers("CassandraDB", containers, IMAGES)
    assert sorted(model.services) == ["cdb1", "cdb2", "cdb3", "data1", "data2", "data3"]


def test_export_of_nothing_says_so() -> None:
    with pytest.raises(
        RancherComposeError, match=re.escape("no container on these hosts carries the label io.corral.stack=gone")
    ):
        stack_compose.from_containers("gone", _containers(), IMAGES)


def test_import_of_an_export_gives_the_cassandra_settings() -> None:
    files = _export()
    stack = compose.parse_stack("CassandraDB2", files["docker-compose.yml"], files["rancher-compose.yml"])
    settings = stack_compose.cassandra_settings(stack, {})
    assert settings["image_repository"] == "172.30.42.1:5000/corral/cassandra"
    assert settings["version"] == "3.9"
    assert settings["cluster_name"] == "CassandraDB"
    assert settings["max_heap_size"] == "512M"
    assert settings["busybox_image"] == BUSYBOX
    assert [node["name"] for node in settings["nodes"]] == ["cdb1", "cdb2", "cdb3"]
    cdb1 = settings["nodes"][0]
    assert cdb1 == {
        "name": "cdb1",
        "host_label": "hostname=cassandra1",
        "ip": "10.42.0.48",
        "seed": True,
        "data_container": "data1",
        "data_dir": "/cassandra/data",
        "published_ports": [],
        "env": {},
        "jvm_extra_opts": [],
        "cassandra_yaml": {"authenticator": "PasswordAuthenticator"},
        "dc": "dc1",
        "rack": "rack1",
    }
    assert [node["seed"] for node in settings["nodes"]] == [True, False, False]
    assert stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed") == []


def test_the_imported_settings_build_the_cassandra_stack_model() -> None:
    """What import.yml hands the cassandra_stack role passes the stack model, placed on the lab's hosts."""
    files = _export()
    stack = compose.parse_stack("CassandraDB2", files["docker-compose.yml"], files["rancher-compose.yml"])
    settings = stack_compose.cassandra_settings(stack, {"max_heap_size": "512M", "heap_newsize": "128M"})
    settings |= {"network": "managed", "data_dir": "/cassandra/data", "stop_timeout": 120, "superuser_name": "admin"}
    hosts = [
        SwarmHost(f"id{n}", f"lab-host{n}", {"hostname": f"cassandra{n}"}, "ready", "active", f"lab-host{n}")
        for n in (1, 2, 3)
    ]
    model = build_stack(settings, hosts, [{"Subnet": "10.42.0.0/16", "Gateway": "10.42.0.1"}])
    assert (model.name, model.cluster_name, model.image, model.seeds) == (
        "CassandraDB2",
        "CassandraDB",
        IMAGE,
        ["10.42.0.48"],
    )
    assert [(node.name, node.host, node.ip, node.data_container, node.data_dir) for node in model.nodes] == [
        ("cdb1", "lab-host1", "10.42.0.48", "data1", "/cassandra/data"),
        ("cdb2", "lab-host2", "10.42.0.49", "data2", "/cassandra/data"),
        ("cdb3", "lab-host3", "10.42.0.50", "data3", "/cassandra/data"),
    ]


def _classic(name: str = "CassandraDB") -> compose.RancherStack:
    """The classic stack as Rancher 1.x's Export Config gave it after the 3.10 upgrade: CRLF, seed-only requested_ip."""
    files = [(FIXTURES / "classic-3.10" / f).read_bytes().decode() for f in ("docker-compose.yml", "rancher-compose.yml")]
    assert all("\r\n" in text for text in files)
    return compose.parse_stack(name, *files, subnet="10.42.0.0/16", hosts=HOSTS)


IPAM = [{"Subnet": "10.42.0.0/16", "Gateway": "10.42.0.1"}]
AFTER_SEED = "chosen: the next free address after 10.42.0.48"


def test_classic_rancher_export_gets_addresses_after_its_seed() -> None:
    settings = stack_compose.cassandra_settings(_classic(), {}, subnet="10.42.0.0/16", gateway="10.42.0.1")
    assert [(node["name"], node["ip"], node["seed"]) for node in settings["nodes"]] == [
        ("cdb1", "10.42.0.48", True),
        ("cdb2", "10.42.0.49", False),
        ("cdb3", "10.42.0.50", False),
    ]
    assert settings["addresses"] == {
        "cdb1": {"ip": "10.42.0.48", "source": "given: io.rancher.container.requested_ip"},
        "cdb2": {"ip": "10.42.0.49", "source": AFTER_SEED},
        "cdb3": {"ip": "10.42.0.50", "source": AFTER_SEED},
    }
    assert (settings["image_repository"], settings["version"]) == ("172.30.42.1:5000/corral/cassandra", "3.10")
    assert settings["busybox_image"] == BUSYBOX


def test_classic_rancher_export_without_a_subnet_names_each_node_without_an_address() -> None:
    with pytest.raises(RancherComposeError) as error:
        stack_compose.cassandra_settings(_classic(), {})
    assert error.value.problems == [
        f"service '{name}' (Cassandra): io.rancher.container.requested_ip is missing and the overlay has no "
        "IPv4 subnet to choose one from"
        for name in ("cdb2", "cdb3")
    ]


def test_addresses_held_by_other_containers_are_passed_over_and_the_seeds_follow() -> None:
    settings = stack_compose.cassandra_settings(
        _classic(), {}, subnet="10.42.0.0/16", held={"10.42.0.49": "probe on lab-host2"}
    )
    assert [node["ip"] for node in settings["nodes"]] == ["10.42.0.48", "10.42.0.50", "10.42.0.51"]
    assert [node["seed"] for node in settings["nodes"]] == [True, False, False]


def test_an_address_found_in_a_nodes_data_is_kept() -> None:
    settings = stack_compose.cassandra_settings(_classic(), {}, subnet="10.42.0.0/16", found={"cdb3": "10.42.3.17"})
    assert settings["addresses"]["cdb3"] == {"ip": "10.42.3.17", "source": "from the data: the address it was written under"}
    assert settings["addresses"]["cdb2"]["ip"] == "10.42.0.49"
    assert [node["ip"] for node in settings["nodes"]] == ["10.42.0.48", "10.42.0.49", "10.42.3.17"]


@pytest.mark.parametrize("seeds", ["10.42.0.48,10.42.0.52", "cdb1, cdb2"])
def test_seeds_named_by_the_address_rancher_gave_or_by_name_follow_the_datas_address(seeds: str) -> None:
    stack = _classic()
    for name in ("cdb1", "cdb2", "cdb3"):
        stack.services[name].environment["CASSANDRA_SEEDS"] = seeds
    settings = stack_compose.cassandra_settings(
        stack, {}, subnet="10.42.0.0/16", found={"cdb2": "10.42.0.52", "cdb3": "10.42.0.51"}
    )
    assert [(node["name"], node["ip"], node["seed"]) for node in settings["nodes"]] == [
        ("cdb1", "10.42.0.48", True),
        ("cdb2", "10.42.0.52", True),
        ("cdb3", "10.42.0.51", False),
    ]


def test_a_requested_ip_other_than_the_datas_is_refused() -> None:
    with pytest.raises(RancherComposeError) as error:
        stack_compose.cassandra_settings(_classic(), {}, subnet="10.42.0.0/16", found={"cdb1": "10.42.0.47"})
    assert error.value.problems == [
        "service 'cdb1' (Cassandra): io.rancher.container.requested_ip 10.42.0.48 differs from 10.42.0.47, the "
        "address its data was written under: its peers know it at 10.42.0.47; give 10.42.0.47 (or no "
        "requested_ip), or move the data away to start it as a new node"
    ]


@pytest.mark.parametrize(
    ("current", "name", "source", "from_data"),
    [
        (
            {},
            "Test Cluster",
            "none in the files: the name the nodes' data holds, read before the plan; 'Test Cluster' "
            "(the official image's default, as under Rancher) on new data",
            True,
        ),
        ({"cluster_name": "CassandraDB"}, "CassandraDB", "cassandra_stack_cluster_name (the inventory or -e)", False),
    ],
)
def test_a_cluster_name_the_files_do_not_give(current: dict[str, Any], name: str, source: str, from_data: bool) -> None:
    settings = stack_compose.cassandra_settings(_classic(), current, subnet="10.42.0.0/16")
    assert (settings["cluster_name"], settings["cluster_name_source"], settings["cluster_name_from_data"]) == (
        name,
        source,
        from_data,
    )


def test_a_cluster_name_in_the_files_wins_over_the_inventory() -> None:
    files = _export()
    stack = compose.parse_stack("X", files["docker-compose.yml"], files["rancher-compose.yml"])
    settings = stack_compose.cassandra_settings(stack, {"cluster_name": "Other"})
    assert (settings["cluster_name"], settings["cluster_name_source"]) == (
        "CassandraDB",
        "the files (CASSANDRA_CLUSTER_NAME)",
    )


def test_every_rancher_key_of_the_classic_stack_is_mapped() -> None:
    settings = stack_compose.cassandra_settings(_classic(), {}, subnet="10.42.0.0/16")
    everyone = "cdb1, cdb2, cdb3, data1, data2, data3"
    assert settings["mapped"] == [
        f"io.rancher.container.pull_image always: the image is pulled on each host that lacks it ({everyone})",
        "io.rancher.container.start_once true: the data container is created once, holds the volume, never runs "
        "(data1, data2, data3)",
        f"tty true: dropped, a node and its data container need no terminal ({everyone})",
        f"stdin_open true: dropped, nothing reads a node's input ({everyone})",
        "scale 1: one service is one node (cdb1, cdb2, cdb3)",
        f"start_on_create true: every node is started ({everyone})",
        "retain_ip true: every node keeps its fixed address (cdb1, cdb2, cdb3)",
        "health_check on 9042: the stack's own gates (CQL on 9042, the ring, the schema) (cdb1, cdb2, cdb3)",
        "upgrade_strategy: upgrade.yml, one node at a time, each gated on its health (cdb1, cdb2, cdb3)",
    ]


def test_seeds_given_by_rancher_service_name_follow_the_nodes_address() -> None:
    files = [(FIXTURES / "classic-3.10" / f).read_text() for f in ("docker-compose.yml", "rancher-compose.yml")]
    docker = files[0].replace("CASSANDRA_SEEDS: 10.42.0.48", "CASSANDRA_SEEDS: cdb1,cdb2")
    stack = compose.parse_stack("CassandraDB", docker, files[1])
    settings = stack_compose.cassandra_settings(stack, {}, subnet="10.42.0.0/16")
    assert [(node["name"], node["seed"]) for node in settings["nodes"]] == [
        ("cdb1", True),
        ("cdb2", True),
        ("cdb3", False),
    ]


def test_seeds_that_are_no_node_are_named() -> None:
    files = [(FIXTURES / "classic-3.10" / f).read_text() for f in ("docker-compose.yml", "rancher-compose.yml")]
    docker = files[0].replace("CASSANDRA_SEEDS: 10.42.0.48", "CASSANDRA_SEEDS: 10.42.0.48,cassandra-old")
    stack = compose.parse_stack("CassandraDB", docker, files[1])
    with pytest.raises(RancherComposeError) as error:
        stack_compose.cassandra_settings(stack, {}, subnet="10.42.0.0/16")
    assert error.value.problems == [
        "environment CASSANDRA_SEEDS names cassandra-old, which is no Cassandra service's address or name: "
        "the seeds must be nodes of this stack"
    ]


def test_start_first_on_a_cassandra_node_is_refused() -> None:
    files = [(FIXTURES / "classic-3.10" / f).read_text() for f in ("docker-compose.yml", "rancher-compose.yml")]
    rancher = compose.yaml.safe_load(files[1])
    rancher["services"]["cdb2"].update(retain_ip=False, upgrade_strategy={"start_first": True})
    stack = compose.parse_stack("CassandraDB", files[0], compose.yaml.safe_dump(rancher))
    with pytest.raises(RancherComposeError) as error:
        stack_compose.cassandra_settings(stack, {}, subnet="10.42.0.0/16")
    assert error.value.problems == [
        "service 'cdb2' (Cassandra): upgrade_strategy start_first true is not supported: "
        "two nodes cannot run on one data directory"
    ]


def test_the_imported_classic_stack_exports_every_address() -> None:
    """The addresses chosen at import are the nodes' requested_ip in the next export."""
    settings = stack_compose.cassandra_settings(_classic(), {}, subnet="10.42.0.0/16")
    running = []
    for node in settings["nodes"]:
        index = int(node["name"][-1])
        container = _node(index, stack="CassandraDB")
        container["Config"]["Image"] = "172.30.42.1:5000/corral/cassandra:3.10"
        assert container["Config"]["Labels"]["io.corral.requested-ip"] == node["ip"]
        running += [container, _data(index)]
    images = [{**IMAGES[0], "RepoTags": ["172.30.42.1:5000/corral/cassandra:3.10"]}]
    files = compose.render_stack(compose.with_export_defaults(stack_compose.from_containers("CassandraDB", running, images)))
    doc = compose.yaml.safe_load(files["docker-compose.yml"])
    assert {name: doc["services"][name]["labels"]["io.rancher.container.requested_ip"] for name in ("cdb1", "cdb2", "cdb3")} == {
        "cdb1": "10.42.0.48",
        "cdb2": "10.42.0.49",
        "cdb3": "10.42.0.50",
    }


def test_the_plan_names_host_address_image_data_and_cluster_name() -> None:
    stack = _classic()
    current = {"max_heap_size": "512M", "heap_newsize": "128M"}
    settings = stack_compose.cassandra_settings(stack, current, subnet="10.42.0.0/16")
    model_settings = settings | {
        "network": "managed",
        "data_dir": "/cassandra/data",
        "stop_timeout": 120,
        "superuser_name": "admin",
    }
    hosts = [
        SwarmHost(f"id{n}", f"lab-host{n}", {"hostname": f"cassandra{n}"}, "ready", "active", f"lab-host{n}") for n in (1, 2, 3)
    ]
    model = build_stack(model_settings, hosts, IPAM).to_dict()
    found = {"lab-host1:/cassandra/data": True, "lab-host2:/cassandra/data": True, "lab-host3:/cassandra/data": False}
    plan = stack_compose.import_plan(settings, model, [], found, ["docker-compose.yml: service 'x': key links"])
    image = "172.30.42.1:5000/corral/cassandra:3.10"
    assert plan[:5] == [
        f"cdb1 on lab-host1: Cassandra seed, address 10.42.0.48 (given: io.rancher.container.requested_ip), "
        f"image {image}, data /cassandra/data (found, holds a node's data) in data1 (image {BUSYBOX})",
        f"cdb2 on lab-host2: Cassandra node, address 10.42.0.49 ({AFTER_SEED}), "
        f"image {image}, data /cassandra/data (found, holds a node's data) in data2 (image {BUSYBOX})",
        f"cdb3 on lab-host3: Cassandra node, address 10.42.0.50 ({AFTER_SEED}), "
        f"image {image}, data /cassandra/data (new) in data3 (image {BUSYBOX})",
        "cluster name: 'Test Cluster', from none in the files: the name the nodes' data holds, read before the plan; "
        "'Test Cluster' (the official image's default, as under Rancher) on new data",
        "seeds: 10.42.0.48",
    ]
    assert plan[5].startswith("mapped: io.rancher.container.pull_image always")
    assert plan[-1] == "ignored as asked: docker-compose.yml: service 'x': key links"


def test_the_plan_of_plain_containers_and_of_nothing() -> None:
    stack = compose.parse_stack("web", *(f.read_text() for f in _web_files()), hosts=HOSTS)
    plain = stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed")
    plan = stack_compose.import_plan({}, {}, plain, {})
    assert (
        plan[0]
        == "web-web-data-1 on lab-host1: address Docker's choice, image busybox:1.36, volumes /srv/web:/usr/share/nginx/html"
    )
    assert stack_compose.import_plan({}, {}, [], {}) == ["nothing to create"]


def _web_files() -> list[Path]:
    return [FIXTURES / "web" / "docker-compose.yml", FIXTURES / "web" / "rancher-compose.yml"]


def test_a_load_balancer_and_external_links_are_named() -> None:
    """Another real shape: Rancher's haproxy load balancer in front of the nodes, and a client linked across stacks."""
    files = [(FIXTURES / "lb-links" / f).read_text() for f in ("docker-compose.yml", "rancher-compose.yml")]
    with pytest.raises(RancherComposeError) as error:
        compose.parse_stack("tools", *files, subnet="10.42.0.0/16", hosts=HOSTS)
    assert error.value.problems == [
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.agent.role is not supported: "
        "it belongs to Rancher's own services (like its load balancer)",
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.agent_service.drain_provider is not supported",
        "docker-compose.yml: service 'cql-lb': label io.rancher.container.create_agent is not supported: "
        "it belongs to Rancher's own services (like its load balancer)",
        "rancher-compose.yml: service 'cql-lb': key lb_config is not supported: "
        "a Rancher load balancer has no equivalent here; run a proxy of your own as a service",
        "docker-compose.yml: service 'reaper': key external_links is not supported: "
        "links to other stacks have no equivalent here; give the other stack's address on the overlay",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["services"]["cdb2"]["environment"].update(CASSANDRA_CLUSTER_NAME="Other"),
            "environment CASSANDRA_CLUSTER_NAME must be the same on every Cassandra service "
            "(cdb1: 'CassandraDB', cdb2: 'Other', cdb3: 'CassandraDB')",
        ),
        (
            lambda d: d["services"]["cdb1"].update(command="cassandra -f"),
            "service 'cdb1' (Cassandra): command is not supported on a Cassandra node",
        ),
        (
            lambda d: d["services"]["data1"].update(volumes=["/x:/data"]),
            "service 'data1' (data sidekick of 'cdb1'): volumes must be one host directory bound to "
            "/var/lib/cassandra, like /cassandra/data:/var/lib/cassandra; got ['/x:/data']",
        ),
        (
            lambda d: d["services"]["cdb1"]["environment"].update(CASSANDRA_SEEDS="10.42.9.9"),
            "environment CASSANDRA_SEEDS must be the same on every Cassandra service "
            "(cdb1: '10.42.9.9', cdb2: '10.42.0.48', cdb3: '10.42.0.48')",
        ),
        (
            lambda d: d["services"]["cdb1"]["labels"].update(team="db"),
            "service 'cdb1' (Cassandra): labels team are not supported on a Cassandra node",
        ),
    ],
)
def test_cassandra_path_refuses_what_it_cannot_honour(change: Any, problem: str) -> None:
    files = _export()
    doc = compose.yaml.safe_load(files["docker-compose.yml"])
    change(doc)
    stack = compose.parse_stack("X", compose.yaml.safe_dump(doc), files["rancher-compose.yml"])
    with pytest.raises(RancherComposeError) as error:
        stack_compose.cassandra_settings(stack, {})
    assert problem in error.value.problems


def test_web_stack_becomes_plain_containers_spread_over_two_hosts() -> None:
    stack = compose.parse_stack(
        "web",
        (FIXTURES / "web" / "docker-compose.yml").read_text(),
        (FIXTURES / "web" / "rancher-compose.yml").read_text(),
        hosts=HOSTS,
    )
    assert stack_compose.cassandra_settings(stack, {}) == {}
    plan = stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed")
    assert [(item["name"], item["host"]) for item in plan] == [
        ("web-web-data-1", "lab-host1"),
        ("web-web-data-2", "lab-host2"),
        ("web-web-1", "lab-host1"),
        ("web-web-2", "lab-host2"),
    ]
    web1 = plan[2]["options"]
    assert web1["volumes_from"] == ["web-web-data-1"]
    assert web1["env"]["MOTD"] == "tickets from $5"
    assert web1["published_ports"] == ["8080:80/tcp"]
    assert web1["networks"] == []
    assert web1["network_mode"] == "managed"
    assert web1["labels"]["io.corral.stack"] == "web"
    assert web1["labels"]["io.corral.role"] == "compose"
    assert plan[0]["start_once"] is True
    assert plan[0]["options"]["restart_policy"] == "no"


def test_the_lab_web_stack_as_the_compose_scenario_imports_it() -> None:
    """tests/lab/compose/stacks/web with CRLF line endings and its ${VAR}s: the plan its lab test checks."""
    lab = Path(__file__).parents[4] / "lab" / "compose" / "stacks" / "web"
    crlf = [(lab / name).read_text().replace("\n", "\r\n") for name in ("docker-compose.yml", "rancher-compose.yml")]
    stack = compose.parse_stack(
        "web", *crlf, variables={"REGISTRY": "172.30.42.1:5000", "PORT": 8080}, subnet="10.42.0.0/16", hosts=HOSTS
    )
    assert stack_compose.cassandra_settings(stack, {}) == {}
    plan = {item["name"]: item for item in stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed")}
    assert [(name, item["host"]) for name, item in plan.items()] == [
        ("web-web-data-1", "lab-host1"),
        ("web-web-data-2", "lab-host2"),
        ("web-web-1", "lab-host1"),
        ("web-web-2", "lab-host2"),
        ("web-probe-1", "lab-host3"),
    ]
    data = plan["web-web-data-1"]["options"]
    assert data["command"] == ["sh", "-c", 'echo "served by $HOSTNAME" > /www/index.html']
    assert (data["hostname"], data["restart_policy"], data["volumes"]) == (
        "web-web-data-1",
        "no",
        ["/srv/compose-web:/www"],
    )
    web = plan["web-web-2"]["options"]
    assert web["command"] == ["sh", "-c", 'trap "exit 0" TERM; httpd -f -p 8080 -h /www & wait']
    assert (web["image"], web["volumes_from"]) == (BUSYBOX, ["web-web-data-2"])
    assert [(plan[name]["health_check_port"], plan[name]["health_check_seconds"]) for name in plan] == [
        (None, None),
        (None, None),
        (8080, 60),
        (8080, 60),
        (None, None),
    ]
    probe = plan["web-probe-1"]["options"]
    assert probe["networks"] == [{"name": "managed", "ipv4_address": "10.42.0.60"}]
    assert probe["env"] == {"TARGET_PORT": "8080"}


def test_plain_containers_export_back_to_the_same_files() -> None:
    text = (FIXTURES / "web" / "docker-compose.yml").read_text()
    stack = compose.parse_stack("web", text, (FIXTURES / "web" / "rancher-compose.yml").read_text(), hosts=HOSTS)
    plan = stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed")
    running = [
        {"Name": f"/{item['name']}", "Config": {"Image": item["options"]["image"], "Labels": item["options"]["labels"]}}
        for item in plan
    ]
    exported = stack_compose.from_containers("web", running, [])
    assert compose.render_stack(exported) == compose.render_stack(stack)


def test_conflicts_name_other_stacks_containers() -> None:
    planned = [{"host": "lab-host1", "name": "cdb1", "ip": "10.42.0.48"}]
    containers = {
        "lab-host1": [
            {"Names": ["/cdb1"], "Labels": {"io.corral.stack": "CassandraDB"}, "NetworkSettings": {"Networks": {}}}
        ],
        "lab-host2": [
            {
                "Names": ["/probe"],
                "Labels": {},
                "NetworkSettings": {"Networks": {"managed": {"IPAMConfig": {"IPv4Address": "10.42.0.48"}}}},
            }
        ],
    }
    assert stack_compose.conflicts(planned, "CassandraDB2", containers, "managed") == [
        "container cdb1 (for lab-host1) already exists on lab-host1 and belongs to stack 'CassandraDB': "
        "remove that first (remove.yml -e stack=NAME)",
        "address 10.42.0.48 (for cdb1) is held on managed by container probe on lab-host2, "
        "which belongs to no stack of this collection",
    ]
    assert stack_compose.conflicts(planned, "CassandraDB", containers, "managed") == [
        "address 10.42.0.48 (for cdb1) is held on managed by container probe on lab-host2, "
        "which belongs to no stack of this collection",
    ]


def test_host_data_dirs() -> None:
    assert stack_compose.host_data_dirs(_containers(), "CassandraDB") == ["/cassandra/data"]
    assert stack_compose.host_data_dirs(_containers(), "other") == []


def test_recorded_service_is_compact_json() -> None:
    text = (FIXTURES / "web" / "docker-compose.yml").read_text()
    stack = compose.parse_stack("web", text, (FIXTURES / "web" / "rancher-compose.yml").read_text())
    plan = stack_compose.plain_containers(stack, place_stack(stack, HOSTS), "managed")
    assert json.loads(plan[0]["options"]["labels"]["io.corral.compose-service"])["name"] == "web-data"
