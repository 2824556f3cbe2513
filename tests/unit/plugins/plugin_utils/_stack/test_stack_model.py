"""The stack model and placement: role variables + real swarm labels -> placed, validated nodes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    DEFAULT_NODES,
    StackError,
    SwarmHost,
    build_stack,
    default_num_tokens,
    is_fast_start_option,
    parse_host_label,
    swarm_hosts,
    token_layout,
)

SUBNETS = [{"Subnet": "10.42.0.0/16", "Gateway": "10.42.0.1"}]


def lab_hosts(**extra_labels: dict[str, str]) -> list[SwarmHost]:
    """The lab: a manager without labels and host1..3 labelled hostname=cassandraN."""
    hosts = [SwarmHost("id-m", "lab-manager", {}, "ready", "active", "lab-manager")]
    for number in (1, 2, 3):
        name = f"lab-host{number}"
        labels = {"hostname": f"cassandra{number}", **extra_labels.get(name, {})}
        hosts.append(SwarmHost(f"id-{number}", name, labels, "ready", "active", name))
    return hosts


def settings(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "CassandraDB",
        "nodes": copy.deepcopy(DEFAULT_NODES),
        "cluster_name": "CassandraDB",
        "image_repository": "cassandra",
        "version": "5.0.8",
        "busybox_image": "busybox:stable",
        "network": "managed",
        "endpoint_snitch": "GossipingPropertyFileSnitch",
        "dc": "dc1",
        "rack": "rack1",
        "dc_label": "dc",
        "rack_label": "rack",
        "num_tokens": None,
        "max_heap_size": None,
        "heap_newsize": None,
        "cassandra_yaml": {},
        "env": {},
        "jvm_extra_opts": [],
        "published_ports": [],
        "data_dir": "/cassandra/data",
        "restart_policy": "unless-stopped",
        "stop_timeout": 120,
        "superuser_name": "admin",
    }
    base.update(overrides)
    return base


def with_node(index: int, **changes: Any) -> list[dict[str, Any]]:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes[index].update(changes)
    return nodes


# --- host labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("hostname=cassandra1", (("hostname", "cassandra1"),)),
        ("hostname=cassandra1,dc=east", (("hostname", "cassandra1"), ("dc", "east"))),
        (" hostname = cassandra1 , dc=east ", (("hostname", "cassandra1"), ("dc", "east"))),
        ("io.rancher.host=a=b", (("io.rancher.host", "a=b"),)),
        ("a=1,a=1", (("a", "1"),)),
    ],
)
def test_host_label_parses(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert parse_host_label(text).pairs == pairs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        (None, "is empty"),
        ("hostname", "malformed at 'hostname'"),
        ("hostname=", "malformed at 'hostname='"),
        ("=cassandra1", "malformed at '=cassandra1'"),
        ("hostname=cassandra1,", "malformed at ''"),
        ("hostname=cassandra1,,dc=x", "malformed at ''"),
        ("host name=x", "label key 'host name'"),
        ("a=1,a=2", "asks for a=1 and a=2"),
    ],
)
def test_host_label_malformed(text: Any, message: str) -> None:
    with pytest.raises(StackError, match=message.replace("(", r"\(")):
        parse_host_label(text)


@pytest.mark.parametrize(
    ("rule", "labels", "matches"),
    [
        ("hostname=cassandra1", {"hostname": "cassandra1"}, True),
        ("hostname=cassandra1", {"hostname": "cassandra1", "dc": "x"}, True),
        ("hostname=cassandra1,dc=x", {"hostname": "cassandra1"}, False),
        ("hostname=cassandra1,dc=x", {"hostname": "cassandra1", "dc": "x"}, True),
        ("hostname=cassandra1", {"hostname": "cassandra10"}, False),
        ("hostname=cassandra1", {}, False),
    ],
)
def test_host_label_all_pairs_must_match(rule: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_host_label(rule).matches(labels) is matches


# --- swarm nodes -> inventory hosts ----------------------------------------------------------------


def swarm_node(node_id: str, hostname: str, labels: dict[str, str], state: str = "ready") -> dict[str, Any]:
    return {
        "ID": node_id,
        "Description": {"Hostname": hostname},
        "Spec": {"Labels": labels, "Availability": "active", "Role": "worker"},
        "Status": {"State": state},
    }


def test_swarm_hosts_by_node_id_then_name() -> None:
    nodes = [swarm_node("a1", "h1", {"hostname": "cassandra1"}), swarm_node("b2", "h2", {}), swarm_node("c3", "h3", {})]
    infos = {
        "inv1": {"Name": "renamed", "Swarm": {"NodeID": "a1"}},
        "inv2": {"Name": "h2", "Swarm": {"NodeID": ""}},
    }
    hosts = {host.hostname: host for host in swarm_hosts(nodes, infos)}
    assert hosts["h1"].host == "inv1"
    assert hosts["h1"].labels == {"hostname": "cassandra1"}
    assert hosts["h2"].host == "inv2"
    assert hosts["h3"].host is None


def test_swarm_hosts_one_machine_twice_in_inventory() -> None:
    infos = {"a": {"Swarm": {"NodeID": "x"}}, "b": {"Swarm": {"NodeID": "x"}}}
    with pytest.raises(StackError, match="inventory hosts a and b are the same swarm node x"):
        swarm_hosts([swarm_node("x", "h", {})], infos)


# --- the model ----------------------------------------------------------------------------------


def test_default_is_the_classic_three_node_layout() -> None:
    stack = build_stack(settings(), lab_hosts(), SUBNETS)
    placed = [(n.name, n.host, n.ip, n.seed, n.data_container, n.data_dir) for n in stack.nodes]
    assert placed == [
        ("cdb1", "lab-host1", "10.42.0.48", True, "data1", "/cassandra/data"),
        ("cdb2", "lab-host2", "10.42.0.49", False, "data2", "/cassandra/data"),
        ("cdb3", "lab-host3", "10.42.0.50", False, "data3", "/cassandra/data"),
    ]
    assert stack.seeds == ["10.42.0.48"]
    assert stack.image == "cassandra:5.0.8"
    assert stack.system_auth_replication == {"class": "NetworkTopologyStrategy", "dc1": 3}
    assert stack.password_auth is True
    assert stack.nodes[0].cassandra_yaml["authenticator"] == "PasswordAuthenticator"
    assert stack.nodes[0].cassandra_yaml["authorizer"] == "CassandraAuthorizer"
    seed, joiner = stack.nodes[0].fast_start_jvm_opts, stack.nodes[1].fast_start_jvm_opts
    assert seed[0] == joiner[0] == "-Dcassandra.skip_wait_for_gossip_to_settle=0"
    assert seed[1].startswith("-Dcassandra.initial_token=") and len(seed[1].split(",")) == 16
    assert joiner[2:] == ["-Dcassandra.auto_bootstrap=false"] and len(seed) == 2
    assert stack.initial_tokens is True
    assert all(node.published_ports == [] for node in stack.nodes)
    assert [(node.dc, node.rack) for node in stack.nodes] == [("dc1", "rack1")] * 3


def test_seeds_start_first_in_declared_order() -> None:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes[0]["seed"], nodes[2]["seed"] = False, True
    stack = build_stack(settings(nodes=nodes), lab_hosts(), SUBNETS)
    assert [node.name for node in stack.nodes] == ["cdb3", "cdb1", "cdb2"]
    assert stack.seeds == ["10.42.0.50"]
    assert "-Dcassandra.auto_bootstrap=false" not in stack.nodes[0].fast_start_jvm_opts
    assert "-Dcassandra.auto_bootstrap=false" in stack.nodes[1].fast_start_jvm_opts


def test_dc_and_rack_from_host_labels_node_values_win() -> None:
    hosts = lab_hosts(**{"lab-host2": {"dc": "east", "rack": "r2"}, "lab-host3": {"dc": "east"}})
    nodes = with_node(2, rack="r9")
    stack = build_stack(settings(nodes=nodes), hosts, SUBNETS)
    assert [(node.dc, node.rack) for node in stack.nodes] == [("dc1", "rack1"), ("east", "r2"), ("east", "r9")]
    assert stack.system_auth_replication == {"class": "NetworkTopologyStrategy", "dc1": 1, "east": 2}


def test_one_repair_while_every_node_holds_every_range() -> None:
    stack = build_stack(settings(), lab_hosts(), SUBNETS)
    assert stack.system_auth_repairs == [
        {"name": "cdb1", "host": "lab-host1", "argv": ["nodetool", "repair", "-full", "system_auth"]}
    ]


def test_every_node_repairs_its_primary_ranges_beyond_three_per_dc() -> None:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes.append({"name": "cdb4", "host_label": "hostname=cassandra1", "ip": "10.42.0.51", "data_dir": "/d4"})
    stack = build_stack(settings(nodes=nodes), lab_hosts(), SUBNETS)
    assert [(repair["name"], repair["argv"][-2]) for repair in stack.system_auth_repairs] == [
        ("cdb1", "-pr"),
        ("cdb2", "-pr"),
        ("cdb3", "-pr"),
        ("cdb4", "-pr"),
    ]


def test_simple_snitch_replicates_system_auth_with_simple_strategy() -> None:
    stack = build_stack(settings(endpoint_snitch="SimpleSnitch"), lab_hosts(), SUBNETS)
    assert stack.system_auth_replication == {"class": "SimpleStrategy", "replication_factor": 3}


def test_merges_stack_and_node_settings() -> None:
    nodes = with_node(
        1,
        env={"B": "2"},
        jvm_extra_opts=["-Dn=1"],
        cassandra_yaml={"concurrent_writes": 8},
        published_ports=["9042:9042"],
    )
    stack = build_stack(
        settings(
            nodes=nodes,
            env={"A": "1"},
            jvm_extra_opts=["-Ds=1"],
            cassandra_yaml={"authorizer": "AllowAllAuthorizer", "concurrent_writes": 32},
        ),
        lab_hosts(),
        SUBNETS,
    )
    cdb2 = stack.nodes[1]
    assert cdb2.env == {"A": "1", "B": "2"}
    assert cdb2.jvm_extra_opts == ["-Ds=1", "-Dn=1"]
    assert cdb2.cassandra_yaml == {
        "authenticator": "PasswordAuthenticator",
        "authorizer": "AllowAllAuthorizer",
        "role_manager": "CassandraRoleManager",
        "concurrent_writes": 8,
    }
    assert cdb2.published_ports == ["9042:9042"]
    assert (cdb2.cql_port, cdb2.storage_port) == (9042, 7000)
    other = build_stack(
        settings(cassandra_yaml={"native_transport_port": 19042, "storage_port": 17000}), lab_hosts(), SUBNETS
    )
    assert {(node.cql_port, node.storage_port) for node in other.nodes} == {(19042, 17000)}
    assert stack.nodes[0].published_ports == []


def test_auth_can_be_switched_off() -> None:
    stack = build_stack(
        settings(cassandra_yaml={"authenticator": "AllowAllAuthenticator"}, superuser_name=""), lab_hosts(), SUBNETS
    )
    assert stack.password_auth is False


def test_two_nodes_on_one_host_with_their_own_data_dirs() -> None:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes.append({"name": "cdb4", "host_label": "hostname=cassandra1", "ip": "10.42.0.51", "data_dir": "/cassandra/d4"})
    stack = build_stack(settings(nodes=nodes), lab_hosts(), SUBNETS)
    assert [(node.name, node.host, node.data_container) for node in stack.nodes][-1] == (
        "cdb4",
        "lab-host1",
        "cdb4-data",
    )


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "label matching no host",
        {"nodes": with_node(1, host_label="hostname=cassandra9")},
        "node cdb2: host_label 'hostname=cassandra9' matches no swarm node",
    ),
    (
        "label matching two hosts",
        {"nodes": with_node(1, host_label="hostname=cassandra2")},
        "matches 2 swarm nodes",
    ),
    (
        "two nodes with one IP",
        {"nodes": with_node(2, ip="10.42.0.49")},
        "node cdb3 ip=10.42.0.49 is already the address of node cdb2",
    ),
    (
        "IP outside the overlay",
        {"nodes": with_node(1, ip="10.43.0.49")},
        r"node cdb2 ip=10.43.0.49 is outside the overlay 'managed' \(subnet 10.42.0.0/16\)",
    ),
    (
        "IP not an address",
        {"nodes": with_node(1, ip="10.42.0.300")},
        "node cdb2 ip='10.42.0.300' is not an IPv4 address",
    ),
    ("IP is the gateway", {"nodes": with_node(1, ip="10.42.0.1")}, "is the gateway of 'managed'"),
    ("IP is the network address", {"nodes": with_node(1, ip="10.42.0.0")}, "network or broadcast address"),
    ("no seed", {"nodes": with_node(0, seed=False)}, "no node is a seed"),
    ("duplicate names", {"nodes": with_node(1, name="cdb1")}, "container name 'cdb1' is already used by node cdb1"),
    (
        "data container named like a node",
        {"nodes": with_node(1, data_container="cdb1")},
        "container name 'cdb1' is already used by node cdb1",
    ),
    (
        "malformed label",
        {"nodes": with_node(1, host_label="hostname:cassandra2")},
        "malformed at 'hostname:cassandra2'",
    ),
    ("unknown node key", {"nodes": with_node(1, hostlabel="x")}, "node cdb2 has unknown keys hostlabel"),
    ("seed not a bool", {"nodes": with_node(1, seed="yes")}, "node cdb2 seed='yes' must be true or false"),
    ("no ip", {"nodes": [{k: v for k, v in DEFAULT_NODES[0].items() if k != "ip"}]}, "node cdb1 has no ip"),
    ("empty nodes", {"nodes": []}, "must be a non-empty list"),
    ("version as a float", {"version": 3.1}, r"cassandra_stack_version=3.1 is a number: quote it"),
    ("uppercase repository", {"image_repository": "Cassandra"}, "is not a lowercase image repository"),
    ("heap without newsize", {"max_heap_size": "512M"}, "go together"),
    ("bad heap", {"max_heap_size": "lots", "heap_newsize": "128M"}, "'lots' is not a heap size"),
    ("bad num_tokens", {"num_tokens": 0}, "cassandra_stack_num_tokens=0"),
    ("bad dc", {"nodes": with_node(1, dc="east coast")}, "node cdb2 dc='east coast' is not valid"),
    ("bad cluster name", {"cluster_name": "a/b"}, "cassandra_stack_cluster_name='a/b' is not valid"),
    ("superuser cassandra", {"superuser_name": "cassandra"}, "cassandra_stack_superuser_name='cassandra'"),
    ("bad port", {"published_ports": ["9042"]}, "published_ports entry '9042'"),
    (
        "bad cql port",
        {"cassandra_yaml": {"native_transport_port": "9042"}},
        "native_transport_port='9042' is not a port number",
    ),
    ("bad storage port", {"cassandra_yaml": {"storage_port": 70000}}, "storage_port=70000 is not a port number"),
    (
        "relative data dir",
        {"nodes": with_node(1, data_dir="cassandra/data")},
        "node cdb2 data_dir='cassandra/data' must be an absolute path",
    ),
]


@pytest.mark.parametrize(("case", "overrides", "message"), BAD_INPUTS, ids=[bad[0] for bad in BAD_INPUTS])
def test_bad_input_is_refused(case: str, overrides: dict[str, Any], message: str) -> None:
    hosts = lab_hosts()
    if case == "label matching two hosts":
        hosts.append(SwarmHost("id-9", "lab-host9", {"hostname": "cassandra2"}, "ready", "active", "lab-host9"))
    with pytest.raises(StackError, match=message):
        build_stack(settings(**overrides), hosts, SUBNETS)


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (
            [SwarmHost("id-1", "elsewhere", {"hostname": "cassandra1"}, "ready", "active", None)],
            "selects swarm node elsewhere, which is not a host of this play",
        ),
        (
            [SwarmHost("id-1", "lab-host1", {"hostname": "cassandra1"}, "down", "active", "lab-host1")],
            "whose swarm state is 'down'",
        ),
        ([], r"The swarm's nodes: none \(is the swarm up\?\)"),
        (
            [
                SwarmHost("old-1", "lab-host1", {"hostname": "cassandra1"}, "down", "active", "lab-host1"),
                SwarmHost("new-1", "lab-host1", {"hostname": "cassandra1"}, "ready", "active", "lab-host1"),
            ],
            r"matches a ready swarm node and 1 down one\(s\) with the same labels: lab-host1 \(old-1\), left by a "
            r"host that is gone. Remove them on a manager: docker node rm old-1",
        ),
        (
            [
                SwarmHost("old-1", "lab-host1", {"hostname": "cassandra1"}, "down", "active", "lab-host1"),
                SwarmHost("old-2", "lab-host1", {"hostname": "cassandra1"}, "down", "active", "lab-host1"),
            ],
            "matches 2 swarm nodes",
        ),
    ],
)
def test_placement_refuses_hosts_it_cannot_use(hosts: list[SwarmHost], message: str) -> None:
    nodes = [DEFAULT_NODES[0]]
    with pytest.raises(StackError, match=message):
        build_stack(settings(nodes=nodes), hosts, SUBNETS)


def test_every_problem_is_reported_at_once() -> None:
    nodes = with_node(1, ip="10.42.0.48", host_label="hostname=nowhere")
    with pytest.raises(StackError) as raised:
        build_stack(settings(nodes=nodes, version=3.1), lab_hosts(), SUBNETS)
    text = str(raised.value)
    assert "is a number" in text
    assert "already the address of node cdb1" in text
    assert "matches no swarm node" in text


def test_same_data_dir_twice_on_one_host() -> None:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes.append({"name": "cdb4", "host_label": "hostname=cassandra1", "ip": "10.42.0.51"})
    with pytest.raises(StackError, match="data_dir=/cassandra/data on lab-host1 is already the data of node cdb1"):
        build_stack(settings(nodes=nodes), lab_hosts(), SUBNETS)


def test_same_host_port_twice_on_one_host() -> None:
    nodes = copy.deepcopy(DEFAULT_NODES)
    nodes.append({"name": "cdb4", "host_label": "hostname=cassandra1", "ip": "10.42.0.51", "data_dir": "/d4"})
    with pytest.raises(
        StackError, match=r"cdb4 publishes host port \*:9042/tcp on lab-host1, already published by node cdb1"
    ):
        build_stack(settings(nodes=nodes, published_ports=["9042:9042"]), lab_hosts(), SUBNETS)


def test_no_overlay_subnet() -> None:
    with pytest.raises(StackError, match="the overlay 'managed' has no IPv4 subnet"):
        build_stack(settings(), lab_hosts(), [])


# --- tokens of a brand-new cluster ----------------------------------------------------------------


@pytest.mark.parametrize(("version", "tokens"), [("3.9", 256), ("3.11.19", 256), ("4.1.10", 16), ("5.0.8", 16), ("latest", None)])
def test_default_num_tokens_follows_the_release(version: str, tokens: int | None) -> None:
    assert default_num_tokens(version) == tokens


def test_token_layout_interleaves_evenly_and_never_repeats() -> None:
    layout = token_layout([("a", "dc1"), ("b", "dc1"), ("c", "dc1")], 4, "Murmur3Partitioner")
    assert layout is not None
    every = sorted(token for tokens in layout.values() for token in tokens)
    assert len(every) == len(set(every)) == 12
    assert all(-(2**63) < token < 2**63 for token in every)
    # Around the ring the owners take turns: a, b, c, a, b, c, ...
    owners = [next(name for name, tokens in layout.items() if token in tokens) for token in every]
    assert owners == ["a", "b", "c"] * 4
    gaps = {b - a for a, b in zip(every, every[1:])}
    assert max(gaps) - min(gaps) <= 1


def test_token_layout_per_data_centre_without_collisions() -> None:
    layout = token_layout([("a", "east"), ("b", "east"), ("c", "west")], 16, "org.apache.cassandra.dht.Murmur3Partitioner")
    assert layout is not None
    every = [token for tokens in layout.values() for token in tokens]
    assert len(every) == len(set(every)) == 48


@pytest.mark.parametrize(("tokens", "partitioner"), [(None, "Murmur3Partitioner"), (16, "ByteOrderedPartitioner")])
def test_no_token_layout_when_it_cannot_be_computed(tokens: int | None, partitioner: str) -> None:
    assert token_layout([("a", "dc1")], tokens, partitioner) is None


def test_random_partitioner_tokens_are_in_its_range() -> None:
    layout = token_layout([("a", "dc1"), ("b", "dc1")], 8, "RandomPartitioner")
    assert layout is not None
    assert all(0 < token < 2**127 for tokens in layout.values() for token in tokens)


def test_num_tokens_setting_sizes_the_layout() -> None:
    stack = build_stack(settings(num_tokens=4), lab_hosts(), SUBNETS)
    assert len(stack.nodes[2].fast_start_jvm_opts[1].split(",")) == 4


@pytest.mark.parametrize(
    ("option", "fast"),
    [
        ("-Dcassandra.initial_token=1,2", True),
        ("-Dcassandra.auto_bootstrap=false", True),
        ("-Dcassandra.ring_delay_ms=1000", True),
        ("-Dcassandra.ring_delay_ms=5000", False),
        ("-Dcassandra.auto_bootstrap=true", False),
        ("-Xss512k", False),
    ],
)
def test_fast_start_options(option: str, fast: bool) -> None:
    assert is_fast_start_option(option) is fast
