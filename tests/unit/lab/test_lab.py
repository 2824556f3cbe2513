"""The lab's settings for ./dev up agree with the inventory, the role defaults and the README; the
image selection of lab/lab.sh, run with docker and the build scripts replaced by stubs (no engine)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def lab_setting(name: str) -> list[str]:
    """An array or a variable of lab/config.sh, as bash sees it."""
    done = subprocess.run(
        ["bash", "-c", f'source lab/config.sh && printf "%s\\n" "${{{name}[@]}}"'],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return done.stdout.split()


def tsv_versions() -> list[str]:
    lines = (ROOT / "lab/images/cassandra/versions.tsv").read_text().splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def test_dev_up_builds_the_inventory_version_and_the_readme_upgrade_target() -> None:
    inventory = yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())
    readme_targets = re.findall(r"ansible-playbook upgrade\.yml -e version=(\d[\w.]*)", (ROOT / "README.md").read_text())
    wanted = lab_setting("LAB_UP_CASSANDRA_VERSIONS")
    assert str(inventory["cassandra_stack_version"]) in wanted
    assert readme_targets and set(readme_targets) <= set(wanted)
    assert set(wanted) <= set(tsv_versions())
    assert set(wanted) < set(tsv_versions()), "./dev up is meant to build fewer images than ./dev test"


def test_connect_names_the_stack_and_superuser_the_lab_runs() -> None:
    defaults = yaml.safe_load((ROOT / "roles/cassandra_stack/defaults/main.yml").read_text())
    inventory = yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())

    def effective(name: str) -> str:
        return str(inventory.get(name, defaults[name]))

    assert lab_setting("LAB_STACK") == [effective("cassandra_stack_name")]
    assert lab_setting("LAB_SUPERUSER") == [effective("cassandra_stack_superuser_name")]
    assert defaults["cassandra_stack_credentials_file"] == "~/.config/corral-cassandra/{{ cassandra_stack_name }}.credentials"


# lab.sh sourced (it returns before its command dispatch), with the builds and docker as stubs that log
# to fd 3 (lab.sh sends docker's own output to /dev/null).
STUBBED = """
exec 3>&1
source lab/lab.sh
bash() { echo "build $*"; }
docker() {
  case "$1" in
    images) printf '%s\\n' corral/cassandra:3.10 corral/cassandra:3.9 corral/cassandra:5.0.8 ;;
    push) echo "push $3" >&3 ;;
  esac
}
build_and_push_images "$@"
"""


@pytest.mark.parametrize(
    ("versions", "built", "pushed"),
    [
        (["3.9", "3.10"], "build lab/images/cassandra/build.sh 3.9 3.10", ["busybox:stable", "cassandra:3.9", "cassandra:3.10"]),
        ([], "build lab/images/cassandra/build.sh", ["busybox:stable", "cassandra:3.10", "cassandra:3.9", "cassandra:5.0.8",
                                                     "cassandra-medusa:5.0.8"]),
        (["5.0.8"], "build lab/images/cassandra/build.sh 5.0.8", ["busybox:stable", "cassandra:5.0.8", "cassandra-medusa:5.0.8"]),
    ],
)
def test_images_builds_and_pushes_the_versions_asked_or_all(versions: list[str], built: str, pushed: list[str]) -> None:
    """The Medusa sidekick of a version of LAB_MEDUSA_CASSANDRA_VERSIONS is built and pushed with its Cassandra image."""
    done = subprocess.run(
        ["bash", "-c", STUBBED, "stub", *versions], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = [line.replace(str(ROOT) + "/", "") for line in done.stdout.splitlines()]
    assert built in lines
    assert ("build lab/images/medusa/build.sh 5.0.8" in lines) == any("medusa" in image for image in pushed)
    assert [line.split()[1].rsplit("/corral/", 1)[1] for line in lines if line.startswith("push ")] == pushed


def tsv_lines(name: str) -> dict[str, list[str]]:
    lines = (ROOT / "lab/images/cassandra" / name).read_text().splitlines()
    return {line.split("\t")[0]: line.split("\t") for line in lines if line.strip() and not line.startswith("#")}


def test_versions_built_by_hand_only_are_kept_apart_from_what_ci_builds() -> None:
    """CI builds every line of versions.tsv (lab/lab.sh images with no argument); versions-by-hand.tsv holds those
    only a scenario run by hand needs (3.11.19 for molecule/upgrade_format), built when named."""
    by_hand, built = tsv_lines("versions-by-hand.tsv"), tsv_lines("versions.tsv")
    assert "3.11.19" in by_hand and not set(by_hand) & set(built)
    suites = {fields[1]: fields[2] for fields in built.values()}
    for version, fields in by_hand.items():
        assert len(fields) == 4, fields
        assert (ROOT / "lab/images/cassandra/conf" / fields[3]).is_dir(), version
        assert suites.get(fields[1], fields[2]) == fields[2], f"{version}: one Debian suite per Java"
    scenario = yaml.safe_load((ROOT / "molecule/upgrade_format/molecule.yml").read_text())
    assert scenario["provisioner"]["env"]["UPGRADE_FROM"] in by_hand
    lists = dict(re.findall(r'^(CI_SCENARIOS|BY_HAND_SCENARIOS)="([^"]*)"$', (ROOT / "dev").read_text(), flags=re.M))
    assert "upgrade_format" not in lists["CI_SCENARIOS"].split(), "run by hand: not in what CI runs"
    assert "upgrade_format" in lists["BY_HAND_SCENARIOS"].split()
