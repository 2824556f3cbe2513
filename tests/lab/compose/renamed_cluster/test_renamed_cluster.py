"""An import whose files name another cluster than the data's is refused before any change, the data read offline.

Runs after rancher/ has imported the classic Rancher export as CassandraDB onto the data CassandraDB2 left:
it removes CassandraDB (its data stays on the hosts) and imports CassandraDB2's files, their
CASSANDRA_CLUSTER_NAME changed to 'Other', as CassandraDB3. No node runs, so the refusal comes from each
host's data directory, read offline. The scenario's cleanup resets the lab.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from compose_lab import NODES, STACKS, container_ids, run_playbook

testinfra_hosts = ["lab-manager"]


def test_import_naming_another_cluster_than_its_data_is_refused(tmp_path: Path) -> None:
    source = STACKS / "CassandraDB2"
    compose = (source / "docker-compose.yml").read_text()
    assert "CASSANDRA_CLUSTER_NAME" in compose
    files = tmp_path / "CassandraDB3"
    files.mkdir()
    (files / "docker-compose.yml").write_text(
        "".join(
            line.replace("CassandraDB", "Other") if "CASSANDRA_CLUSTER_NAME" in line else line
            for line in compose.splitlines(keepends=True)
        )
    )
    shutil.copy(source / "rancher-compose.yml", files)
    removed = run_playbook("remove.yml", "-e", "stack=CassandraDB")
    assert removed.rc == 0, removed

    before = container_ids()
    run = run_playbook("import.yml", "-e", "stack=CassandraDB3", "-e", f"compose_dir={files}")
    assert run.rc != 0, run
    assert container_ids() == before, "a refused import changed a container"
    message = "\n".join([*run.failures(), *run.problems()])  # corral.cassandra.refuse: headline, then each problem
    assert message.startswith("the Cassandra stack cannot run on what its hosts hold; nothing was changed"), run
    for node, (host, _ip, _data) in NODES.items():
        assert (
            f"node {node} on {host}: its data holds cluster name 'CassandraDB' (read from its data directory "
            "/cassandra/data, read offline"
        ) in message, message
        assert "the stack asks for 'Other'" in message
