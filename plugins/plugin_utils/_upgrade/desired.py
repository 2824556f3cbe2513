# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""One desired state: what site.yml may do, given what the nodes run.

site.yml brings nodes to the inventory's settings, one node at a time; a change of Cassandra version is not such a
setting. A version older than the one running would be a downgrade, which Cassandra cannot do in place; a newer one
goes through upgrade.yml, whose engine checks the version path, gates each node and keeps a rollback copy. While an
upgrade is under way (rollback copies kept) site.yml changes nothing: finish or rollback decide first. Controller-side,
from the node module's check-mode results (its `observed` container and its `rollback_copy`).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.bringup import by_node, image_tag
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.model import default_num_tokens
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade.plan import Version, parse_version

FINISH = "ansible-playbook upgrade.yml -e upgrade_action=finish"
ROLLBACK = "ansible-playbook upgrade.yml -e upgrade_action=rollback"


def _names(names: list[str]) -> str:
    return ", ".join(names)


def _run(names: list[str]) -> str:
    return "runs" if len(names) == 1 else "run"


def running_state_problems(stack: dict[str, Any], plan_results: list[dict[str, Any]]) -> list[str]:
    """Why site.yml must not change this cluster ([] when it may): an upgrade under way, a version in the
    inventory (the stack model's) other than the one the nodes run, or another number of tokens than theirs."""
    results = by_node([result for result in plan_results if isinstance(result, dict) and not result.get("failed")])
    copies = {
        name: str((result.get("rollback_copy") or {}).get("image") or "")
        for name, result in sorted(results.items())
        if result.get("rollback_copy")
    }
    if copies:
        sources = sorted({image_tag(image) for image in copies.values() if image})
        return [
            f"an upgrade is under way: {_names(list(copies))} keep rollback copies (of {_names(sources) or 'unknown'}), "
            "and site.yml changes no node until it is made final or taken back. Make it final with "
            f"`{FINISH}`, or return every node to its old version with `{ROLLBACK}`; then set "
            "cassandra_stack_version in the inventory to the version the nodes run"
        ]
    wanted = parse_version(str(stack.get("version") or ""))
    if wanted is None:
        return []
    running: dict[Version, list[str]] = {}
    for name, result in sorted(results.items()):
        observed = result.get("observed") or {}
        if not observed.get("exists"):
            continue
        version = parse_version(image_tag(str(observed.get("image") or "")))
        if version is not None and version != wanted:
            running.setdefault(version, []).append(name)
    problems = []
    for version, names in sorted(running.items()):
        if version > wanted:
            problems.append(
                f"the inventory asks for Cassandra {wanted} (cassandra_stack_version), but {_names(names)} "
                f"{_run(names)} {version}: that is a downgrade, and Cassandra cannot be downgraded in place (its data "
                f"files and system tables may already be in the newer format). Set cassandra_stack_version: "
                f'"{version}" in the inventory'
            )
        else:
            problems.append(
                f"the inventory asks for Cassandra {wanted} (cassandra_stack_version), but {_names(names)} "
                f"{_run(names)} {version}: site.yml does not change the version of a running cluster. Upgrade with "
                f"`ansible-playbook upgrade.yml -e version={wanted}` (node by node, health-gated, the version path "
                f"checked, with rollback), then `{FINISH}`"
            )
    return problems or _token_problems(stack, results)


def _token_problems(stack: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    """Containers whose data holds another number of tokens than the inventory would give them: Cassandra refuses to
    start a node on data with another number. A container given one (CASSANDRA_NUM_TOKENS: an upgrade from 3.x keeps
    their 256) holds that; one given none, its release's default (256 before 4.0, 16 from 4.0)."""
    requested = stack.get("num_tokens")
    wanted = requested if requested is not None else default_num_tokens(str(stack.get("version") or ""))
    if wanted is None:
        return []
    differ: dict[tuple[int, str], list[str]] = {}
    for name, result in sorted(results.items()):
        observed = result.get("observed") or {}
        if not observed.get("exists") or not observed.get("data_present", True):
            continue
        held, source = observed.get("num_tokens"), "given"
        if not isinstance(held, int):
            release = image_tag(str(observed.get("image") or ""))
            held, source = default_num_tokens(release), f"the default of {release}"
        if isinstance(held, int) and held != wanted:
            differ.setdefault((held, source), []).append(name)
    given = (
        f"cassandra_stack_num_tokens: {requested}"
        if requested is not None
        else f"cassandra_stack_num_tokens unset, {stack.get('version')}'s default of {wanted}"
    )

    def why(names: list[str], source: str) -> str:
        their = "its" if len(names) == 1 else "their"
        containers = f"container{'' if len(names) == 1 else 's'}"
        if source == "given":
            return f"CASSANDRA_NUM_TOKENS of {their} {containers}; an upgrade keeps the number the data holds"
        return f"{source}: {their} {containers} {'was' if len(names) == 1 else 'were'} given no CASSANDRA_NUM_TOKENS"

    return [
        f"{_names(names)} {_run(names)} with num_tokens {held} ({why(names, source)}), and the inventory "
        f"gives {wanted} ({given}): Cassandra refuses to start a node on data with another number of tokens. Set "
        f"cassandra_stack_num_tokens: {held} in the inventory"
        for (held, source), names in sorted(differ.items())
    ]
