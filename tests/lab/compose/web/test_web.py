"""A stack that is not Cassandra (tests/lab/compose/stacks/web, imported with CRLF line endings by converge).

web (scale 2, never on cassandra3, never two on one host) with a start-once BusyBox data sidekick each,
and a probe at a fixed address on cassandra3; then export, remove (the host data stays) and import again.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher import parse_stack, with_export_defaults
from compose_lab import (
    HOST_LABELS,
    LAB_REGISTRY,
    SOURCES,
    STACKS,
    WEB_PORT,
    docker,
    host_run,
    inspect_stack,
    run_playbook,
)

testinfra_hosts = ["lab-manager"]

WEB = ["web-web-1", "web-web-2"]
DATA = {"web-web-1": "web-web-data-1", "web-web-2": "web-web-data-2"}


def overlay_ip(container: dict[str, Any]) -> str:
    return str(container["NetworkSettings"]["Networks"]["managed"]["IPAddress"])


def fetch_through_the_probe(address: str) -> str:
    """GET / of a web container, from the probe on another host, over the overlay.

    Bounded by timeout(1): the wget of Debian's busybox-static 1.35 crashes on its own -T option.
    """
    url = f"http://{address}:{WEB_PORT}/"
    return docker("lab-host3", "exec", "web-probe-1", "timeout", "10", "wget", "-q", "-O", "-", url)


def assert_web_stack_runs() -> dict[str, dict[str, Any]]:
    stack = inspect_stack("web")
    assert sorted(stack) == ["web-probe-1", "web-web-1", "web-web-2", "web-web-data-1", "web-web-data-2"]
    # spread two ways, never on cassandra3; each sidekick beside its primary
    assert sorted(stack[name]["_host"] for name in WEB) == ["lab-host1", "lab-host2"]
    for web, data in DATA.items():
        assert stack[data]["_host"] == stack[web]["_host"]
        assert stack[web]["State"]["Running"], web
        assert stack[web]["HostConfig"]["VolumesFrom"] == [data]
        # start_once: ran once, finished well, not restarted
        assert stack[data]["State"]["Status"] == "exited" and stack[data]["State"]["ExitCode"] == 0, data
        assert stack[data]["HostConfig"]["RestartPolicy"]["Name"] == "no"
        assert stack[data]["Config"]["Hostname"] == data
        assert [bind.removesuffix(":rw") for bind in stack[data]["HostConfig"]["Binds"]] == ["/srv/compose-web:/www"]
    probe = stack["web-probe-1"]
    assert probe["_host"] == "lab-host3" and probe["State"]["Running"]
    assert probe["NetworkSettings"]["Networks"]["managed"]["IPAMConfig"]["IPv4Address"] == "10.42.0.60"
    assert "TARGET_PORT=8080" in probe["Config"]["Env"]
    return stack


def test_placed_by_host_labels_and_spread() -> None:
    assert_web_stack_runs()


def test_each_web_serves_the_page_its_sidekick_wrote() -> None:
    stack = inspect_stack("web")
    for web, data in DATA.items():
        assert fetch_through_the_probe(overlay_ip(stack[web])) == f"served by {data}\n"


def test_the_export_means_what_was_imported() -> None:
    source = parse_stack(
        "web",
        (SOURCES / "web" / "docker-compose.yml").read_text(),
        (SOURCES / "web" / "rancher-compose.yml").read_text(),
        variables={"REGISTRY": LAB_REGISTRY, "PORT": WEB_PORT},
    )
    exported = parse_stack(
        "web",
        (STACKS / "web-export" / "docker-compose.yml").read_text(),
        (STACKS / "web-export" / "rancher-compose.yml").read_text(),
        subnet="10.42.0.0/16",
        hosts=HOST_LABELS,
    )
    assert exported == with_export_defaults(source)
    assert "$${stack_name}/$${service_name}" in (STACKS / "web-export" / "docker-compose.yml").read_text()


def test_remove_keeps_the_host_data_and_the_export_imports_again() -> None:
    before = inspect_stack("web")
    removed = run_playbook("remove.yml", "-e", "stack=web")
    assert removed.rc == 0, removed
    assert inspect_stack("web") == {}
    for host in ("lab-host1", "lab-host2"):
        page = host_run(host, "cat", "/srv/compose-web/index.html")
        assert page.returncode == 0 and page.stdout.startswith("served by web-web-data-"), page

    imported = run_playbook("import.yml", "-e", "stack=web", "-e", f"compose_dir={STACKS / 'web-export'}")
    assert imported.rc == 0, imported
    after = assert_web_stack_runs()
    assert {name: item["Id"] for name, item in after.items()}.keys() == before.keys()
    assert all(after[name]["Id"] != before[name]["Id"] for name in after)
    for web, data in DATA.items():
        assert after[web]["_host"] == before[web]["_host"]
        assert fetch_through_the_probe(overlay_ip(after[web])) == f"served by {data}\n"

    again = run_playbook("import.yml", "-e", "stack=web", "-e", f"compose_dir={STACKS / 'web-export'}")
    assert again.rc == 0, again
    assert set(again.changed().values()) == {0}, again
    assert {name: item["Id"] for name, item in inspect_stack("web").items()} == {
        name: item["Id"] for name, item in after.items()
    }


def test_remove_deletes_the_host_data_only_when_asked_and_says_so_first() -> None:
    before = {name: item["Id"] for name, item in inspect_stack("web").items()}
    data_hosts = sorted({item["_host"] for name, item in inspect_stack("web").items() if name in DATA.values()})
    assert data_hosts == ["lab-host1", "lab-host2"]

    dry = run_playbook("remove.yml", "-e", "stack=web", "-e", "delete_data=true", "--check")
    assert dry.rc == 0, dry
    said = dry.messages("Say what happens to this host's data")
    assert {host: said[host] for host in data_hosts} == {host: f"Would delete /srv/compose-web on {host}" for host in data_hosts}
    assert {name: item["Id"] for name, item in inspect_stack("web").items()} == before
    for host in data_hosts:
        assert host_run(host, "test", "-f", "/srv/compose-web/index.html").returncode == 0, host

    deleted = run_playbook("remove.yml", "-e", "stack=web", "-e", "delete_data=true")
    assert deleted.rc == 0, deleted
    said = deleted.messages("Say what happens to this host's data")
    assert {host: said[host] for host in data_hosts} == {host: f"Deleting /srv/compose-web on {host}" for host in data_hosts}
    assert inspect_stack("web") == {}
    for host in data_hosts:
        assert host_run(host, "test", "-e", "/srv/compose-web").returncode != 0, host
