"""Reading nodetool and cqlsh output, as Cassandra 3.x, 4.x and 5.0 print it."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import (
    cql_answered,
    cql_json_rows,
    cql_login_refused,
    describe_state,
    last_line,
    parse_ring,
    ring_problems,
    schema_problems,
    schema_versions,
    split_glance,
)

STATUS_3 = """\
Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack
UN  10.42.0.48  108.62 KiB  256          100.0%            0c9f5d8e-4e1f-4b0c-a0a4-4d3c39c1a1a1  rack1
UJ  10.42.0.49  65.87 KiB  256          ?                 7a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d  rack1
DN  10.42.0.50  ?          256          0.0%              9f8e7d6c-5b4a-3f2e-1d0c-b9a8f7e6d5c4  rack2

Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless
"""

STATUS_5 = """\
Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load        Tokens  Owns (effective)  Host ID                               Rack
UN  10.42.0.48  104.33 KiB  16      100.0%            0c9f5d8e-4e1f-4b0c-a0a4-4d3c39c1a1a1  rack1
Datacenter: east
================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load        Tokens  Owns (effective)  Host ID                               Rack
UN  10.42.0.49  99 bytes    16      100.0%            7a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d  r2
"""

STATUS_ONE_TOKEN = """\
Datacenter: dc1
===============
--  Address     Load       Owns (effective)  Host ID                               Token                 Rack
UN  10.42.0.48  1.2 MiB    100.0%            0c9f5d8e-4e1f-4b0c-a0a4-4d3c39c1a1a1  -9223372036854775808  rack1
"""


def test_parse_ring_3x() -> None:
    rows = parse_ring(STATUS_3)
    assert [(r["address"], r["state"], r["load"], r["owns"], r["rack"]) for r in rows] == [
        ("10.42.0.48", "UN", "108.62 KiB", "100.0%", "rack1"),
        ("10.42.0.49", "UJ", "65.87 KiB", "?", "rack1"),
        ("10.42.0.50", "DN", "?", "0.0%", "rack2"),
    ]
    assert rows[0]["tokens"] == "256"
    assert rows[0]["dc"] == "dc1"
    assert rows[0]["host_id"] == "0c9f5d8e-4e1f-4b0c-a0a4-4d3c39c1a1a1"


def test_parse_ring_5x_two_dcs() -> None:
    rows = parse_ring(STATUS_5)
    assert [(r["dc"], r["address"], r["load"], r["tokens"], r["rack"]) for r in rows] == [
        ("dc1", "10.42.0.48", "104.33 KiB", "16", "rack1"),
        ("east", "10.42.0.49", "99 bytes", "16", "r2"),
    ]


def test_parse_ring_one_token_per_node() -> None:
    [row] = parse_ring(STATUS_ONE_TOKEN)
    assert (row["load"], row["owns"], row["tokens"], row["rack"]) == ("1.2 MiB", "100.0%", "1", "rack1")


@pytest.mark.parametrize(
    ("stdout", "expected", "problems"),
    [
        (STATUS_3, ["10.42.0.48"], []),
        (
            STATUS_3,
            ["10.42.0.48", "10.42.0.49", "10.42.0.50", "10.42.0.51"],
            [
                "10.42.0.49 is UJ (Up/Joining)",
                "10.42.0.50 is DN (Down/Normal)",
                "10.42.0.51 is not in the ring yet",
            ],
        ),
        ("", ["10.42.0.48"], ["no ring in the nodetool status output (is Cassandra up yet?)"]),
        (
            "nodetool: Failed to connect to '127.0.0.1:7199'",
            ["10.42.0.48"],
            ["no ring in the nodetool status output (is Cassandra up yet?)"],
        ),
    ],
)
def test_ring_problems(stdout: str, expected: list[str], problems: list[str]) -> None:
    assert ring_problems(stdout, expected) == problems


@pytest.mark.parametrize(("state", "text"), [("UN", "UN (Up/Normal)"), ("DL", "DL (Down/Leaving)"), ("?", "?")])
def test_describe_state(state: str, text: str) -> None:
    assert describe_state(state) == text


DESCRIBE_3 = """\
Cluster Information:
\tName: CassandraDB
\tSnitch: org.apache.cassandra.locator.DynamicEndpointSnitch
\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
\tSchema versions:
\t\t86afa796-d883-3932-aa73-6b017cef0d19: [10.42.0.48, 10.42.0.49]

\t\tUNREACHABLE: [10.42.0.50]

"""

DESCRIBE_5 = """\
Cluster Information:
\tName: CassandraDB
\tSnitch: org.apache.cassandra.locator.DynamicEndpointSnitch
\tDynamicEndPointSnitch: enabled
\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
\tSchema versions:
\t\t2207c2a9-f598-3971-986b-2926e09e239d: [10.42.0.48, 10.42.0.49, 10.42.0.50]

Stats for all nodes:
\tLive: 3
\tJoining: 0

Database versions:
\t5.0.8: [10.42.0.48:7000, 10.42.0.49:7000, 10.42.0.50:7000]
"""

DESCRIBE_SPLIT = """\
Cluster Information:
\tSchema versions:
\t\t2207c2a9-f598-3971-986b-2926e09e239d: [10.42.0.48:7000]
\t\t86afa796-d883-3932-aa73-6b017cef0d19: [10.42.0.49:7000, 10.42.0.50:7000]
"""


def test_schema_versions() -> None:
    assert schema_versions(DESCRIBE_3) == {
        "86afa796-d883-3932-aa73-6b017cef0d19": ["10.42.0.48", "10.42.0.49"],
        "UNREACHABLE": ["10.42.0.50"],
    }
    assert schema_versions(DESCRIBE_5) == {
        "2207c2a9-f598-3971-986b-2926e09e239d": ["10.42.0.48", "10.42.0.49", "10.42.0.50"]
    }


@pytest.mark.parametrize(
    ("stdout", "problems"),
    [
        (DESCRIBE_5, []),
        (DESCRIBE_3, ["unreachable: 10.42.0.50"]),
        (
            DESCRIBE_SPLIT,
            [
                "the nodes show 2 schema versions (2207c2a9-f598-3971-986b-2926e09e239d: 10.42.0.48; "
                "86afa796-d883-3932-aa73-6b017cef0d19: 10.42.0.49, 10.42.0.50)"
            ],
        ),
        ("error: connection refused", ["no schema versions in the nodetool describecluster output"]),
    ],
)
def test_schema_problems(stdout: str, problems: list[str]) -> None:
    assert schema_problems(stdout) == problems


REFUSED_OLD = (
    "Connection error: ('Unable to connect to any servers', {'10.42.0.48': AuthenticationFailed('Failed to "
    'authenticate to 10.42.0.48: Error from server: code=0100 [Bad credentials] message="Provided username '
    "cassandra and/or password are incorrect\"',)})"
)
REFUSED_LOGIN_FALSE = (
    "Connection error: ('Unable to connect to any servers', {'10.42.0.48:9042': AuthenticationFailed('Failed to "
    'authenticate to 10.42.0.48:9042: Error from server: code=0100 [Bad credentials] message="cassandra is not '
    "permitted to log in\"')})"
)
NOT_LISTENING = (
    "Connection error: ('Unable to connect to any servers', {'10.42.0.48:9042': ConnectionRefusedError(111, "
    "\"Tried connecting to [('10.42.0.48', 9042)]. Last error: Connection refused\")})"
)


@pytest.mark.parametrize(
    ("result", "answered", "refused"),
    [
        ({"rc": 0, "stdout": "", "stderr": ""}, True, False),
        ({"rc": 1, "stdout": "", "stderr": REFUSED_OLD}, True, True),
        ({"rc": 1, "stdout": "", "stderr": REFUSED_LOGIN_FALSE}, True, True),
        ({"rc": 1, "stdout": "", "stderr": NOT_LISTENING}, False, False),
        ({"rc": 126, "stdout": "", "stderr": "OCI runtime exec failed"}, False, False),
        ({}, False, False),
    ],
)
def test_cql_answered_and_login_refused(result: dict[str, Any], answered: bool, refused: bool) -> None:
    assert cql_answered(result) is answered
    assert cql_login_refused(result) is refused


def test_cql_json_rows() -> None:
    stdout = """
 [json]
------------------------------------------------------------------------------------------------------
 {"keyspace_name": "system_auth", "replication": {"class": "SimpleStrategy", "replication_factor": "1"}}

(1 rows)

 [json]
-----------------------------------------------------------
 {"role": "cassandra", "can_login": true, "is_superuser": true}

(1 rows)
"""
    assert cql_json_rows(stdout) == [
        {
            "keyspace_name": "system_auth",
            "replication": {"class": "SimpleStrategy", "replication_factor": "1"},
        },
        {"role": "cassandra", "can_login": True, "is_superuser": True},
    ]


ALL_UN = STATUS_3.replace("UJ  ", "UN  ").replace("DN  ", "UN  ")
ONE_SCHEMA = DESCRIBE_3.replace("10.42.0.49]", "10.42.0.49, 10.42.0.50]").replace("\t\tUNREACHABLE: [10.42.0.50]\n", "")
MARK = "@@corral-glance"


def glanced(name: str, ring: str, cql: tuple[int, str], schema: str | None = None, rc: int = 0) -> dict[str, Any]:
    """A result of the glance script run in one node: each tool's output, then the mark with its exit code."""
    text = f"{ring}{MARK} 0\n{cql[1]}\n{MARK} {cql[0]}\n"
    if schema is not None:
        text += f"{schema}{MARK} 0\n"
    return {"item": {"name": name, "host": f"lab-{name}"}, "rc": rc, "stdout": text}


def test_split_glance() -> None:
    parts = split_glance(glanced("cdb1", ALL_UN, (2, REFUSED_OLD), ONE_SCHEMA)["stdout"])
    assert list(parts) == ["ring", "cql", "schema"]
    assert parts["ring"]["rc"] == 0 and parse_ring(parts["ring"]["stdout"])[0]["address"] == "10.42.0.48"
    assert parts["cql"] == {"rc": 2, "stdout": REFUSED_OLD}
    assert split_glance("no marks at all") == {}


@pytest.mark.parametrize(
    ("text", "limit", "line"),
    [
        ("error: connection refused\n\n", 300, "error: connection refused"),
        ("Failed to connect\nPicked up JAVA_TOOL_OPTIONS: -XX:TieredStopAtLevel=1\n", 300, "Failed to connect"),
        ("Picked up JAVA_TOOL_OPTIONS: -XX:TieredStopAtLevel=1", 300, ""),
        (None, 300, ""),
        ("x" * 20, 5, "xxxxx"),
    ],
)
def test_last_line_skips_the_jvm_notice(text: Any, limit: int, line: str) -> None:
    assert last_line(text, limit=limit) == line


def test_a_node_that_left_the_ring_is_not_waited_for_when_the_expected_nodes_are_known() -> None:
    # 10.42.0.50 decommissioned: still in gossip, unreachable, but no longer a node of the inventory.
    assert schema_problems(DESCRIBE_3, ["10.42.0.48", "10.42.0.49"]) == []
    assert schema_problems(DESCRIBE_3, ["10.42.0.48", "10.42.0.49", "10.42.0.50"]) == ["unreachable: 10.42.0.50"]
