# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""The rolling upgrade's plan: which version each node runs, what may be done, in which order.

Controller-side and free of Ansible imports. The role (roles/cassandra_upgrade) reads each node's
Cassandra container and its rollback copy ('<name>-rollback', kept stopped by the node module's
rollback_copy=keep) with its look script (docker container inspect) and hands them here with the stack model. Every
refusal is decided here, before any container changes, and says what to do instead.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import ROLLBACK_SUFFIX
from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node_labels import UPGRADED_FROM, recorded_settings
from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import parse_ring
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.bringup import container_env, image_tag
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import default_num_tokens
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.status import _results_by_node

ACTIONS = ("upgrade", "finish", "rollback", "restart")

# Upstream's upgrade rule: one major version at a time, from these release lines of the major before
# (NEWS.txt of 4.0, 4.1 and 5.0).
MAJOR_ENTRY_LINES: dict[int, tuple[tuple[int, int], ...]] = {
    4: ((3, 0), (3, 11)),
    5: ((4, 0), (4, 1)),
}
SUPPORTED_PATH = "3.x -> 3.11 -> 4.1 -> 5.0"

_VERSION = re.compile(r"^(?P<major>[0-9]+)\.(?P<minor>[0-9]+)(?:\.(?P<patch>[0-9]+))?(?P<suffix>[-+~.][A-Za-z0-9.+~-]*)?$")
_OCI_VERSION = "org.opencontainers.image.version"


@dataclass(frozen=True, order=True)
class Version:
    """A Cassandra release number: 3.10, 4.1.10, 5.0.8 (a suffix like -custom is kept but not compared)."""

    major: int
    minor: int
    patch: int
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)


def parse_version(text: Any) -> Version | None:
    """'3.10' -> Version(3, 10, 0); None for tags that are not release numbers (latest, a digest)."""
    if not isinstance(text, str):
        return None
    match = _VERSION.match(text.strip())
    if not match:
        return None
    return Version(int(match["major"]), int(match["minor"]), int(match["patch"] or 0), text.strip())


def container_version(container: dict[str, Any]) -> Version | None:
    """The Cassandra version a container runs: its image tag, else its image's version label or CASSANDRA_VERSION."""
    config = container.get("Config") or {}
    for candidate in (
        image_tag(str(config.get("Image") or "")),
        (config.get("Labels") or {}).get(_OCI_VERSION),
        container_env(container).get("CASSANDRA_VERSION"),
    ):
        version = parse_version(candidate)
        if version is not None:
            return version
    return None


def next_step(source: Version) -> str:
    """The next version on the supported path from source: the last line of its major, then the next major."""
    entry = MAJOR_ENTRY_LINES.get(source.major + 1)
    if entry is None:
        return f"{source.major + 1}.x"
    if source.line not in entry:
        return f"{source.major}.{max(minor for major, minor in entry if major == source.major)}"
    return f"{source.major + 1}.{_latest_minor(source.major + 1)}"


def _latest_minor(major: int) -> int:
    """The release line of a major version that the next major upgrades from (4 -> 1, for 4.1)."""
    following = MAJOR_ENTRY_LINES.get(major + 1)
    if following:
        return max(minor for line_major, minor in following if line_major == major)
    return 0


def path_problem(source: Version, target: Version, nodes: list[str]) -> str | None:
    """Why going from source to target is refused, with the supported way; None when it is fine."""
    who = ", ".join(nodes)
    if target < source:
        return (
            f"{target} is older than {source} ({who} run it): Cassandra cannot be downgraded in place, its data "
            "files and system tables may already be in the newer format. Before an upgrade is finished, "
            "-e upgrade_action=rollback returns each node to its rollback copy; after that, only a restore from "
            "a backup goes back"
        )
    if target.major <= source.major:
        return None
    if target.major > source.major + 1:
        return (
            f"{source} to {target} ({who}) skips a major version: Cassandra upgrades one major version at a time, "
            f"each from the last release line of the one before ({SUPPORTED_PATH}). Upgrade to {next_step(source)} "
            f"first, finish that, and go on from there"
        )
    lines = MAJOR_ENTRY_LINES.get(target.major)
    if lines and source.line not in lines:
        accepted = " or ".join(f"{major}.{minor}.x" for major, minor in lines)
        return (
            f"Cassandra {target.major}.x upgrades only from {accepted}, and {who} run {source}: upgrade to "
            f"{next_step(source)} first ({SUPPORTED_PATH}), finish that, then to {target}"
        )
    return None


# --- observation --------------------------------------------------------------------------


def _container(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if not result or not result.get("exists"):
        return None
    return dict(result.get("container") or {})


def _running(container: dict[str, Any] | None) -> bool:
    return bool(container and (container.get("State") or {}).get("Running"))


def _labels(container: dict[str, Any] | None) -> dict[str, str]:
    return dict(((container or {}).get("Config") or {}).get("Labels") or {})


def _epoch(text: Any) -> float | None:
    """Docker's '2026-12-06T09:40:28.123456789Z' -> seconds since the epoch; None when absent or unset."""
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", str(text or ""))
    if not match or match.group(1) == "0001":
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + float("0." + (match.group(7) or "0"))


def _storage_compatibility_mode(container: dict[str, Any] | None) -> Any:
    """The storage_compatibility_mode the container was deployed with (io.corral.settings); None when not set."""
    settings = recorded_settings(_labels(container)) if container else None
    return (settings or {}).get("cassandra_yaml", {}).get("storage_compatibility_mode")


def observe_nodes(
    stack: dict[str, Any],
    containers: list[dict[str, Any]],
    copies: list[dict[str, Any]],
    quiesced: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per node of the stack: its container and rollback copy as they are now. quiesced: {node: when a run began to
    quiesce it (epoch seconds, the host's clock)}; a node whose running container started before that was left
    quiesced (clients and gossip off, drained) by a run that stopped there."""
    by_container, by_copy = _results_by_node(containers), _results_by_node(copies)
    missing = [node["name"] for node in stack["nodes"] if node["name"] not in by_container]
    if missing:
        raise ValueError(f"nodes {', '.join(missing)} were not observed: their hosts did not answer")
    observed = []
    for node in stack["nodes"]:
        container = _container(by_container.get(node["name"]))
        copy = _container(by_copy.get(node["name"]))
        version = container_version(container) if container else None
        copy_version = container_version(copy) if copy else None
        observed.append(
            {
                "name": node["name"],
                "host": node["host"],
                "ip": node["ip"],
                "seed": bool(node.get("seed")),
                "container": "absent" if container is None else "running" if _running(container) else "stopped",
                # Docker's word for it (exited, created, restarting, ...), for messages.
                "state": str((container.get("State") or {}).get("Status") or "") if container else "absent",
                "id": container.get("Id") if container else None,
                # The record of the upgrade that created this container: the image it started from.
                "upgraded_from": _labels(container).get(UPGRADED_FROM) if container else None,
                "image": (container.get("Config") or {}).get("Image", "") if container else "",
                "version": str(version) if version else None,
                # When its container last started (the engine's clock), for a restart to resume.
                "started_at": _epoch((container.get("State") or {}).get("StartedAt")) if container else None,
                "quiesced": _left_quiesced(container, (quiesced or {}).get(node["name"])),
                # What decides 5.0's on-disk format (a rollback across a format change restores a snapshot).
                "storage_compatibility_mode": _storage_compatibility_mode(container),
                # The model's own node, as the cassandra_stack tasks (nodes.yml, wait.yml) take it.
                "model": node,
                "rollback": None
                if copy is None
                else {
                    "name": f"{node['name']}{ROLLBACK_SUFFIX}",
                    "id": copy.get("Id"),
                    "image": (copy.get("Config") or {}).get("Image", ""),
                    "version": str(copy_version) if copy_version else None,
                    "running": _running(copy),
                },
            }
        )
    return observed


def _left_quiesced(container: dict[str, Any] | None, since: Any) -> bool:
    """Whether the container runs the process a run began to quiesce at `since` (it has not started again since)."""
    began, started = _seconds(since), _epoch(((container or {}).get("State") or {}).get("StartedAt"))
    return container is not None and _running(container) and began is not None and started is not None and started <= began


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    """The observed nodes as every planner takes them: all, those with a rollback copy, those not running."""

    nodes: list[dict[str, Any]]
    with_copy: list[dict[str, Any]]
    down: list[dict[str, Any]]


def _names(nodes: list[dict[str, Any]]) -> str:
    return ", ".join(node["name"] for node in nodes)


def plan(
    stack: dict[str, Any],
    containers: list[dict[str, Any]],
    copies: list[dict[str, Any]],
    action: str,
    version: Any,
    since: Any = None,
    quiesced: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the action would do, or `problems` saying why it must not start. Nothing is changed here.

    Returns action, problems (refusals), notes, nodes (observed), target ({image, version}: what the
    stack runs afterwards), major (the upgrade crosses a major version), order (node names in the
    order they are worked on), may_be_down (nodes that need not be Up/Normal before the start). since (restart):
    when an interrupted restart began, in seconds since the epoch; nodes started since then are not restarted again.
    quiesced: {node: when a run began to quiesce it}; the one node a stopped run left quiesced is worked on first.
    """
    result: dict[str, Any] = {
        "action": action,
        "problems": [],
        "notes": [],
        "nodes": [],
        "target": {"image": stack.get("image", ""), "version": stack.get("version", "")},
        "major": False,
        "order": [],
        "may_be_down": [],
        "recover": [],
    }
    problems: list[str] = result["problems"]
    if action not in ACTIONS:
        problems.append(
            f"upgrade_action={action!r} is not one of {', '.join(ACTIONS)}: upgrade (the default, with -e version=X), "
            "finish (remove the rollback copies, making the upgrade final), rollback (return every node to "
            "its rollback copy) or restart (restart every node's container, one at a time: restart.yml)"
        )
        return result
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        problems.append(
            f"version={version!r} is a number, and 3.10 written as a number is 3.1: give it as text, like "
            '-e version=3.10 on the command line or version: "3.10" in YAML'
        )
        return result
    version = str(version or "").strip() or None
    wanted = parse_version(version) if version else None
    if version and wanted is None:
        problems.append(
            f"version={version!r} is not a Cassandra release number like 3.10 or 5.0.8: an upgrade compares versions "
            "to refuse downgrades and skipped major versions, so it needs image tags that are release numbers"
        )
        return result
    try:
        nodes = observe_nodes(stack, containers, copies, quiesced)
    except ValueError as exc:
        problems.append(str(exc))
        return result
    result["nodes"] = nodes
    unknown = [node for node in nodes if node["container"] != "absent" and node["version"] is None]
    if unknown:
        problems.append(
            "cannot tell which Cassandra version "
            + "; ".join(f"{node['name']} runs (image {node['image']})" for node in unknown)
            + ": its image tag is no release number and the image has no version label"
        )
    seen = _Seen(
        nodes=nodes,
        with_copy=[node for node in nodes if node["rollback"]],
        down=[node for node in nodes if node["container"] != "running"],
    )
    if action == "restart":
        _plan_restart(result, seen, _seconds(since))
    else:
        planners = {"upgrade": _plan_upgrade, "finish": _plan_finish, "rollback": _plan_rollback}
        planners[action](result, seen, wanted)
    _first_the_quiesced(result, seen)
    return result


def _first_the_quiesced(result: dict[str, Any], seen: _Seen) -> None:
    """A node that a stopped run left quiesced is down to its peers and serves no client, though its container runs.
    A restart takes it first (its step finds it drained and does not quiesce it again). An upgrade or a rollback
    restarts it first as it is (recover), so that it catches up with what changed while it was down on the version
    it runs (a 3.9 node upgraded straight to 3.10 from there kept its old schema for minutes on the lab), then goes on
    as planned."""
    left = [node for node in seen.nodes if node["quiesced"]]
    if not left:
        return
    if len(left) > 1 or seen.down:
        down = [*left, *(node for node in seen.down if node not in left)]
        result["problems"].append(
            f"{_names(down)} are down or left quiesced (clients and gossip off, drained) by an earlier run that "
            "stopped: more than one node down would leave parts of the data without a QUORUM. Restart the quiesced "
            "ones (docker restart NAME on its host), wait until they are Up/Normal, and run again"
        )
        return
    node = left[0]
    said = f"{node['name']} was left quiesced (clients and gossip off, drained) by an earlier run that stopped at it"
    if result["action"] in ("upgrade", "rollback"):
        result["notes"].append(f"{said}: it is restarted first, as it is, and the run goes on once it is healthy")
        result["recover"] = [node["name"]]
        return
    result["notes"].append(f"{said}: it comes first, without a second quiesce")
    result["may_be_down"] = [*result["may_be_down"], node["name"]]
    if node["name"] in result["order"]:
        result["order"] = [node["name"], *(name for name in result["order"] if name != node["name"])]


def _seconds(value: Any) -> float | None:
    """A number of seconds given as a number or text; None for anything else (not given)."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plan_restart(result: dict[str, Any], seen: _Seen, since: float | None) -> None:
    """Every node's own container restarted, one at a time (seeds first). Refused while an upgrade is under way
    or a node is down, but for the one node a restart under way (since) stopped: it is started first."""
    problems: list[str] = result["problems"]
    nodes, with_copy, seen_down = seen.nodes, seen.with_copy, seen.down
    missing = [node for node in nodes if node["container"] == "absent"]
    if missing:
        problems.append(
            f"{_names(missing)} {'has' if len(missing) == 1 else 'have'} no Cassandra container: deploy the stack "
            "first (site.yml); a restart only restarts nodes that exist"
        )
    if with_copy:
        problems.append(
            f"an upgrade is under way ({_names(with_copy)} keep rollback copies): finish it "
            "(ansible-playbook upgrade.yml -e upgrade_action=finish) or roll it back "
            "(-e upgrade_action=rollback) first; a restart never runs in the middle of one"
        )
    running_now = sorted({node["version"] for node in nodes if node["version"]})
    if len(running_now) == 1:
        image = next(node["image"] for node in nodes if node["image"])
        result["target"] = {"image": image, "version": running_now[0]}
    stopped = [node for node in seen_down if node["container"] != "absent"]
    # A note older than every node's start is no restart left halfway (the stack was deployed again since, or the
    # run was killed after its last node): a new restart of every node.
    if since is not None and not stopped and all((node["started_at"] or 0) >= since for node in nodes):
        result["notes"].append(
            f"the note of a restart begun at {_utc(since)} is older than every node's start: restarting every node"
        )
        since = None
    ours = since is not None and len(stopped) == 1 and not with_copy
    if stopped and not ours:
        problems.append(
            f"{_names(stopped)} {'is' if len(stopped) == 1 else 'are'} not running ("
            + ", ".join(f"{node['name']} on {node['host']}: {node['state'] or 'stopped'}" for node in stopped)
            + "): a rolling restart never starts while a node is down, as a second node down would leave parts of the "
            "data without a QUORUM. Start it (docker start NAME on its host, or site.yml), wait until it is "
            "Up/Normal, and run the restart again"
        )
    done = [
        node
        for node in nodes
        if since is not None and node not in stopped and node["started_at"] is not None and node["started_at"] >= since
    ]
    if since is not None:
        result["notes"].append(
            "resuming the restart begun at "
            + _utc(since)
            + ": "
            + (f"{_names(done)} restarted since then" if done else "no node restarted since then")
            + (f", {_names(stopped)} down (it stopped there): started first" if ours else "")
            + " (-e restart_all=true restarts every node again)"
        )
    # The time the note on the hosts keeps: the interrupted restart's, or none (this run notes its own start).
    result["since"] = since
    result["may_be_down"] = [node["name"] for node in stopped] if ours else []
    result["order"] = [node["name"] for node in stopped if ours] + [
        node["name"] for node in nodes if node not in done and node not in stopped
    ]


def _plan_upgrade(result: dict[str, Any], seen: _Seen, target: Version | None) -> None:
    problems: list[str] = result["problems"]
    nodes, with_copy, seen_down = seen.nodes, seen.with_copy, seen.down
    if target is None:
        problems.append("upgrade needs the version to upgrade to, like: ansible-playbook upgrade.yml -e version=3.10")
        return
    version = str(target)
    missing = [node for node in nodes if node["container"] == "absent" and not node["rollback"]]
    if missing:
        problems.append(
            f"{_names(missing)} {'has' if len(missing) == 1 else 'have'} no Cassandra container: deploy the stack "
            "first (site.yml); an upgrade only replaces nodes that exist"
        )
    # An upgrade under way (rollback copies kept) may only be resumed, to the version it was going to.
    upgraded = [node for node in with_copy if node["version"]]
    going_to = sorted({node["version"] for node in upgraded if node["container"] != "absent"})
    if going_to and any(parse_version(text) != target for text in going_to):
        started_from = sorted({str(node["rollback"]["version"]) for node in with_copy})
        problems.append(
            f"the stack is in the middle of an upgrade from {', '.join(started_from)} to {', '.join(going_to)} "
            f"({_names(with_copy)} upgraded, their rollback copies kept): finish it first "
            "(-e upgrade_action=finish) or roll it back (-e upgrade_action=rollback), then upgrade to "
            f"{version}; re-running with -e version={going_to[0]} resumes it"
        )
    elif with_copy:
        result["notes"].append(f"resuming the upgrade to {version}: {_names(with_copy)} already upgraded")

    # Each node is judged from the version it runs, or ran before this upgrade (its rollback copy).
    by_source: dict[Version, list[dict[str, Any]]] = {}
    for node in nodes:
        source = parse_version(node["rollback"]["version"] if node["rollback"] else node["version"])
        if source is not None:
            by_source.setdefault(source, []).append(node)
    for source, group in sorted(by_source.items()):
        current = [node for node in group if node["version"] and parse_version(node["version"]) == target]
        judged = [node for node in group if node not in current]
        problem = path_problem(source, target, [node["name"] for node in judged or group])
        if problem:
            problems.append(problem)
        elif source.major < target.major:
            result["major"] = True

    # A node down is a reason to stop, unless its recorded state shows it belongs to this same upgrade: it keeps
    # its rollback copy, or its container was created by an upgrade to this version.
    unexplained = [
        node
        for node in seen_down
        if node["container"] != "absent"
        and not node["rollback"]
        and not (node["upgraded_from"] and node["version"] and parse_version(node["version"]) == target)
    ]
    for node in unexplained:
        problems.append(
            f"{node['name']} on {node['host']} is not running (its container is {node['state'] or 'stopped'}) and "
            f"carries no record of an upgrade to {version} (no rollback copy, no io.corral.upgraded-from on a "
            f"{version} container): an upgrade never starts while a node is down. Start it (docker start "
            f"{node['name']} on {node['host']}, or site.yml), wait until it is Up/Normal, and run the upgrade again"
        )
    if len(seen_down) > 1:
        problems.append(
            f"{_names(seen_down)} are not running: with more than one node down, a rolling upgrade would leave "
            "parts of the data without a QUORUM. Bring them back first (site.yml, or docker start on their hosts)"
        )
    result["may_be_down"] = [node["name"] for node in seen_down]
    result["order"] = [node["name"] for node in seen_down] + [node["name"] for node in nodes if node not in seen_down]


def _plan_finish(result: dict[str, Any], seen: _Seen, wanted: Version | None) -> None:
    problems: list[str] = result["problems"]
    nodes, with_copy, seen_down = seen.nodes, seen.with_copy, seen.down
    if seen_down:
        problems.append(
            f"{_names(seen_down)} {'is' if len(seen_down) == 1 else 'are'} not running: an upgrade is finished on a "
            "healthy cluster only. Re-run the upgrade to complete it, or roll it back"
        )
    if not with_copy:
        running_now = sorted({node["version"] for node in nodes if node["version"]})
        if wanted is not None and any(parse_version(text) != wanted for text in running_now):
            problems.append(
                f"there is no upgrade to {wanted} to finish: no node has a rollback copy, and the nodes run "
                f"{', '.join(running_now)}"
            )
        result["notes"].append("no node has a rollback copy: there is no upgrade to finish")
        return
    running = sorted({node["version"] for node in with_copy if node["version"]})
    if len(running) != 1:
        problems.append(f"the upgraded nodes run different versions ({', '.join(running) or 'unknown'})")
        return
    upgraded = parse_version(running[0])
    if upgraded is None:  # running holds only parsed versions; this keeps type checkers informed
        problems.append(f"cannot tell which version the upgraded nodes run ({running[0]})")
        return
    behind = [node for node in nodes if node["version"] and parse_version(node["version"]) != upgraded]
    if behind:
        problems.append(
            f"{_names(behind)} still {'runs' if len(behind) == 1 else 'run'} "
            f"{', '.join(sorted({node['version'] for node in behind}))} while {_names(with_copy)} run {upgraded}: "
            f"complete the upgrade first (-e version={upgraded}) or roll it back (-e upgrade_action=rollback)"
        )
    if wanted is not None and wanted != upgraded:
        problems.append(f"version={wanted} was given, but the upgrade to finish is the one to {upgraded}")
    image = next(node["image"] for node in with_copy if node["image"])
    result["target"] = {"image": image, "version": str(upgraded)}
    sources = [parse_version(node["rollback"]["version"]) for node in with_copy]
    result["major"] = any(source is not None and source.major < upgraded.major for source in sources)
    result["order"] = [node["name"] for node in nodes]


def _plan_rollback(result: dict[str, Any], seen: _Seen, wanted: Version | None) -> None:
    problems: list[str] = result["problems"]
    with_copy, seen_down = seen.with_copy, seen.down
    if not with_copy:
        result["notes"].append("no node has a rollback copy: there is nothing to roll back")
        return
    down_without_copy = [node for node in seen_down if not node["rollback"]]
    if down_without_copy:
        problems.append(
            f"{_names(down_without_copy)} {'is' if len(down_without_copy) == 1 else 'are'} not running and "
            "no rollback copy would bring it back: start it first (site.yml, or docker start on its host)"
        )
    versions = sorted({str(node["rollback"]["version"]) for node in with_copy})
    if wanted is not None and any(parse_version(text) != wanted for text in versions):
        problems.append(
            f"version={wanted} was given, but a rollback returns the nodes to their rollback copies "
            f"({', '.join(versions)}); leave version out"
        )
    result["major"] = any(
        (copy := parse_version(node["rollback"]["version"])) is not None
        and (now := parse_version(node["version"])) is not None
        and copy.major < now.major
        for node in with_copy
    )
    images = sorted({node["rollback"]["image"] for node in with_copy})
    if len(images) == 1 and len(versions) == 1:
        result["target"] = {"image": images[0], "version": versions[0]}
    down = [node for node in with_copy if node["container"] != "running"]
    result["may_be_down"] = [node["name"] for node in down]
    # Nodes that are down first, then the others in the reverse of the upgrade's order.
    result["order"] = [node["name"] for node in down] + [node["name"] for node in reversed(with_copy) if node not in down]


# --- the settings an upgrade ran with, from the containers ------------------------------------

# Settings of the whole stack, as the node module's options record them (stack model key: option).
_STACK_OPTIONS = {
    "image": "image",
    "busybox_image": "busybox_image",
    "network": "network",
    "seeds": "seeds",
    "cluster_name": "cluster_name",
    "endpoint_snitch": "endpoint_snitch",
    "num_tokens": "num_tokens",
    "max_heap_size": "max_heap_size",
    "heap_newsize": "heap_newsize",
    "restart_policy": "restart_policy",
}
# Settings of each node.
_NODE_OPTIONS = {
    "ip": "ipv4_address",
    "host_label": "host_label",
    "data_container": "data_container",
    "data_dir": "data_dir",
    "dc": "dc",
    "rack": "rack",
    "published_ports": "published_ports",
    "env": "env",
    "jvm_extra_opts": "jvm_extra_opts",
    "cassandra_yaml": "cassandra_yaml",
}


def recorded_stack(
    stack: dict[str, Any], containers: list[dict[str, Any]], copies: list[dict[str, Any]], action: str
) -> dict[str, Any]:
    """The stack model with the settings the nodes were deployed with, as their containers record them
    (io.corral.settings): for finish, the upgraded containers' (what the upgrade ran with); for rollback, the
    rollback copies' (what the nodes go back to). A node without a record keeps the model's settings, and so does a
    stack-wide setting on which the records disagree. Other actions: the model as it is."""
    if action not in ("finish", "rollback", "restart"):
        return stack
    by_container, by_copy = _results_by_node(containers), _results_by_node(copies)
    records: dict[str, dict[str, Any]] = {}
    for node in stack["nodes"]:
        sources = (
            [by_copy.get(node["name"]), by_container.get(node["name"])]
            if action == "rollback"
            else [by_container.get(node["name"])]
        )
        for source in sources:
            settings = recorded_settings(_labels(_container(source)))
            if settings is not None:
                records[node["name"]] = settings
                break
    if not records:
        return stack
    result = dict(stack)
    for key, option in _STACK_OPTIONS.items():
        values = [json.dumps(record.get(option), sort_keys=True) for record in records.values()]
        if len(set(values)) == 1:
            result[key] = next(iter(records.values())).get(option)
    nodes = []
    for node in stack["nodes"]:
        record = records.get(node["name"])
        if record is None:
            nodes.append(node)
            continue
        recorded = {key: record[option] for key, option in _NODE_OPTIONS.items() if record.get(option) is not None}
        nodes.append({**node, **recorded})
    result["nodes"] = nodes
    return result


# --- num_tokens: what the nodes' data holds ----------------------------------------------------------


def held_tokens(stack: dict[str, Any], ring_views: list[Any]) -> dict[str, int]:
    """{node: how many tokens it holds} from the ring views (`nodetool status`, its Tokens column): what its data holds,
    whatever its container was given. Nodes no view shows are left out."""
    by_ip = {str(node["ip"]): str(node["name"]) for node in stack["nodes"]}
    held: dict[str, int] = {}
    for view in ring_views:
        if not isinstance(view, dict) or view.get("rc", 0) != 0:
            continue
        for row in parse_ring(str(view.get("stdout") or "")):
            name = by_ip.get(row["address"])
            if name is not None and row["tokens"].isdigit():
                held.setdefault(name, int(row["tokens"]))
    return held


def kept_num_tokens(stack: dict[str, Any], ring_views: list[Any], action: str) -> dict[str, Any]:
    """The num_tokens an upgrade gives the new containers: {num_tokens, kept, problems, notes}. Cassandra refuses to
    start a node whose num_tokens differs from the tokens its data holds ("Cannot change the number of tokens from
    256 to 16"), and each release's image has its own default (256 before 4.0, 16 from 4.0): with
    cassandra_stack_num_tokens unset, the upgrade keeps what the nodes hold (kept: it differs from the new release's
    default); set to another number, it is refused. Other actions take the containers' records: num_tokens as it is."""
    requested = stack.get("num_tokens")
    result: dict[str, Any] = {"num_tokens": requested, "kept": False, "problems": [], "notes": []}
    held = held_tokens(stack, ring_views)
    if action != "upgrade" or not held:
        return result
    by_count: dict[int, list[str]] = {}
    for node in stack["nodes"]:
        if node["name"] in held:
            by_count.setdefault(held[node["name"]], []).append(node["name"])
    holds = "; ".join(f"{', '.join(names)}: {count}" for count, names in sorted(by_count.items()))
    default = default_num_tokens(str(stack.get("version") or ""))
    if requested is not None:
        if set(by_count) != {requested}:
            result["problems"].append(
                f"cassandra_stack_num_tokens={requested}, but the nodes' data holds other numbers of tokens ({holds}; "
                "nodetool status, its Tokens column): Cassandra refuses to start a node on data with another number "
                f"(\"Cannot change the number of tokens\"). Set cassandra_stack_num_tokens to what the nodes hold"
                + (f" ({next(iter(by_count))})" if len(by_count) == 1 else "")
                + ", or leave it unset: the upgrade then keeps what the nodes hold"
            )
        return result
    if len(by_count) > 1:
        result["problems"].append(
            f"the nodes' data holds different numbers of tokens ({holds}; nodetool status, its Tokens column), and a "
            "stack gives all its nodes one num_tokens (cassandra_stack_num_tokens): Cassandra would refuse to start "
            "the nodes whose data holds another number (\"Cannot change the number of tokens\"). Replace the nodes "
            "that differ first, one at a time"
        )
        return result
    count = next(iter(by_count))
    if count == default:
        return result
    result.update(num_tokens=count, kept=True)
    result["notes"].append(
        f"num_tokens: the nodes hold {count} tokens each and {stack.get('version')}'s image defaults to "
        + (f"{default}" if default is not None else "its own number")
        + f": the new containers are given {count} (Cassandra refuses to change it on data). Put "
        f"cassandra_stack_num_tokens: {count} in the inventory, as site.yml would otherwise give them the default"
    )
    return result


# --- steps, from the plan and the node module's check-mode results ---------------------------


def steps(plan_: dict[str, Any], module_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes to work on, in order, each with what the node module would do and the nodes that
    must be Up/Normal after it (every node but those still down and not yet worked on)."""
    planned = _results_by_node(module_results)
    nodes = {node["name"]: node for node in plan_["nodes"]}
    action = plan_["action"]
    todo = []
    for name in plan_["order"]:
        node = nodes[name]
        actions = list((planned.get(name) or {}).get("actions") or [])
        if action == "restart":
            actions = ["restarted" if node["container"] == "running" else "started"]
        if action == "rollback" and not node["rollback"]:
            continue
        if action != "rollback" and not actions:
            continue
        todo.append(dict(node, actions=actions))
    result = []
    waiting = set(plan_["may_be_down"])
    for node in todo:
        waiting.discard(node["name"])
        expected = [other["model"] for other in plan_["nodes"] if other["name"] not in waiting]
        result.append(dict(node, drain=node["container"] == "running", expected=expected))
    return result


def finish_problems(plan_: dict[str, Any], module_results: list[dict[str, Any]]) -> list[str]:
    """A finish only removes rollback copies: any other change the node module would make is refused."""
    problems = []
    for name, result in sorted(_results_by_node(module_results).items()):
        other = [action for action in result.get("actions") or [] if not action.startswith("removed ")]
        if other:
            problems.append(f"{name}: {'; '.join(other)}")
    if not problems:
        return []
    return [
        "finishing would also change nodes, and a finish changes nothing but the rollback copies: "
        + " | ".join(problems)
        + ". Give the same settings the upgrade ran with (for example the same -e variables), or put them in the "
        "inventory; to change settings, run the upgrade with them first"
    ]


def recover_steps(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    """The restart, as it is, of a node a stopped run left quiesced, before an upgrade or a rollback: every node is
    expected Up/Normal after it."""
    nodes = {node["name"]: node for node in plan_["nodes"]}
    expected = [node["model"] for node in plan_["nodes"]]
    return [
        dict(nodes[name], actions=["restarted"], drain=True, recover=True, expected=expected)
        for name in plan_.get("recover", [])
    ]


def health_expected(plan_: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that must be Up/Normal before the action starts."""
    down = set(plan_["may_be_down"]) | set(plan_.get("recover", []))
    return [node["model"] for node in plan_["nodes"] if node["name"] not in down]


# --- which node is asked for the schema ---------------------------------------------------------


def newest_node(plan_: dict[str, Any]) -> dict[str, Any]:
    """A running node on the newest version: its nodetool shows every node's release."""
    down = set(plan_["may_be_down"]) | set(plan_.get("recover", []))
    running = [node for node in plan_["nodes"] if node["container"] == "running" and node["name"] not in down]
    versions = {node["name"]: parse_version(node["version"]) or Version(0, 0, 0) for node in running}
    chosen = max(running or plan_["nodes"], key=lambda node: versions.get(node["name"], Version(0, 0, 0)))
    return dict(chosen["model"])


def schema_witness(plan_: dict[str, Any], todo: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The node to ask after `name`'s step: one that runs the newer version while the cluster is mixed.
    An upgraded node runs it; during a rollback, the next node to roll back still does."""
    names = [step["name"] for step in todo]
    if name not in names:
        return newest_node(plan_)
    later = todo[names.index(name) + 1 :]
    if plan_["action"] == "rollback" and later:
        return dict(later[0]["model"])
    return dict(todo[names.index(name)]["model"])


# --- the hosts' reads: the role's host script (roles/cassandra_upgrade/vars/main.yml) ----------------
# The nodes themselves are looked at by the cassandra_wait action (plugins/plugin_utils/_stack/wait.py), for the
# bring-up, the upgrade's preflight and its gates alike.

# The script prints each part's output, then this mark with the part, the node (or -) and the exit code.
LOOK_MARK = "@@corral-upgrade"


def look_parts(stdout: str) -> list[dict[str, Any]]:
    """The host script's output -> its parts in order: {part, node, rc, text}, text being what came before the mark."""
    parts: list[dict[str, Any]] = []
    lines: list[str] = []
    for line in (stdout or "").splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0] == LOOK_MARK:
            code = fields[3]
            text = "\n".join(lines).strip("\n")
            rc = int(code) if code.lstrip("-").isdigit() else 1
            parts.append({"part": fields[1], "node": fields[2], "rc": rc, "text": text})
            lines = []
        else:
            lines.append(line)
    return parts


def _host_error(result: Any) -> str | None:
    """Why a host's script did not run at all; None when it ran."""
    if not isinstance(result, dict) or result.get("skipped"):
        return "did not answer"
    if "stdout" not in result or (result.get("failed") and not look_parts(str(result.get("stdout") or ""))):
        return failure_text(result)
    return None


def read_containers(stack: dict[str, Any], reads: dict[str, Any]) -> dict[str, Any]:
    """The read of every host ({host: result}) -> containers and copies (as docker_container_info results, each
    with its node as `item`, what plan() takes). A host whose read did not run leaves its nodes out: plan() names
    them as not observed."""
    found: dict[str, Any] = {"containers": [], "copies": []}
    for host, result in sorted(reads.items()):
        if _host_error(result):
            continue
        read = next((part for part in look_parts(str(result.get("stdout") or "")) if part["part"] == "containers"), None)
        inspected = _json_list(read["text"]) if read else None
        if inspected is None:
            continue  # not read (the engine did not answer): plan() names the nodes as not observed
        by_name = {str(item.get("Name") or "").lstrip("/"): item for item in inspected}
        for node in (node for node in stack["nodes"] if node["host"] == host):
            for suffix, key in (("", "containers"), (ROLLBACK_SUFFIX, "copies")):
                container = by_name.get(node["name"] + suffix)
                found[key].append({"item": node, "exists": container is not None, "container": container})
    return found


def _json_list(text: str) -> list[dict[str, Any]] | None:
    """The JSON list `docker inspect` printed; None when there is none (the command failed before it)."""
    if "[" not in text:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(text[text.find("[") :])
    except ValueError:
        return None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else None


def look_spec(
    expected: list[dict[str, Any]],
    deadline: float,
    per_release: bool,
    schema_node: dict[str, Any],
    changed: str = "",
) -> dict[str, Any]:
    """What a look at the nodes asks, as cassandra_wait takes it: the expected nodes (their model, with ring, cql
    and schema each true or false), their addresses, the deadline and per_release. After a node changed (a gate):
    it answers CQL; every other node shows its ring view (they see it, and each other, Up/Normal); schema_node shows
    the schema versions (per Cassandra release when per_release: an upgrade across a major version is under way)
    and, as it lists every node it reaches, stands in for the changed node's own ring view. With no node changed
    (the preflight) every node shows its ring view and answers CQL. Each tool is a process of seconds on a busy
    host: a gate asks for what tells whether the change worked, the preflight for everything once."""
    nodes = []
    for node in expected:
        is_changed = node["name"] == changed
        is_witness = node["name"] == schema_node.get("name")
        nodes.append(
            dict(
                node,
                ring=not is_changed or not is_witness,
                cql=not changed or is_changed,
                schema=is_witness,
            )
        )
    return {"nodes": nodes, "ips": [node["ip"] for node in expected], "deadline": int(deadline), "per_release": per_release}


def wait_failures(results: dict[str, Any]) -> dict[str, list[str]]:
    """The cassandra_wait results of every host ({host: result}) -> {crashes, problems}: the messages of the waits
    that stopped at a crash, and of those that timed out or did not run."""
    found: dict[str, list[str]] = {"crashes": [], "problems": []}
    for host, result in sorted(results.items()):
        if not isinstance(result, dict) or result.get("skipped") or result.get("stopped"):
            continue
        # failed_when: false turns `failed` off; the wait's own `ready` stays.
        if result.get("failed") or result.get("ready") is False:
            key = "crashes" if result.get("crashed") else "problems"
            # The wait's own messages name the node and host; a host where it did not run is named here.
            found[key].append(str(result["msg"]) if "nodes" in result else f"{host}: {failure_text(result)}")
    return found


_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def script_with(script: str, variables: dict[str, Any]) -> str:
    """A shell script preceded by its variables, each value quoted: what ansible.builtin.raw runs (it takes no
    environment, and runs the text as it is, expanding nothing in it)."""
    lines = []
    for name, value in sorted(variables.items()):
        if not _SHELL_NAME.match(str(name)):
            raise ValueError(f"{name!r} is not a shell variable name")
        lines.append(f"{name}={shlex.quote('' if value is None else str(value))}")
    return "\n".join([*lines, script])


# --- messages ---------------------------------------------------------------------------------


def failure_text(result: Any) -> str:
    """One line from a failed task's result: its message, or the messages of its failed items."""
    if not isinstance(result, dict):
        return str(result)
    messages = []
    for item in result.get("results") or []:
        if isinstance(item, dict) and item.get("failed"):
            name = item.get("item", {}).get("name") if isinstance(item.get("item"), dict) else None
            text = str(item.get("msg") or item.get("stderr") or "failed").strip()
            messages.append(f"{name}: {text}" if name else text)
    if messages:
        return "; ".join(messages)
    text = str(result.get("msg") or "").strip()
    stderr = str(result.get("stderr") or "").strip()
    if stderr and stderr not in text:
        text = f"{text}: {stderr.splitlines()[-1]}" if text else stderr.splitlines()[-1]
    return " ".join(text.split()) or "failed"


def node_failure_message(
    plan_: dict[str, Any],
    node: str,
    failure: str,
    rolled_back: bool,
    rollback_failure: str = "",
    kept: dict[str, Any] | None = None,
) -> str:
    """What to tell the user when one node of an upgrade did not become healthy: a headline, then one line each for
    what failed, what was done about it, where the cluster stands and how to go on (the refuse action prints the
    headline and the lines once each). kept: the node was not rolled back on its own, as its newer version changed
    its on-disk format (rollback.failed_node_kept, with `stopped`: whether its newer container was stopped)."""
    if plan_["action"] == "restart":
        return restart_failure_message(plan_, node, failure)
    if kept and kept.get("keep"):
        return _kept_failure_message(plan_, node, failure, kept)
    target = plan_["target"]["version"]
    step = next(item for item in plan_["nodes"] if item["name"] == node)
    source = step["rollback"]["version"] if step["rollback"] else step["version"]
    others_done = _others_done(plan_, node)
    lines = [f"{failure}."]
    if rolled_back:
        lines.append(
            f"{node} was rolled back on its own to {source} (its {target} container removed, the old one started "
            "again) and is healthy; the cluster kept serving."
        )
    else:
        lines.append(
            f"Rolling {node} back to {source} did not make it healthy either: {rollback_failure}. "
            f"Look at `docker logs {node}` on {step['host']}."
        )
    lines.append("Nodes already upgraded, with rollback copies: " + (", ".join(others_done) if others_done else "none") + ".")
    lines.append(
        f"To go on: see `docker logs {node}` on {step['host']} for why it failed, fix that, and re-run "
        f"`ansible-playbook upgrade.yml -e version={target}` (it resumes where it stopped); or return every node "
        "to its old version with `ansible-playbook upgrade.yml -e upgrade_action=rollback`."
    )
    return f"The upgrade of {node} to {target} failed:\n" + "\n".join(lines)


def _others_done(plan_: dict[str, Any], node: str) -> list[str]:
    """The nodes upgraded besides the failed one. Before it in the order: upgraded by an earlier run (it keeps a rollback
    copy) or by this run before it reached this node (a run stops at its first failed node); after it: only what an
    earlier run upgraded."""
    position = plan_["order"].index(node) if node in plan_["order"] else len(plan_["order"])
    return [
        name
        for index, name in enumerate(plan_["order"])
        if name != node and (index < position or _was_upgraded(plan_, name))
    ]


def _kept_failure_message(plan_: dict[str, Any], node: str, failure: str, kept: dict[str, Any]) -> str:
    """The failure of a node that was not rolled back on its own: its newer version wrote a format the old one cannot
    read, so its old container would not start; it and its rollback copy are kept for a rollback from its snapshot."""
    target, source = kept.get("target") or plan_["target"]["version"], kept.get("source") or "its old version"
    step = next(item for item in plan_["nodes"] if item["name"] == node)
    others_done = _others_done(plan_, node)
    stopped = (
        f"Its {target} container is stopped"
        if kept.get("stopped")
        else f"Stopping its {target} container failed too: stop it (docker stop {node} on {step['host']})"
    )
    rollback = (
        f"`ansible-playbook upgrade.yml -e upgrade_action=rollback -e rollback_restore_snapshot=true`: {node}'s data "
        f"goes back to the snapshot its upgrade took (what {target} wrote is moved aside, not deleted), then nodetool "
        "repair -full; writes it took after its snapshot may be lost"
        if kept.get("snapshot", True)
        else "a restore of its data from a backup (restore.yml): the upgrade ran with cassandra_upgrade_snapshot: "
        f"false, so it has no snapshot from before {target}"
    )
    lines = [
        f"{failure}.",
        f"{node} was not rolled back on its own: {kept.get('why')}, so its {source} container would not start on "
        f"that data. {stopped}; it and its rollback copy {node}{ROLLBACK_SUFFIX} ({source}) are kept. The other nodes "
        "keep serving.",
        "Nodes already upgraded, with rollback copies: " + (", ".join(others_done) if others_done else "none") + ".",
        f"To go on: see `docker logs {node}` on {step['host']} for why it failed, fix that, and re-run "
        f"`ansible-playbook upgrade.yml -e version={target}` (it starts {node} again and resumes); or, to go back to "
        f"{source}: {rollback}.",
    ]
    return f"The upgrade of {node} to {target} failed:\n" + "\n".join(lines)


def restart_failure_message(plan_: dict[str, Any], node: str, failure: str) -> str:
    """What to tell the user when a node of a rolling restart did not pass its gate."""
    step = next(item for item in plan_["nodes"] if item["name"] == node)
    return (
        f"The restart of {node} failed:\n{failure}.\nThe run stopped there; the nodes after it were not restarted.\n"
        f"See `docker logs {node}` on {step['host']}, fix what failed, and re-run `ansible-playbook restart.yml`: it "
        "goes on with the nodes not restarted yet."
    )


def _was_upgraded(plan_: dict[str, Any], name: str) -> bool:
    node = next(item for item in plan_["nodes"] if item["name"] == name)
    return bool(node["rollback"])


def summary(plan_: dict[str, Any], todo: list[dict[str, Any]]) -> list[str]:
    """What will happen, one line per note and then the line of the action (a list, so that a debug msg
    prints one line each with Ansible's default callback)."""
    action, target = plan_["action"], plan_["target"]
    names = ", ".join(step["name"] for step in todo)
    notes = [str(note) for note in plan_["notes"]]
    if action == "upgrade":
        if not todo:
            return [*notes, f"every node already runs {target['image']} as asked: nothing to do"]
        return [*notes, f"upgrade to {target['image']}, one node at a time: {names}"]
    if action == "restart":
        if not todo:
            return [*notes, "nothing to do: every node was restarted"]
        return [*notes, f"restart, one node at a time (drain, restart the same container, gate): {names}"]
    if action == "rollback":
        if not todo:
            return [*notes, "nothing to do"]
        return [
            *notes,
            "roll back, one node at a time: "
            + ", ".join(f"{step['name']} to {step['rollback']['version']}" for step in todo),
        ]
    if not todo:
        return [*notes, "nothing to do"]
    sstables = " after nodetool upgradesstables on each node" if plan_["major"] else ""
    return [*notes, f"finish the upgrade to {target['version']}: remove the rollback copies of {names}{sstables}"]
