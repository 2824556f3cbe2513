"""Placement of a Rancher 1.x stack's containers: affinity, anti-affinity, global, scale, ports."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose import rancher_placement
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher import parse_stack
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import RancherComposeError, RancherStack
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_placement import place_stack

FIXTURES = Path(__file__).resolve().parents[4] / "unit" / "fixtures" / "rancher"
LAB_HOSTS = {f"lab-host{n}": {"hostname": f"cassandra{n}"} for n in (1, 2, 3)}
SPREAD = (
    "io.rancher.scheduler.affinity:container_label_ne: io.rancher.stack_service.name=$${stack_name}/$${service_name}"
)


def stack(docker: str, rancher: str = "") -> RancherStack:
    return parse_stack("S", dedent(docker), dedent(rancher))


def refusal(docker: str, hosts: dict[str, dict[str, str]], rancher: str = "") -> list[str]:
    with pytest.raises(RancherComposeError) as info:
        place_stack(stack(docker, rancher), hosts)
    return info.value.problems


def fixture(name: str) -> RancherStack:
    folder = FIXTURES / name
    return parse_stack(name, (folder / "docker-compose.yml").read_text(), (folder / "rancher-compose.yml").read_text())


def test_classic_cassandra_each_node_on_the_host_its_label_names() -> None:
    assert place_stack(fixture("cassandra"), LAB_HOSTS) == {
        "cdb1": ["lab-host1"],
        "cdb2": ["lab-host2"],
        "cdb3": ["lab-host3"],
        "data1": ["lab-host1"],
        "data2": ["lab-host2"],
        "data3": ["lab-host3"],
    }


def test_web_two_containers_spread_with_their_sidekicks() -> None:
    assert place_stack(fixture("web"), LAB_HOSTS) == {
        "web": ["lab-host1", "lab-host2"],
        "web-data": ["lab-host1", "lab-host2"],
    }


def test_web_a_third_container_has_no_host() -> None:
    docker = (FIXTURES / "web" / "docker-compose.yml").read_text()
    assert refusal(docker, LAB_HOSTS, "web:\n  scale: 3\n") == [
        "service 'web': scale 3 needs 3 hosts (web matches io.rancher.scheduler.affinity:container_label_ne "
        "io.rancher.stack_service.name=S/web), but only 2 meet its host rules: lab-host1, lab-host2"
    ]


HOSTS = {"h1": {"zone": "a"}, "h2": {"zone": "b"}, "h3": {"zone": "b", "disk": "ssd"}}


@pytest.mark.parametrize(
    ("labels", "scale", "expected"),
    [
        ("", 1, ["h1"]),
        ("", 3, ["h1", "h2", "h3"]),
        ("", 4, ["h1", "h2", "h3", "h1"]),
        ("io.rancher.scheduler.affinity:host_label: zone=b", 2, ["h2", "h3"]),
        ("io.rancher.scheduler.affinity:host_label: zone=b,disk=ssd", 2, ["h3", "h3"]),
        ("io.rancher.scheduler.affinity:host_label_ne: zone=b", 2, ["h1", "h1"]),
        ("io.rancher.scheduler.affinity:host_label_ne: zone=a,disk=ssd", 1, ["h2"]),
        ("io.rancher.scheduler.affinity:host_label_soft: disk=ssd", 1, ["h3"]),
        ("io.rancher.scheduler.affinity:host_label_soft: disk=ssd", 2, ["h3", "h3"]),
        ("io.rancher.scheduler.affinity:host_label_soft: zone=nowhere", 1, ["h1"]),
        ("io.rancher.scheduler.affinity:host_label_soft_ne: zone=a", 2, ["h2", "h3"]),
        (SPREAD, 3, ["h1", "h2", "h3"]),
        (SPREAD + "\n    io.rancher.scheduler.affinity:host_label_soft: zone=b", 2, ["h2", "h3"]),
        ("io.rancher.scheduler.affinity:container_label_soft_ne: app=web", 2, ["h1", "h2"]),
    ],
)
def test_rules_of_one_service(labels: str, scale: int, expected: list[str]) -> None:
    docker = "web:\n  image: nginx\n  labels:\n    app: web\n" + (f"    {labels}\n" if labels else "")
    assert place_stack(stack(docker, f"web:\n  scale: {scale}\n"), HOSTS) == {"web": expected}


def test_global_runs_one_per_host_its_rules_allow_with_its_sidekick() -> None:
    docker = """\
    agent:
      image: agent
      labels:
        io.rancher.scheduler.global: 'true'
        io.rancher.scheduler.affinity:host_label_ne: zone=a
        io.rancher.sidekicks: agent-data
    agent-data:
      image: busybox
    """
    assert place_stack(stack(docker), HOSTS) == {"agent": ["h2", "h3"], "agent-data": ["h2", "h3"]}


def test_global_containers_come_first_and_keep_their_ports() -> None:
    docker = """\
    db:
      image: db
      ports: [5432:5432]
      labels:
        io.rancher.scheduler.affinity:host_label: zone=a
    agent:
      image: agent
      ports: [5432:5432]
      labels:
        io.rancher.scheduler.global: 'true'
    """
    assert refusal(docker, HOSTS) == [
        "service 'db': no host for container 1 of 1: on h1, agent publishes port 5432/tcp",
    ]


def test_a_published_port_spreads_containers() -> None:
    docker = "web:\n  image: nginx\n  ports:\n  - 8080:80\n  - 9000-9001:9000-9001/udp\n"
    assert place_stack(stack(docker, "web:\n  scale: 3\n"), HOSTS) == {"web": ["h1", "h2", "h3"]}
    assert refusal(docker, HOSTS, "web:\n  scale: 4\n") == [
        "service 'web': scale 4 needs 4 hosts (web publishes port 8080/tcp, 9000/udp, 9001/udp), "
        "but only 3 meet its host rules: h1, h2, h3"
    ]


def test_unpublished_and_different_ports_do_not_clash() -> None:
    docker = "a:\n  image: x\n  ports: ['80', '8080:80']\nb:\n  image: x\n  ports: ['80', '8080:80/udp']\n"
    assert place_stack(stack(docker), {"h1": {}}) == {"a": ["h1"], "b": ["h1"]}


@pytest.mark.parametrize("rule_on", ["first", "second"])
def test_container_anti_affinity_holds_whichever_service_carries_it(rule_on: str) -> None:
    rule = "    io.rancher.scheduler.affinity:container_label_ne: app=db\n"
    docker = "a-web:\n  image: x\n  labels:\n    app: web\n" + (rule if rule_on == "first" else "")
    docker += "b-db:\n  image: y\n  labels:\n    app: db\n" + (
        rule.replace("app=db", "app=web") if rule_on == "second" else ""
    )
    assert place_stack(stack(docker), {"h1": {}, "h2": {}}) == {"a-web": ["h1"], "b-db": ["h2"]}
    problem = refusal(docker, {"h1": {}})
    assert problem == [
        {
            "first": "service 'b-db': no host for container 1 of 1: "
            "on h1, a-web has io.rancher.scheduler.affinity:container_label_ne app=db",
            "second": "service 'b-db': no host for container 1 of 1: "
            "on h1, a-web matches io.rancher.scheduler.affinity:container_label_ne app=web",
        }[rule_on]
    ]


def test_search_backtracks_out_of_a_greedy_dead_end() -> None:
    # a, b and c exclude each other; greedy puts a on h1 and then c has nowhere to go.
    docker = ""
    for name, rule in (("a", "zone=b"), ("b", "zone=c"), ("c", "zone=c")):
        docker += f"{name}:\n  image: x\n  labels:\n    group: g\n"
        docker += "    io.rancher.scheduler.affinity:container_label_ne: group=g\n"
        docker += f"    io.rancher.scheduler.affinity:host_label_ne: {rule}\n"
    hosts = {"h1": {"zone": "a"}, "h2": {"zone": "b"}, "h3": {"zone": "c"}}
    assert place_stack(stack(docker), hosts) == {"a": ["h3"], "b": ["h1"], "c": ["h2"]}


def test_impossible_names_the_deepest_dead_end() -> None:
    docker = ""
    for name in ("a", "b", "c"):
        docker += f"{name}:\n  image: x\n  labels:\n    group: g\n"
        docker += "    io.rancher.scheduler.affinity:container_label_ne: group=g\n"
    assert refusal(docker, {"h1": {}, "h2": {}}) == [
        "service 'c': no host for container 1 of 1: "
        "on h1, a matches io.rancher.scheduler.affinity:container_label_ne group=g; "
        "on h2, b matches io.rancher.scheduler.affinity:container_label_ne group=g"
    ]


def test_no_host_meets_the_hard_rules() -> None:
    docker = "web:\n  image: x\n  labels:\n    io.rancher.scheduler.affinity:host_label: zone=z\n"
    docker += "db:\n  image: x\n"
    assert refusal(docker, HOSTS) == [
        "service 'web': no host meets its hard host rules (hosts: h1 (zone=a), h2 (zone=b), h3 (disk=ssd,zone=b))"
    ]
    assert refusal("db:\n  image: x\n", {}) == ["service 'db': no host meets its hard host rules (hosts: none)"]


def test_deterministic_whatever_the_order_of_hosts() -> None:
    web = fixture("web")
    expected = {"web": ["lab-host1", "lab-host2"], "web-data": ["lab-host1", "lab-host2"]}
    assert place_stack(web, dict(reversed(LAB_HOSTS.items()))) == place_stack(web, LAB_HOSTS) == expected


def test_gives_up_rather_than_search_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rancher_placement, "MAX_TRIES", 2)
    assert refusal("web:\n  image: x\n", HOSTS, "web:\n  scale: 3\n") == [
        "placing stack 'S' gave up after 2 tries: loosen its io.rancher.scheduler.affinity:container_label_ne rules"
    ]


def test_two_global_services_that_exclude_each_other() -> None:
    docker = ""
    for name in ("a", "b"):
        docker += f"{name}:\n  image: x\n  labels:\n    group: g\n    io.rancher.scheduler.global: 'true'\n"
        docker += "    io.rancher.scheduler.affinity:container_label_ne: group=g\n"
    assert refusal(docker, {"h1": {}}) == [
        "service 'b': no host on h1 (as io.rancher.scheduler.global asks): "
        "on h1, a matches io.rancher.scheduler.affinity:container_label_ne group=g"
    ]
