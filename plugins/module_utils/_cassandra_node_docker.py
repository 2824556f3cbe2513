# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The node module's Docker side: reads the node's containers, then pulls, creates, starts, stops, removes.

Runs on the managed host with the Docker SDK for Python 5.x or newer, through its low-level
APIClient only. What to do is decided by the pure functions of _cassandra_node.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tarfile
import time
import traceback
from collections.abc import Callable
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils import _cassandra_node_labels as node_labels
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import (
    CASSANDRA_DATA_PATH,
    CASSANDRA_YAML_FILE,
    DEFAULT_CONF_DIR,
    ROLLBACK_SUFFIX,
    SERVED_MARKER,
    SYSTEM_KEYSPACES,
    NodeSpec,
    NodeSpecError,
    compared_views,
    config_hash,
    data_bind_source,
    desired_view,
    differences,
    effective_cassandra_yaml,
    env_dict,
    first_boot_refusals,
    parse_cassandra_yaml,
    render_cassandra_yaml,
    split_image_ref,
)

try:
    from docker import APIClient
    from docker.errors import APIError, DockerException, NotFound
except ImportError:  # pragma: no cover - only on a host without the Docker SDK
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR: str | None = traceback.format_exc()

    class DockerException(Exception):  # type: ignore[no-redef]
        pass

    class APIError(DockerException):  # type: ignore[no-redef]
        explanation: str | None = None

    class NotFound(APIError):  # type: ignore[no-redef]
        pass

else:
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None

API_TIMEOUT = 60
START_ATTEMPTS = 3
START_RETRY_DELAY = 5
PREVIOUS_SUFFIX = "-previous"
MAX_SYMLINKS = 8


class NodeError(Exception):
    """A failure while acting on the host; the message says what failed and on which object."""


class NetworkAttachError(NodeError):
    """A container could not join its network when started (see _transient_network_error)."""

    def __init__(self, message: str, first_error: str) -> None:
        super().__init__(message)
        self.first_error = first_error


def connect(docker_host: str) -> Any:
    """A low-level client with a negotiated API version (SDK 5.x and 7.x alike)."""
    return APIClient(base_url=docker_host, version="auto", timeout=API_TIMEOUT)


def explain(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def _state(attrs: dict[str, Any] | None) -> str:
    if attrs is None:
        return "absent"
    return "running" if (attrs.get("State") or {}).get("Running") else "stopped"


def _transient_network_error(exc: Exception) -> bool:
    # Overlay attachment on a freshly booted worker fails for a while (moby/moby#41841, #32607).
    text = explain(exc).lower()
    return "context deadline exceeded" in text or ("network" in text and "not found" in text)


class NodeManager:
    """Brings one node (data container + Cassandra container) on this host to the spec."""

    def __init__(
        self,
        client: Any,
        spec: NodeSpec,
        check_mode: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.spec = spec
        self.check_mode = check_mode
        self.sleep = sleep
        self.actions: list[str] = []
        self.warnings: list[str] = []
        # Images the node needs that were not on this host when the run began.
        self.images_missing: list[str] = []
        # What the host held when the run began (state present or stopped): a plan in check mode is then
        # also the read that decides how a stack comes up.
        self.observed: dict[str, Any] = {}
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}

    # --- reading ----------------------------------------------------------------------

    def _inspect_container(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.inspect_container(name))
        except NotFound:
            return None
        except APIError as exc:
            raise NodeError(f"cannot inspect container {name}: {explain(exc)}") from None

    def _inspect_image(self, ref: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.inspect_image(ref))
        except NotFound:
            return None
        except APIError as exc:
            raise NodeError(f"cannot inspect image {ref}: {explain(exc)}") from None

    # --- images -----------------------------------------------------------------------

    def _pull(self, ref: str) -> None:
        repo, tag = split_image_ref(ref)
        try:
            for event in self.client.pull(repo, tag=tag, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    raise NodeError(f"cannot pull image {ref}: {event['error']}")
        except APIError as exc:
            raise NodeError(f"cannot pull image {ref}: {explain(exc)}") from None

    def _ensure_image(self, ref: str) -> dict[str, Any] | None:
        """The image's inspect data after pulling as `pull` says; None only in check mode."""
        attrs = self._inspect_image(ref)
        if attrs is None and ref not in self.images_missing:
            self.images_missing.append(ref)
        if attrs is not None and self.spec.pull != "always":
            return attrs
        if attrs is None and self.spec.pull == "never":
            raise NodeError(f"image {ref} is not on this host and pull=never: load or pull it first")
        if self.check_mode:
            if attrs is None:
                self.actions.append(f"pulled {ref}")
            return attrs
        self._pull(ref)
        pulled = self._inspect_image(ref)
        if pulled is None:
            raise NodeError(f"pulled image {ref}, but the engine does not list it")
        if attrs is None or attrs.get("Id") != pulled.get("Id"):
            self.actions.append(f"pulled {ref}")
        return pulled

    # --- host data directory ----------------------------------------------------------

    def _ensure_data_dir(self) -> None:
        spec = self.spec
        owner = f"{spec.data_uid}:{spec.data_gid}"
        try:
            status: os.stat_result | None = os.stat(spec.data_dir)
        except FileNotFoundError:
            status = None
        if status is not None and not stat.S_ISDIR(status.st_mode):
            raise NodeError(f"data_dir {spec.data_dir} exists on this host but is not a directory")
        self.before["data_dir"] = (
            {"path": spec.data_dir, "owner": f"{status.st_uid}:{status.st_gid}"}
            if status
            else {"path": spec.data_dir, "state": "absent"}
        )
        self.after["data_dir"] = {"path": spec.data_dir, "owner": owner}
        try:
            if status is None:
                self.actions.append(f"created directory {spec.data_dir} owned by {owner}")
                if not self.check_mode:
                    os.makedirs(spec.data_dir, mode=0o755)
                    os.chown(spec.data_dir, spec.data_uid, spec.data_gid)
            elif (status.st_uid, status.st_gid) != (spec.data_uid, spec.data_gid):
                self.actions.append(f"changed owner of {spec.data_dir} to {owner}")
                if not self.check_mode:
                    os.chown(spec.data_dir, spec.data_uid, spec.data_gid)
        except OSError as exc:
            raise NodeError(f"cannot prepare data_dir {spec.data_dir}: {exc}") from None

    # --- data container ---------------------------------------------------------------

    def _data_view(self, attrs: dict[str, Any] | None) -> dict[str, Any]:
        if attrs is None:
            return {"name": self.spec.data_container, "state": "absent"}
        source = data_bind_source(attrs)
        return {
            "name": self.spec.data_container,
            "state": "created" if _state(attrs) == "stopped" else "running",
            "image": (attrs.get("Config") or {}).get("Image", ""),
            "bind": f"{source}:{CASSANDRA_DATA_PATH}" if source else None,
        }

    def _check_data_container(self) -> dict[str, Any] | None:
        """The data container, if it exists; fails before anything is done if it binds another directory."""
        spec = self.spec
        attrs = self._inspect_container(spec.data_container)
        self.before["data_container"] = self._data_view(attrs)
        self.after["data_container"] = {
            "name": spec.data_container,
            "state": "created",
            "image": spec.busybox_image,
            "bind": f"{spec.data_dir}:{CASSANDRA_DATA_PATH}",
        }
        if attrs is None:
            return None
        source = data_bind_source(attrs)
        if source != spec.data_dir:
            raise NodeError(
                f"data container {spec.data_container} binds {source or 'nothing'} to {CASSANDRA_DATA_PATH}, "
                f"not data_dir {spec.data_dir}; it is not replaced because it may hold the node's data: "
                "fix data_dir, or move the data and remove that container yourself"
            )
        self.after["data_container"] = self._data_view(attrs)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        stale = sorted(key for key, value in spec.data_labels.items() if labels.get(key) != value)
        if stale:
            self.warnings.append(
                f"data container {spec.data_container} keeps its labels ({', '.join(stale)} differ): it is never recreated"
            )
        return attrs

    def _create_data_container(self) -> str | None:
        spec = self.spec
        self.actions.append(f"created {spec.data_container}")
        if self.check_mode:
            return None
        host_config = self.client.create_host_config(
            binds=[f"{spec.data_dir}:{CASSANDRA_DATA_PATH}:rw"], network_mode="none"
        )
        try:
            created = self.client.create_container(
                image=spec.busybox_image,
                name=spec.data_container,
                command=["true"],
                labels=spec.data_labels,
                host_config=host_config,
                use_config_proxy=False,
            )
        except APIError as exc:
            raise NodeError(f"cannot create data container {spec.data_container}: {explain(exc)}") from None
        return str(created["Id"])

    # --- Cassandra container ----------------------------------------------------------

    def _read_file(self, container: str, path: str) -> tuple[bytes, tarfile.TarInfo, str]:
        """A file's bytes, tar header and real path in a container, following symlinks."""
        for _hop in range(MAX_SYMLINKS):
            try:
                stream, _stat = self.client.get_archive(container, path)
            except APIError as exc:
                raise NodeError(f"cannot read {path} from the image: {explain(exc)}") from None
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                member = archive.next()
                if member is None:
                    raise NodeError(f"cannot read {path} from the image: empty archive")
                if member.issym():
                    path = os.path.normpath(os.path.join(os.path.dirname(path), member.linkname))
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    raise NodeError(f"{path} in the image is not a regular file")
                return handle.read(), member, path
        raise NodeError(f"{path} in the image is a chain of more than {MAX_SYMLINKS} symlinks")

    def _write_cassandra_yaml(self, container: str, image_attrs: dict[str, Any]) -> None:
        spec = self.spec
        image_env = env_dict((image_attrs.get("Config") or {}).get("Env"))
        path = os.path.join(image_env.get("CASSANDRA_CONF") or DEFAULT_CONF_DIR, CASSANDRA_YAML_FILE)
        raw, member, real_path = self._read_file(container, path)
        try:
            image_yaml = parse_cassandra_yaml(raw.decode("utf-8"), f"{real_path} of image {spec.image}")
            text = render_cassandra_yaml(effective_cassandra_yaml(image_yaml, spec)).encode("utf-8")
        except NodeSpecError as exc:
            raise NodeError(str(exc)) from None
        info = tarfile.TarInfo(os.path.basename(real_path))
        info.size = len(text)
        info.mode = member.mode
        info.uid, info.gid = member.uid, member.gid
        info.mtime = int(time.time())
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.addfile(info, io.BytesIO(text))
        try:
            self.client.put_archive(container, os.path.dirname(real_path), buffer.getvalue())
        except APIError as exc:
            raise NodeError(f"cannot write {real_path} into {spec.name}: {explain(exc)}") from None

    def _create_cassandra(self, image_attrs: dict[str, Any], upgraded_from: str = "") -> str:
        spec = self.spec
        client = self.client
        port_bindings: dict[str, list[tuple[str, int]]] = {}
        for port in spec.published_ports:
            port_bindings.setdefault(port.container_key, []).append((port.host_ip, port.host_port))
        restart_policy: dict[str, Any] = {"Name": spec.restart_policy}
        if spec.restart_policy == "on-failure":
            restart_policy["MaximumRetryCount"] = 0
        host_config = client.create_host_config(
            volumes_from=[spec.data_container],
            port_bindings=port_bindings or None,
            restart_policy=restart_policy,
            network_mode=spec.network,
        )
        networking_config = client.create_networking_config(
            {spec.network: client.create_endpoint_config(ipv4_address=spec.ipv4_address)}
        )
        labels = dict(spec.labels)
        labels[node_labels.CONFIG_HASH] = config_hash(spec)
        if upgraded_from:
            labels[node_labels.UPGRADED_FROM] = upgraded_from
        try:
            created = client.create_container(
                image=spec.image,
                name=spec.name,
                hostname=spec.name,
                environment=spec.env,
                labels=labels,
                ports=[(port.container_port, port.protocol) for port in spec.published_ports] or None,
                host_config=host_config,
                networking_config=networking_config,
                use_config_proxy=False,
            )
        except APIError as exc:
            raise NodeError(f"cannot create container {spec.name}: {explain(exc)}") from None
        container_id = str(created["Id"])
        if spec.cassandra_yaml:
            try:
                self._write_cassandra_yaml(container_id, image_attrs)
            except NodeError:
                self._remove_quietly(container_id)
                raise
        return container_id

    def _start(self, container: str) -> None:
        errors: list[str] = []
        transient = False
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self.client.start(container)
                return
            except APIError as exc:
                errors.append(explain(exc))
                transient = _transient_network_error(exc)
                if attempt < START_ATTEMPTS and transient:
                    self.sleep(START_RETRY_DELAY)
                    continue
                break
        message = f"cannot start {self.spec.name}: " + "; then: ".join(dict.fromkeys(errors))
        if transient:
            raise NetworkAttachError(
                f"{message} ({len(errors)} attempts). On a swarm overlay this means that {self.spec.ipv4_address} "
                f"is taken on network {self.spec.network} by another container (on any host), or that this engine "
                "has not joined that network yet (right after a restart)",
                errors[0],
            )
        raise NodeError(message)

    def _stop(self, container: str, name: str) -> None:
        try:
            self.client.stop(container, timeout=self.spec.stop_timeout)
        except APIError as exc:
            raise NodeError(f"cannot stop {name}: {explain(exc)}") from None

    def _remove(self, container: str, name: str) -> None:
        # v=False: anonymous volumes are kept; the data lives in data_dir anyway.
        try:
            self.client.remove_container(container, v=False, force=False)
        except APIError as exc:
            raise NodeError(f"cannot remove {name}: {explain(exc)}") from None

    def _remove_quietly(self, container: str) -> None:
        with contextlib.suppress(APIError, DockerException):
            self.client.remove_container(container, v=False, force=True)

    def _clear_previous(self) -> None:
        """Remove a '<name>-previous' left by an interrupted recreate, if it is one of ours."""
        previous_name = self.spec.name + PREVIOUS_SUFFIX
        previous = self._inspect_container(previous_name)
        if previous is None:
            return
        labels = (previous.get("Config") or {}).get("Labels") or {}
        if labels.get(node_labels.ROLE) != node_labels.ROLE_CASSANDRA:
            raise NodeError(
                f"container {previous_name} is in the way of recreating {self.spec.name} and is not a Cassandra "
                "node container of this collection: rename or remove it"
            )
        self.actions.append(f"removed {previous_name} (left by an interrupted recreate)")
        if not self.check_mode:
            if _state(previous) == "running":
                self._stop(previous["Id"], previous_name)
            self._remove(previous["Id"], previous_name)

    def _recreate(self, current: dict[str, Any], image_attrs: dict[str, Any], keep: bool = False, upgraded_from: str = "") -> str:
        """Stop, set aside, create anew; on failure put the old container back as it was.

        keep: the old container stays, stopped, as the rollback copy '<name>-rollback' instead of
        being removed once the new one runs. upgraded_from: the image the upgrade started from, recorded on
        the new container.
        """
        spec = self.spec
        old_id = str(current["Id"])
        was_running = _state(current) == "running"
        previous_name = spec.name + (ROLLBACK_SUFFIX if keep else PREVIOUS_SUFFIX)
        if was_running:
            self._stop(old_id, spec.name)
        try:
            self.client.rename(old_id, previous_name)
        except APIError as exc:
            if was_running:
                self._start(old_id)
            raise NodeError(f"cannot rename {spec.name} to {previous_name}: {explain(exc)}") from None
        new_id: str | None = None
        try:
            new_id = self._create_cassandra(image_attrs, upgraded_from)
            if spec.state == "present":
                self._start(new_id)
        except NodeError as exc:
            if new_id is not None:
                self._remove_quietly(new_id)
            restored = self._restore(old_id, previous_name, was_running)
            raise NodeError(f"recreating {spec.name} failed: {exc}; {restored}") from None
        if not keep:
            self._remove(old_id, previous_name)
        return new_id

    def _restore(self, old_id: str, previous_name: str, was_running: bool) -> str:
        try:
            self.client.rename(old_id, self.spec.name)
            if was_running:
                self._start(old_id)
        except (APIError, NodeError) as exc:
            return f"restoring the old container ({previous_name}) failed too: {explain(exc)}"
        return "the old container is back" + (" and running" if was_running else "")

    def _ensure_cassandra(self, image_attrs: dict[str, Any] | None) -> dict[str, Any]:
        spec = self.spec
        current = self._inspect_container(spec.name)
        state = {"name": spec.name, "state": _state_word(spec.state)}
        self.after["cassandra_container"] = dict(desired_view(spec), **state)
        if current is None:
            self.before["cassandra_container"] = {"name": spec.name, "state": "absent"}
            reasons: list[str] | None = None
        else:
            container_image = self._inspect_image(str(current.get("Image", "")))
            actual, desired = compared_views(spec, image_attrs, current, container_image)
            self.before["cassandra_container"] = dict(actual, name=spec.name, state=_state(current))
            self.after["cassandra_container"] = dict(desired, **state)
            reasons = differences(actual, desired)
            if not reasons and image_attrs is not None and current.get("Image") != image_attrs.get("Id"):
                reasons.append(
                    f"image {spec.image} is now {_short_id(str(image_attrs.get('Id')))}, "
                    f"was {_short_id(str(current.get('Image')))}"
                )
        if current is None or reasons:
            self._clear_previous()

        container_id: str | None = str(current["Id"]) if current else None
        running = _state(current) == "running"
        if current is None:
            self.actions.append(f"created {spec.name}")
            # An upgrade interrupted after it set the old container aside: the new one records where it started.
            copy = self._rollback_copy() if spec.rollback_copy == "keep" else None
            upgraded_from = str(((copy or {}).get("Config") or {}).get("Image") or "")
            if not self.check_mode:
                container_id = self._create_cassandra(_known(image_attrs, spec.image), upgraded_from)
            running = False
        elif reasons:
            self.actions.append(f"recreated {spec.name}: {'; '.join(reasons)}")
            # An upgrade keeps the container it started from: a copy already there is that one.
            existing_copy = self._rollback_copy() if spec.rollback_copy == "keep" else None
            keep = spec.rollback_copy == "keep" and existing_copy is None
            image = (current.get("Config") or {}).get("Image", "")
            # The upgrade's record on the new container: the image it started from (the copy's, when one is kept).
            upgraded_from = ""
            if spec.rollback_copy == "keep":
                upgraded_from = image if existing_copy is None else str((existing_copy.get("Config") or {}).get("Image", ""))
            if keep:
                copy_name = spec.name + ROLLBACK_SUFFIX
                self.actions.append(f"kept the old {spec.name} ({image}) stopped as {copy_name}")
                self.before["rollback_copy"] = {"name": copy_name, "state": "absent"}
                self.after["rollback_copy"] = {"name": copy_name, "image": image, "state": "stopped"}
            if not self.check_mode:
                container_id = self._recreate(current, _known(image_attrs, spec.image), keep, upgraded_from)
            running = spec.state == "present"
            if spec.state == "present":
                self.actions.append(f"started {spec.name}")

        if spec.state == "present" and not running:
            self.actions.append(f"started {spec.name}")
            if not self.check_mode and container_id is not None:
                container_id = self._start_or_recreate(container_id, current, image_attrs)
        elif spec.state == "stopped" and running:
            self.actions.append(f"stopped {spec.name}")
            if not self.check_mode and container_id is not None:
                self._stop(container_id, spec.name)
        return self._container_info(container_id, image_attrs)

    def _start_or_recreate(
        self, container_id: str, current: dict[str, Any] | None, image_attrs: dict[str, Any] | None
    ) -> str:
        """Start; an existing container that cannot rejoin the overlay is created anew.

        After a host restart, `docker start` of a container on an attachable overlay fails with
        "network ... not found" until some container joins that overlay on the host again,
        while a new container does join it (moby/moby#32607, docker/for-linux#888).
        """
        try:
            self._start(container_id)
            return container_id
        except NetworkAttachError as exc:
            if current is None or str(current.get("Id")) != container_id:
                raise
            # Before the "started" action already listed.
            self.actions.insert(
                len(self.actions) - 1,
                f"recreated {self.spec.name}: it could not rejoin {self.spec.network} ({exc.first_error})",
            )
            # The same container again: it keeps the record of the upgrade that created it, if any.
            labels = (current.get("Config") or {}).get("Labels") or {}
            return self._recreate(
                current, _known(image_attrs, self.spec.image), upgraded_from=str(labels.get(node_labels.UPGRADED_FROM) or "")
            )

    def _container_info(self, container_id: str | None, image_attrs: dict[str, Any] | None) -> dict[str, Any]:
        spec = self.spec
        info: dict[str, Any] = {
            "id": container_id,
            "name": spec.name,
            "image": spec.image,
            "image_id": (image_attrs or {}).get("Id"),
            "network": spec.network,
            "ipv4_address": spec.ipv4_address,
            "state": _state_word(spec.state),
        }
        if container_id is not None and not self.check_mode:
            attrs = self._inspect_container(container_id)
            if attrs is not None:
                info["state"] = _state(attrs)
                info["image_id"] = attrs.get("Image")
                endpoint = ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(spec.network) or {}
                info["ipv4_address"] = endpoint.get("IPAddress") or spec.ipv4_address
        return info

    # --- states -----------------------------------------------------------------------

    def _observe(self, current: dict[str, Any] | None) -> None:
        config = (current or {}).get("Config") or {}
        keyspaces = self._keyspaces()
        env = env_dict(config.get("Env")) if current is not None else {}
        jvm_extra_opts = env.get("JVM_EXTRA_OPTS")
        num_tokens = env.get("CASSANDRA_NUM_TOKENS", "")
        user_data = any(keyspace not in SYSTEM_KEYSPACES for keyspace in keyspaces)
        # A first boot that never finished: the node holds only what its own start wrote. Its log is read
        # only when nothing else rules it out.
        first_boot_only = bool(
            keyspaces
            and current is not None
            and not first_boot_refusals(jvm_extra_opts, keyspaces, False, "crashed", 1)
            and not self._has_served(current["Id"])
        )
        self.observed = {
            "data_present": os.path.exists(os.path.join(self.spec.data_dir, "data")),
            "user_data": user_data,
            "first_boot_only": first_boot_only,
            "exists": current is not None,
            "running": _state(current) == "running",
            "restarting": bool(((current or {}).get("State") or {}).get("Restarting")),
            "restarts": int((current or {}).get("RestartCount") or 0),
            "image": str(config.get("Image") or ""),
            "jvm_extra_opts": jvm_extra_opts,
            # What its data was written with when it was given one (an upgrade keeps the nodes' number).
            "num_tokens": int(num_tokens) if num_tokens.isdigit() else None,
        }

    def _present(self) -> dict[str, Any]:
        # Whatever can fail without changing the node (bind check, pulls) comes first.
        data_attrs = self._check_data_container()
        self._observe(self._inspect_container(self.spec.name))
        image_attrs = self._ensure_image(self.spec.image)
        if data_attrs is None:
            self._ensure_image(self.spec.busybox_image)
        self._ensure_data_dir()
        data_id = str(data_attrs["Id"]) if data_attrs is not None else self._create_data_container()
        cassandra = self._ensure_cassandra(image_attrs)
        copy = self._rollback_copy()
        if copy is not None and self.spec.rollback_copy == "remove":
            self._remove_rollback_copy(copy)
            copy = None
        return {
            "cassandra_container": cassandra,
            "data_container": {"id": data_id, "name": self.spec.data_container, "data_dir": self.spec.data_dir},
            "config_hash": config_hash(self.spec),
            "rollback_copy": _brief(copy),
        }

    def _absent(self) -> dict[str, Any]:
        spec = self.spec
        current = self._inspect_container(spec.name)
        self.before["cassandra_container"] = {"name": spec.name, "state": _state(current)}
        self.after["cassandra_container"] = {"name": spec.name, "state": "absent"}
        for name, attrs in (
            (spec.name, current),
            (spec.name + PREVIOUS_SUFFIX, self._inspect_container(spec.name + PREVIOUS_SUFFIX)),
            (spec.name + ROLLBACK_SUFFIX, self._rollback_copy()),
        ):
            if attrs is None:
                continue
            self.actions.append(f"removed {name}")
            if not self.check_mode:
                if _state(attrs) == "running":
                    self._stop(attrs["Id"], name)
                self._remove(attrs["Id"], name)
        data = self._inspect_container(spec.data_container)
        self.before["data_container"] = self._data_view(data)
        self.after["data_container"] = self._data_view(data)
        gone: dict[str, Any] = {"cassandra_container": None, "config_hash": None, "rollback_copy": None}
        if data is None:
            return dict(gone, data_container=None)
        if spec.remove_data_container:
            self.after["data_container"] = {"name": spec.data_container, "state": "absent"}
            self.actions.append(f"removed {spec.data_container} (the host directory is kept)")
            if not self.check_mode:
                self._remove(data["Id"], spec.data_container)
            return dict(gone, data_container=None)
        kept = {"id": data["Id"], "name": spec.data_container, "data_dir": data_bind_source(data)}
        return dict(gone, data_container=kept)

    # --- a first boot that failed -------------------------------------------------------

    def _keyspaces(self) -> list[str]:
        """The keyspace directories in the node's data directory."""
        tables = os.path.join(self.spec.data_dir, "data")
        return sorted(os.listdir(tables)) if os.path.isdir(tables) else []

    def _has_served(self, container: str) -> bool:
        """Whether the container's log (from its creation) shows that Cassandra served CQL."""
        marker = SERVED_MARKER.encode()
        tail = b""
        try:
            for chunk in self.client.logs(container, stdout=True, stderr=True, stream=True, follow=False):
                if marker in tail + chunk:
                    return True
                tail = chunk[-len(marker) :]
        except APIError as exc:
            raise NodeError(f"cannot read the log of {self.spec.name}: {explain(exc)}") from None
        return False

    def _first_boot_reset(self) -> dict[str, Any]:
        """Empty the data directory of a brand-new node whose first boot failed, and start it again."""
        spec = self.spec
        current = self._inspect_container(spec.name)
        if current is None:
            raise NodeError(f"{spec.name} does not exist on this host: there is no first boot to reset")
        data = self._inspect_container(spec.data_container)
        source = data_bind_source(data) if data is not None else None
        if source != spec.data_dir:
            raise NodeError(
                f"{spec.name} is not reset: its data container {spec.data_container} binds {source or 'nothing'}, "
                f"not {spec.data_dir}"
            )
        refusals = first_boot_refusals(
            env_dict((current.get("Config") or {}).get("Env")).get("JVM_EXTRA_OPTS"),
            self._keyspaces(),
            self._has_served(current["Id"]),
            _state(current),
            int(current.get("RestartCount") or 0),
        )
        if refusals:
            raise NodeError(f"{spec.name} is not reset, which would empty {spec.data_dir}: {'; '.join(refusals)}")
        self.before["data_dir"] = {"path": spec.data_dir, "entries": sorted(os.listdir(spec.data_dir))}
        self.after["data_dir"] = {"path": spec.data_dir, "entries": []}
        self.actions.extend([f"stopped {spec.name}", f"emptied {spec.data_dir}", f"started {spec.name} again"])
        if not self.check_mode:
            self._stop(current["Id"], spec.name)
            try:
                for entry in os.listdir(spec.data_dir):
                    path = os.path.join(spec.data_dir, entry)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.remove(path)
            except OSError as exc:
                raise NodeError(f"cannot empty {spec.data_dir}: {exc}") from None
            self._start(current["Id"])
        return {"cassandra_container": _brief(self._inspect_container(spec.name)), "data_dir": spec.data_dir}

    # --- rollback copy ----------------------------------------------------------------

    def _rollback_copy(self) -> dict[str, Any] | None:
        """'<name>-rollback', if there is one; fails if that name is taken by anything else."""
        spec = self.spec
        copy_name = spec.name + ROLLBACK_SUFFIX
        attrs = self._inspect_container(copy_name)
        if attrs is None:
            return None
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        volumes_from = list((attrs.get("HostConfig") or {}).get("VolumesFrom") or [])
        if labels.get(node_labels.ROLE) != node_labels.ROLE_CASSANDRA:
            raise NodeError(
                f"container {copy_name} is not a Cassandra node container of this collection, but its name is the "
                f"one of {spec.name}'s rollback copy: rename or remove it"
            )
        if [source.split(":", 1)[0] for source in volumes_from] != [spec.data_container]:
            raise NodeError(
                f"container {copy_name} takes its volumes from {', '.join(volumes_from) or 'nothing'}, not from "
                f"{spec.data_container}: it is not the rollback copy of this node; rename or remove it"
            )
        return attrs

    def _remove_rollback_copy(self, copy: dict[str, Any]) -> None:
        copy_name = self.spec.name + ROLLBACK_SUFFIX
        image = (copy.get("Config") or {}).get("Image", "")
        self.actions.append(f"removed {copy_name} (the rollback copy, {image})")
        self.before["rollback_copy"] = _view(copy, copy_name)
        self.after["rollback_copy"] = _view(None, copy_name)
        if not self.check_mode:
            if _state(copy) == "running":
                self._stop(copy["Id"], copy_name)
            self._remove(copy["Id"], copy_name)

    def _rolled_back(self) -> dict[str, Any]:
        """Put the rollback copy back in place of the Cassandra container, and make sure it runs."""
        spec = self.spec
        copy_name = spec.name + ROLLBACK_SUFFIX
        current = self._inspect_container(spec.name)
        copy = self._rollback_copy()
        self.before = {"cassandra_container": _view(current, spec.name), "rollback_copy": _view(copy, copy_name)}
        if copy is None:
            if current is None:
                raise NodeError(f"{spec.name} has no container and no rollback copy {copy_name}: nothing to run")
            self.after = {
                "cassandra_container": dict(_view(current, spec.name), state="running"),
                "rollback_copy": _view(None, copy_name),
            }
            container_id = str(current["Id"])
            if _state(current) != "running":
                self.actions.append(f"started {spec.name}")
                if not self.check_mode:
                    self._start(container_id)
            return self._rolled_back_result(container_id, current)

        if self._inspect_container(spec.name + PREVIOUS_SUFFIX) is not None:
            self._clear_previous()
        copy_id = str(copy["Id"])
        copy_image = (copy.get("Config") or {}).get("Image", "")
        self.after = {
            "cassandra_container": dict(_view(copy, spec.name), state="running"),
            "rollback_copy": _view(None, copy_name),
        }
        if current is not None:
            image = (current.get("Config") or {}).get("Image", "")
            self.actions.append(f"removed {spec.name} ({image})")
        self.actions.append(f"restored {spec.name} from {copy_name} ({copy_image})")
        self.actions.append(f"started {spec.name}")
        if self.check_mode:
            return self._rolled_back_result(None, copy)

        previous_name = spec.name + PREVIOUS_SUFFIX
        was_running = current is not None and _state(current) == "running"
        if current is not None:
            if was_running:
                self._stop(current["Id"], spec.name)
            try:
                self.client.rename(current["Id"], previous_name)
            except APIError as exc:
                if was_running:
                    self._start(current["Id"])
                raise NodeError(f"cannot rename {spec.name} to {previous_name}: {explain(exc)}") from None
        try:
            self.client.rename(copy_id, spec.name)
            self._start(copy_id)
        except (APIError, NodeError) as exc:
            undone = self._undo_rollback(copy_id, current, was_running)
            raise NodeError(f"rolling back {spec.name} failed: {explain(exc)}; {undone}") from None
        if current is not None:
            self._remove(current["Id"], previous_name)
        return self._rolled_back_result(copy_id, copy)

    def _undo_rollback(self, copy_id: str, current: dict[str, Any] | None, was_running: bool) -> str:
        spec = self.spec
        try:
            copy = self._inspect_container(copy_id)
            if copy is not None and _state(copy) == "running":
                self._stop(copy_id, spec.name)
            if copy is not None and copy.get("Name", "").lstrip("/") != spec.name + ROLLBACK_SUFFIX:
                self.client.rename(copy_id, spec.name + ROLLBACK_SUFFIX)
            if current is None:
                return f"{spec.name}{ROLLBACK_SUFFIX} is kept as it was"
            self.client.rename(current["Id"], spec.name)
            if was_running:
                self._start(current["Id"])
        except (APIError, NodeError) as exc:
            return f"putting {spec.name} back failed too: {explain(exc)}"
        return f"{spec.name} is back as it was" + (" and running" if was_running else "")

    def _rolled_back_result(self, container_id: str | None, attrs: dict[str, Any]) -> dict[str, Any]:
        info = _brief(self._inspect_container(container_id) if container_id and not self.check_mode else attrs)
        if info is not None:
            info["name"] = self.spec.name
            if self.check_mode:
                info["state"] = "running"
        data = self._inspect_container(self.spec.data_container)
        return {
            "cassandra_container": info,
            "data_container": None
            if data is None
            else {"id": data["Id"], "name": self.spec.data_container, "data_dir": data_bind_source(data)},
            "config_hash": (((attrs.get("Config") or {}).get("Labels") or {}).get(node_labels.CONFIG_HASH)),
            "rollback_copy": None,
        }

    def run(self) -> dict[str, Any]:
        """Act (unless check mode) and return the module result without `diff`."""
        if self.spec.state == "first_boot_reset":
            result = self._first_boot_reset()
        elif self.spec.state == "rolled_back":
            result = self._rolled_back()
        else:
            result = self._absent() if self.spec.state == "absent" else self._present()
        result["changed"] = bool(self.actions)
        result["actions"] = list(self.actions)
        result["images_missing"] = list(self.images_missing)
        result["observed"] = dict(self.observed) or None
        return result

    def diff(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after}


def _state_word(state: str) -> str:
    return "running" if state == "present" else state


def _brief(attrs: dict[str, Any] | None) -> dict[str, Any] | None:
    """ID, name, image and state of a container, or None."""
    if attrs is None:
        return None
    return {
        "id": attrs.get("Id"),
        "name": str(attrs.get("Name", "")).lstrip("/"),
        "image": (attrs.get("Config") or {}).get("Image", ""),
        "state": _state(attrs),
    }


def _view(attrs: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """What --diff shows of a container under the given name: {name, state: absent} when there is none."""
    brief = _brief(attrs)
    return {"name": name, "state": "absent"} if brief is None else dict(brief, name=name)


def _known(image_attrs: dict[str, Any] | None, ref: str) -> dict[str, Any]:
    # Outside check mode _ensure_image has pulled the image or failed.
    if image_attrs is None:
        raise NodeError(f"image {ref} is not on this host")
    return image_attrs
