"""Bad engine and orchestrator input is refused with a message naming the problem, and the lab does not change.

Each case is a real run of site.yml on the deployed lab with bad variables. Every container on every lab host
(ids, states, start times), the swarm's nodes and labels, each host's networks, daemon.json and engine state are
compared before and after. The bad daemon.json case runs on lab-manager only (no Cassandra there) and is last:
it restarts that engine.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time
from collections.abc import Callable

from refusal import LAB_HOSTS, containers, refusals, run_playbook
from testinfra.host import Host

testinfra_hosts = ["lab-manager"]
MANAGER = "lab-manager"
CASSANDRA_HOSTS = tuple(name for name in LAB_HOSTS if name != MANAGER)
DAEMON_JSON = "/etc/docker/daemon.json"
SWARM_PORT = 2377

# Preflight tasks of roles/docker_engine and roles/orchestrator (as committed).
ENGINE_VERSION_TASK = "Refuse an engine older than docker_engine_minimum_version"
ENGINE_RESTART_TASK = "Report the engine's own error"
OVERLAP_TASK = "Check that the overlay subnet overlaps no network of the hosts"
LABELS_TASK = "Check the advertise address and the labels of each host"
REACH_TASK = "Fail if the first manager is out of reach"


def lab_state(lab_host: Callable[[str], Host], restarted: str = "") -> dict[str, list[str]]:
    """What a refused run must not touch besides containers: nodes and labels, networks, daemon.json, engines.

    A `restarted` engine re-creates its predefined bridge network under a new id: its local networks are compared
    without ids.
    """
    state = {
        "nodes": sorted(lab_host(MANAGER).check_output(
            "docker node inspect -f '{{.ID}} {{.Description.Hostname}} {{.Spec.Role}} {{.Spec.Availability}} "
            "{{json .Spec.Labels}}' $(docker node ls -q)"
        ).splitlines())
    }
    for name in LAB_HOSTS:
        member = lab_host(name)
        networks = member.check_output(
            "docker network inspect -f '{{.Id}} {{.Name}} {{.Driver}} {{.Scope}} {{.Attachable}} {{json .IPAM.Config}}' "
            "$(docker network ls -q --no-trunc)"
        )
        lines = networks.splitlines()
        if name == restarted:
            lines = [line.split(" ", 1)[1] if line.split()[3] == "local" else line for line in lines]
        state[name] = [
            *sorted(lines),
            member.check_output(f"sha256sum {DAEMON_JSON}"),
            member.check_output("systemctl is-active docker.service; systemctl is-enabled docker.service"),
        ]
    return state


def swarm_nodes(lab_host: Callable[[str], Host]) -> list[dict]:
    manager = lab_host(MANAGER)
    nodes: list[dict] = json.loads(manager.check_output("docker node inspect $(docker node ls -q)"))
    return nodes


def bridge_route(member: Host) -> tuple[str, ipaddress.IPv4Network, str, ipaddress.IPv4Address]:
    """The host's lab bridge, from `ip route`: device, network, own address, gateway (of the default route)."""
    default = member.check_output("ip -4 route show default").split()
    gateway, device = default[default.index("via") + 1], default[default.index("dev") + 1]
    link = member.check_output(f"ip -4 route show dev {device} proto kernel scope link").splitlines()[0].split()
    return device, ipaddress.IPv4Network(link[0]), link[link.index("src") + 1], ipaddress.IPv4Address(gateway)


def test_engine_older_than_the_minimum(lab_host: Callable[[str], Host]) -> None:
    found = {}
    for name in LAB_HOSTS:
        server = lab_host(name).check_output("docker version --format '{{.Server.Version}}'")
        match = re.match(r"\d+(\.\d+)+", server)
        assert match, server
        found[name] = match.group(0)
    before = lab_state(lab_host)
    messages = refusals(lab_host, "site.yml", {"docker_engine_minimum_version": "99.0"}, ENGINE_VERSION_TASK)
    assert set(messages) == set(LAB_HOSTS), messages
    for name, message in messages.items():
        assert f"The Docker engine on {name} is version {found[name]}, older than docker_engine_minimum_version 99.0" \
            in message, message
    assert lab_state(lab_host) == before


def test_overlay_subnet_that_overlaps_a_host_network(lab_host: Callable[[str], Host]) -> None:
    routes = {name: bridge_route(lab_host(name)) for name in LAB_HOSTS}
    subnet = routes[MANAGER][1]
    overlapping = {name for name, (_device, network, _src, _gw) in routes.items() if network.overlaps(subnet)}
    before = lab_state(lab_host)
    messages = refusals(lab_host, "site.yml", {"orchestrator_network_subnet": str(subnet)}, OVERLAP_TASK)
    assert set(messages) == overlapping, messages
    for name, message in messages.items():
        assert f"orchestrator_network_subnet {subnet} overlaps networks of {name}:" in message, message
        assert f"interface {routes[name][0]} {routes[name][1]}" in message, message
        assert "Choose another subnet for the overlay" in message, message
    assert lab_state(lab_host) == before


def test_host_label_defined_twice(lab_host: Callable[[str], Host]) -> None:
    """The inventory gives each Cassandra host orchestrator_host_labels; the same key again in the list is refused."""
    labels = {node["Description"]["Hostname"]: node["Spec"].get("Labels") or {} for node in swarm_nodes(lab_host)}
    labelled = sorted(name for name, found in labels.items() if found)
    assert labelled, f"no swarm node carries a label from the inventory: {labels}"
    key = sorted(labels[labelled[0]])[0]
    twice = {name for name, found in labels.items() if key in found}
    before = lab_state(lab_host)
    messages = refusals(lab_host, "site.yml", {"orchestrator_host_label_list": [f"{key}=defined-twice"]}, LABELS_TASK)
    assert set(messages) == twice, messages
    for name, message in messages.items():
        assert message.startswith(f"{name}: "), message
        assert ("node label keys defined more than once (orchestrator_host_labels and orchestrator_host_label_list "
                f"together): {key}.") in message, message
    assert lab_state(lab_host) == before


def test_host_that_cannot_reach_the_manager(lab_host: Callable[[str], Host]) -> None:
    """The first manager advertised at a free address of the lab bridge: the other hosts' check finds no one there.

    The address is inside the lab bridge's own subnet and held by no lab host, gateway or container on that
    network, so the only traffic is unanswered ARP on the lab bridge.
    """
    _device, subnet, _src, gateway = bridge_route(lab_host(MANAGER))
    taken = {gateway} | {ipaddress.IPv4Address(bridge_route(lab_host(name))[2]) for name in LAB_HOSTS}
    for network in json.loads(subprocess.run(
        "docker network inspect $(docker network ls -q)", shell=True, check=True, capture_output=True, text=True
    ).stdout):
        for endpoint in (network.get("Containers") or {}).values():
            if endpoint.get("IPv4Address"):
                taken.add(ipaddress.IPv4Interface(endpoint["IPv4Address"]).ip)
    free = max(address for address in subnet.hosts() if address not in taken)
    nodes = swarm_nodes(lab_host)
    workers = {node["Description"]["Hostname"] for node in nodes if node["Spec"]["Role"] == "worker"}
    assert workers == set(CASSANDRA_HOSTS), nodes
    before = lab_state(lab_host)
    messages = refusals(lab_host, "site.yml", {"orchestrator_advertise_addr": str(free)}, REACH_TASK)
    assert set(messages) == workers, messages
    for name, message in messages.items():
        assert f"{name} cannot reach the first manager {MANAGER} at {free}:{SWARM_PORT} (TCP)" in message, message
    assert lab_state(lab_host) == before


def test_bad_daemon_json_setting_on_a_host_without_cassandra(lab_host: Callable[[str], Host]) -> None:
    """lab-manager only: the engine says what is wrong, runs again on its previous daemon.json, a good run is a no-op.

    That engine restarts, so its own containers (if any) keep their ids and states but not their start times.
    """
    manager = lab_host(MANAGER)
    bad = "corral-not-a-log-level"
    daemon_json = manager.check_output(f"base64 -w0 {DAEMON_JSON}")
    own = [line.split()[:4] for line in containers(lab_host, [MANAGER])]
    before = lab_state(lab_host, restarted=MANAGER)
    messages = refusals(lab_host, "site.yml", {"docker_engine_daemon_options": {"log-level": bad}}, ENGINE_RESTART_TASK,
                        "--limit", MANAGER, hosts=CASSANDRA_HOSTS)
    assert set(messages) == {MANAGER}, messages
    message = messages[MANAGER]
    assert f"The Docker engine on {MANAGER} did not start with the new {DAEMON_JSON}" in message, message
    assert "it runs again on its previous settings (previous file restored)" in message, message
    _head, said, engine_says = message.partition("dockerd said:")
    assert said and bad in engine_says, f"not the engine's own message about {bad!r}: {message}"

    assert manager.check_output("systemctl is-active docker.service") == "active"
    assert manager.run("docker info --format '{{.ServerVersion}}'").rc == 0
    assert manager.check_output(f"base64 -w0 {DAEMON_JSON}") == daemon_json, "daemon.json is not as before"
    # The swarm's only manager restarted: it elects itself and hears from the workers again.
    wanted = sorted(f"{name} Ready" for name in LAB_HOSTS)
    deadline = time.monotonic() + 120
    while True:
        listed = manager.run("docker node ls --format '{{.Hostname}} {{.Status}}'")
        ready = sorted(listed.stdout.splitlines()) if listed.rc == 0 else [listed.stderr]
        if ready == wanted or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert ready == wanted
    assert lab_state(lab_host, restarted=MANAGER) == before
    assert [line.split()[:4] for line in containers(lab_host, [MANAGER])] == own

    again = run_playbook("site.yml", {}, "--limit", MANAGER)
    assert again.rc == 0, again.output
    assert set(again.stats) == {MANAGER}, again.stats
    assert again.stats[MANAGER].get("changed") == 0, again.stats
    assert lab_state(lab_host, restarted=MANAGER) == before
