# Copyright (c) corral.cassandra developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters of the cassandra_stack role: the stack model, placement, bring-up phases, status.

Thin wrappers: the logic lives in plugins/plugin_utils/_stack/ and _cassandra_output.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils import _cassandra_output as output
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain as _plain
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import refused, refusing
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack import auth, bringup, feasibility, model, status, topology
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import desired


@refusing
def swarm_hosts(swarm_nodes: list[dict[str, Any]], host_infos: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """docker_node_info nodes + {inventory host: docker_host_info host_info} -> swarm hosts for the model."""
    with refused("", model.StackError):
        return [asdict(host) for host in model.swarm_hosts(_plain(swarm_nodes), _plain(host_infos))]


@refusing
def stack_model(settings: dict[str, Any], hosts: list[dict[str, Any]], subnets: list[dict[str, Any]]) -> dict[str, Any]:
    """Role settings + swarm hosts + the overlay's IPAM config -> the validated, placed stack."""
    with refused("the Cassandra stack is not valid; nothing was changed", model.StackError):
        placed = [model.SwarmHost(**host) for host in _plain(hosts)]
        return model.build_stack(_plain(settings), placed, _plain(subnets)).to_dict()


def plan_guess(stack: dict[str, Any], fast_start: bool) -> list[dict[str, Any]]:
    return bringup.plan_guess(_plain(stack), bool(fast_start))


@refusing
def observe_plan(
    stack: dict[str, Any], plan_results: list[Any], fast_start: bool, replace: list[Any] | None = None
) -> dict[str, Any]:
    with refused("the Cassandra stack cannot be brought up; nothing was changed", model.StackError):
        return bringup.observe_plan(
            _plain(stack), _plain(plan_results), bool(fast_start), [str(name) for name in _plain(replace or [])]
        )


@refusing
def running_state(stack: dict[str, Any], plan_results: list[Any]) -> dict[str, Any]:
    """The stack model + the plan's node results -> {} when site.yml may go on; a refusal when the inventory's
    version differs from what runs, or an upgrade is under way."""
    with refused("the stack is left as it runs; nothing was changed", ValueError):
        problems = desired.running_state_problems(_plain(stack), _plain(plan_results))
        if problems:
            raise ValueError("\n".join(problems))
    return {}


def identity_request(stack: dict[str, Any], host: str) -> dict[str, Any]:
    return feasibility.identity_request(_plain(stack), str(host))


@refusing
def feasibility_check(stack: dict[str, Any], reads: dict[str, Any]) -> dict[str, Any]:
    with refused("the Cassandra stack cannot run on what its hosts hold; nothing was changed", model.StackError):
        return feasibility.feasibility(_plain(stack), _plain(reads))


@refusing
def saved_cluster_name(stack: dict[str, Any], reads: dict[str, Any]) -> dict[str, Any]:
    with refused("the cluster name cannot be taken from the nodes' data; nothing was changed", model.StackError):
        return feasibility.saved_cluster_name(_plain(stack), _plain(reads))


def saved_addresses(stack: dict[str, Any], reads: dict[str, Any]) -> dict[str, Any]:
    return feasibility.saved_addresses(_plain(stack), _plain(reads))


def phases(stack: dict[str, Any], observed: dict[str, Any], plan_results: list[Any]) -> list[dict[str, Any]]:
    return bringup.phases(_plain(stack), _plain(observed), _plain(plan_results))


@refusing
def topology_change(
    stack: dict[str, Any],
    observed: dict[str, Any],
    reads: dict[str, Any],
    remove: list[Any],
    delete_data: bool = False,
    replace: list[Any] | None = None,
    owed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stack model + what the hosts hold + the stack's containers on each host (+ the cleanup notes read on
    each host) -> joins, cleanup, notes, leaves, replaces, plan."""
    notes: dict[str, list[str]] = {}
    for stdout in _plain(owed or {}).values():
        for name, joiners in topology.parse_owed(str(stdout or "")).items():
            notes[name] = list(dict.fromkeys([*notes.get(name, []), *joiners]))
    with refused("the nodes of the inventory differ from the nodes that run; nothing was changed", model.StackError):
        return topology.topology(
            _plain(stack), _plain(observed), _plain(reads), _plain(remove), bool(delete_data), _plain(replace or []),
            notes,
        )


@refusing
def removal_check(change: dict[str, Any], stack: dict[str, Any], looks: dict[str, Any], keyspaces: str) -> dict[str, Any]:
    """The topology change + the look at every node (per host) + cqlsh's keyspace rows -> {plan} (the change's
    plan, each leaver's line saying what becomes of a decommission an earlier run began) or a refusal."""
    seen: dict[str, dict[str, str]] = {}
    for stdout in _plain(looks).values():
        seen.update(topology.parse_looks(str(stdout or "")))
    rows = output.cql_json_rows(str(keyspaces or ""))
    plain_change = _plain(change)
    headline = (
        "the nodes cannot be removed now" if plain_change["leaves"]
        else "the dead node cannot be replaced now" if plain_change.get("replaces")
        else "the ring holds a node of the inventory that has no data"
    )
    with refused(f"{headline}; nothing was changed", ValueError):
        if not rows and _plain(change)["leaves"]:
            raise ValueError("the keyspaces' replication could not be read (cqlsh on the first seed)")
        problems = topology.removal_problems(_plain(stack), _plain(change), seen, rows)
        problems += topology.replacement_problems(_plain(stack), _plain(change), seen)
        if problems:
            raise ValueError("\n".join(problems))
    return {"plan": topology.plan_with_progress(plain_change, seen)}


def repair_reason(replaced: dict[str, Any], now: float, policy: str) -> str:
    """A replacement (cassandra_stack_topology's replaces) + now + cassandra_stack_replace_repair -> why it is
    repaired, '' when it is not."""
    return topology.repair_reason(_plain(replaced), float(now), str(policy))


def failures(registered: list[Any], hosts: list[str]) -> list[str]:
    return bringup.failures(_plain(registered), [str(host) for host in hosts])


def cql_login_refused(result: dict[str, Any]) -> bool:
    return output.cql_login_refused(_plain(result))


def auth_query(superuser: str) -> str:
    return auth.auth_query(str(superuser))


@refusing
def auth_state(stdout: str, stack: dict[str, Any], superuser: str = "") -> dict[str, Any]:
    with refused("", ValueError):
        return auth.auth_state(str(stdout or ""), _plain(stack)["system_auth_replication"], str(superuser))


def superuser_cql(password: str, name: str, exists: bool = False) -> str:
    return auth.superuser_cql(str(name), str(password), bool(exists))


def cql_error(result: dict[str, Any], secret: str = "") -> str:
    """What a failed cqlsh exec said (its last line), the secret masked."""
    return auth.redact(output.result_error(_plain(result)), str(secret))


def status_table(
    stack: dict[str, Any], containers: list[Any], views: list[Any], copies: list[Any] | None = None
) -> list[str]:
    """The cluster table as a list of lines, for a debug msg that reads well with any callback."""
    return status.status_table(_plain(stack), _plain(containers), _plain(views), _plain(copies))


class FilterModule:
    """corral.cassandra.cassandra_stack_* filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cassandra_stack_swarm_hosts": swarm_hosts,
            "cassandra_stack_model": stack_model,
            "cassandra_stack_plan_guess": plan_guess,
            "cassandra_stack_observe_plan": observe_plan,
            "cassandra_stack_running_state": running_state,
            "cassandra_stack_identity_request": identity_request,
            "cassandra_stack_feasibility": feasibility_check,
            "cassandra_stack_saved_addresses": saved_addresses,
            "cassandra_stack_saved_cluster_name": saved_cluster_name,
            "cassandra_stack_phases": phases,
            "cassandra_stack_failures": failures,
            "cassandra_stack_topology": topology_change,
            "cassandra_stack_removal_check": removal_check,
            "cassandra_stack_repair_reason": repair_reason,
            "cassandra_stack_cql_login_refused": cql_login_refused,
            "cassandra_stack_auth_query": auth_query,
            "cassandra_stack_auth_state": auth_state,
            "cassandra_stack_cql_error": cql_error,
            "cassandra_stack_superuser_cql": superuser_cql,
            "cassandra_stack_status_table": status_table,
        }
