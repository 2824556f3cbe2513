"""One node's part of a backup checked with Medusa's own manifest check, printed as one JSON line.

`medusa verify` checks a backup of the whole cluster in one store and stops at "incomplete" when the other
nodes' parts are elsewhere (a backup directory per host). This runs Medusa's check on this node's part.
Usage (in the sidekick): python verify_node.py CONFIG_FILE BACKUP_NAME
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import medusa.config
import medusa.verify
from medusa.storage import Storage
from medusa.utils import evaluate_boolean


def main(config_file: str, name: str) -> None:
    config = medusa.config.load_config(defaultdict(lambda: None), Path(config_file))
    fqdn = config.storage.fqdn
    result = {"name": name, "fqdn": fqdn, "exists": False, "finished": False, "errors": [], "objects": 0}
    with Storage(config=config.storage) as storage:
        # From Medusa's index, as `medusa verify` finds it (a differential backup's files are shared by the node's backups).
        found = [backup for backup in storage.list_node_backups(fqdn=fqdn) if backup.name == name]
        if found:
            node_backup = found[0]
            result["exists"] = True
            result["finished"] = node_backup.finished is not None
            if result["finished"]:
                md5 = evaluate_boolean(config.checks.enable_md5_checks)
                result["errors"] = list(medusa.verify.validate_manifest(storage, node_backup, md5))
                result["objects"] = node_backup.num_objects()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
