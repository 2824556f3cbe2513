# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""Secure by default: the CQL that makes the stack's superuser, retires cassandra/cassandra and
replicates system_auth, and the reading of the current state it is compared with.

Controller-side. Statements that carry the password are only ever handed to no_log tasks.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._cassandra_output import cql_json_rows

DEFAULT_ROLE = "cassandra"


def quote_identifier(name: str) -> str:
    """A CQL identifier, case kept: "name"."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A CQL string literal: 'text'."""
    return "'" + text.replace("'", "''") + "'"


def _replication_cql(replication: dict[str, Any]) -> str:
    items = [f"{quote_literal(str(key))}: {quote_literal(str(value))}" for key, value in replication.items()]
    return "{" + ", ".join(items) + "}"


def auth_query(superuser: str) -> str:
    """The reading that auth_state compares with the model: system_auth's replication, and the roles
    cassandra and the stack's superuser."""
    return (
        "SELECT JSON keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name = 'system_auth'; "
        "SELECT JSON role, can_login, is_superuser FROM system_auth.roles "
        f"WHERE role IN ({quote_literal(DEFAULT_ROLE)}, {quote_literal(superuser)});"
    )


def superuser_cql(name: str, password: str, exists: bool) -> str:
    """Create the stack's superuser, or, when the role exists, set its password and powers (as cassandra/cassandra).

    One statement either way: from 5.0 a role's password may change only once every few seconds.
    """
    role, secret = quote_identifier(name), quote_literal(password)
    verb = "ALTER ROLE" if exists else "CREATE ROLE IF NOT EXISTS"
    return f"{verb} {role} WITH PASSWORD = {secret} AND LOGIN = true AND SUPERUSER = true;"


def redact(text: str, secret: str) -> str:
    """text with every occurrence of secret masked, for error messages of no_log steps."""
    return text.replace(secret, "********") if secret else text


def _normalised(replication: dict[str, Any]) -> dict[str, str]:
    """Server form {'class': 'org.apache...NetworkTopologyStrategy', 'dc1': '3'} and ours compare equal."""
    return {
        key: (str(value).rsplit(".", 1)[-1] if key == "class" else str(value))
        for key, value in (replication or {}).items()
    }


def auth_state(stdout: str, desired_replication: dict[str, Any], superuser: str = "") -> dict[str, Any]:
    """Read the output of auth_query (system_auth's replication, the roles) and say what to change.

    Returns replication (current), replication_ok, alter_replication (CQL or ''),
    default_role_enabled (cassandra can log in or is a superuser), disable_default_role (CQL or ''),
    superuser_exists (the stack's superuser role is there).
    """
    rows = cql_json_rows(stdout)
    replication: dict[str, Any] = {}
    default_role: dict[str, Any] | None = None
    superuser_exists = False
    for row in rows:
        if row.get("keyspace_name") == "system_auth":
            replication = dict(row.get("replication") or {})
        elif row.get("role") == DEFAULT_ROLE:
            default_role = row
        if superuser and row.get("role") == superuser:
            superuser_exists = True
    if not replication:
        raise ValueError(f"cannot read the replication of system_auth from cqlsh output: {stdout!r}")
    replication_ok = _normalised(replication) == _normalised(desired_replication)
    enabled = default_role is not None and bool(default_role.get("can_login") or default_role.get("is_superuser"))
    return {
        "replication": replication,
        "replication_ok": replication_ok,
        "alter_replication": ""
        if replication_ok
        else f"ALTER KEYSPACE system_auth WITH replication = {_replication_cql(desired_replication)};",
        "default_role_enabled": enabled,
        "disable_default_role": f"ALTER ROLE {DEFAULT_ROLE} WITH SUPERUSER = false AND LOGIN = false;"
        if enabled
        else "",
        "superuser_exists": superuser_exists,
    }
