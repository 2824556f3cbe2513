"""The restore from a snapshot (roles/cassandra_upgrade/files/rollback_restore.sh), run with BusyBox's sh as the
one-shot container runs it, on a data directory laid out as 4.1 leaves a node that 3.11 wrote before."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[5] / "roles" / "cassandra_upgrade" / "files" / "rollback_restore.sh"
TAG = "corral-before-upgrade-to-4.1.10-20261207T051000Z"
BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="needs busybox (Debian: busybox or busybox-static)")


def run(root: Path) -> subprocess.CompletedProcess[str]:
    assert BUSYBOX
    return subprocess.run(
        [BUSYBOX, "sh", "-c", SCRIPT.read_text(encoding="utf-8"), "rollback_restore", TAG, "m", "no"],
        env={**os.environ, "CASSANDRA_ROOT": str(root)}, capture_output=True, text=True, check=False,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def node(tmp_path: Path) -> Path:
    """3.11 wrote mc files and snapshotted them, then flushed once more in its drain; 4.1 then compacted the snapshotted
    files away into nb files, and made its own table."""
    local, table = tmp_path / "data/system/local-7ad5", tmp_path / "data/ks/t-1b2c"
    write(local / "snapshots" / TAG / "mc-1-big-Data.db", "local before")
    write(local / "snapshots" / TAG / "manifest.json", "{}")
    write(local / "nb-5-big-Data.db", "local by 4.1")
    write(table / "snapshots" / TAG / "mc-2-big-Data.db", "rows before")
    write(table / "snapshots" / TAG / "schema.cql", "CREATE TABLE")
    write(table / "snapshots" / TAG / ".t_idx" / "mc-1-big-Data.db", "index before")
    write(table / "nb-3-big-Data.db", "rows by 4.1")
    write(table / "mc-4-big-Data.db", "rows 3.11 flushed in its drain, after the snapshot")
    write(table / "nb_txn_compaction_1.log", "")
    write(table / ".t_idx" / "nb-1-big-Data.db", "index by 4.1")
    write(tmp_path / "data/system/peers_v2-c4325" / "nb-1-big-Data.db", "peers by 4.1")
    write(tmp_path / "commitlog" / "CommitLog-7-1.log", "segment")
    write(tmp_path / "hints" / "a-1-2.hints", "hint")
    write(tmp_path / "saved_caches" / "KeyCache-g.db", "cache")
    return tmp_path


def test_the_node_goes_back_to_its_snapshot_keeping_its_own_later_files_and_nothing_is_deleted(node: Path) -> None:
    before = {path: (node / path).read_text(encoding="utf-8") for path in files(node)}
    done = run(node)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("state=restored moved=8 linked=3 at=")
    kept = f"corral-rollback/{TAG}"
    assert files(node) - {f"{kept}/restored"} == {
        "data/system/local-7ad5/mc-1-big-Data.db",
        "data/ks/t-1b2c/mc-2-big-Data.db",
        "data/ks/t-1b2c/mc-4-big-Data.db",  # the old version's own: it reads it, and it holds writes the snapshot lacks
        "data/ks/t-1b2c/.t_idx/mc-1-big-Data.db",
        *(path for path in before if "/snapshots/" in path),
        f"{kept}/data/system/local-7ad5/nb-5-big-Data.db",
        f"{kept}/data/ks/t-1b2c/nb-3-big-Data.db",
        f"{kept}/data/ks/t-1b2c/nb_txn_compaction_1.log",
        f"{kept}/data/ks/t-1b2c/.t_idx/nb-1-big-Data.db",
        f"{kept}/data/system/peers_v2-c4325/nb-1-big-Data.db",
        f"{kept}/commitlog/CommitLog-7-1.log",
        f"{kept}/hints/a-1-2.hints",
        f"{kept}/saved_caches/KeyCache-g.db",
    }
    # Hard links of the snapshot's files: no copy, and the snapshot stays as it was.
    linked = node / "data/ks/t-1b2c/mc-2-big-Data.db"
    assert linked.samefile(node / "data/ks/t-1b2c/snapshots" / TAG / "mc-2-big-Data.db")
    assert (node / kept / "data/ks/t-1b2c/nb-3-big-Data.db").read_text(encoding="utf-8") == "rows by 4.1"


def test_a_second_run_changes_nothing(node: Path) -> None:
    assert run(node).returncode == 0
    after = files(node)
    again = run(node)
    assert again.returncode == 0 and again.stdout.startswith("state=already at=")
    assert files(node) == after


def test_an_interrupted_run_goes_on_without_moving_what_it_linked(node: Path) -> None:
    # The first run linked system.local's snapshot file in and was killed before the rest.
    local = node / "data/system/local-7ad5"
    kept = node / f"corral-rollback/{TAG}/data/system/local-7ad5"
    kept.mkdir(parents=True)
    (local / "nb-5-big-Data.db").rename(kept / "nb-5-big-Data.db")
    os.link(local / "snapshots" / TAG / "mc-1-big-Data.db", local / "mc-1-big-Data.db")
    done = run(node)
    assert done.returncode == 0, done.stderr
    assert (local / "mc-1-big-Data.db").samefile(local / "snapshots" / TAG / "mc-1-big-Data.db")
    assert (node / f"corral-rollback/{TAG}/data/system/local-7ad5/nb-5-big-Data.db").exists()
    assert (node / "data/ks/t-1b2c/mc-2-big-Data.db").exists()


def test_without_a_snapshot_of_system_local_nothing_is_moved(node: Path) -> None:
    shutil.rmtree(node / "data/system/local-7ad5/snapshots")
    before = files(node)
    done = run(node)
    assert done.returncode == 3 and "no snapshot" in done.stderr
    assert files(node) == before


def test_bti_files_are_the_newer_versions_unless_the_old_version_reads_them(node: Path) -> None:
    write(node / "data/ks/t-1b2c/da-7-bti-Data.db", "5.0 BTI")
    assert run(node).returncode == 0
    assert (node / f"corral-rollback/{TAG}/data/ks/t-1b2c/da-7-bti-Data.db").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="gives the data directory to another user, as the node's is (uid 999)")
def test_an_index_directory_only_in_the_snapshot_is_made_for_the_nodes_user(node: Path) -> None:
    table = node / "data/ks/t-1b2c"
    shutil.rmtree(table / ".t_idx")
    for path in [node / "data", *(node / "data").rglob("*")]:
        os.chown(path, 999, 999)
    done = run(node)
    assert done.returncode == 0, done.stderr
    assert (table / ".t_idx" / "mc-1-big-Data.db").read_text(encoding="utf-8") == "index before"
    assert ((table / ".t_idx").stat().st_uid, (table / ".t_idx").stat().st_gid) == (999, 999)
