"""Restores in place: the refusals before any change, the plan, and each node's load read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._backup import restore
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import Refusal

IPS = {"cdb1": "10.42.0.48", "cdb2": "10.42.0.49", "cdb3": "10.42.0.50"}
NODES = [{"name": name, "host": f"lab-host{name[-1]}", "ip": ip, "version": "5.0.8"} for name, ip in IPS.items()]
TOKENS = {ip: {"tokens": [i * 100 + 1, i * 100 + 2], "is_up": True, "rack": "rack1", "dc": "dc1"}
          for i, ip in enumerate(IPS.values())}
TABLE_T = ("CREATE TABLE ks.t (\n    id int PRIMARY KEY,\n    v text\n) WITH additional_write_policy = '99p'\n"
           "    AND comment = ''")
TABLE_C = ("CREATE TABLE ks.c (\n    k int,\n    c int,\n    v text,\n    PRIMARY KEY (k, c)\n)"
           " WITH CLUSTERING ORDER BY (c DESC)\n    AND comment = ''")


def backup_part(finished: bool = True, tokenmap: dict[str, Any] | None = None) -> dict[str, Any]:
    if not finished:
        return {"finished": False}
    return {
        "finished": True,
        "tables": [
            {"keyspace": "ks", "table": "t", "dir": "t-0123", "files": 8, "bytes": 4000},
            {"keyspace": "ks", "table": "c", "dir": "c-4567", "files": 0, "bytes": 0},
        ],
        "tokenmap": TOKENS if tokenmap is None else tokenmap,
        "schema": {"ks": {"create_statement": "CREATE KEYSPACE ks WITH replication = {}",
                          "tables": {"t": " " + TABLE_T.replace("\n", " "), "c": TABLE_C.replace("\n", " ")}}},
    }


def part(ip: str, exists: bool = True, finished: bool = True, tokenmap: dict[str, Any] | None = None,
         live_tables: dict[str, str] | None = None, live_tokenmap: dict[str, Any] | None = None,
         live: bool = True) -> dict[str, Any]:
    """One node's read: the parts of the backup in its host's store (its own, at its address) and, with `live` (the
    first node's read), the live cluster."""
    found: dict[str, Any] = {"parts": {ip: backup_part(finished, tokenmap)} if exists else {}}
    if live:
        found.update(live_tokenmap=TOKENS if live_tokenmap is None else live_tokenmap, live_keyspaces=["ks"],
                     live_tables={"ks.c": TABLE_C} if live_tables is None else live_tables)
    return found


def outputs(**parts: dict[str, Any]) -> dict[str, str]:
    return {node: "[2026-12-06 10:00:00,000] INFO: a log line\n" + json.dumps(parts.get(node, part(ip)))
            for node, ip in IPS.items()}


def refusal(**kwargs: Any) -> str:
    arguments: dict[str, Any] = {"nodes": NODES, "outputs": outputs(), "name": "b2", "tables": ["ks.t"], "overwrite": False}
    arguments.update(kwargs)
    with pytest.raises(Refusal) as raised:
        restore.plan(**arguments)
    message = str(raised.value)
    assert message.startswith(restore.HEADLINE), message
    return message


def test_a_dropped_table_is_created_from_the_backup_and_loaded_on_every_node() -> None:
    found = restore.plan(NODES, outputs(), "b2", ["ks.t"], False)
    assert found["create"] == ["ks.t"] and found["truncate"] == [] and found["create_keyspaces"] == []
    assert [node["name"] for node in found["nodes"]] == ["cdb1", "cdb2", "cdb3"]
    assert all([table["dir"] for table in node["tables"]] == ["t-0123"] for node in found["nodes"])
    assert found["staging"] == "/var/lib/cassandra/corral-restore/b2"
    assert "cdb2: 8 files, 4000 bytes from its part of 'b2'" in found["lines"]


def test_a_keyspace_is_every_table_of_it_in_the_backup_and_a_table_without_files_loads_nothing() -> None:
    found = restore.plan(NODES, outputs(), "b2", ["ks"], True)
    assert found["tables"] == ["ks.c", "ks.t"]
    assert found["create"] == ["ks.t"] and found["truncate"] == ["ks.c"]
    assert all([table["table"] for table in node["tables"]] == ["t"] for node in found["nodes"])


def test_a_table_that_exists_is_refused_without_overwrite_and_truncated_with_it() -> None:
    assert "ks.c exists: restoring into it would overwrite its data; with -e restore_overwrite=true" in refusal(
        tables=["ks.c"])
    assert restore.plan(NODES, outputs(), "b2", ["ks.c"], True)["truncate"] == ["ks.c"]


def test_a_table_of_another_schema_is_refused_even_with_overwrite() -> None:
    other = part("10.42.0.48", live_tables={"ks.t": "CREATE TABLE ks.t (id int PRIMARY KEY, v int) WITH comment = ''"})
    message = refusal(outputs=outputs(cdb1=other), overwrite=True)
    assert ("ks.t exists with another schema than in backup 'b2': now ks.t (id int PRIMARY KEY, v int), "
            "then ks.t (id int PRIMARY KEY, v text)") in message


def test_other_table_options_are_the_same_schema() -> None:
    same = part("10.42.0.48", live_tables={"ks.t": TABLE_T.replace("comment = ''", "comment = 'x'")})
    assert restore.plan(NODES, outputs(cdb1=same), "b2", ["ks.t"], True)["truncate"] == ["ks.t"]


def test_an_unknown_backup_names_every_node_that_lacks_it() -> None:
    message = refusal(outputs=outputs(cdb1=part("10.42.0.48", exists=False), cdb3=part("10.42.0.50", finished=False)))
    assert "backup 'b2' is not in the store of cdb1 (10.42.0.48) on lab-host1: see -e backup_action=list" in message
    assert "the part of 10.42.0.50 of backup 'b2' in the store of lab-host3 never finished" in message


def test_a_table_or_keyspace_not_in_the_backup_is_refused_naming_what_it_holds() -> None:
    message = refusal(tables=["ks.nope", "other"])
    assert "ks.nope is not in backup 'b2' (it holds: ks.c, ks.t)" in message
    assert "other is not in backup 'b2'" in message


@pytest.mark.parametrize(("tables", "expected"), [
    ([], "restore_tables is empty"),
    (["ks.t.x"], "'ks.t.x' is not a keyspace or keyspace.table name"),
    (["ks;drop"], "'ks;drop' is not a keyspace or keyspace.table name"),
    (["system_auth.roles"], "is in a system keyspace"),
])
def test_bad_table_names_are_refused(tables: list[str], expected: str) -> None:
    assert expected in refusal(tables=tables)


def test_the_live_cluster_is_read_from_the_first_node_only() -> None:
    """The other nodes read only their host's store (restore_node.py read without `live`): the plan needs no more."""
    store_only = {node: part(ip, live=False) for node, ip in IPS.items() if node != "cdb1"}
    found = restore.plan(NODES, outputs(**store_only), "b2", ["ks.t"], False)
    assert found["create"] == ["ks.t"] and [node["source"] for node in found["nodes"]] == list(IPS.values())
    # A table the first node sees live is judged by its view, not by the other nodes' (which hold none).
    assert restore.plan(NODES, outputs(**store_only), "b2", ["ks.c"], True)["truncate"] == ["ks.c"]


def test_a_first_node_without_the_live_cluster_is_refused() -> None:
    message = refusal(outputs=outputs(cdb1=part("10.42.0.48", live=False)))
    assert "cdb1: its read holds no view of the live cluster" in message


def test_a_backup_of_other_nodes_is_refused() -> None:
    fewer = {ip: TOKENS[ip] for ip in list(TOKENS)[:2]}
    message = refusal(outputs=outputs(**{node: part(ip, tokenmap=fewer) for node, ip in IPS.items()}))
    assert "backup 'b2' holds 2 nodes (10.42.0.48, 10.42.0.49), the stack 3 (10.42.0.48, 10.42.0.49, 10.42.0.50)" \
        in message


def test_a_node_with_other_tokens_is_refused() -> None:
    moved = {**TOKENS, "10.42.0.49": {**TOKENS["10.42.0.49"], "tokens": [101, 999]}}
    message = refusal(outputs=outputs(**{node: part(ip, live_tokenmap=moved) for node, ip in IPS.items()}))
    assert ("cdb2 (10.42.0.49) owns 2 tokens that no node of backup 'b2' owned (it owned 2 then, 2 differ): "
            "the token layout is not the backup's") in message
    assert "cdb1" not in message.split("\n", 1)[1]


def test_a_node_whose_script_printed_nothing_is_named() -> None:
    message = refusal(outputs={**outputs(), "cdb2": "Traceback: boom"})
    assert "cdb2: the restore script printed no result: Traceback: boom" in message


def test_table_shape_keeps_columns_key_and_order_only() -> None:
    assert restore.table_shape(TABLE_C) == "ks.c (k int, c int, v text, PRIMARY KEY (k, c)) CLUSTERING ORDER BY (c DESC)"
    assert restore.table_shape(TABLE_T) == "ks.t (id int PRIMARY KEY, v text)"
    assert restore.table_shape("CREATE TABLE ks.t (id int PRIMARY KEY, v text) WITH x = 1;") == restore.table_shape(TABLE_T)


def test_load_report() -> None:
    done = {"files": 8, "bytes": 4_000_000, "imported": ["ks.t"], "download_seconds": 1.0, "import_seconds": 0.5}
    found = restore.load_report("cdb1", json.dumps(done))
    assert found["line"] == "cdb1: 8 files, 4.0 MB downloaded in 1.0 s and imported in 0.5 s (ks.t)"
    failed = restore.load_report("cdb1", json.dumps({**done, "error": "nodetool import ks t failed: x"}))
    assert failed["problem"] == "cdb1: nodetool import ks t failed: x"
    assert restore.load_report("cdb1", "")["problem"].startswith("cdb1: the restore script printed no result")


def test_all_is_every_table_of_the_users() -> None:
    assert restore.plan(NODES, outputs(), "b2", ["all"], True)["tables"] == ["ks.c", "ks.t"]


NEW = [{"name": f"rdb{i}", "host": f"lab-host{i}", "ip": f"10.42.0.{59 + i}", "version": "5.0.8"} for i in (1, 2, 3)]
NEW_TOKENS = {f"10.42.0.{60 + i}": TOKENS[ip] for i, ip in enumerate(IPS.values())}


def new_stack_outputs(live: dict[str, Any] | None = None) -> dict[str, str]:
    """A new stack on the same hosts: each host's store holds the source node's part; the new nodes own its tokens."""
    return {
        node["name"]: json.dumps({**part(ip, live_tokenmap=live or NEW_TOKENS, live_tables={}), "live_keyspaces": []})
        for node, ip in zip(NEW, IPS.values())
    }


def test_a_new_stack_loads_the_part_of_the_node_whose_tokens_each_node_owns() -> None:
    found = restore.plan(NEW, new_stack_outputs(), "b2", ["all"], False)
    assert [(node["name"], node["source"]) for node in found["nodes"]] == [
        ("rdb1", "10.42.0.48"), ("rdb2", "10.42.0.49"), ("rdb3", "10.42.0.50")]
    assert found["create_keyspaces"] == ["ks"] and found["create"] == ["ks.c", "ks.t"]
    assert "rdb1: 8 files, 4000 bytes from the part of 10.42.0.48 of 'b2'" in found["lines"]


def test_a_new_stack_whose_node_owns_tokens_of_a_part_on_another_host_is_refused() -> None:
    swapped = {**NEW_TOKENS, "10.42.0.60": TOKENS["10.42.0.49"], "10.42.0.61": TOKENS["10.42.0.48"]}
    message = refusal(nodes=NEW, outputs=new_stack_outputs(swapped), tables=["all"])
    assert ("rdb1 (10.42.0.60) on lab-host1 owns the tokens of 10.42.0.49 in backup 'b2', whose part is not in the "
            "store of lab-host1") in message


def test_a_new_stack_of_other_tokens_is_refused() -> None:
    other = {ip: {**entry, "tokens": [7, 8]} for ip, entry in NEW_TOKENS.items()}
    message = refusal(nodes=NEW, outputs=new_stack_outputs(other), tables=["all"])
    assert "rdb1 (10.42.0.60) owns 2 tokens that no node of backup 'b2' owned: the token layout is not" in message


def quoted_names_part(ip: str) -> dict[str, Any]:
    """The driver's schema export quotes a table named by a CQL keyword; Medusa's parse_schema keeps the quotes."""
    found = part(ip, live_tables={})
    found["parts"][ip]["tables"].append({"keyspace": "upgrade_test", "table": "rows", "dir": "rows-89ab", "files": 4,
                                         "bytes": 900})
    found["parts"][ip]["schema"]["upgrade_test"] = {
        "create_statement": "CREATE KEYSPACE upgrade_test WITH replication = {}",
        "tables": {'"rows"': 'CREATE TABLE upgrade_test."rows" (id bigint PRIMARY KEY, payload text)'},
        "udt": {}, "indices": {"by_payload": 'CREATE INDEX by_payload ON upgrade_test."rows" (payload)'},
    }
    return found


def test_a_table_named_by_a_keyword_is_found_in_the_backups_schema_and_created_quoted() -> None:
    found = restore.plan(NODES, outputs(**{node: quoted_names_part(ip) for node, ip in IPS.items()}), "b2",
                         ["upgrade_test.rows"], False)
    assert found["create"] == ["upgrade_test.rows"] and found["create_keyspaces"] == ["upgrade_test"]
    assert found["prepare"] == [
        {"cql": "CREATE KEYSPACE upgrade_test WITH replication = {}", "done": "created keyspace upgrade_test"},
        {"cql": 'CREATE TABLE upgrade_test."rows" (id bigint PRIMARY KEY, payload text)',
         "done": "created table upgrade_test.rows"},
        {"cql": 'CREATE INDEX by_payload ON upgrade_test."rows" (payload)', "done": "created an index of upgrade_test.rows"},
    ]


def test_a_table_with_files_and_no_schema_is_left_out_of_all_by_name_and_refused_when_named() -> None:
    def without_schema(ip: str) -> dict[str, Any]:
        found = quoted_names_part(ip)
        del found["parts"][ip]["schema"]["upgrade_test"]
        return found

    reads = outputs(**{node: without_schema(ip) for node, ip in IPS.items()})
    found = restore.plan(NODES, reads, "b2", ["all"], True)
    assert found["tables"] == ["ks.c", "ks.t"]
    assert ("left out of 'all', files without schema (created while the backup ran): upgrade_test.rows"
            in found["lines"])
    assert "upgrade_test.rows: backup 'b2' holds its files but not its schema" in refusal(
        outputs=reads, tables=["upgrade_test.rows"])


def test_truncate_quotes_names_and_types_the_cluster_has_are_not_created_again() -> None:
    with_types = part("10.42.0.48", live_tables={"ks.c": TABLE_C})
    with_types["live_types"] = {"ks": ["address"]}
    schema = with_types["parts"]["10.42.0.48"]["schema"]["ks"]
    schema["udt"] = {"address": "CREATE TYPE ks.address (street text)", '"Phone"': 'CREATE TYPE ks."Phone" (n text)'}
    found = restore.plan(NODES, outputs(**{"cdb1": with_types}), "b2", ["ks"], True)
    assert [step["cql"] for step in found["prepare"]] == [
        'CREATE TYPE ks."Phone" (n text)', found["prepare"][1]["cql"], 'TRUNCATE "ks"."c"']
    assert found["prepare"][1]["done"] == "created table ks.t"


@pytest.mark.parametrize(("name", "expected"), [("rows", "rows"), ('"rows"', "rows"), ('"My""Ks"', 'My"Ks'), ('"', '"')])
def test_unquoted(name: str, expected: str) -> None:
    assert restore.unquoted(name) == expected


def test_indexes_on_matches_the_table_whether_quoted_or_not() -> None:
    indices = {"a": "CREATE INDEX a ON ks.t (v)", "b": 'CREATE INDEX b ON "ks"."t"(v)', "c": "CREATE INDEX c ON ks.t2 (v)",
               "d": "CREATE CUSTOM INDEX d ON ks.t (v) USING 'StorageAttachedIndex'"}
    assert restore.indexes_on(indices, "ks", "t") == [indices["a"], indices["b"], indices["d"]]
