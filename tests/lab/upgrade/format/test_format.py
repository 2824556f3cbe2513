"""A rollback across a change of the on-disk format (molecule/upgrade_format: 3.11.19 -> 4.1.10), run in order.

The converge deployed 3.11.19 (its image's 256 tokens), wrote 10,000 rows at QUORUM, ran a QUORUM client through the
upgrade to 4.1.10 (each node snapshotted before its container changed, its 256 tokens kept). Here: the tokens kept;
more rows after the upgrade; the rollback as README.md prints it refused (the old version cannot simply come back);
check mode; the rollback with the acknowledgement; every node on 3.11.19 and answering; every row of before the
upgrade read back at ALL; the repairs; the files moved aside; how many rows written after the snapshots were kept; a
re-run that changes nothing. Figures are printed (-s).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testinfra.host import Host
from upgrade_lab import FROM, NODES, ROLLBACK, TO, client_runs, image, playbook, readme_command, ring_states

testinfra_hosts = ["lab-manager"]

ROLLBACK_RESTORE = f"{ROLLBACK} -e rollback_restore_snapshot=true"
AFTER_UPGRADE = (2_000_000, 2_000)  # first id, rows written at QUORUM once every node ran 4.1.10
LABCLIENT = Path(__file__).resolve().parents[1] / "labclient.py"
# What the tests found, for the later ones (pytest runs a module's tests in order).
SEEN: dict[str, Any] = {}


def said(result: subprocess.CompletedProcess[str]) -> str:
    """A playbook's output with every run of white space one space: the YAML callback folds long lines."""
    return " ".join((result.stdout + result.stderr).split()).replace("''", "'")


def labclient(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(LABCLIENT), *args], capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def kept_listing(member: Host) -> list[str]:
    return member.check_output("cd /cassandra/data && find corral-rollback -type f 2>/dev/null | sort || true").split()


def test_every_node_runs_the_new_version_with_its_snapshot(stack: Callable[[], dict[str, dict[str, Any]]],
                                                           lab_host: Callable[[str], Host]) -> None:
    now = stack()
    for node, (host_name, _ip) in NODES.items():
        assert now[node]["Config"]["Image"] == image(TO) and f"{node}-rollback" in now
        tags = lab_host(host_name).check_output(
            f"ls -d /cassandra/data/data/system/local-*/snapshots/corral-before-upgrade-to-{TO}-* | sed 's|.*/||'").split()
        assert len(tags) == 1, (node, tags)
        formats = lab_host(host_name).check_output(
            "ls /cassandra/data/data/*/*/ | sed -n 's/^\\([a-z][a-z]\\)-.*-Data\\.db$/\\1/p' | sort -u").split()
        print(f"\n[format] {node}: snapshot {tags[0]}; SSTable formats on disk under 4.1.10: {formats}")
        SEEN.setdefault("tags", {})[node] = tags[0]
    SEEN["containers"] = {name: item["Id"] for name, item in now.items()}


def test_the_new_containers_kept_the_256_tokens_of_3_x(stack: Callable[[], dict[str, dict[str, Any]]],
                                                       ring: Callable[[str], str]) -> None:
    # The scenario deploys 3.11.19 without cassandra_stack_num_tokens (its image's 256); 4.1's default is 16, on which
    # 4.1 refuses to start ("Cannot change the number of tokens from 256 to 16"): the upgrade kept the nodes' number.
    now = stack()
    for node in NODES:
        assert "CASSANDRA_NUM_TOKENS=256" in now[node]["Config"]["Env"], now[node]["Config"]["Env"]
    # Address, Load (a number and its unit, or ?), then Tokens.
    tokens = re.findall(r"^[UD][NLJM]\s+\S+\s+(?:\?|\S+ \S+)\s+(\d+)\s", ring("cdb1"), re.MULTILINE)
    assert tokens == ["256"] * len(NODES), tokens


def test_rows_written_after_the_upgrade() -> None:
    first, rows = AFTER_UPGRADE
    report = labclient("load", "--rows", str(rows), "--first-id", str(first))
    assert report["failed"] == 0, report
    print(f"\n[format] written at QUORUM after the upgrade: {rows} rows, ids {first}..{first + rows - 1}")


def test_the_old_version_cannot_simply_come_back(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    result = playbook(*readme_command(ROLLBACK))
    output = said(result)
    assert result.returncode != 0, output[-4000:]
    assert "Refused, no container was changed" in output, output[-4000:]
    assert f"rolling back to {FROM} needs a restore from the snapshots taken before the upgrade, as the on-disk " \
           "format changed" in output, output[-4000:]
    for node, tag in SEEN["tags"].items():
        assert f"{node} on {NODES[node][0]}: " in output and f"its snapshot {tag} was taken" in output, output[-4000:]
    assert "-e rollback_restore_snapshot=true" in output
    assert {name: item["Id"] for name, item in stack().items()} == SEEN["containers"]
    start = output.find("rolling back to")
    print("\n[format] refused without the acknowledgement: " + output[start:start + 2500])


def test_check_mode_says_what_it_would_do_and_changes_nothing(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    result = playbook(*readme_command(ROLLBACK_RESTORE), "--check")
    output = said(result)
    assert result.returncode == 0, output[-4000:]
    for node, tag in SEEN["tags"].items():
        assert f"{node}: its data goes back to its snapshot {tag}" in output, output[-4000:]
    assert "nodetool repair -full on cdb1, cdb2, cdb3, one at a time" in output
    assert {name: item["Id"] for name, item in stack().items()} == SEEN["containers"]


def test_the_rollback_with_the_acknowledgement(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    result = playbook(*readme_command(ROLLBACK_RESTORE), timeout=2400)
    output = said(result)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    SEEN["output"] = output
    print("\n[format] the rollback's output, from the first restore on:\n"
          + "\n".join(result.stdout[result.stdout.find("Stop its newer container"):].splitlines()[-400:]))
    now = stack()
    for node in NODES:
        assert now[node]["Config"]["Image"] == image(FROM) and now[node]["State"]["Running"]
        assert f"{node}-rollback" not in now


def test_every_node_is_on_the_old_version_and_answering(ring: Callable[[str], str], lab_host: Callable[[str], Host]) -> None:
    for node, (host_name, _ip) in NODES.items():
        assert ring_states(ring(node)) == dict.fromkeys((ip for _host, ip in NODES.values()), "UN")
        version = lab_host(host_name).check_output(f"docker exec {node} nodetool version")
        assert FROM in version, version


def test_every_row_written_before_the_upgrade_reads_back_at_all() -> None:
    first, rows = AFTER_UPGRADE
    ranges = {"before the upgrade": (0, 10_000)}
    acknowledged = {"before the upgrade": 10_000}
    for start, run in client_runs().items():
        name = f"client during the upgrade (ids from {start})"
        ranges[name] = (int(start), int(run["next_id"]))
        acknowledged[name] = int(run["next_id"]) - int(start) - len(run["failed_writes"])
    ranges["after the upgrade"] = (first, first + rows)
    acknowledged["after the upgrade"] = rows
    report = labclient("count", "--ranges", ",".join(f"{low}:{high}" for low, high in ranges.values()))
    counts = dict(zip(ranges, report["counts"].values()))
    print("\n[format] rows read back at ALL after the rollback, of those acknowledged: " + "; ".join(
        f"{name}: {counts[name]} of {acknowledged[name]}" for name in ranges))
    assert counts["before the upgrade"] == 10_000, counts


def test_the_repairs_ran_on_every_node(lab_host: Callable[[str], Host]) -> None:
    for node, (host_name, _ip) in NODES.items():
        assert re.search(rf"{node}: \[[^]]*\] Repair command #\d+ finished", SEEN["output"]), SEEN["output"][-4000:]
        marks = [path for path in kept_listing(lab_host(host_name)) if path.endswith("/repaired")]
        assert marks == [f"corral-rollback/{SEEN['tags'][node]}/repaired"], marks


def test_what_the_new_version_wrote_is_kept_aside(lab_host: Callable[[str], Host]) -> None:
    for node, (host_name, _ip) in NODES.items():
        kept = kept_listing(lab_host(host_name))
        sstables = [path for path in kept if path.endswith("-Data.db")]
        assert sstables and all(path.rsplit("/", 1)[-1].startswith("nb-") for path in sstables), kept[:20]
        assert any("/commitlog/" in path for path in kept), kept[:20]
        print(f"\n[format] {node}: {len(kept)} files kept aside in {host_name}:/cassandra/data/corral-rollback/"
              f"{SEEN['tags'][node]} ({len(sstables)} nb Data.db)")


def test_a_rerun_changes_nothing(stack: Callable[[], dict[str, dict[str, Any]]]) -> None:
    before = {name: item["Id"] for name, item in stack().items()}
    result = playbook(*readme_command(ROLLBACK_RESTORE))
    output = said(result)
    assert result.returncode == 0, output[-4000:]
    assert "no node has a rollback copy: there is nothing to roll back" in output
    assert "Repair command" not in output
    assert {name: item["Id"] for name, item in stack().items()} == before
