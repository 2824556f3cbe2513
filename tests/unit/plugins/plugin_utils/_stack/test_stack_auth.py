"""Secure by default: the CQL for the superuser, the default login and system_auth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._stack.auth import (
    auth_query,
    auth_state,
    quote_identifier,
    quote_literal,
    redact,
    superuser_cql,
)

NTS3 = {"class": "NetworkTopologyStrategy", "dc1": 3}


def state_output(replication: dict[str, str], role: dict[str, Any] | None) -> str:
    lines = [" [json]", "----", " " + json.dumps({"keyspace_name": "system_auth", "replication": replication}), ""]
    if role is not None:
        lines += [" [json]", "----", " " + json.dumps(role), "", "(1 rows)"]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("replication", "role", "alter", "disable"),
    [
        (
            {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"},
            {"role": "cassandra", "can_login": True, "is_superuser": True},
            "ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3'};",
            "ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false;",
        ),
        (
            {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "3"},
            {"role": "cassandra", "can_login": False, "is_superuser": False},
            "",
            "",
        ),
        (
            {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "2"},
            {"role": "cassandra", "can_login": False, "is_superuser": True},
            "ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3'};",
            "ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false;",
        ),
        ({"class": "NetworkTopologyStrategy", "dc1": "3"}, None, "", ""),
    ],
)
def test_auth_state(replication: dict[str, str], role: dict[str, Any] | None, alter: str, disable: str) -> None:
    state = auth_state(state_output(replication, role), NTS3)
    assert state["alter_replication"] == alter
    assert state["replication_ok"] is (alter == "")
    assert state["disable_default_role"] == disable
    assert state["default_role_enabled"] is (disable != "")


def test_auth_state_unreadable() -> None:
    with pytest.raises(ValueError, match="cannot read the replication of system_auth"):
        auth_state("Connection error", NTS3)


@pytest.mark.parametrize(
    ("exists", "verb"), [(False, "CREATE ROLE IF NOT EXISTS"), (True, "ALTER ROLE")]
)
def test_superuser_cql_sets_the_password_once(exists: bool, verb: str) -> None:
    # 5.0 refuses a second password change of one role within a few seconds.
    cql = superuser_cql('ad"min', "it's", exists)
    assert cql == f"{verb} \"ad\"\"min\" WITH PASSWORD = 'it''s' AND LOGIN = true AND SUPERUSER = true;"
    assert cql.count("PASSWORD") == 1


def test_auth_query_reads_both_roles() -> None:
    assert "WHERE role IN ('cassandra', 'o''brien')" in auth_query("o'brien")


@pytest.mark.parametrize(("rows", "exists"), [([], False), ([{"role": "admin", "can_login": True}], True)])
def test_auth_state_sees_the_superuser(rows: list[dict[str, Any]], exists: bool) -> None:
    text = state_output({"class": "NetworkTopologyStrategy", "dc1": "3"}, None)
    text += "\n" + "\n".join(" " + json.dumps(row) for row in rows)
    assert auth_state(text, NTS3, "admin")["superuser_exists"] is exists
    assert auth_state(text, NTS3)["superuser_exists"] is False


def test_redact_masks_every_occurrence() -> None:
    assert redact("bad 'pw' near pw", "pw") == "bad '********' near ********"
    assert redact("nothing", "") == "nothing"


@pytest.mark.parametrize(("text", "quoted"), [("admin", '"admin"'), ('a"b', '"a""b"')])
def test_quote_identifier(text: str, quoted: str) -> None:
    assert quote_identifier(text) == quoted


@pytest.mark.parametrize(("text", "quoted"), [("pw", "'pw'"), ("a'b", "'a''b'"), ("", "''")])
def test_quote_literal(text: str, quoted: str) -> None:
    assert quote_literal(text) == quoted
