# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Reading what nodetool and cqlsh print, run inside the Cassandra containers (3.x to 5.0).

Controller-side: the role runs the tools with docker exec and hands their output here.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ROW = re.compile(r"^(?P<state>[UD][NLJM])\s+(?P<address>\S+)\s+(?P<rest>.+)$")
_SCHEMA_LINE = re.compile(r"^\s+(?P<version>[0-9a-fA-F-]{36}|UNREACHABLE):\s*\[(?P<addresses>[^\]]*)\]\s*$")
_RELEASE_LINE = re.compile(r"^\s+(?P<release>[0-9][^:\s]*):\s*\[(?P<addresses>[^\]]*)\]\s*$")

STATUS_WORDS = {"U": "Up", "D": "Down"}
STATE_WORDS = {"N": "Normal", "L": "Leaving", "J": "Joining", "M": "Moving"}

# cqlsh reached the server and the server refused the login: CQL is answering.
_AUTH_REFUSED = ("AuthenticationFailed", "Bad credentials", "are incorrect", "is not permitted to log in")


def _address(text: str) -> str:
    """'10.42.0.48', '10.42.0.48:7000' or '/10.42.0.48' -> '10.42.0.48'."""
    text = text.strip().lstrip("/")
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text


def parse_ring(stdout: str) -> list[dict[str, str]]:
    """`nodetool status` -> one dict per node: dc, state, address, load, tokens, owns, host_id, rack."""
    rows: list[dict[str, str]] = []
    dc = ""
    per_node_token = False
    for line in (stdout or "").splitlines():
        if line.startswith("Datacenter:"):
            dc = line.split(":", 1)[1].strip()
            continue
        if line.startswith("--"):
            # 'Tokens' (vnodes) or 'Token' (one token per node, printed after Host ID).
            per_node_token = "Tokens" not in line and "Token" in line
            continue
        match = _ROW.match(line.strip())
        if not match:
            continue
        parts = match["rest"].split()
        if len(parts) < 5:
            continue
        if per_node_token:
            *load, owns, host_id, _token, rack = parts
            tokens = "1"
        else:
            *load, tokens, owns, host_id, rack = parts
        rows.append(
            {
                "dc": dc,
                "state": match["state"],
                "address": _address(match["address"]),
                "load": " ".join(load) or "?",
                "tokens": tokens,
                "owns": owns,
                "host_id": host_id,
                "rack": rack,
            }
        )
    return rows


def describe_state(state: str) -> str:
    """'DN' -> 'DN (Down/Normal)'."""
    if len(state) != 2:
        return state
    return f"{state} ({STATUS_WORDS.get(state[0], '?')}/{STATE_WORDS.get(state[1], '?')})"


def ring_problems(stdout: str, expected_ips: list[str]) -> list[str]:
    """Why the ring that one node sees is not every expected node Up/Normal; [] when it is."""
    rows = parse_ring(stdout)
    if not rows:
        return ["no ring in the nodetool status output (is Cassandra up yet?)"]
    states = {row["address"]: row["state"] for row in rows}
    problems = []
    for ip in expected_ips:
        state = states.get(ip)
        if state is None:
            problems.append(f"{ip} is not in the ring yet")
        elif state != "UN":
            problems.append(f"{ip} is {describe_state(state)}")
    return problems


def describecluster_section(stdout: str, header: str, line_pattern: re.Pattern[str], key: str) -> dict[str, list[str]]:
    """One part of `nodetool describecluster` ('Schema versions:', 'Database versions:'): {key group: [addresses]}."""
    found: dict[str, list[str]] = {}
    inside = False
    for line in (stdout or "").splitlines():
        if line.strip() == header:
            inside = True
            continue
        if not inside:
            continue
        match = line_pattern.match(line)
        if not match:
            if line.strip():
                break
            continue
        found[match[key]] = [_address(item) for item in match["addresses"].split(",") if item.strip()]
    return found


def schema_versions(stdout: str) -> dict[str, list[str]]:
    """`nodetool describecluster` -> {schema version or 'UNREACHABLE': [addresses]}."""
    return describecluster_section(stdout, "Schema versions:", _SCHEMA_LINE, "version")


def release_versions(stdout: str) -> dict[str, list[str]]:
    """The 'Database versions:' part of `nodetool describecluster` (4.0 and later): {release: [addresses]}."""
    return describecluster_section(stdout, "Database versions:", _RELEASE_LINE, "release")


def schema_problems(stdout: str, expected_ips: list[str] | None = None, per_release: bool = False) -> list[str]:
    """[] when every expected node has a schema version and they agree, and none is unreachable.

    With expected_ips, only those count as unreachable or missing: a node decommissioned (taken out of the
    inventory) stays in gossip, unreachable, for days after it left the ring. With per_release (an upgrade across a
    major version is under way) one version per Cassandra release is enough, as two major versions compute schema
    versions differently (4.1 and 5.0 do); the schema must not change then. Without the nodes' releases in the
    output (3.x does not show them), one version is required.
    """
    versions = schema_versions(stdout)
    if not versions:
        return ["no schema versions in the nodetool describecluster output"]
    problems = []
    unreachable = [ip for ip in versions.get("UNREACHABLE", []) if expected_ips is None or ip in expected_ips]
    if unreachable:
        problems.append(f"unreachable: {', '.join(unreachable)}")
    agreed = {version: nodes for version, nodes in versions.items() if version != "UNREACHABLE"}
    seen = {address for nodes in agreed.values() for address in nodes}
    missing = [ip for ip in expected_ips or [] if ip not in seen and ip not in unreachable]
    if missing:
        problems.append(f"no schema version for {', '.join(missing)}")
    releases = release_versions(stdout) if per_release else {}
    release_of = {address: release for release, addresses in releases.items() for address in addresses}
    by_release: dict[str, set[str]] = {}
    for version, nodes in agreed.items():
        for address in nodes:
            by_release.setdefault(release_of.get(address, "an unknown release") if releases else "all", set()).add(version)
    for release, found in sorted(by_release.items()):
        if len(found) > 1:
            who = "the nodes" if release == "all" else f"the nodes on {release}"
            detail = "; ".join(f"{version}: {', '.join(agreed[version])}" for version in sorted(found))
            problems.append(f"{who} show {len(found)} schema versions ({detail})")
    return problems


def cql_answered(result: dict[str, Any]) -> bool:
    """True when cqlsh got an answer from the server: it ran, or the server refused the login."""
    if result.get("rc") == 0:
        return True
    text = f"{result.get('stdout', '')}\n{result.get('stderr', '')}"
    return any(marker in text for marker in _AUTH_REFUSED)


def cql_login_refused(result: dict[str, Any]) -> bool:
    """True when the server answered and refused the login (not a connection failure)."""
    return result.get("rc") != 0 and cql_answered(result)


def cql_json_rows(stdout: str) -> list[dict[str, Any]]:
    """The rows of `SELECT JSON ...` as cqlsh prints them (one JSON object per line)."""
    rows: list[dict[str, Any]] = []
    for line in (stdout or "").splitlines():
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            rows.append(value)
    return rows


# --- reports of the bounded waits: one line per node still not right ---------------------------------


def result_node_name(result: dict[str, Any]) -> str:
    item = result.get("item")
    return str(item.get("name")) if isinstance(item, dict) else "?"


# What a JVM prints when it takes options from the environment (the looks set JAVA_TOOL_OPTIONS): never the error.
_JVM_NOTICE = "Picked up "


def last_line(text: Any, limit: int = 300) -> str:
    """The last non-empty line of a text that is not a JVM's 'Picked up ...' notice, stripped and cut at limit
    characters; '' when there is none."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip() and not line.startswith(_JVM_NOTICE)]
    return lines[-1][:limit] if lines else ""


def result_error(result: dict[str, Any]) -> str:
    """The last non-empty line of what went wrong (stderr, stdout or the module's msg)."""
    for text in (result.get("stderr"), result.get("msg"), result.get("stdout")):
        line = last_line(text, limit=10_000)
        if line:
            return line
    return f"exit code {result.get('rc', '?')}"


# --- one look at a node: ring, CQL and (on one node) the schema, from one exec -------------------------

# Printed after each tool's output by the role's glance script, with the tool's exit code.
GLANCE_MARK = "@@corral-glance"
GLANCE_PARTS = ("ring", "cql", "schema")


def split_glance(stdout: str) -> dict[str, dict[str, Any]]:
    """The glance script's output -> {part: {rc, stdout}} for ring, cql and (when run) schema."""
    parts: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    names = iter(GLANCE_PARTS)
    for line in (stdout or "").splitlines():
        if line.startswith(GLANCE_MARK):
            name = next(names, None)
            if name is None:
                break
            code = line[len(GLANCE_MARK):].strip()
            parts[name] = {"rc": int(code) if code.lstrip("-").isdigit() else 1, "stdout": "\n".join(lines)}
            lines = []
        else:
            lines.append(line)
    return parts
