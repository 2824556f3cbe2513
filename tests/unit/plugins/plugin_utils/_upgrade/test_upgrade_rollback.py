"""A rollback across a change of the on-disk format: which nodes need their snapshot restored, the refusals, the
repairs, the resume of an interrupted rollback, and the run's report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import plan as upgrade
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade import rollback
from ansible_collections.corral.cassandra.plugins.plugin_utils._upgrade.plan import parse_version
from ansible_collections.corral.cassandra.tests.unit.plugins.plugin_utils._upgrade.docker_fakes import REPO, container_info

NODES: list[dict[str, Any]] = [
    {"name": "cdb1", "seed": True, "host": "lab-host1", "ip": "10.42.0.48"},
    {"name": "cdb2", "seed": False, "host": "lab-host2", "ip": "10.42.0.49"},
    {"name": "cdb3", "seed": False, "host": "lab-host3", "ip": "10.42.0.50"},
]
STARTED = "2026-12-07T05:20:00.123456789Z"
NEVER = "0001-01-01T00:00:00Z"
TAGS = {
    "cdb1": "corral-before-upgrade-to-4.1.10-20261207T051000Z",
    "cdb2": "corral-before-upgrade-to-4.1.10-20261207T051200Z",
    "cdb3": "corral-before-upgrade-to-4.1.10-20261207T051400Z",
}


def rollback_plan(now: str = "4.1.10", old: str = "3.11.19", started: str = STARTED,
                  copies: tuple[bool, bool, bool] = (True, True, True)) -> dict[str, Any]:
    stack = {"name": "CassandraDB", "image": f"{REPO}:{now}", "version": now, "nodes": NODES}
    containers = [container_info(node, now if copy else old, running=True, started=started) for node, copy in zip(NODES, copies)]
    rollback_copies = [
        container_info(node, old if copy else None, running=False, started=STARTED) for node, copy in zip(NODES, copies)
    ]
    return upgrade.plan(stack, containers, rollback_copies, "rollback", None)


def data_read(lines: dict[str, list[str]], rc: int = 0) -> dict[str, Any]:
    """Each host's raw result of the data script: one node per host, like the lab."""
    reads: dict[str, Any] = {}
    for node in NODES:
        text = "\n".join(["dir /cassandra/data", *lines.get(node["name"], [])])
        reads[node["host"]] = {"stdout": f"{text}\n@@corral-upgrade data {node['name']} {rc}\n", "rc": 0}
    return reads


def upgraded(formats: tuple[str, ...] = ("mc", "nb"), extra: dict[str, list[str]] | None = None) -> dict[str, Any]:
    lines = {
        name: [f"snapshot {tag}", *(f"format {fmt}" for fmt in formats), *(extra or {}).get(name, [])]
        for name, tag in TAGS.items()
    }
    return data_read(lines)


@pytest.mark.parametrize(
    ("sstable_format", "version", "expected"),
    [("mc", "3.11.19", True), ("me", "3.11.19", True), ("nb", "3.11.19", False), ("nb", "4.1.10", True),
     ("oa", "4.1.10", False), ("da", "4.1.10", False), ("da", "5.0.8", True), ("oa", "5.0.8", True)],
)
def test_which_versions_read_which_sstables(sstable_format: str, version: str, expected: bool) -> None:
    assert rollback.readable(sstable_format, parse_version(version)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "mode", "generation"),
    [("3.11.19", None, 3), ("4.1.10", None, 4), ("5.0.8", None, 4), ("5.0.8", "CASSANDRA_4", 4), ("5.0.8", "NONE", 5),
     ("5.0.8", "upgrading", 5)],
)
def test_the_format_a_version_writes(version: str, mode: str | None, generation: int) -> None:
    assert rollback.format_generation(parse_version(version), mode) == generation  # type: ignore[arg-type]


def test_tag_time() -> None:
    assert rollback.utc(rollback.tag_time(TAGS["cdb1"])) == "2026-12-07 05:10:00 UTC"
    assert rollback.tag_time("corral-before-upgrade-to-4.1.10") is None


def test_after_3_11_to_4_1_every_node_needs_its_snapshot_and_without_the_acknowledgement_it_is_refused() -> None:
    found = rollback.rollback_restores(rollback_plan(), upgraded(), False)
    assert sorted(found["restores"]) == ["cdb1", "cdb2", "cdb3"]
    assert found["restores"]["cdb2"]["tag"] == TAGS["cdb2"]
    assert (found["restores"]["cdb2"]["reads_up_to"], found["restores"]["cdb2"]["reads_bti"]) == ("m", False)
    assert found["restores"]["cdb2"]["kept"] == f"/cassandra/data/corral-rollback/{TAGS['cdb2']}"
    assert [repair["name"] for repair in found["repairs"]] == ["cdb1", "cdb2", "cdb3"]
    assert len(found["problems"]) == 1
    refusal = found["problems"][0]
    assert refusal.startswith(
        "rolling back to 3.11.19 needs a restore from the snapshots taken before the upgrade, as the on-disk format "
        "changed: a rollback copy cannot simply start again on what 4.1.10 wrote. cdb1 on lab-host1: its data holds "
        "SSTables in format nb, which 3.11.19 cannot read; its snapshot "
        "corral-before-upgrade-to-4.1.10-20261207T051000Z was taken 2026-12-07 05:10:00 UTC; cdb2 on lab-host2:"
    )
    assert "Writes acknowledged after the latest snapshot (2026-12-07 05:14:00 UTC) until the nodes are back on " \
           "3.11.19 may be lost" in refusal
    assert "ansible-playbook upgrade.yml -e upgrade_action=rollback -e rollback_restore_snapshot=true" in refusal


def test_with_the_acknowledgement_it_goes_ahead_and_says_so_in_the_plan() -> None:
    found = rollback.rollback_restores(rollback_plan(), upgraded(), True)
    assert found["problems"] == []
    assert found["summary"][0] == (
        f"cdb1: its data goes back to its snapshot {TAGS['cdb1']} (taken 2026-12-07 05:10:00 UTC) before its rollback "
        "copy starts, as its data holds SSTables in format nb, which 3.11.19 cannot read; what 4.1.10 wrote is moved "
        f"aside to /cassandra/data/corral-rollback/{TAGS['cdb1']} on lab-host1"
    )
    assert found["summary"][-1] == "then, with every node back, nodetool repair -full on cdb1, cdb2, cdb3, one at a time"


def test_a_node_whose_newer_container_ran_needs_it_even_before_any_sstable_was_flushed() -> None:
    found = rollback.rollback_restores(rollback_plan(), upgraded(formats=("mc",)), True)
    assert "it ran 4.1.10, which writes its own on-disk format" in found["restores"]["cdb1"]["why"]


def test_a_newer_container_that_never_started_wrote_nothing() -> None:
    found = rollback.rollback_restores(rollback_plan(started=NEVER), upgraded(formats=("mc",)), False)
    assert found == {"restores": {}, "repairs": [], "problems": [], "notes": [], "summary": []}


@pytest.mark.parametrize(("now", "old"), [("3.10", "3.9"), ("3.11.19", "3.10"), ("5.0.8", "4.1.10")])
def test_rollbacks_within_one_format_restore_nothing(now: str, old: str) -> None:
    reads = data_read({name: [f"snapshot corral-before-upgrade-to-{now}-20261207T051000Z", "format nb"
                              if old.startswith("4") else "format mc"] for name in TAGS})
    found = rollback.rollback_restores(rollback_plan(now, old), reads, False)
    assert found["restores"] == {} and found["problems"] == []


def test_5_0_files_of_its_own_format_on_disk_are_a_fact_whatever_the_settings_say() -> None:
    reads = data_read({name: ["snapshot corral-before-upgrade-to-5.0.8-20261207T051000Z", "format nb", "format oa"]
                       for name in TAGS})
    found = rollback.rollback_restores(rollback_plan("5.0.8", "4.1.10"), reads, True)
    assert found["restores"]["cdb3"]["why"] == "its data holds SSTables in format oa, which 4.1.10 cannot read"


def test_a_node_without_a_snapshot_is_refused_by_name() -> None:
    reads = upgraded()
    reads["lab-host2"]["stdout"] = "dir /cassandra/data\nformat nb\n@@corral-upgrade data cdb2 0\n"
    found = rollback.rollback_restores(rollback_plan(), reads, True)
    assert found["problems"] == [
        "cdb2 on lab-host2 cannot go back to 3.11.19 on its data: its data holds SSTables in format nb, which 3.11.19 "
        "cannot read; and it has no snapshot corral-before-upgrade-to-4.1.10-* under its data directory (the upgrade "
        "ran with cassandra_upgrade_snapshot: false, or the snapshot was removed). Keep it on 4.1.10: finish the "
        "upgrade (-e upgrade_action=finish), or restore its data from a backup (restore.yml)"
    ]


def test_the_newest_snapshot_of_the_version_it_runs_is_used() -> None:
    older = "corral-before-upgrade-to-4.1.10-20261207T040000Z"
    other = "corral-before-upgrade-to-3.11.19-20261207T060000Z"
    reads = upgraded(extra={"cdb1": [f"snapshot {older}", f"snapshot {other}"]})
    found = rollback.rollback_restores(rollback_plan(), reads, True)
    assert found["restores"]["cdb1"]["tag"] == TAGS["cdb1"]


def test_a_second_upgrades_rollback_restores_its_own_snapshot_not_the_first_rollbacks() -> None:
    # Upgraded (snapshot at 04:00), rolled back from it (restored mark), upgraded again (TAGS, newer): the old mark
    # must not stand for this rollback, whose data the newer version rewrote since.
    first = "corral-before-upgrade-to-4.1.10-20261207T040000Z"
    reads = upgraded(extra={name: [f"snapshot {first}", f"restored {first} 1796600000", f"repaired {first}"]
                            for name in TAGS})
    found = rollback.rollback_restores(rollback_plan(), reads, False)
    assert {name: (restore["tag"], restore["done"]) for name, restore in found["restores"].items()} == {
        name: (tag, False) for name, tag in TAGS.items()}
    assert len(found["problems"]) == 1 and "rollback_restore_snapshot=true" in found["problems"][0], found["problems"]


def test_unread_and_unreadable_data_directories_are_refused() -> None:
    reads = upgraded()
    del reads["lab-host1"]
    reads["lab-host3"]["stdout"] = "dir /cassandra/data\n@@corral-upgrade data cdb3 2\n"
    problems = rollback.rollback_restores(rollback_plan(), reads, True)["problems"]
    assert problems[0].startswith("the data directories of cdb1 were not read")
    assert problems[1].startswith("cdb3's data directory /cassandra/data on lab-host3 cannot be read")


def test_a_resumed_rollback_restores_no_node_twice_and_repairs_the_ones_restored_before() -> None:
    # cdb3 was restored and is back on 3.11.19 (no copy); cdb2 was restored, its copy not started yet; cdb1 not yet.
    plan = rollback_plan(copies=(True, True, False))
    reads = upgraded(extra={"cdb2": [f"restored {TAGS['cdb2']} 1796620000"], "cdb3": [f"restored {TAGS['cdb3']} 1796619000"]})
    found = rollback.rollback_restores(plan, reads, False)
    assert found["restores"]["cdb2"]["done"] is True and found["restores"]["cdb1"]["done"] is False
    assert "cdb3" not in found["restores"]
    assert len(found["problems"]) == 1 and "cdb1 on lab-host1" in found["problems"][0] and "cdb2 on" not in found["problems"][0]
    assert found["repairs"] == [
        {"name": "cdb1", "host": "lab-host1", "tags": [TAGS["cdb1"]]},
        {"name": "cdb2", "host": "lab-host2", "tags": [TAGS["cdb2"]]},
        {"name": "cdb3", "host": "lab-host3", "tags": [TAGS["cdb3"]]},
    ]
    assert "cdb2 was already restored from" in " ".join(found["notes"])


def test_after_every_restore_a_rerun_only_repairs_what_was_not_repaired() -> None:
    plan = rollback_plan(now="3.11.19", copies=(False, False, False))
    reads = data_read({
        "cdb1": [f"restored {TAGS['cdb1']} 1", f"repaired {TAGS['cdb1']}", "format mc"],
        "cdb2": [f"restored {TAGS['cdb2']} 1", "format mc"],
    })
    found = rollback.rollback_restores(plan, reads, False)
    assert found["problems"] == [] and found["restores"] == {}
    assert found["repairs"] == [{"name": "cdb2", "host": "lab-host2", "tags": [TAGS["cdb2"]]}]


def test_other_actions_read_nothing() -> None:
    stack = {"name": "CassandraDB", "image": f"{REPO}:4.1.10", "version": "4.1.10", "nodes": NODES}
    containers = [container_info(node, "3.11.19", running=True, started=STARTED) for node in NODES]
    plan = upgrade.plan(stack, containers, [container_info(node, None) for node in NODES], "upgrade", "4.1.10")
    assert rollback.rollback_restores(plan, {}, False)["restores"] == {}


def test_the_restore_line_and_the_report() -> None:
    restores = rollback.rollback_restores(rollback_plan(), upgraded(), True)["restores"]
    line = rollback.restore_line(restores["cdb1"], "some log\nstate=restored moved=12 linked=30 at=1796620104\n")
    assert line.startswith(f"cdb1: back to its snapshot {TAGS['cdb1']} (taken 2026-12-07 05:10:00 UTC): 12 files")
    assert rollback.restore_line(restores["cdb1"], "state=already at=1").endswith("(not restored twice)")
    repairs = [
        {"item": {"name": "cdb3"}, "stdout": (
            "[2026-12-07 06:00:00,000] Starting repair command #1 (5e0c-1), repairing keyspace upgrade_test with repair "
            "options (parallelism: parallel, primary range: false, incremental: false)\n"
            "[2026-12-07 06:00:01,000] Repair session 6f1d-2 for range [(-1,2]] finished (progress: 50%)\n"
            "[2026-12-07 06:00:02,000] Repair completed successfully\n"
            "[2026-12-07 06:00:02,000] Repair command #1 finished in 2 seconds\n")},
        {"item": {"name": "cdb2"}, "stdout": ""},
    ]
    report = rollback.restore_report(restores, repairs, {"cdb3": 1796620000.0, "cdb1": 1796620300.0})
    assert report[0] == "cdb3: [2026-12-07 06:00:02,000] Repair command #1 finished in 2 seconds (keyspace upgrade_test)"
    assert report[1] == "cdb2: nodetool repair -full printed nothing to show"
    assert report[3].startswith("Writes acknowledged after 2026-12-07 05:14:00 UTC (the latest snapshot, cdb3's) until "
                                "the nodes were back on 3.11.19 (the last at ")
    assert report[4] == "nodetool repair -full ran on cdb3, cdb2, one at a time."
    assert f"lab-host2:/cassandra/data/corral-rollback/{TAGS['cdb2']}" in report[5]


# --- the automatic rollback of the node whose upgrade failed -------------------------------------------------------


def upgrade_plan(old: str = "3.11.19", new: str = "4.1.10", mode: str | None = None) -> dict[str, Any]:
    model_yaml = {"storage_compatibility_mode": mode} if mode else {}
    nodes = [dict(node, cassandra_yaml=model_yaml) for node in NODES]
    stack = {"name": "CassandraDB", "image": f"{REPO}:{new}", "version": new, "nodes": nodes}
    containers = [container_info(node, old, running=True, started=STARTED) for node in nodes]
    return upgrade.plan(stack, containers, [container_info(node, None) for node in nodes], "upgrade", new)


def after_failure(node: dict[str, Any], current: str | None, copy: str | None, started: str = STARTED,
                  mode: str | None = None) -> dict[str, Any]:
    """The host script's read of the node and its rollback copy once its upgrade failed."""
    inspected = []
    for name, version, running in ((node["name"], current, False), (f"{node['name']}-rollback", copy, False)):
        if version is None:
            continue
        container = container_info(node, version, running=running, started=started)["container"]
        container["Name"] = f"/{name}"
        if mode:
            container["Config"]["Labels"] = {
                "io.corral.settings": "{}", "io.corral.cassandra-yaml": json.dumps({"storage_compatibility_mode": mode})}
        inspected.append(container)
    return {node["host"]: {"stdout": json.dumps(inspected) + "\n@@corral-upgrade containers - 0\n", "rc": 0}}


def test_a_node_whose_4_1_container_ran_is_kept_for_a_rollback_from_its_snapshot() -> None:
    kept = rollback.failed_node_kept(upgrade_plan(), "cdb1", after_failure(NODES[0], "4.1.10", "3.11.19"), True)
    assert kept["keep"] is True and (kept["source"], kept["target"]) == ("3.11.19", "4.1.10")
    assert kept["why"].startswith("it ran 4.1.10, which writes its own on-disk format")
    text = upgrade.node_failure_message(upgrade_plan(), "cdb1", "A container crashed: cdb1", True, "",
                                        dict(kept, stopped=True))
    lines = text.splitlines()
    assert lines[0] == "The upgrade of cdb1 to 4.1.10 failed:"
    assert lines[2].startswith("cdb1 was not rolled back on its own: it ran 4.1.10, which writes its own on-disk format")
    assert "Its 4.1.10 container is stopped; it and its rollback copy cdb1-rollback (3.11.19) are kept." in lines[2]
    assert "re-run `ansible-playbook upgrade.yml -e version=4.1.10` (it starts cdb1 again and resumes)" in lines[4]
    assert "`ansible-playbook upgrade.yml -e upgrade_action=rollback -e rollback_restore_snapshot=true`: cdb1's data " \
           "goes back to the snapshot its upgrade took" in lines[4]


def test_without_a_snapshot_or_a_stop_the_message_says_so() -> None:
    kept = rollback.failed_node_kept(upgrade_plan(), "cdb1", after_failure(NODES[0], "4.1.10", "3.11.19"), False)
    text = upgrade.node_failure_message(upgrade_plan(), "cdb1", "boom", True, "", dict(kept, stopped=False))
    assert "Stopping its 4.1.10 container failed too: stop it (docker stop cdb1 on lab-host1)" in text
    assert "a restore of its data from a backup (restore.yml)" in text and "rollback_restore_snapshot" not in text


@pytest.mark.parametrize(
    ("current", "copy", "started"),
    [("3.11.19", None, STARTED),  # failed before its container changed (the quiesce)
     (None, "3.11.19", STARTED),  # between the old container set aside and the new one created
     ("4.1.10", "3.11.19", NEVER)],  # the new container was created but never started
)
def test_a_node_whose_new_version_never_ran_is_rolled_back_on_its_own(current: str | None, copy: str | None,
                                                                      started: str) -> None:
    kept = rollback.failed_node_kept(upgrade_plan(), "cdb1", after_failure(NODES[0], current, copy, started), True)
    assert kept["keep"] is False


@pytest.mark.parametrize(("old", "new", "mode"), [("3.9", "3.10", None), ("3.10", "3.11.19", None),
                                                  ("4.1.10", "5.0.8", None), ("4.1.10", "5.0.8", "CASSANDRA_4")])
def test_within_one_format_it_is_rolled_back_on_its_own_without_a_read(old: str, new: str, mode: str | None) -> None:
    assert rollback.failed_node_kept(upgrade_plan(old, new, mode), "cdb2", {}, True)["keep"] is False


def test_5_0_out_of_its_compatibility_mode_is_kept() -> None:
    plan = upgrade_plan("4.1.10", "5.0.8", "NONE")
    kept = rollback.failed_node_kept(plan, "cdb2", after_failure(NODES[1], "5.0.8", "4.1.10", mode="NONE"), True)
    assert kept["keep"] is True and "it ran 5.0.8" in kept["why"]


def test_an_unanswered_read_across_a_format_change_keeps_the_node() -> None:
    kept = rollback.failed_node_kept(upgrade_plan(), "cdb3", {"lab-host3": {"skipped": True}}, True)
    assert kept["keep"] is True and kept["why"].startswith("its containers could not be read after the failure")


def test_a_node_not_kept_gets_the_usual_message() -> None:
    plan = upgrade_plan()
    usual = upgrade.node_failure_message(plan, "cdb1", "boom", True)
    assert upgrade.node_failure_message(plan, "cdb1", "boom", True, "", {"keep": False, "stopped": False}) == usual
