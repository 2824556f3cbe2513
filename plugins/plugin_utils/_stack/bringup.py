# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""How to bring the placed stack up: what the hosts hold now, and the phases to start nodes in.

Controller-side. A cluster that holds no data at all comes up fast: the first seed alone with
the fast-start JVM options, then every other node together. A cluster that holds data takes one
node at a time, each gated on its peers seeing it Up/Normal, CQL and schema agreement, because
Cassandra refuses concurrent bootstrap into a cluster with data.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.module_utils._cassandra_node import env_dict
from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import last_line
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import (
    REPLACE_ADDRESS_OPT,
    StackError,
    is_fast_start_option,
)


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's docker inspect -> its environment, {KEY: value}."""
    return env_dict((container.get("Config") or {}).get("Env"))


def by_node(results: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Loop results of a per-host task, keyed by the node (its `item`); of several for one node, the last wins."""
    found: dict[str, dict[str, Any]] = {}
    for result in results or []:
        item = result.get("item") if isinstance(result, dict) else None
        if isinstance(item, dict) and "name" in item and not result.get("skipped"):
            found[str(item["name"])] = result
    return found


def container_info(item: Any, exists: bool, running: bool, image: str, env: list[str] | None = None) -> dict[str, Any]:
    """A node's container as a docker_container_info result (the shape observe() and the status table read)."""
    config: dict[str, Any] = {"Image": image}
    if env is not None:
        config["Env"] = env
    return {"item": item, "exists": exists, "container": {"State": {"Running": running}, "Config": config}}


def image_tag(image: str) -> str:
    """'registry:5000/corral/cassandra:3.9' -> '3.9'; no tag -> 'latest'; a digest -> the digest."""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    _repo, sep, tag = image.rpartition(":")
    return tag if sep and "/" not in tag else "latest"


def replacement_options(node: dict[str, Any]) -> list[str]:
    """The JVM options of a node that takes over the tokens of the dead node at its own address."""
    return [*node["jvm_extra_opts"], REPLACE_ADDRESS_OPT + node["ip"]]


def replacement_seeds(stack: dict[str, Any], node: dict[str, Any]) -> list[str]:
    """The seeds of a replacing node: the stack's, less its own address. A node that finds its own address among
    the seeds does not bootstrap: it would take the dead node's tokens without their data (3.x), or refuse to
    start (4.0.1 on, CASSANDRA-14463)."""
    return [seed for seed in stack["seeds"] if seed != node["ip"]]


def observe(
    stack: dict[str, Any],
    containers: list[dict[str, Any]],
    data: list[dict[str, Any]],
    fast_start: bool,
    replace: list[str] | None = None,
) -> dict[str, Any]:
    """What each node's host holds now and, from that, the JVM options to plan and to apply with.

    containers: docker_container_info results per node; data: stat results of each node's
    <data_dir>/data; replace: the nodes named in cassandra_stack_replace_nodes. The cluster is fresh
    when no node's data directory holds data. A node replaces the dead one at its address when it is named
    and holds no data, or when its container carries the replacement option (a replacement not yet
    completed, in a run that was stopped): it starts with that option and without itself as a seed.
    """
    replace = list(replace or [])
    by_container, by_data = by_node(containers), by_node(data)
    nodes = stack["nodes"]
    unseen = [node["name"] for node in nodes if node["name"] not in by_container or node["name"] not in by_data]
    if unseen:
        raise StackError(f"nodes {', '.join(unseen)} were not observed: their hosts did not answer")
    has_data = {name: bool((result.get("stat") or {}).get("exists")) for name, result in by_data.items()}
    fresh = not any(has_data[node["name"]] for node in nodes)
    # A node whose first boot failed may be reset (its data directory emptied) only while no node
    # holds a keyspace of the users: then nothing can be lost and it starts as it was meant to.
    user_data = any(bool(result.get("user_data")) for result in by_data.values())

    if not fresh:
        empty_seeds = [
            node["name"] for node in nodes if node["seed"] and not has_data[node["name"]] and node["name"] not in replace
        ]
        if empty_seeds:
            raise StackError(
                f"seed nodes {', '.join(empty_seeds)} have an empty data directory while the cluster holds data: "
                "a seed never bootstraps, so it would take token ranges without their data. Add such a node "
                "with seed: false first, and make it a seed once it is Up/Normal. A seed that was in the ring "
                f"and lost its disk or its host is replaced: cassandra_stack_replace_nodes: [{empty_seeds[0]}]"
            )

    observed: dict[str, Any] = {}
    for node in nodes:
        result = by_container[node["name"]]
        container = (result.get("container") or {}) if result.get("exists") else {}
        state = container.get("State") or {}
        base = list(node["jvm_extra_opts"])
        first_start = base + list(node["fast_start_jvm_opts"])
        current = container_env(container).get("JVM_EXTRA_OPTS") if container else None
        replacing = not fresh and (
            (node["name"] in replace and not has_data[node["name"]])
            or (current is not None and current.split(" ") == replacement_options(node))
        )
        if replacing:
            plan = apply = replacement_options(node)
        elif fresh and fast_start:
            plan = apply = first_start
        else:
            apply = base
            plan = current.split(" ") if current is not None and first_start_options_only(current, base) else base
        observed[node["name"]] = {
            "has_data": has_data[node["name"]],
            "exists": bool(container),
            "running": bool(state.get("Running")),
            "image": (container.get("Config") or {}).get("Image", ""),
            "plan_jvm_extra_opts": plan,
            "apply_jvm_extra_opts": apply,
            "replacing": replacing,
        }
        if replacing:
            observed[node["name"]]["seeds"] = replacement_seeds(stack, node)
    plan_nodes = [
        {
            **node,
            "jvm_extra_opts": observed[node["name"]]["plan_jvm_extra_opts"],
            **({"seeds": observed[node["name"]]["seeds"]} if "seeds" in observed[node["name"]] else {}),
        }
        for node in nodes
    ]
    return {
        "fresh": fresh,
        "fast": fresh and fast_start,
        "heal_first_boot": not user_data,
        "nodes": observed,
        "plan_nodes": plan_nodes,
        "replacing": [node["name"] for node in nodes if observed[node["name"]]["replacing"]],
    }


def first_start_options_only(current: str, base: list[str]) -> bool:
    """Whether a container's JVM_EXTRA_OPTS are the node's own options plus first-start options only.

    Such a container is left alone: the node module compares JVM options, and recreating a node just
    to drop them costs a restart. Cassandra ignores them once the node has joined (its tokens are
    saved and its bootstrap is complete).
    """
    options = current.split(" ") if current else []
    return any(is_fast_start_option(option) for option in options) and [
        option for option in options if not is_fast_start_option(option)
    ] == list(base)


def plan_guess(stack: dict[str, Any], fast_start: bool) -> list[dict[str, Any]]:
    """The nodes to plan before anything is known about the hosts: as for a brand-new cluster.

    The plan (the node module in check mode) also reads what each host holds; observe_plan() then
    says which nodes to plan again because the guess was wrong for them.
    """
    return [
        {**node, "jvm_extra_opts": list(node["jvm_extra_opts"]) + (list(node["fast_start_jvm_opts"]) if fast_start else [])}
        for node in stack["nodes"]
    ]


def _as_reads(plan_results: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """cassandra_node results -> the (docker_container_info, stat) results observe() reads."""
    containers: list[dict[str, Any]] = []
    data: list[dict[str, Any]] = []
    for result in plan_results or []:
        seen = result.get("observed") if isinstance(result, dict) else None
        if not isinstance(seen, dict) or result.get("skipped") or result.get("failed"):
            continue
        env = [f"JVM_EXTRA_OPTS={seen['jvm_extra_opts']}"] if seen.get("jvm_extra_opts") is not None else None
        # A container restarting after a crash is not running: nothing to drain, nothing to ask.
        running = bool(seen.get("running")) and not seen.get("restarting")
        containers.append(
            container_info(result.get("item"), bool(seen.get("exists")), running, str(seen.get("image") or ""), env)
        )
        # What a failed first boot wrote is not data: the cluster stays brand-new.
        data_present = bool(seen.get("data_present")) and not seen.get("first_boot_only")
        data.append(
            {"item": result.get("item"), "stat": {"exists": data_present}, "user_data": bool(seen.get("user_data"))}
        )
    return containers, data


def observe_plan(
    stack: dict[str, Any], plan_results: list[dict[str, Any]], fast_start: bool, replace: list[str] | None = None
) -> dict[str, Any]:
    """observe() from the plan made with plan_guess(), plus:

    replan: the nodes whose JVM options to plan with differ from the guess (plan them again);
    containers: each node's container as it was, shaped like docker_container_info results.
    """
    containers, data = _as_reads(plan_results)
    observed = observe(stack, containers, data, fast_start, replace)
    planned = {name: result["item"] for name, result in by_node(plan_results).items()}
    observed["replan"] = [
        node["name"]
        for node in observed["plan_nodes"]
        if list((planned.get(node["name"]) or {}).get("jvm_extra_opts") or []) != list(node["jvm_extra_opts"])
        or (planned.get(node["name"]) or {}).get("seeds") != node.get("seeds")
    ]
    observed["containers"] = containers
    return observed


def phases(stack: dict[str, Any], observed: dict[str, Any], plan_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The start phases for the nodes the node module (in check mode) would change.

    Each phase: name, nodes (node dicts with the JVM options to apply, the planned actions and whether
    to drain the node first), expected (the nodes that
    must then be Up/Normal as every one of them sees it), and gate (listen, ring, cql, schema: what to
    wait for after the phase, the final health check waits for everything anyway).
    """
    planned = by_node(plan_results)
    nodes = stack["nodes"]
    # The plan ran in check mode with changed_when: false; what it would do is in `actions`.
    changed = [node for node in nodes if (planned.get(node["name"]) or {}).get("actions")]

    def to_apply(node: dict[str, Any]) -> dict[str, Any]:
        result = dict(node)
        result["actions"] = list((planned.get(node["name"]) or {}).get("actions") or [])
        seen = observed["nodes"][node["name"]]
        # Applied as planned: a container kept with its first-start options is only started, not recreated
        # just to drop them; a node recreated anyway loses them.
        recreated = any(str(action).startswith("recreated ") for action in result["actions"])
        result["jvm_extra_opts"] = seen["apply_jvm_extra_opts"] if recreated else seen["plan_jvm_extra_opts"]
        if "seeds" in seen:
            result["seeds"] = seen["seeds"]
        # A running node about to be recreated or stopped is drained first: memtables flushed, no new writes.
        result["drain"] = observed["nodes"][node["name"]]["running"] and any(
            str(action).startswith(("recreated ", "stopped ")) for action in result["actions"]
        )
        return result

    result: list[dict[str, Any]] = []
    if observed["fast"]:
        first, rest = nodes[0], [node for node in changed if node["name"] != nodes[0]["name"]]
        if any(node["name"] == first["name"] for node in changed):
            result.append(
                {
                    "name": f"fresh cluster: first seed {first['name']} alone",
                    "nodes": [to_apply(first)],
                    "expected": [first],
                    "reach": [],
                    # The others start once it listens for CQL: it opens that port only after it gossips and is
                    # Normal. Not earlier (its internode port opens before gossip starts): a joining node that
                    # misses the seed's gossip within its short ring delay fails to bootstrap, and then fails
                    # the same way on every restart (seen on the lab). Ring, CQL and schema are checked for all.
                    "gate": {"listen": True, "ring": False, "cql": False, "schema": False},
                }
            )
        # Their hosts reach the seed's internode port over the overlay first: a node that cannot reach
        # any seed at its start forms a ring of its own.
        reach = [f"{first['ip']}:{first['storage_port']}"]
        # With computed tokens no node bootstraps, so all start together; without (a partitioner with
        # no integer tokens, an unknown release), each bootstraps alone: nodes that allocate tokens
        # at once compute the same ones (5.0.8 on the lab: the second took every token of the first).
        if rest and stack.get("initial_tokens"):
            result.append(
                {
                    "name": f"fresh cluster: {', '.join(node['name'] for node in rest)} together",
                    "nodes": [to_apply(node) for node in rest],
                    "expected": nodes,
                    "reach": reach,
                    "gate": {"listen": False, "ring": False, "cql": False, "schema": False},
                }
            )
        else:
            started = [first]
            for node in rest:
                started.append(node)
                result.append(
                    {
                        "name": f"fresh cluster: {node['name']} alone (bootstrap)",
                        "nodes": [to_apply(node)],
                        "expected": list(started),
                        "reach": reach,
                        "gate": {"listen": True, "ring": False, "cql": False, "schema": False},
                    }
                )
        return result

    up = {name for name, state in observed["nodes"].items() if state["running"]}
    for node in changed:
        up.add(node["name"])
        replacing = observed["nodes"][node["name"]].get("replacing")
        result.append(
            {
                "name": f"one node at a time: {node['name']}"
                + (f" replaces the dead node at {node['ip']} (takes over its tokens)" if replacing else ""),
                "nodes": [to_apply(node)],
                "expected": [peer for peer in nodes if peer["name"] in up],
                "reach": [],
                # Nodes not started yet show as UNREACHABLE in describecluster: schema agreement can
                # only be asked once every node is up (a whole cluster started again after a stop).
                "gate": {"listen": True, "ring": True, "cql": True, "schema": up >= {peer["name"] for peer in nodes}},
            }
        )
    return result


def failures(registered: list[dict[str, Any]], hosts: list[str]) -> list[str]:
    """'host: message' for every failed result of a task registered on each host (loop or not).

    A loop item that is a string (like the image being pulled) is named first unless the message names it.
    """
    report = []
    for host, result in zip(hosts, registered):
        result = result or {}
        for item in result.get("results", [result]):
            if isinstance(item, dict) and item.get("failed"):
                message = str(item.get("msg") or "failed")
                # A command that failed: what it said, not "non-zero return code".
                if item.get("stderr") and message.startswith("non-zero return code"):
                    message = last_line(item["stderr"])
                subject = item.get("item")
                if isinstance(subject, str) and subject and subject not in message:
                    message = f"{subject}: {message}"
                report.append(f"{host}: {message}")
    return report
