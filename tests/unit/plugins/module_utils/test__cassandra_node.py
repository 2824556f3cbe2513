"""The node model: option validation, environment, cassandra.yaml merge, container comparison."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node as model
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_labels as node_labels

IMAGE = "172.30.42.1:5000/corral/cassandra:3.9"


def params(**overrides: Any) -> dict[str, Any]:
    """Module parameters as AnsibleModule hands them over: every option, defaults filled in."""
    result: dict[str, Any] = {key: spec.get("default") for key, spec in model.ARGUMENT_SPEC.items()}
    result.update(name="cdb1", data_container="data1", image=IMAGE, ipv4_address="10.42.0.48")
    result.update(overrides)
    return result


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "c"}, "name='c'"),
        ({"name": "-cdb1"}, "name='-cdb1'"),
        ({"name": "cdb 1"}, "name='cdb 1'"),
        ({"data_container": "data 1"}, "data_container='data 1'"),
        ({"data_container": "cdb1"}, "must differ from name"),
        ({"data_dir": "cassandra/data"}, "data_dir='cassandra/data'"),
        ({"data_dir": "/"}, "data_dir='/'"),
        ({"ipv4_address": "10.42.0.300"}, "ipv4_address='10.42.0.300'"),
        ({"ipv4_address": "cassandra1"}, "ipv4_address='cassandra1'"),
        ({"ipv4_address": "0.0.0.0"}, "ipv4_address='0.0.0.0'"),
        ({"seeds": ["10.42.0.48", "cassandra2"]}, "seeds entry='cassandra2'"),
        ({"image": ""}, "image must name an image"),
        ({"image": "corral/Cassandra:3.9"}, "image='corral/Cassandra:3.9'"),
        ({"image": "cassandra 3.9"}, "image='cassandra 3.9'"),
        ({"busybox_image": "  "}, "busybox_image must name an image"),
        ({"network": "bad network"}, "network='bad network'"),
        ({"published_ports": ["9042"]}, "'9042'"),
        ({"published_ports": ["70000:9042"]}, "port 70000"),
        ({"published_ports": ["1.2.3:9042:9042"]}, "'1.2.3'"),
        ({"published_ports": ["9042:9042", "9042:9043"]}, "both take host port"),
        ({"max_heap_size": "512M"}, "go together"),
        ({"max_heap_size": "512M", "heap_newsize": "lots"}, "heap_newsize='lots'"),
        ({"num_tokens": 0}, "num_tokens=0"),
        ({"cluster_name": "a/b"}, "cluster_name='a/b'"),
        ({"dc": "dc 1"}, "dc='dc 1'"),
        ({"endpoint_snitch": "Gossiping Snitch"}, "endpoint_snitch='Gossiping Snitch'"),
        ({"env": {"CASSANDRA_SEEDS": "1.2.3.4"}}, "option seeds"),
        ({"env": {"MAX_HEAP_SIZE": "1G"}}, "option max_heap_size"),
        ({"env": {"BAD-NAME": "x"}}, "'BAD-NAME'"),
        ({"env": {"FLAG": True}}, "env['FLAG']=True"),
        ({"labels": {"io.corral.stack": "x"}}, "io.corral.stack"),
        ({"labels": {"team": None}}, "labels['team']=None"),
        ({"cassandra_yaml": {"listen_address": "1.2.3.4"}}, "listen_address"),
        ({"cassandra_yaml": {"cluster_name": "x"}}, "cluster_name"),
        ({"cassandra_yaml": {"a": {1: "x"}}}, "key 1"),
        ({"cassandra_yaml": {"a": {"b": object}}}, "cassandra_yaml.a.b="),
        ({"jvm_extra_opts": [" "]}, "jvm_extra_opts entry"),
        ({"stop_timeout": -1}, "stop_timeout=-1"),
        ({"data_uid": -5}, "data_uid=-5"),
        ({"stack": " "}, "stack=' '"),
    ],
)
def test_build_spec_rejects_with_offending_value(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(model.NodeSpecError) as error:
        model.build_spec(params(**overrides))
    assert message in str(error.value)


def test_build_spec_absent_needs_only_names() -> None:
    spec = model.build_spec(params(state="absent", image=None, ipv4_address=None, remove_data_container=True))
    assert (spec.name, spec.data_container, spec.remove_data_container) == ("cdb1", "data1", True)


def test_data_container_defaults_to_name_dash_data() -> None:
    assert model.build_spec(params(data_container=None)).data_container == "cdb1-data"


def test_environment_from_options() -> None:
    spec = model.build_spec(
        params(
            seeds=["10.42.0.48", " 10.42.0.49", "10.42.0.48"],
            cluster_name="Weather Cluster",
            dc="dc1",
            rack="rack1",
            endpoint_snitch="GossipingPropertyFileSnitch",
            num_tokens=16,
            max_heap_size="512M",
            heap_newsize="128M",
            jvm_extra_opts=["-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000"],
            env={"LOCAL_JMX": "no", "PORT": 7000},
        )
    )
    assert spec.env == {
        "LOCAL_JMX": "no",
        "PORT": "7000",
        "CASSANDRA_RPC_ADDRESS": "0.0.0.0",
        "CASSANDRA_LISTEN_ADDRESS": "10.42.0.48",
        "CASSANDRA_BROADCAST_ADDRESS": "10.42.0.48",
        "CASSANDRA_BROADCAST_RPC_ADDRESS": "10.42.0.48",
        "CASSANDRA_SEEDS": "10.42.0.48,10.42.0.49",
        "CASSANDRA_CLUSTER_NAME": "Weather Cluster",
        "CASSANDRA_DC": "dc1",
        "CASSANDRA_RACK": "rack1",
        "CASSANDRA_ENDPOINT_SNITCH": "GossipingPropertyFileSnitch",
        "CASSANDRA_NUM_TOKENS": "16",
        "MAX_HEAP_SIZE": "512M",
        "HEAP_NEWSIZE": "128M",
        "JVM_EXTRA_OPTS": "-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=1000",
    }
    assert spec.is_seed


def test_env_may_override_rpc_address() -> None:
    assert model.build_spec(params(env={"CASSANDRA_RPC_ADDRESS": "10.42.0.48"})).env["CASSANDRA_RPC_ADDRESS"] == (
        "10.42.0.48"
    )


@pytest.mark.parametrize(
    ("seeds", "is_seed"),
    [([], False), (["10.42.0.49"], False), (["10.42.0.49", "10.42.0.48"], True)],
)
def test_seed_label(seeds: list[str], is_seed: bool) -> None:
    spec = model.build_spec(params(seeds=seeds))
    assert spec.labels[node_labels.SEED] == ("true" if is_seed else "false")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9042:9042", "9042:9042/tcp"),
        ("19042:9042/tcp", "19042:9042/tcp"),
        ("127.0.0.1:9042:9042", "127.0.0.1:9042:9042/tcp"),
        ("5353:53/udp", "5353:53/udp"),
    ],
)
def test_parse_port(text: str, expected: str) -> None:
    assert model.parse_port(text).text() == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("cassandra", ("cassandra", "latest")),
        ("cassandra:3.10", ("cassandra", "3.10")),
        ("172.30.42.1:5000/corral/cassandra", ("172.30.42.1:5000/corral/cassandra", "latest")),
        ("172.30.42.1:5000/corral/cassandra:4.1.10", ("172.30.42.1:5000/corral/cassandra", "4.1.10")),
        ("busybox@sha256:abc", ("busybox", "sha256:abc")),
    ],
)
def test_split_image_ref(ref: str, expected: tuple[str, str]) -> None:
    assert model.split_image_ref(ref) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("reg:5000/corral/cassandra:3.9", "reg:5000/corral/cassandra:3.10", "3.9 -> 3.10"),
        ("cassandra:3.11", "reg:5000/corral/cassandra:3.11", "cassandra:3.11 -> reg:5000/corral/cassandra:3.11"),
    ],
)
def test_image_change(before: str, after: str, expected: str) -> None:
    assert model.image_change(before, after) == expected


# --- cassandra.yaml ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"x": 1}}, {"a": None}, {"a": None}),
        ({"a": 1}, {"a": {"x": 1}}, {"a": {"x": 1}}),
    ],
)
def test_deep_merge(base: dict[str, Any], override: dict[str, Any], expected: dict[str, Any]) -> None:
    original = repr(base)
    assert model.deep_merge(base, override) == expected
    assert repr(base) == original


IMAGE_YAML = """
cluster_name: 'Test Cluster'
num_tokens: 256
seed_provider:
    - class_name: org.apache.cassandra.locator.SimpleSeedProvider
      parameters:
          - seeds: "127.0.0.1"
listen_address: localhost
# broadcast_address: 1.2.3.4
rpc_address: localhost
concurrent_writes: 32
commitlog_sync_period_in_ms: 10000
client_encryption_options:
    enabled: false
    keystore: conf/.keystore
"""


def test_effective_cassandra_yaml_merges_and_fills_in_environment_keys() -> None:
    spec = model.build_spec(
        params(
            seeds=["10.42.0.48", "10.42.0.49"],
            cluster_name="weather",
            num_tokens=16,
            cassandra_yaml={"concurrent_writes": 64, "client_encryption_options": {"enabled": True}},
        )
    )
    merged = model.effective_cassandra_yaml(model.parse_cassandra_yaml(IMAGE_YAML, "test"), spec)
    assert merged["concurrent_writes"] == 64
    assert merged["client_encryption_options"] == {"enabled": True, "keystore": "conf/.keystore"}
    assert merged["commitlog_sync_period_in_ms"] == 10000
    assert merged["cluster_name"] == "weather"
    assert merged["num_tokens"] == 16
    assert merged["seed_provider"][0]["parameters"][0]["seeds"] == "10.42.0.48,10.42.0.49"
    for key in ("listen_address", "broadcast_address", "broadcast_rpc_address"):
        assert merged[key] == "10.42.0.48"
    assert merged["rpc_address"] == "0.0.0.0"
    rendered = model.render_cassandra_yaml(merged)
    assert model.parse_cassandra_yaml(rendered, "rendered") == merged
    # The image entrypoint edits lines that start with these keys; they must stay at line starts.
    assert "\nbroadcast_address: 10.42.0.48\n" in rendered
    assert "- seeds: 10.42.0.48,10.42.0.49\n" in rendered


def test_effective_cassandra_yaml_without_seed_provider_adds_one() -> None:
    spec = model.build_spec(params(seeds=["10.42.0.48"]))
    merged = model.effective_cassandra_yaml({}, spec)
    assert merged["seed_provider"] == [
        {"class_name": model.SEED_PROVIDER_CLASS, "parameters": [{"seeds": "10.42.0.48"}]}
    ]


@pytest.mark.parametrize("text", ["[1, 2]", "a: [", "just text"])
def test_parse_cassandra_yaml_rejects_non_mappings(text: str) -> None:
    with pytest.raises(model.NodeSpecError, match=r"image\.yaml"):
        model.parse_cassandra_yaml(text, "image.yaml")


# --- comparison --------------------------------------------------------------------------

IMAGE_ATTRS: dict[str, Any] = {
    "Id": "sha256:aaa",
    "Config": {
        "Env": ["PATH=/usr/bin", "CASSANDRA_CONF=/etc/cassandra", "MAX_HEAP_SIZE=1G"],
        "Labels": {"org.opencontainers.image.version": "3.9"},
    },
}


def container_attrs(spec: model.NodeSpec, **changes: Any) -> dict[str, Any]:
    """Inspect data like the engine returns for a container created from spec (engine merges image env)."""
    env = dict(model.env_dict(IMAGE_ATTRS["Config"]["Env"]))
    env.update(spec.env)
    labels = dict(IMAGE_ATTRS["Config"]["Labels"])
    labels.update(spec.labels)
    labels[node_labels.CONFIG_HASH] = model.config_hash(spec)
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in spec.published_ports:
        bindings.setdefault(port.container_key, []).append({"HostIp": port.host_ip, "HostPort": str(port.host_port)})
    attrs: dict[str, Any] = {
        "Id": "c1",
        "Image": "sha256:aaa",
        "Config": {
            "Image": spec.image,
            "Hostname": spec.name,
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Labels": labels,
        },
        "HostConfig": {
            "VolumesFrom": [spec.data_container],
            "PortBindings": bindings,
            "RestartPolicy": {"Name": spec.restart_policy, "MaximumRetryCount": 0},
            "NetworkMode": spec.network,
        },
        "NetworkSettings": {"Networks": {spec.network: {"IPAMConfig": {"IPv4Address": spec.ipv4_address}}}},
        "State": {"Running": True},
    }
    for path, value in changes.items():
        target = attrs
        *parents, last = path.split(".")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return attrs


def full_spec(**overrides: Any) -> model.NodeSpec:
    return model.build_spec(
        params(
            seeds=["10.42.0.48"],
            published_ports=["9042:9042"],
            max_heap_size="512M",
            heap_newsize="128M",
            cassandra_yaml={"concurrent_writes": 64},
            labels={"team": "weather"},
            host_label="hostname=cassandra1",
            **overrides,
        )
    )


def test_container_made_from_spec_has_no_differences() -> None:
    spec = full_spec()
    assert model.differences(*model.compared_views(spec, IMAGE_ATTRS, container_attrs(spec), IMAGE_ATTRS)) == []


@pytest.mark.parametrize("env", [{"PATH": "/usr/bin"}, {"LOCAL_JMX": "no"}])
def test_env_set_or_equal_to_image_default_is_no_difference(env: dict[str, str]) -> None:
    spec = full_spec(env=env)
    assert model.differences(*model.compared_views(spec, IMAGE_ATTRS, container_attrs(spec), IMAGE_ATTRS)) == []


def test_option_equal_to_image_default_matches_container_created_without_it() -> None:
    without = model.build_spec(params())
    with_default = model.build_spec(params(max_heap_size="1G", heap_newsize="256M"))
    reasons = model.differences(*model.compared_views(with_default, IMAGE_ATTRS, container_attrs(without), IMAGE_ATTRS))
    assert reasons == ["env HEAP_NEWSIZE added"]


def test_dropped_env_is_a_difference() -> None:
    old = full_spec(env={"LOCAL_JMX": "no"})
    reasons = model.differences(*model.compared_views(full_spec(), IMAGE_ATTRS, container_attrs(old), IMAGE_ATTRS))
    assert reasons == ["env LOCAL_JMX removed"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"image": "172.30.42.1:5000/corral/cassandra:3.10"}, ["image changed 3.9 -> 3.10"]),
        ({"ipv4_address": "10.42.0.49"}, None),
        ({"max_heap_size": "1G", "heap_newsize": "256M"}, None),
        ({"published_ports": []}, ["published_ports changed ['9042:9042/tcp'] -> []"]),
        ({"restart_policy": "always"}, ["restart_policy changed unless-stopped -> always"]),
        ({"cassandra_yaml": {"concurrent_writes": 32}}, None),
        ({"labels": {}}, ["label team removed"]),
        ({"env": {"LOCAL_JMX": "no"}}, ["env LOCAL_JMX added"]),
    ],
)
def test_differences_name_the_changed_setting(overrides: dict[str, Any], expected: list[str] | None) -> None:
    old = full_spec()
    new_params = {
        "seeds": ["10.42.0.48"],
        "published_ports": ["9042:9042"],
        "max_heap_size": "512M",
        "heap_newsize": "128M",
        "cassandra_yaml": {"concurrent_writes": 64},
        "labels": {"team": "weather"},
        "host_label": "hostname=cassandra1",
    }
    new_params.update(overrides)
    new = model.build_spec(params(**new_params))
    reasons = model.differences(*model.compared_views(new, IMAGE_ATTRS, container_attrs(old), IMAGE_ATTRS))
    assert reasons
    if expected is not None:
        assert reasons == expected
    if "ipv4_address" in overrides:
        assert "ipv4_address on managed changed 10.42.0.48 -> 10.42.0.49" in reasons
        assert "label io.corral.requested-ip changed 10.42.0.48 -> 10.42.0.49" in reasons
    if "max_heap_size" in overrides:
        assert reasons == ["env HEAP_NEWSIZE changed 128M -> 256M", "env MAX_HEAP_SIZE changed 512M -> 1G"]
    if "cassandra_yaml" in overrides:
        assert reasons == ["cassandra_yaml changed (concurrent_writes)"]


def test_container_view_reads_docker_defaults() -> None:
    attrs = {
        "Config": {"Image": "x", "Hostname": "h", "Env": None, "Labels": None},
        "HostConfig": {"RestartPolicy": {"Name": ""}, "NetworkMode": "default", "PortBindings": None},
        "NetworkSettings": {"Networks": {}},
    }
    view = model.container_view(attrs, None)
    assert view["restart_policy"] == "no"
    assert view["networks"] == {"default": None}
    assert view["published_ports"] == []
    assert view["cassandra_yaml"] == {}


def test_config_hash_changes_with_settings_only() -> None:
    assert model.config_hash(full_spec()) == model.config_hash(full_spec())
    assert model.config_hash(full_spec()) != model.config_hash(full_spec(num_tokens=16))


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"HostConfig": {"Binds": ["/cassandra/data:/var/lib/cassandra:rw"]}}, "/cassandra/data"),
        ({"HostConfig": {"Binds": ["/srv/c/:/var/lib/cassandra/"]}}, "/srv/c"),
        (
            {
                "HostConfig": {"Binds": None},
                "Mounts": [{"Type": "bind", "Source": "/x", "Destination": "/var/lib/cassandra"}],
            },
            "/x",
        ),
        ({"HostConfig": {"Binds": ["/other:/data"]}}, None),
    ],
)
def test_data_bind_source(attrs: dict[str, Any], expected: str | None) -> None:
    assert model.data_bind_source(attrs) == expected


# --- the record of what was deployed (io.corral.settings, io.corral.upgraded-from) ----------------


def test_settings_label_records_the_options_and_replays_to_the_same_container() -> None:
    spec = full_spec(env={"LOCAL_JMX": "no"}, jvm_extra_opts=["-Dcassandra.ring_delay_ms=30000"], cluster_name="weather")
    recorded = node_labels.recorded_settings(spec.labels)
    assert recorded is not None
    assert recorded["published_ports"] == ["9042:9042/tcp"]
    assert recorded["max_heap_size"] == "512M" and recorded["cluster_name"] == "weather"
    assert recorded["env"] == {"LOCAL_JMX": "no"} and recorded["cassandra_yaml"] == {"concurrent_writes": 64}
    # The module called again with what the container records finds nothing to change.
    replayed = model.build_spec(params(labels={"team": "weather"}, **recorded))
    assert model.differences(*model.compared_views(replayed, IMAGE_ATTRS, container_attrs(spec), IMAGE_ATTRS)) == []
    assert model.config_hash(replayed) == model.config_hash(spec)


@pytest.mark.parametrize("label", [node_labels.SETTINGS, node_labels.UPGRADED_FROM])
def test_records_are_never_a_reason_to_recreate(label: str) -> None:
    """A container created before the records existed, or by an upgrade, matches the same options."""
    spec = full_spec()
    attrs = container_attrs(spec)
    labels = dict(attrs["Config"]["Labels"])
    labels.pop(node_labels.SETTINGS)
    attrs["Config"]["Labels"] = labels if label == node_labels.SETTINGS else {**labels, label: "reg/cassandra:3.9"}
    assert model.differences(*model.compared_views(spec, IMAGE_ATTRS, attrs, IMAGE_ATTRS)) == []


@pytest.mark.parametrize("labels", [{}, {node_labels.SETTINGS: "not json"}, {node_labels.SETTINGS: "[1]"}])
def test_no_readable_record_is_none(labels: dict[str, str]) -> None:
    assert node_labels.recorded_settings(labels) is None
