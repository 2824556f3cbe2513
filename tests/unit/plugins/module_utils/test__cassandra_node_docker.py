"""The node module's Docker side, against an in-memory engine that answers like the real API."""

from __future__ import annotations

import io
import itertools
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node as model
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_docker as engine
from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_labels as node_labels
from docker.errors import APIError, NotFound
from docker.types import ContainerConfig, EndpointConfig, HostConfig

API = "1.41"
CASSANDRA_39 = "reg:5000/corral/cassandra:3.9"
CASSANDRA_310 = "reg:5000/corral/cassandra:3.10"
BUSYBOX = "reg:5000/corral/busybox:stable"
IMAGE_YAML = b"cluster_name: 'Test Cluster'\nlisten_address: localhost\nconcurrent_writes: 32\n"


class FakeEngine:
    """Enough of docker.APIClient for the node module, keeping containers in dicts."""

    def __init__(self, registry: dict[str, dict[str, Any]]) -> None:
        self.registry = registry
        self.images: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, tuple[bytes, int]]] = {}
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.logs_of: dict[str, list[bytes]] = {}
        self._ids = itertools.count(1)

    # images
    def inspect_image(self, ref: str) -> dict[str, Any]:
        for name, attrs in self.images.items():
            if ref in (name, attrs["Id"]):
                return attrs
        raise NotFound(f"No such image: {ref}")

    def pull(self, repo: str, tag: str, stream: bool, decode: bool) -> Iterator[dict[str, Any]]:
        self.calls.append(f"pull {repo}:{tag}")
        ref = f"{repo}:{tag}"
        if ref not in self.registry:
            raise NotFound(f"manifest for {ref} not found: manifest unknown")
        self.images[ref] = self.registry[ref]
        yield {"status": "Downloaded newer image"}

    # containers
    def _find(self, name_or_id: str) -> dict[str, Any]:
        for attrs in self.containers.values():
            if name_or_id in (attrs["Name"].lstrip("/"), attrs["Id"]):
                return attrs
        raise NotFound(f"No such container: {name_or_id}")

    def inspect_container(self, name_or_id: str) -> dict[str, Any]:
        return self._find(name_or_id)

    def create_host_config(self, **kwargs: Any) -> HostConfig:
        return HostConfig(API, **kwargs)

    def create_endpoint_config(self, **kwargs: Any) -> EndpointConfig:
        return EndpointConfig(API, **kwargs)

    def create_networking_config(self, endpoints: dict[str, Any]) -> dict[str, Any]:
        return {"EndpointsConfig": endpoints}

    def create_container(self, image: str, name: str, **kwargs: Any) -> dict[str, str]:
        self.calls.append(f"create {name}")
        if "create" in self.fail:
            raise self.fail.pop("create")
        kwargs.pop("use_config_proxy")
        host_config = kwargs.pop("host_config")
        networking = kwargs.pop("networking_config", None)
        config = ContainerConfig(API, image, kwargs.pop("command", None), **kwargs)
        image_attrs = self.inspect_image(image)
        env = model.env_dict(image_attrs["Config"]["Env"])
        env.update(model.env_dict(config.get("Env")))
        labels = dict(image_attrs["Config"].get("Labels") or {})
        labels.update(config.get("Labels") or {})
        container_id = f"c{next(self._ids)}"
        networks = {
            net: {"IPAMConfig": {"IPv4Address": endpoint.get("IPAMConfig", {}).get("IPv4Address")}}
            for net, endpoint in ((networking or {}).get("EndpointsConfig") or {}).items()
        }
        self.containers[container_id] = {
            "Id": container_id,
            "Name": f"/{name}",
            "Image": image_attrs["Id"],
            "Config": {
                "Image": image,
                "Hostname": config.get("Hostname") or container_id,
                "Env": [f"{key}={value}" for key, value in env.items()],
                "Labels": labels,
            },
            "HostConfig": dict(host_config),
            "NetworkSettings": {"Networks": networks},
            "State": {"Running": False},
        }
        self.files[container_id] = {"/etc/cassandra/cassandra.yaml": (IMAGE_YAML, 999)}
        return {"Id": container_id}

    def get_archive(self, container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        data, uid = self.files[self._find(container)["Id"]][path]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(os.path.basename(path))
            info.size, info.uid, info.gid, info.mode = len(data), uid, uid, 0o644
            archive.addfile(info, io.BytesIO(data))
        return iter([buffer.getvalue()]), {}

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member)
                assert handle is not None
                self.files[self._find(container)["Id"]][f"{path}/{member.name}"] = (handle.read(), member.uid)
        return True

    def start(self, container: str) -> None:
        attrs = self._find(container)
        self.calls.append(f"start {attrs['Name'].lstrip('/')}")
        if "start" in self.fail:
            raise self.fail.pop("start")
        attrs["State"]["Running"] = True

    def stop(self, container: str, timeout: int) -> None:
        attrs = self._find(container)
        self.calls.append(f"stop {attrs['Name'].lstrip('/')} {timeout}")
        attrs["State"]["Running"] = False

    def logs(self, container: str, stdout: bool, stderr: bool, stream: bool, follow: bool) -> Iterator[bytes]:
        assert stream and not follow
        return iter(self.logs_of.get(self._find(container)["Name"].lstrip("/"), []))

    def rename(self, container: str, name: str) -> None:
        attrs = self._find(container)
        self.calls.append(f"rename {attrs['Name'].lstrip('/')} {name}")
        attrs["Name"] = f"/{name}"

    def remove_container(self, container: str, v: bool, force: bool) -> None:
        attrs = self._find(container)
        self.calls.append(f"remove {attrs['Name'].lstrip('/')}")
        assert not v
        del self.containers[attrs["Id"]]


def image(image_id: str, **env: str) -> dict[str, Any]:
    return {"Id": image_id, "Config": {"Env": [f"{k}={v}" for k, v in env.items()], "Labels": {}}}


REGISTRY = {
    CASSANDRA_39: image("sha256:39", CASSANDRA_CONF="/etc/cassandra"),
    CASSANDRA_310: image("sha256:310", CASSANDRA_CONF="/etc/cassandra"),
    BUSYBOX: image("sha256:bb"),
}


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine(dict(REGISTRY))


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "cassandra" / "data")


def spec(data_dir: str, **overrides: Any) -> model.NodeSpec:
    params: dict[str, Any] = {key: option.get("default") for key, option in model.ARGUMENT_SPEC.items()}
    params.update(
        name="cdb1",
        data_container="data1",
        image=CASSANDRA_39,
        busybox_image=BUSYBOX,
        ipv4_address="10.42.0.48",
        seeds=["10.42.0.48"],
        data_dir=data_dir,
        data_uid=os.getuid(),
        data_gid=os.getgid(),
        max_heap_size="512M",
        heap_newsize="128M",
        published_ports=["9042:9042"],
    )
    params.update(overrides)
    return model.build_spec(params)


def run(fake: FakeEngine, node: model.NodeSpec, check_mode: bool = False) -> dict[str, Any]:
    manager = engine.NodeManager(fake, node, check_mode=check_mode, sleep=lambda _: None)
    result = manager.run()
    result["diff"] = manager.diff()
    result["warnings"] = manager.warnings
    return result


def four_times(fake: FakeEngine, node: model.NodeSpec, actions: list[str]) -> list[dict[str, Any]]:
    """Check mode, real, check mode again, real again (the house pattern): the first two do `actions`, the others nothing."""
    results = [run(fake, node, check_mode=check) for check in (True, False, True, False)]
    check, real, check_again, real_again = results
    assert check["changed"] and check["actions"] == actions
    assert real["changed"] and real["actions"] == actions
    assert not check_again["changed"] and check_again["actions"] == []
    assert not real_again["changed"] and real_again["actions"] == []
    return results


def test_new_node_four_times(fake: FakeEngine, data_dir: str) -> None:
    expected = [
        f"pulled {CASSANDRA_39}",
        f"pulled {BUSYBOX}",
        f"created directory {data_dir} owned by {os.getuid()}:{os.getgid()}",
        "created data1",
        "created cdb1",
        "started cdb1",
    ]
    check, real, check_again, real_again = four_times(fake, spec(data_dir), expected)
    assert check["images_missing"] == real["images_missing"] == [CASSANDRA_39, BUSYBOX]
    assert check_again["images_missing"] == real_again["images_missing"] == []
    assert check_again["diff"]["before"] == check_again["diff"]["after"]
    assert os.path.isdir(data_dir)

    cdb1, data1 = fake._find("cdb1"), fake._find("data1")
    assert cdb1["State"]["Running"] and not data1["State"]["Running"]
    assert data1["HostConfig"]["Binds"] == [f"{data_dir}:/var/lib/cassandra:rw"]
    assert cdb1["HostConfig"]["VolumesFrom"] == ["data1"]
    assert cdb1["HostConfig"]["PortBindings"] == {"9042/tcp": [{"HostIp": "", "HostPort": "9042"}]}
    assert cdb1["NetworkSettings"]["Networks"] == {"managed": {"IPAMConfig": {"IPv4Address": "10.42.0.48"}}}
    labels = cdb1["Config"]["Labels"]
    assert labels[node_labels.ROLE] == "cassandra" and labels[node_labels.SEED] == "true"
    assert labels[node_labels.CONFIG_HASH] == real["config_hash"]
    assert data1["Config"]["Labels"][node_labels.SIDEKICK_OF] == "cdb1"
    assert real["cassandra_container"]["id"] == cdb1["Id"] and real["data_container"]["id"] == data1["Id"]
    assert check["cassandra_container"]["id"] is None


def test_observed_is_what_the_host_held_before_the_run(fake: FakeEngine, data_dir: str) -> None:
    """A plan in check mode reports the host's state, so that no other read is needed to decide a bring-up."""
    node = spec(data_dir, jvm_extra_opts=["-Dcassandra.ring_delay_ms=1000"])
    nothing = {
        "data_present": False,
        "user_data": False,
        "first_boot_only": False,
        "exists": False,
        "running": False,
        "restarting": False,
        "restarts": 0,
        "image": "",
        "jvm_extra_opts": None,
        "num_tokens": None,
    }
    assert run(fake, node, check_mode=True)["observed"] == nothing
    assert run(fake, node)["observed"] == nothing
    os.makedirs(os.path.join(data_dir, "data", "system"))
    there = dict(nothing, data_present=True, exists=True, running=True, image=CASSANDRA_39)
    there["jvm_extra_opts"] = "-Dcassandra.ring_delay_ms=1000"
    assert run(fake, spec(data_dir), check_mode=True)["observed"] == there
    assert run(fake, spec(data_dir, state="stopped"))["observed"] == there
    assert run(fake, spec(data_dir))["observed"] == dict(there, running=False, jvm_extra_opts=None)
    assert run(fake, spec(data_dir, state="absent"))["observed"] is None
    # The number of tokens the container was given (an upgrade from 3.x keeps 256 on 4.x): what site.yml compares.
    run(fake, spec(data_dir, num_tokens=256))
    assert run(fake, spec(data_dir, num_tokens=256), check_mode=True)["observed"]["num_tokens"] == 256


TOKENS = "-Dcassandra.initial_token=-3,5"


def crashed_first_boot(fake: FakeEngine, data_dir: str, keyspaces: tuple[str, ...] = ("system", "system_schema")) -> None:
    """cdb1 created for a brand-new cluster, died at its first boot and restarted by Docker, never served CQL."""
    run(fake, spec(data_dir, jvm_extra_opts=[TOKENS, "-Dcassandra.auto_bootstrap=false"]))
    for keyspace in keyspaces:
        os.makedirs(os.path.join(data_dir, "data", keyspace, "t-1"))
    os.makedirs(os.path.join(data_dir, "commitlog"))
    attrs = fake._find("cdb1")
    attrs["RestartCount"] = 2
    attrs["State"].update(Running=True, Restarting=True)
    fake.logs_of["cdb1"] = [b"INFO Initializing system.local\n", b"ERROR Unable to contact any seeds!\n"]


def test_a_failed_first_boot_is_seen_in_the_plan(fake: FakeEngine, data_dir: str) -> None:
    crashed_first_boot(fake, data_dir)
    seen = run(fake, spec(data_dir, jvm_extra_opts=[TOKENS, "-Dcassandra.auto_bootstrap=false"]), check_mode=True)["observed"]
    assert (seen["data_present"], seen["first_boot_only"], seen["user_data"], seen["restarting"]) == (True, True, False, True)
    assert seen["restarts"] == 2


def test_first_boot_reset_empties_the_data_directory_and_starts_again(fake: FakeEngine, data_dir: str) -> None:
    crashed_first_boot(fake, data_dir)
    reset = spec(data_dir, state="first_boot_reset")
    check = run(fake, reset, check_mode=True)
    assert check["actions"] == ["stopped cdb1", f"emptied {data_dir}", "started cdb1 again"]
    assert sorted(os.listdir(data_dir)) == ["commitlog", "data"]
    fake.calls.clear()
    real = run(fake, reset)
    assert real["changed"] and os.listdir(data_dir) == []
    assert fake.calls == ["stop cdb1 120", "start cdb1"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("served", "has served CQL"),
        ("user_data", "holds the keyspaces weather"),
        ("no_tokens", "carry no computed tokens"),
        ("healthy", "runs and has not crashed"),
    ],
)
def test_first_boot_reset_never_empties_a_node_that_holds_or_held_data(
    fake: FakeEngine, data_dir: str, change: str, reason: str
) -> None:
    crashed_first_boot(fake, data_dir, ("system", "weather") if change == "user_data" else ("system",))
    attrs = fake._find("cdb1")
    if change == "served":
        fake.logs_of["cdb1"] = [b"INFO Starting listening for CQL ", b"clients on /0.0.0.0:9042\n", b"ERROR later\n"]
    if change == "no_tokens":
        attrs["Config"]["Env"] = [e for e in attrs["Config"]["Env"] if not e.startswith("JVM_EXTRA_OPTS=")]
    if change == "healthy":
        attrs["RestartCount"] = 0
        attrs["State"].update(Running=True, Restarting=False)
    before = sorted(os.listdir(data_dir))
    fake.calls.clear()
    with pytest.raises(engine.NodeError, match=reason):
        run(fake, spec(data_dir, state="first_boot_reset"))
    assert sorted(os.listdir(data_dir)) == before and fake.calls == []


def test_cassandra_yaml_is_written_before_first_start(fake: FakeEngine, data_dir: str) -> None:
    node = spec(data_dir, cassandra_yaml={"concurrent_writes": 64})
    run(fake, node)
    written, uid = fake.files[fake._find("cdb1")["Id"]]["/etc/cassandra/cassandra.yaml"]
    config = yaml.safe_load(written)
    assert uid == 999
    assert config["concurrent_writes"] == 64
    assert config["cluster_name"] == "Test Cluster"
    assert config["listen_address"] == config["broadcast_address"] == "10.42.0.48"
    assert fake.calls.index("start cdb1") > fake.calls.index("create cdb1")
    assert not run(fake, node)["changed"]


def test_setting_change_recreates_and_keeps_data_container(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    data_id, old_id = fake._find("data1")["Id"], fake._find("cdb1")["Id"]
    fake.calls.clear()
    node = spec(data_dir, image=CASSANDRA_310, stop_timeout=300)
    check = run(fake, node, check_mode=True)
    assert check["actions"] == [f"pulled {CASSANDRA_310}", "recreated cdb1: image changed 3.9 -> 3.10", "started cdb1"]
    # The data container exists: only the new Cassandra image is needed.
    assert check["images_missing"] == [CASSANDRA_310]
    assert fake.calls == []
    result = run(fake, node)
    assert result["actions"] == check["actions"]
    assert fake.calls == [
        "pull reg:5000/corral/cassandra:3.10",
        "stop cdb1 300",
        "rename cdb1 cdb1-previous",
        "create cdb1",
        "start cdb1",
        "remove cdb1-previous",
    ]
    assert fake._find("data1")["Id"] == data_id and fake._find("cdb1")["Id"] != old_id
    assert result["diff"]["before"]["cassandra_container"]["image"] == CASSANDRA_39
    assert result["diff"]["after"]["cassandra_container"]["image"] == CASSANDRA_310
    assert not run(fake, node)["changed"]


def test_failed_recreate_puts_old_container_back(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.fail["start"] = APIError("Address already in use")
    with pytest.raises(engine.NodeError, match=r"recreating cdb1 failed: cannot start cdb1.*old container is back"):
        run(fake, spec(data_dir, max_heap_size="1G", heap_newsize="256M"))
    restored = fake._find("cdb1")
    assert restored["Id"] == old_id and restored["State"]["Running"]
    assert [c["Name"] for c in fake.containers.values()] == ["/data1", "/cdb1"]


def test_transient_network_error_on_start_is_retried(fake: FakeEngine, data_dir: str) -> None:
    fake.fail["start"] = APIError("attaching to network failed: context deadline exceeded")
    result = run(fake, spec(data_dir))
    assert result["actions"][-1] == "started cdb1"
    assert fake.calls.count("start cdb1") == 2


def test_stopped_then_present(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    assert run(fake, spec(data_dir, state="stopped"))["actions"] == ["stopped cdb1"]
    assert not fake._find("cdb1")["State"]["Running"]
    assert not run(fake, spec(data_dir, state="stopped"))["changed"]
    assert run(fake, spec(data_dir))["actions"] == ["started cdb1"]


def test_data_container_with_other_bind_fails_and_is_kept(fake: FakeEngine, data_dir: str, tmp_path: Path) -> None:
    run(fake, spec(data_dir))
    other = str(tmp_path / "other")
    with pytest.raises(engine.NodeError, match=f"binds {data_dir} to /var/lib/cassandra, not data_dir {other}"):
        run(fake, spec(other))
    assert fake._find("data1")
    assert not os.path.exists(other)


def test_pull_failure_names_image(fake: FakeEngine, data_dir: str) -> None:
    with pytest.raises(engine.NodeError, match=r"cannot pull image reg:5000/corral/cassandra:9\.9: .*manifest unknown"):
        run(fake, spec(data_dir, image="reg:5000/corral/cassandra:9.9"))
    assert fake.containers == {}
    assert not os.path.exists(data_dir)


def test_pull_never_fails_for_missing_image(fake: FakeEngine, data_dir: str) -> None:
    fake.images[BUSYBOX] = REGISTRY[BUSYBOX]
    with pytest.raises(engine.NodeError, match=f"image {CASSANDRA_39} is not on this host and pull=never"):
        run(fake, spec(data_dir, pull="never"))


def test_pull_always_recreates_only_for_a_new_image(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    assert not run(fake, spec(data_dir, pull="always"))["changed"]
    fake.registry[CASSANDRA_39] = image("sha256:39b", CASSANDRA_CONF="/etc/cassandra")
    actions = run(fake, spec(data_dir, pull="always"))["actions"]
    assert actions[0] == f"pulled {CASSANDRA_39}"
    assert actions[1] == f"recreated cdb1: image {CASSANDRA_39} is now 39b, was 39"


def test_absent_keeps_data_unless_asked(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    absent = spec(data_dir, state="absent")
    assert run(fake, absent, check_mode=True)["actions"] == ["removed cdb1"]
    result = run(fake, absent)
    assert result["actions"] == ["removed cdb1"]
    assert "stop cdb1 120" in fake.calls
    assert result["data_container"]["name"] == "data1"
    assert not run(fake, absent)["changed"]
    remove_all = spec(data_dir, state="absent", remove_data_container=True)
    assert run(fake, remove_all)["actions"] == ["removed data1 (the host directory is kept)"]
    assert fake.containers == {}
    assert os.path.isdir(data_dir)
    assert not run(fake, remove_all)["changed"]


def test_leftover_previous_container_is_cleared(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    fake.rename("cdb1", "cdb1-previous")
    result = run(fake, spec(data_dir))
    assert result["actions"] == [
        "removed cdb1-previous (left by an interrupted recreate)",
        "created cdb1",
        "started cdb1",
    ]


def test_foreign_previous_container_is_not_removed(fake: FakeEngine, data_dir: str) -> None:
    fake.images[BUSYBOX] = REGISTRY[BUSYBOX]
    fake.create_container(image=BUSYBOX, name="cdb1-previous", use_config_proxy=False, host_config={})
    with pytest.raises(engine.NodeError, match="cdb1-previous is in the way"):
        run(fake, spec(data_dir))


def test_start_failing_on_the_overlay_explains_likely_causes(fake: FakeEngine, data_dir: str) -> None:
    class AlwaysFailing(dict[str, Exception]):
        def __contains__(self, key: object) -> bool:
            return key == "start"

        def pop(self, key: str, *default: Any) -> Exception:
            return APIError("attaching to network failed: context deadline exceeded")

    fake.fail = AlwaysFailing()
    with pytest.raises(engine.NodeError) as error:
        run(fake, spec(data_dir))
    assert str(error.value).startswith("cannot start cdb1: attaching to network failed: context deadline exceeded")
    assert "(3 attempts)" in str(error.value) and "10.42.0.48 is taken on network managed" in str(error.value)
    assert fake.calls.count("start cdb1") == engine.START_ATTEMPTS


def test_stopped_container_that_cannot_rejoin_the_overlay_is_recreated(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir, state="stopped"))
    stale_id = fake._find("cdb1")["Id"]
    real_start = fake.start

    def start(container: str) -> None:
        if container == stale_id:
            fake.calls.append("start cdb1")
            raise APIError("network 1a2b3c not found")
        real_start(container)

    fake.start = start  # type: ignore[method-assign]
    result = run(fake, spec(data_dir))
    assert result["actions"] == [
        "recreated cdb1: it could not rejoin managed (network 1a2b3c not found)",
        "started cdb1",
    ]
    assert fake._find("cdb1")["Id"] != stale_id and fake._find("cdb1")["State"]["Running"]
    assert [c["Name"] for c in fake.containers.values()] == ["/data1", "/cdb1"]


# --- rollback copies (upgrades) ---------------------------------------------------------------


def upgraded(fake: FakeEngine, data_dir: str) -> tuple[str, str]:
    """cdb1 on 3.9, then upgraded to 3.10 keeping the old one: (old id, new id)."""
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep"))
    return old_id, fake._find("cdb1")["Id"]


def test_upgrade_keeps_the_old_container_as_rollback_copy_four_times(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.calls.clear()
    expected = [
        f"pulled {CASSANDRA_310}",
        "recreated cdb1: image changed 3.9 -> 3.10",
        f"kept the old cdb1 ({CASSANDRA_39}) stopped as cdb1-rollback",
        "started cdb1",
    ]
    _check, real, _check_again, real_again = four_times(
        fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep"), expected
    )
    assert fake.calls == [
        "pull reg:5000/corral/cassandra:3.10",
        "stop cdb1 120",
        "rename cdb1 cdb1-rollback",
        "create cdb1",
        "start cdb1",
    ]
    copy = fake._find("cdb1-rollback")
    assert copy["Id"] == old_id and not copy["State"]["Running"] and copy["Config"]["Image"] == CASSANDRA_39
    assert real["rollback_copy"] == {"id": old_id, "name": "cdb1-rollback", "image": CASSANDRA_39, "state": "stopped"}
    assert real_again["rollback_copy"] == real["rollback_copy"]
    assert real["diff"]["after"]["rollback_copy"]["image"] == CASSANDRA_39
    assert fake._find("cdb1")["HostConfig"]["VolumesFrom"] == ["data1"]


def test_a_second_recreate_keeps_the_first_rollback_copy(fake: FakeEngine, data_dir: str) -> None:
    old_id, new_id = upgraded(fake, data_dir)
    fake.calls.clear()
    result = run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep", published_ports=[]))
    assert not any(action.startswith("kept") for action in result["actions"])
    assert fake.calls[-1] == "remove cdb1-previous"
    assert fake._find("cdb1-rollback")["Id"] == old_id
    assert fake._find("cdb1")["Id"] != new_id


def test_failed_start_of_the_new_container_puts_the_old_one_back(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.fail["start"] = APIError("Address already in use")
    with pytest.raises(engine.NodeError, match="old container is back and running"):
        run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep"))
    assert fake._find("cdb1")["Id"] == old_id and fake._find("cdb1")["State"]["Running"]
    assert sorted(c["Name"] for c in fake.containers.values()) == ["/cdb1", "/data1"]


def test_interrupted_upgrade_resumes_with_the_copy_kept(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.stop(old_id, 120)
    fake.rename(old_id, "cdb1-rollback")
    result = run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep"))
    assert result["actions"] == [f"pulled {CASSANDRA_310}", "created cdb1", "started cdb1"]
    assert fake._find("cdb1-rollback")["Id"] == old_id
    assert result["rollback_copy"]["id"] == old_id


def test_rolled_back_restores_the_copy_four_times(fake: FakeEngine, data_dir: str) -> None:
    old_id, _new_id = upgraded(fake, data_dir)
    data_id = fake._find("data1")["Id"]
    fake.calls.clear()
    expected = [
        f"removed cdb1 ({CASSANDRA_310})",
        f"restored cdb1 from cdb1-rollback ({CASSANDRA_39})",
        "started cdb1",
    ]
    _check, real, _check_again, _real_again = four_times(fake, spec(data_dir, state="rolled_back"), expected)
    assert fake.calls == [
        "stop cdb1 120",
        "rename cdb1 cdb1-previous",
        "rename cdb1-rollback cdb1",
        "start cdb1",
        "remove cdb1-previous",
    ]
    restored = fake._find("cdb1")
    assert restored["Id"] == old_id and restored["State"]["Running"]
    assert sorted(c["Name"] for c in fake.containers.values()) == ["/cdb1", "/data1"]
    assert fake._find("data1")["Id"] == data_id
    assert real["cassandra_container"]["id"] == old_id and real["rollback_copy"] is None
    assert real["diff"]["before"]["rollback_copy"]["image"] == CASSANDRA_39
    assert real["diff"]["after"]["cassandra_container"]["image"] == CASSANDRA_39


def test_rolled_back_after_an_interrupted_upgrade(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.stop(old_id, 120)
    fake.rename(old_id, "cdb1-rollback")
    result = run(fake, spec(data_dir, state="rolled_back"))
    assert result["actions"] == [f"restored cdb1 from cdb1-rollback ({CASSANDRA_39})", "started cdb1"]
    assert fake._find("cdb1")["Id"] == old_id and fake._find("cdb1")["State"]["Running"]


def test_failed_rollback_puts_both_containers_back(fake: FakeEngine, data_dir: str) -> None:
    old_id, new_id = upgraded(fake, data_dir)
    real_start = fake.start

    def start(container: str) -> None:
        if container == old_id:
            raise APIError("Address already in use")
        real_start(container)

    fake.start = start  # type: ignore[method-assign]
    expected = "rolling back cdb1 failed: cannot start cdb1: Address already in use; cdb1 is back as it was and running"
    with pytest.raises(engine.NodeError, match=expected):
        run(fake, spec(data_dir, state="rolled_back"))
    assert fake._find("cdb1")["Id"] == new_id and fake._find("cdb1")["State"]["Running"]
    assert fake._find("cdb1-rollback")["Id"] == old_id and not fake._find("cdb1-rollback")["State"]["Running"]


@pytest.mark.parametrize("running", [True, False])
def test_rolled_back_without_a_copy_only_makes_sure_the_node_runs(
    fake: FakeEngine, data_dir: str, running: bool
) -> None:
    run(fake, spec(data_dir, state="present" if running else "stopped"))
    result = run(fake, spec(data_dir, state="rolled_back"))
    assert result["actions"] == ([] if running else ["started cdb1"])
    assert fake._find("cdb1")["State"]["Running"]


def test_rolled_back_without_any_container_fails(fake: FakeEngine, data_dir: str) -> None:
    with pytest.raises(engine.NodeError, match="cdb1 has no container and no rollback copy cdb1-rollback"):
        run(fake, spec(data_dir, state="rolled_back"))


def test_remove_makes_the_upgrade_final_four_times(fake: FakeEngine, data_dir: str) -> None:
    _old_id, new_id = upgraded(fake, data_dir)
    final = spec(data_dir, image=CASSANDRA_310, rollback_copy="remove")
    check, real, _check_again, _real_again = four_times(
        fake, final, [f"removed cdb1-rollback (the rollback copy, {CASSANDRA_39})"]
    )
    assert check["rollback_copy"] is None and real["rollback_copy"] is None
    assert fake._find("cdb1")["Id"] == new_id
    assert sorted(c["Name"] for c in fake.containers.values()) == ["/cdb1", "/data1"]


@pytest.mark.parametrize("state", ["present", "rolled_back"])
def test_a_foreign_container_named_like_the_copy_is_refused(fake: FakeEngine, data_dir: str, state: str) -> None:
    run(fake, spec(data_dir))
    fake.create_container(image=BUSYBOX, name="cdb1-rollback", use_config_proxy=False, host_config={})
    before = dict(fake.containers)
    with pytest.raises(engine.NodeError, match="cdb1-rollback is not a Cassandra node container"):
        run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep", state=state))
    assert fake.containers == before


def test_a_copy_of_another_node_is_refused(fake: FakeEngine, data_dir: str) -> None:
    upgraded(fake, data_dir)
    with pytest.raises(engine.NodeError, match="takes its volumes from data1, not from data9"):
        run(fake, spec(data_dir, state="rolled_back", data_container="data9"))


def test_absent_removes_the_rollback_copy_too(fake: FakeEngine, data_dir: str) -> None:
    upgraded(fake, data_dir)
    result = run(fake, spec(data_dir, state="absent"))
    assert result["actions"] == ["removed cdb1", "removed cdb1-rollback"]
    assert sorted(c["Name"] for c in fake.containers.values()) == ["/data1"]


def test_an_upgraded_container_records_where_it_started(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    assert node_labels.UPGRADED_FROM not in fake._find("cdb1")["Config"]["Labels"]
    upgraded(fake, data_dir)
    labels = fake._find("cdb1")["Config"]["Labels"]
    assert labels[node_labels.UPGRADED_FROM] == CASSANDRA_39
    assert node_labels.recorded_settings(labels)["image"] == CASSANDRA_310  # type: ignore[index]
    # Finished: the record stays (a fact about this container) and changes nothing on the next run.
    result = run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="remove"))
    assert result["actions"] == [f"removed cdb1-rollback (the rollback copy, {CASSANDRA_39})"]


def test_an_upgrade_resumed_after_the_old_container_was_set_aside_records_it_too(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    old_id = fake._find("cdb1")["Id"]
    fake.stop(old_id, 120)
    fake.rename(old_id, "cdb1-rollback")
    run(fake, spec(data_dir, image=CASSANDRA_310, rollback_copy="keep"))
    assert fake._find("cdb1")["Config"]["Labels"][node_labels.UPGRADED_FROM] == CASSANDRA_39


def test_a_plain_recreate_records_no_upgrade(fake: FakeEngine, data_dir: str) -> None:
    run(fake, spec(data_dir))
    run(fake, spec(data_dir, image=CASSANDRA_310))
    assert node_labels.UPGRADED_FROM not in fake._find("cdb1")["Config"]["Labels"]
