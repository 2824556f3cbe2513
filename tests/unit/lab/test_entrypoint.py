"""The lab image's entrypoint edits cassandra.yaml at every start: killed at any step, it must leave every line
as it was or as the start makes it, never a cut file (a container's config outlives a kill: an empty cassandra.yaml
fails every later start with "Missing required directive CommitLogSync"). The real script runs here with the commands it
calls wrapped: the k-th call SIGKILLs the script, for every k until a run gets through."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENTRYPOINT = ROOT / "lab" / "images" / "cassandra" / "docker-entrypoint.sh"
# What the edits call; each is wrapped so that its call can be the one that kills the script.
WRAPPED = ("sed", "cmp", "chmod", "mv", "cat", "rm", "mktemp")
YAML = """cluster_name: 'Test Cluster'
num_tokens: 256
# broadcast_address: 1.2.3.4
listen_address: localhost
rpc_address: localhost
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1"
commitlog_sync: periodic
"""
RACKDC = "dc=dc1\nrack=rack1\n"
ENV = {
    "CASSANDRA_LISTEN_ADDRESS": "10.42.0.49",
    "CASSANDRA_SEEDS": "10.42.0.48",
    "CASSANDRA_CLUSTER_NAME": "CassandraDB",
    "CASSANDRA_NUM_TOKENS": "16",
    "CASSANDRA_DC": "dc2",
    "CASSANDRA_RACK": "rack2",
}


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A conf directory, and a bin directory put first on PATH: `cassandra` only notes that it was started,
    `id -u` says the script is not root (so it edits at once), the wrapped commands count their calls."""
    (tmp_path / "conf").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "cassandra", f"#!/bin/sh\necho started >> {tmp_path}/started\n")
    executable(bin_dir / "id", "#!/bin/sh\necho 1000\n")
    for command in WRAPPED:
        real = subprocess.run(["bash", "-c", f"type -P {command}"], capture_output=True, text=True, check=True)
        # Builtins only before the exec: a wrapped command called here would call this wrapper again.
        executable(bin_dir / command, f"""#!/bin/bash
calls=0
[ -f {tmp_path}/calls ] && read -r calls < {tmp_path}/calls
calls=$(( calls + 1 ))
echo "$calls" > {tmp_path}/calls
if [ "$calls" = "${{KILL_AT:-0}}" ]; then kill -KILL "$PPID"; exit 1; fi
exec {real.stdout.strip()} "$@"
""")
    return tmp_path


def start(sandbox: Path, kill_at: int = 0) -> int:
    """One container start: the entrypoint with the node's environment; 0 when it got to `cassandra`."""
    (sandbox / "calls").unlink(missing_ok=True)
    env = {"PATH": f"{sandbox / 'bin'}:/usr/bin:/bin", "CASSANDRA_CONF": str(sandbox / "conf"),
           "KILL_AT": str(kill_at), **ENV}
    return subprocess.run(["bash", str(ENTRYPOINT), "cassandra", "-f"], env=env, capture_output=True,
                          timeout=30, check=False).returncode


def write_conf(sandbox: Path) -> None:
    (sandbox / "conf" / "cassandra.yaml").write_text(YAML)
    (sandbox / "conf" / "cassandra-rackdc.properties").write_text(RACKDC)


def read_conf(sandbox: Path) -> tuple[str, str]:
    return ((sandbox / "conf" / "cassandra.yaml").read_text(),
            (sandbox / "conf" / "cassandra-rackdc.properties").read_text())


def whole(now: str, old: str, new: str) -> bool:
    """Every line as it was or as the start makes it (the edits go one key at a time), none cut or missing."""
    lines, old_lines, new_lines = now.splitlines(True), old.splitlines(True), new.splitlines(True)
    return len(lines) == len(old_lines) and all(line in pair for line, pair in zip(lines, zip(old_lines, new_lines)))


def test_a_start_edits_the_config_from_the_environment(sandbox: Path) -> None:
    write_conf(sandbox)
    assert start(sandbox) == 0
    yaml, rackdc = read_conf(sandbox)
    assert "cluster_name: CassandraDB" in yaml and "num_tokens: 16" in yaml
    assert "broadcast_address: 10.42.0.49" in yaml and "listen_address: 10.42.0.49" in yaml
    assert '- seeds: "10.42.0.48"' in yaml and "commitlog_sync: periodic" in yaml
    assert rackdc == "dc=dc2\nrack=rack2\n"
    assert (sandbox / "started").read_text() == "started\n"
    assert sorted(path.name for path in (sandbox / "conf").iterdir()) == ["cassandra-rackdc.properties",
                                                                          "cassandra.yaml"]


def test_a_start_that_changes_nothing_writes_nothing(sandbox: Path) -> None:
    write_conf(sandbox)
    assert start(sandbox) == 0
    before = os.stat(sandbox / "conf" / "cassandra.yaml")
    assert start(sandbox) == 0
    after = os.stat(sandbox / "conf" / "cassandra.yaml")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_kill_at_any_step_leaves_the_old_or_the_new_config_and_the_next_start_ends_the_edit(sandbox: Path) -> None:
    write_conf(sandbox)
    assert start(sandbox) == 0
    final = read_conf(sandbox)
    kills = 0
    for kill_at in range(1, 200):
        write_conf(sandbox)
        if start(sandbox, kill_at) == 0:
            break
        kills += 1
        for now, old, new in zip(read_conf(sandbox), (YAML, RACKDC), final):
            assert whole(now, old, new), f"killed at call {kill_at}: a file is cut or mixed:\n{now}"
        assert start(sandbox) == 0, f"the start after a kill at call {kill_at} failed"
        assert read_conf(sandbox) == final
    assert kills >= 10, f"only {kills} calls could be killed: the wrappers are not in the script's path"
