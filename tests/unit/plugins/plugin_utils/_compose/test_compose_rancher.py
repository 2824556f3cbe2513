"""Reading and writing Rancher 1.x stack exports: formats, ${VAR}, labels, every refusal, round trips."""

from __future__ import annotations

import copy
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher import (
    interpolate,
    parse_stack,
    render_stack,
    with_export_defaults,
)
from ansible_collections.corral.cassandra.plugins.plugin_utils._compose.rancher_model import (
    CASSANDRA_HEALTH_CHECK,
    HealthCheck,
    RancherComposeError,
    RancherStack,
    Service,
    UpgradeStrategy,
)

FIXTURES = Path(__file__).resolve().parents[4] / "unit" / "fixtures" / "rancher"
LINKS = "Rancher's DNS names have no equivalent here; give the service's requested_ip"
LB = "a Rancher load balancer has no equivalent here; run a proxy of your own as a service"
LAB_HOSTS = {f"lab-host{n}": {"hostname": f"cassandra{n}"} for n in (1, 2, 3)}


def fixture(stack: str) -> tuple[str, str]:
    return (FIXTURES / stack / "docker-compose.yml").read_text(), (FIXTURES / stack / "rancher-compose.yml").read_text()


def parse(docker: str, rancher: str = "", **options: Any) -> RancherStack:
    return parse_stack("Stack", dedent(docker), dedent(rancher), **options)


def problems(docker: str, rancher: str = "", **options: Any) -> list[str]:
    with pytest.raises(RancherComposeError) as info:
        parse(docker, rancher, **options)
    return info.value.problems


# --- formats ---------------------------------------------------------------------------------------

V1 = """\
web:
  image: nginx
  labels:
    io.rancher.sidekicks: files
files:
  image: busybox
"""
V2 = """\
version: '2'
services:
  web:
    image: nginx
    labels:
      io.rancher.sidekicks: files
  files:
    image: busybox
"""
RANCHER_V1 = "web:\n  scale: 2\n"
RANCHER_V2 = "version: '2'\nservices:\n  web:\n    scale: 2\n"


@pytest.mark.parametrize("docker", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("rancher", [RANCHER_V1, RANCHER_V2], ids=["rancher-v1", "rancher-v2"])
def test_v1_and_v2_read_alike(docker: str, rancher: str) -> None:
    stack = parse(docker, rancher)
    assert list(stack.services) == ["web", "files"]
    assert stack.services["web"].sidekicks == ["files"]
    assert [stack.services[name].scale for name in stack.services] == [2, 2]


@pytest.mark.parametrize("version", ["'2'", "2", "'2.0'", "2.0", "'2.1'"])
def test_compose_versions_rancher_read(version: str) -> None:
    assert list(parse(f"version: {version}\nservices:\n  a:\n    image: busybox\n").services) == ["a"]


def test_rancher_compose_may_be_empty() -> None:
    assert parse(V1, "").services["web"].scale == 1
    assert parse(V1, "version: '2'\nservices: {}\n").services["web"].scale == 1


@pytest.mark.parametrize("stack", ["cassandra", "web"])
def test_crlf_reads_like_lf(stack: str) -> None:
    docker, rancher = fixture(stack)
    crlf = parse_stack("S", docker.replace("\n", "\r\n"), rancher.replace("\n", "\r\n"))
    assert crlf == parse_stack("S", docker, rancher)


def test_crlf_leaves_no_carriage_return_in_values() -> None:
    docker = "web:\r\n  image: busybox\r\n  command: |\r\n    echo one\r\n    echo two\r\n"
    assert parse_stack("S", docker).services["web"].command == "echo one\necho two\n"


def test_ports_are_not_read_as_base_60() -> None:
    stack = parse("web:\n  image: nginx\n  ports:\n  - 22:22\n  - 8080:80\n  - 9042\n")
    assert stack.services["web"].ports == ["22:22", "8080:80", "9042"]


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [("'1'", "1"), ("1", "1"), ("true", "true"), ("1.5", "1.5"), ("''", ""), ("2017-01-02", "2017-01-02")],
)
def test_environment_scalars_become_strings(yaml_value: str, expected: str) -> None:
    stack = parse(f"web:\n  image: busybox\n  environment:\n    A: {yaml_value}\n")
    assert stack.services["web"].environment == {"A": expected}


def test_environment_and_labels_in_list_or_mapping_form() -> None:
    listed = parse("web:\n  image: x\n  environment:\n  - A=1\n  - B=x=y\n  labels:\n  - app=web\n  - flag\n")
    mapped = parse("web:\n  image: x\n  environment:\n    A: 1\n    B: x=y\n  labels:\n    app: web\n    flag:\n")
    assert listed == mapped
    assert mapped.services["web"].environment == {"A": "1", "B": "x=y"}
    assert mapped.services["web"].labels == {"app": "web", "flag": ""}


@pytest.mark.parametrize("key", ["command", "entrypoint"])
@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("sh -c 'sleep 1'", "sh -c 'sleep 1'"),
        ("[sh, -c, sleep 1]", ["sh", "-c", "sleep 1"]),
        ("[run, 5]", ["run", "5"]),
    ],
)
def test_command_and_entrypoint_as_string_or_list(key: str, yaml_value: str, expected: Any) -> None:
    assert getattr(parse(f"web:\n  image: x\n  {key}: {yaml_value}\n").services["web"], key) == expected


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("'no'", "no"),
        ("no", "no"),
        ("always", "always"),
        ("unless-stopped", "unless-stopped"),
        ("on-failure:3", "on-failure:3"),
    ],
)
def test_restart(yaml_value: str, expected: str) -> None:
    assert parse(f"web:\n  image: x\n  restart: {yaml_value}\n").services["web"].restart == expected


# --- ${VAR} and $$ ---------------------------------------------------------------------------------

VARIABLES = {"A": "alpha", "EMPTY": "", "IP": "10.42.0.48"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$$", "$"),
        ("cost $$5", "cost $5"),
        ("$${stack_name}/$${service_name}", "${stack_name}/${service_name}"),
        ("$$$$", "$$"),
        ("${A}", "alpha"),
        ("$A", "alpha"),
        ("$A.b", "alpha.b"),
        ("pre-${A}-post", "pre-alpha-post"),
        ("${A}${IP}", "alpha10.42.0.48"),
        ("$$A", "$A"),
        ("${MISSING:-fallback}", "fallback"),
        ("${MISSING-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${A:-fallback}", "alpha"),
        ("${MISSING:-}", ""),
        ("${MISSING:-a b=c}", "a b=c"),
    ],
)
def test_interpolation(text: str, expected: str) -> None:
    found: list[str] = []
    assert interpolate(text, VARIABLES, "here", found) == expected
    assert found == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${MISSING}", ["here: variable MISSING is not set"]),
        ("$MISSING and ${MISSING}", ["here: variable MISSING is not set"]),
        ("${X}${Y}", ["here: variable X is not set", "here: variable Y is not set"]),
        ("${A:?required}", ["here: invalid interpolation in '${A:?required}': write $$ for a literal $"]),
        ("$1", ["here: invalid interpolation in '$1': write $$ for a literal $"]),
        ("${}", ["here: invalid interpolation in '${}': write $$ for a literal $"]),
        ("costs 5$", ["here: invalid interpolation in 'costs 5$': write $$ for a literal $"]),
    ],
)
def test_interpolation_problems(text: str, expected: list[str]) -> None:
    found: list[str] = []
    interpolate(text, VARIABLES, "here", found)
    assert found == expected


def test_interpolation_reaches_every_value_but_no_key() -> None:
    docker = """\
    version: '2'
    services:
      web:
        image: nginx:${TAG}
        environment:
          GREETING: hello $$USER from ${WHO:-nobody}
        labels:
          io.rancher.scheduler.affinity:host_label: hostname=${HOST}
          io.rancher.container.requested_ip: ${IP}
          $${literal}: kept
    """
    rancher = "web:\n  scale: ${SCALE}\n  retain_ip: ${RETAIN}\n"
    variables = {"TAG": "1.25", "HOST": "cassandra1", "IP": "10.42.0.48", "SCALE": 1, "RETAIN": True}
    web = parse(docker, rancher, variables=variables).services["web"]
    assert (web.image, web.environment, web.labels) == (
        "nginx:1.25",
        {"GREETING": "hello $USER from nobody"},
        {"$${literal}": "kept"},
    )
    assert (web.host_label, web.requested_ip, web.scale, web.retain_ip) == (
        ["hostname=cassandra1"],
        "10.42.0.48",
        1,
        True,
    )


def test_every_unset_variable_is_named_with_where_it_is_used() -> None:
    docker = "web:\n  image: nginx:${TAG}\n  environment:\n  - A=${ONE}\n  ports:\n  - ${PORT}:80\n"
    assert problems(docker, "web:\n  scale: ${SCALE}\n") == [
        "docker-compose.yml: service 'web': image: variable TAG is not set",
        "docker-compose.yml: service 'web': environment[0]: variable ONE is not set",
        "docker-compose.yml: service 'web': ports[0]: variable PORT is not set",
        "rancher-compose.yml: service 'web': scale: variable SCALE is not set",
    ]


# --- labels ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "value", "field", "expected"),
    [
        ("io.rancher.sidekicks", "data", "sidekicks", ["data"]),
        ("io.rancher.sidekicks", "data, logs", "sidekicks", ["data", "logs"]),
        ("io.rancher.scheduler.affinity:host_label", "hostname=cassandra1", "host_label", ["hostname=cassandra1"]),
        ("io.rancher.scheduler.affinity:host_label", "a=1, b=2", "host_label", ["a=1", "b=2"]),
        ("io.rancher.scheduler.affinity:host_label_soft", "disk=ssd", "host_label_soft", ["disk=ssd"]),
        (
            "io.rancher.scheduler.affinity:host_label_ne",
            "hostname=cassandra3",
            "host_label_ne",
            ["hostname=cassandra3"],
        ),
        (
            "io.rancher.scheduler.affinity:host_label_soft_ne",
            "disk=hdd,zone=b",
            "host_label_soft_ne",
            ["disk=hdd", "zone=b"],
        ),
        (
            "io.rancher.scheduler.affinity:container_label_ne",
            "io.rancher.stack_service.name=$${stack_name}/$${service_name}",
            "container_label_ne",
            ["io.rancher.stack_service.name=${stack_name}/${service_name}"],
        ),
        ("io.rancher.scheduler.affinity:container_label_ne", "app=db", "container_label_ne", ["app=db"]),
        (
            "io.rancher.scheduler.affinity:container_label_soft_ne",
            "io.rancher.stack_service.name=$${stack_name}/web",
            "container_label_soft_ne",
            ["io.rancher.stack_service.name=${stack_name}/web"],
        ),
        ("io.rancher.scheduler.global", "'true'", "scheduler_global", True),
        ("io.rancher.scheduler.global", "false", "scheduler_global", False),
        ("io.rancher.container.requested_ip", "10.42.0.48", "requested_ip", "10.42.0.48"),
        ("io.rancher.container.start_once", "'true'", "start_once", True),
        ("io.rancher.container.start_once", "true", "start_once", True),
        ("io.rancher.container.start_once", "'False'", "start_once", False),
        ("io.rancher.container.pull_image", "always", "pull_image", "always"),
        ("io.rancher.container.hostname_override", "container_name", "hostname_override", "container_name"),
        ("app", "web", "labels", {"app": "web"}),
    ],
)
def test_labels_are_decoded(label: str, value: str, field: str, expected: Any) -> None:
    docker = f"web:\n  image: x\n  labels:\n    {label}: {value}\n"
    for name in ("data", "logs"):
        docker += f"{name}:\n  image: busybox\n"
    web = parse(docker).services["web"]
    assert getattr(web, field) == expected
    if field != "labels":
        assert web.labels == {}


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("scale", "3", "scale", 3),
        ("scale", "'3'", "scale", 3),
        ("retain_ip", "true", "retain_ip", True),
        ("start_on_create", "false", "start_on_create", False),
        ("health_check", "{port: 9042}", "health_check", HealthCheck(port=9042)),
        (
            "health_check",
            "{port: 80, interval: 2000, response_timeout: 1000, healthy_threshold: 2, unhealthy_threshold: 3, "
            "initializing_timeout: 60000, reinitializing_timeout: 60000, strategy: recreateOnQuorum, "
            "recreate_on_quorum_strategy_config: {quorum: 2}, request_line: GET /ping HTTP/1.0}",
            "health_check",
            HealthCheck(80, 2000, 1000, 2, 3, 60000, 60000, "recreateOnQuorum", 2, "GET /ping HTTP/1.0"),
        ),
        ("upgrade_strategy", "{start_first: true}", "upgrade_strategy", UpgradeStrategy(start_first=True)),
        (
            "upgrade_strategy",
            "{start_first: false, batch_size: 2, interval_millis: 500}",
            "upgrade_strategy",
            UpgradeStrategy(False, 2, 500),
        ),
    ],
)
def test_rancher_compose_keys(key: str, value: str, field: str, expected: Any) -> None:
    assert getattr(parse("web:\n  image: x\n", f"web:\n  {key}: {value}\n").services["web"], field) == expected


def test_rancher_compose_defaults() -> None:
    web = parse("web:\n  image: x\n").services["web"]
    assert (web.scale, web.retain_ip, web.start_on_create, web.health_check, web.upgrade_strategy) == (
        1,
        False,
        None,
        None,
        None,
    )


def test_a_sidekick_follows_its_primarys_scale() -> None:
    stack = parse(V1, "web:\n  scale: 3\n")
    assert stack.services["files"].scale == 3
    assert parse(V1, "web:\n  scale: 3\nfiles:\n  scale: 3\n") == stack


def test_a_global_sidekick_beside_a_global_primary() -> None:
    docker = V1.replace(
        "io.rancher.sidekicks: files", "io.rancher.sidekicks: files\n    io.rancher.scheduler.global: 'true'"
    )
    assert parse(docker + "  labels:\n    io.rancher.scheduler.global: 'true'\n").services["files"].scheduler_global


@pytest.mark.parametrize(
    ("image", "environment", "expected"),
    [
        ("cassandra:3.10", {}, True),
        ("cassandra", {}, True),
        ("library/cassandra:3.9", {}, True),
        ("172.30.42.1:5000/corral/cassandra:5.0.8", {}, True),
        ("registry:5000/cassandra@sha256:abcd", {}, True),
        ("cassandra-reaper:3.5", {}, False),
        ("busybox", {}, False),
        ("example/db:1", {"CASSANDRA_SEEDS": "10.42.0.48"}, True),
        ("example/db:1", {"CASSANDRA_CLUSTER_NAME": "x"}, True),
        ("example/app:1", {"CASSANDRA_HOST": "cdb1"}, False),
    ],
)
def test_cassandra_services_are_recognised(image: str, environment: dict[str, str], expected: bool) -> None:
    env = "".join(f"\n    {key}: {value}" for key, value in environment.items())
    docker = f"svc:\n  image: {image}\n" + (f"  environment:{env}\n" if env else "")
    assert parse(docker).services["svc"].is_cassandra is expected


# --- the fixtures ----------------------------------------------------------------------------------


def test_classic_cassandra_stack() -> None:
    stack = parse_stack("CassandraDB", *fixture("cassandra"), subnet="10.42.0.0/16", hosts=LAB_HOSTS)
    assert list(stack.services) == ["cdb1", "cdb2", "cdb3", "data1", "data2", "data3"]
    assert [[s.name for s in unit] for unit in stack.units()] == [
        ["cdb1", "data1"],
        ["cdb2", "data2"],
        ["cdb3", "data3"],
    ]
    for n in (1, 2, 3):
        cdb, data = stack.services[f"cdb{n}"], stack.services[f"data{n}"]
        assert cdb.is_cassandra and not data.is_cassandra
        assert (cdb.image, cdb.ports, cdb.volumes_from, cdb.sidekicks) == (
            "cassandra:3.10",
            ["9042:9042/tcp"],
            [f"data{n}"],
            [f"data{n}"],
        )
        assert cdb.environment == {"CASSANDRA_CLUSTER_NAME": "CassandraDB", "CASSANDRA_SEEDS": "10.42.0.48"}
        assert cdb.host_label == data.host_label == [f"hostname=cassandra{n}"]
        assert cdb.health_check == CASSANDRA_HEALTH_CHECK
        assert (data.image, data.volumes, data.start_once) == ("busybox", ["/cassandra/data:/var/lib/cassandra"], True)
        assert cdb.retain_ip and data.retain_ip and cdb.scale == data.scale == 1
    assert [stack.services[f"cdb{n}"].requested_ip for n in (1, 2, 3)] == ["10.42.0.48", None, None]


def test_web_stack_not_cassandra() -> None:
    stack = parse_stack("Web", *fixture("web"), subnet="10.42.0.0/16", hosts=LAB_HOSTS)
    web, data = stack.services["web"], stack.services["web-data"]
    assert not web.is_cassandra and not data.is_cassandra
    assert web.environment == {"NGINX_ENTRYPOINT_QUIET_LOGS": "1", "MOTD": "tickets from $5"}
    assert web.labels == {"app": "web"}
    assert (web.sidekicks, web.volumes_from, web.host_label_ne) == (["web-data"], ["web-data"], ["hostname=cassandra3"])
    assert web.container_label_ne == ["io.rancher.stack_service.name=${stack_name}/${service_name}"]
    assert (web.scale, data.scale, data.start_once) == (2, 2, True)
    assert web.health_check == HealthCheck(80, 2000, 2000, 2, 3, None, None, "recreate", None, "GET / HTTP/1.0")
    assert web.upgrade_strategy == UpgradeStrategy(start_first=False)
    assert data.command == ["sh", "-c", 'echo "served by $HOSTNAME" > /usr/share/nginx/html/index.html']


# --- what is refused -------------------------------------------------------------------------------

W = "docker-compose.yml: service 'web'"
R = "rancher-compose.yml: service 'web'"
WEB = "web:\n  image: nginx\n"
PAIR = "web:\n  image: nginx\n  labels:\n    io.rancher.sidekicks: data\n  volumes_from:\n  - data\n"
PAIR += "data:\n  image: busybox\n"


def labelled(**labels: str) -> str:
    return WEB + "  labels:\n" + "".join(f"    {key.replace('__', ':')}: {value}\n" for key, value in labels.items())


REFUSED: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    # the files
    (
        "not-yaml",
        "web:\n  image: nginx\n   bad: indent\n",
        "",
        {},
        ["docker-compose.yml: not valid YAML at line 3, column 7: mapping values are not allowed here"],
    ),
    (
        "not-yaml-both",
        "web: [nginx\n",
        "web:\n\tscale: 2\n",
        {},
        [
            "docker-compose.yml: not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'",
            "rancher-compose.yml: not valid YAML at line 2, column 1: "
            "found character '\\t' that cannot start any token",
        ],
    ),
    (
        "key-twice",
        "web:\n  image: a\n  image: b\n",
        "",
        {},
        ["docker-compose.yml: not valid YAML at line 3, column 3: key 'image' is given twice"],
    ),
    ("empty", "", "", {}, ["docker-compose.yml: not a compose file: the top level is empty"]),
    ("a-list", "- web\n", "", {}, ["docker-compose.yml: not a compose file: the top level is a list, not a mapping"]),
    (
        "plain-text",
        "hello\n",
        "",
        {},
        ["docker-compose.yml: not a compose file: the top level is a str, not a mapping"],
    ),
    (
        "version-3",
        "version: '3'\nservices:\n  web:\n    image: nginx\n",
        "",
        {},
        ["docker-compose.yml: compose version '3' is not supported: use '2', or no version for v1"],
    ),
    (
        "rancher-version-3",
        WEB,
        "version: '3.4'\nservices: {}\n",
        {},
        ["rancher-compose.yml: compose version '3.4' is not supported: use '2', or no version for v1"],
    ),
    ("no-services", "version: '2'\n", "", {}, ["docker-compose.yml: no services"]),
    (
        "services-not-mapping",
        "version: '2'\nservices: [web]\n",
        "",
        {},
        ["docker-compose.yml: services must be a mapping, not ['web']"],
    ),
    (
        "top-level-key",
        "version: '2'\nservices:\n  web:\n    image: nginx\nnetworks:\n  front: {}\n",
        "",
        {},
        ["docker-compose.yml: top-level key networks is not supported"],
    ),
    (
        "service-not-mapping",
        "web: nginx\n",
        "",
        {},
        ["docker-compose.yml: service 'web' must be a mapping, not 'nginx'"],
    ),
    (
        "service-name",
        "my web:\n  image: nginx\n",
        "",
        {},
        ["docker-compose.yml: service name 'my web' is not valid: use letters, digits, _ . -"],
    ),
    # ${VAR}
    ("unset", WEB + "  environment:\n    A: ${A}\n", "", {}, [f"{W}: environment.A: variable A is not set"]),
    (
        "bad-interpolation",
        WEB + "  command: echo $(date)\n",
        "",
        {},
        [f"{W}: command: invalid interpolation in 'echo $(date)': write $$ for a literal $"],
    ),
    # keys
    ("unknown-key", WEB + "  links:\n  - db\n", "", {}, [f"{W}: key links is not supported: {LINKS}"]),
    ("build", "web:\n  build: .\n", "", {}, [f"{W}: key build is not supported", f"{W}: image is missing"]),
    ("image-not-string", "web:\n  image: [nginx]\n", "", {}, [f"{W}: image ['nginx'] is not valid"]),
    ("rancher-unknown-key", WEB, "web:\n  lb_config: {}\n", {}, [f"{R}: key lb_config is not supported: {LB}"]),
    (
        "rancher-only-service",
        WEB,
        "db:\n  scale: 1\n",
        {},
        ["rancher-compose.yml: service 'db' is not in docker-compose.yml"],
    ),
    (
        "restart",
        WEB + "  restart: sometimes\n",
        "",
        {},
        [f"{W}: restart 'sometimes' is not no, always, unless-stopped or on-failure[:N]"],
    ),
    (
        "ports",
        WEB + "  ports:\n  - 70000:80\n  - http\n  - 0.0.0.0:80:80/sctp\n",
        "",
        {},
        [
            f"{W}: port '70000:80' is not [ip:][host_port:]container_port[/tcp|udp]",
            f"{W}: port 'http' is not [ip:][host_port:]container_port[/tcp|udp]",
            f"{W}: port '0.0.0.0:80:80/sctp' is not [ip:][host_port:]container_port[/tcp|udp]",
        ],
    ),
    ("ports-not-list", WEB + "  ports: 80\n", "", {}, [f"{W}: ports must be a list of strings, not 80"]),
    (
        "env-without-value",
        WEB + "  environment:\n  - HOME\n",
        "",
        {},
        [f"{W}: environment HOME has no value (the files must give it)"],
    ),
    (
        "env-null",
        WEB + "  environment:\n    HOME:\n",
        "",
        {},
        [f"{W}: environment HOME has no value (the files must give it)"],
    ),
    (
        "env-nested",
        WEB + "  environment:\n    A: {b: c}\n",
        "",
        {},
        [f"{W}: environment A must be a string, not {{'b': 'c'}}"],
    ),
    (
        "env-string",
        WEB + "  environment: A=1\n",
        "",
        {},
        [f"{W}: environment must be a mapping or a list of KEY=value, not 'A=1'"],
    ),
    ("volumes", WEB + "  volumes: /data\n", "", {}, [f"{W}: volumes must be a list of strings, not '/data'"]),
    ("tty", WEB + "  tty: 1\n", "", {}, [f"{W}: tty must be true or false, not 1"]),
    # io.rancher.* labels
    (
        "unknown-label",
        labelled(**{"io.rancher.container.dns": "true"}),
        "",
        {},
        [f"{W}: label io.rancher.container.dns is not supported"],
    ),
    (
        "container-affinity",
        labelled(**{"io.rancher.scheduler.affinity__container_label": "app=db"}),
        "",
        {},
        [f"{W}: label io.rancher.scheduler.affinity:container_label is not supported"],
    ),
    (
        "rule-not-pairs",
        labelled(**{"io.rancher.scheduler.affinity__host_label": "cassandra1"}),
        "",
        {},
        [f"{W}: io.rancher.scheduler.affinity:host_label has 'cassandra1', not key=value[,key=value]"],
    ),
    (
        "rule-empty-part",
        labelled(**{"io.rancher.scheduler.affinity__host_label_ne": "a=1,,b=2"}),
        "",
        {},
        [f"{W}: io.rancher.scheduler.affinity:host_label_ne has '', not key=value[,key=value]"],
    ),
    (
        "rule-key-no-host-label-can-have",
        labelled(**{"io.rancher.scheduler.affinity__host_label_soft": "'host name=a,zone=b'"}),
        "",
        {},
        [
            f"{W}: io.rancher.scheduler.affinity:host_label_soft='host name=a' has label key 'host name' "
            "with characters a label key cannot have"
        ],
    ),
    (
        "unknown-macro",
        labelled(
            **{"io.rancher.scheduler.affinity__container_label_ne": "io.rancher.stack_service.name=$${project}/x"}
        ),
        "",
        {},
        [
            f"{W}: io.rancher.scheduler.affinity:container_label_ne 'io.rancher.stack_service.name=${{project}}/x' "
            "has a macro other than $${stack_name} and $${service_name}"
        ],
    ),
    (
        "start-once",
        labelled(**{"io.rancher.container.start_once": "maybe"}),
        "",
        {},
        [f"{W}: io.rancher.container.start_once must be true or false, not 'maybe'"],
    ),
    (
        "global",
        labelled(**{"io.rancher.scheduler.global": "'yes'"}),
        "",
        {},
        [f"{W}: io.rancher.scheduler.global must be true or false, not 'yes'"],
    ),
    (
        "pull-image",
        labelled(**{"io.rancher.container.pull_image": "never"}),
        "",
        {},
        [f"{W}: io.rancher.container.pull_image 'never' is not 'always'"],
    ),
    (
        "hostname-override",
        labelled(**{"io.rancher.container.hostname_override": "web1"}),
        "",
        {},
        [f"{W}: io.rancher.container.hostname_override 'web1' is not 'container_name'"],
    ),
    # requested_ip
    (
        "ip-malformed",
        labelled(**{"io.rancher.container.requested_ip": "10.42.0"}),
        "",
        {},
        [f"{W}: io.rancher.container.requested_ip '10.42.0' is not an IPv4 address"],
    ),
    (
        "ip-outside",
        labelled(**{"io.rancher.container.requested_ip": "10.43.0.48"}),
        "",
        {"subnet": "10.42.0.0/16"},
        [f"{W}: io.rancher.container.requested_ip 10.43.0.48 is outside the subnet 10.42.0.0/16"],
    ),
    (
        "ip-gateway",
        labelled(**{"io.rancher.container.requested_ip": "10.42.0.1"}),
        "",
        {"subnet": "10.42.0.0/16"},
        [
            f"{W}: io.rancher.container.requested_ip 10.42.0.1 "
            "is the network, broadcast or gateway address of 10.42.0.0/16"
        ],
    ),
    (
        "ip-twice",
        PAIR.replace(
            "io.rancher.sidekicks: data",
            "io.rancher.sidekicks: data\n    io.rancher.container.requested_ip: 10.42.0.48",
        )
        + "  labels:\n    io.rancher.container.requested_ip: 10.42.0.48\n",
        "",
        {"subnet": "10.42.0.0/16"},
        ["docker-compose.yml: services 'web' and 'data' both request 10.42.0.48"],
    ),
    (
        "ip-scaled",
        labelled(**{"io.rancher.container.requested_ip": "10.42.0.48"}),
        "web:\n  scale: 2\n",
        {},
        [f"{W}: io.rancher.container.requested_ip is one address: it needs scale 1 and no io.rancher.scheduler.global"],
    ),
    (
        "ip-global",
        labelled(**{"io.rancher.container.requested_ip": "10.42.0.48", "io.rancher.scheduler.global": "'true'"}),
        "",
        {},
        [f"{W}: io.rancher.container.requested_ip is one address: it needs scale 1 and no io.rancher.scheduler.global"],
    ),
    # sidekicks and volumes_from
    (
        "sidekick-unknown",
        labelled(**{"io.rancher.sidekicks": "data"}),
        "",
        {},
        [f"{W}: io.rancher.sidekicks names 'data', which is not a service of this stack"],
    ),
    (
        "sidekick-self",
        labelled(**{"io.rancher.sidekicks": "web"}),
        "",
        {},
        [f"{W}: io.rancher.sidekicks names the service itself"],
    ),
    (
        "sidekick-twice",
        PAIR + "api:\n  image: x\n  labels:\n    io.rancher.sidekicks: data\n",
        "",
        {},
        ["docker-compose.yml: service 'data' is a sidekick of both 'web' and 'api'"],
    ),
    (
        "sidekick-nested",
        PAIR + "  labels:\n    io.rancher.sidekicks: logs\nlogs:\n  image: x\n",
        "",
        {},
        ["docker-compose.yml: service 'data': a sidekick of 'web' cannot have sidekicks of its own"],
    ),
    (
        "sidekick-global",
        PAIR + "  labels:\n    io.rancher.scheduler.global: 'true'\n",
        "",
        {},
        [
            "docker-compose.yml: service 'data': "
            "io.rancher.scheduler.global is set on this sidekick but not on its primary 'web'"
        ],
    ),
    (
        "volumes-from-unknown",
        WEB + "  volumes_from:\n  - data\n  - container:abc\n  - web:rx\n",
        "",
        {},
        [
            f"{W}: volumes_from names 'data', which is not a service of this stack",
            f"{W}: volumes_from names 'container:abc', which is not a service of this stack",
            f"{W}: volumes_from names 'web:rx', which is not a service of this stack",
        ],
    ),
    (
        "volumes-from-other-unit",
        WEB + "  volumes_from:\n  - data:ro\ndata:\n  image: busybox\n",
        "",
        {},
        [
            f"{W}: volumes_from names 'data', which is not its primary or a sidekick of it: "
            "volumes are shared only between containers on one host"
        ],
    ),
    # scale
    ("scale-0", WEB, "web:\n  scale: 0\n", {}, [f"{R}: scale 0 is not a whole number of at least 1"]),
    ("scale-word", WEB, "web:\n  scale: two\n", {}, [f"{R}: scale 'two' is not a whole number of at least 1"]),
    ("scale-negative", WEB, "web:\n  scale: -1\n", {}, [f"{R}: scale -1 is not a whole number of at least 1"]),
    ("scale-bool", WEB, "web:\n  scale: true\n", {}, [f"{R}: scale True is not a whole number of at least 1"]),
    (
        "scale-sidekick",
        PAIR,
        "web:\n  scale: 2\ndata:\n  scale: 1\n",
        {},
        [
            "rancher-compose.yml: service 'data': scale 1 differs from 'web''s 2: "
            "a sidekick runs beside each container of its primary"
        ],
    ),
    (
        "scale-global",
        labelled(**{"io.rancher.scheduler.global": "'true'"}),
        "web:\n  scale: 2\n",
        {},
        [f"{R}: scale does not go with io.rancher.scheduler.global, which runs one on each host"],
    ),
    # the rest of rancher-compose.yml
    ("retain-ip", WEB, "web:\n  retain_ip: maybe\n", {}, [f"{R}: retain_ip must be true or false, not 'maybe'"]),
    (
        "start-on-create",
        WEB,
        "web:\n  start_on_create: 1\n",
        {},
        [f"{R}: start_on_create must be true or false, not 1"],
    ),
    (
        "health-check-list",
        WEB,
        "web:\n  health_check: [9042]\n",
        {},
        [f"{R}: health_check must be a mapping, not [9042]"],
    ),
    ("health-check-port", WEB, "web:\n  health_check: {interval: 2000}\n", {}, [f"{R}: health_check: port is missing"]),
    (
        "health-check-port-0",
        WEB,
        "web:\n  health_check: {port: 0}\n",
        {},
        [f"{R}: health_check: port 0 is not a port number"],
    ),
    (
        "health-check-key",
        WEB,
        "web:\n  health_check: {port: 80, timeout: 3}\n",
        {},
        [f"{R}: health_check: key timeout is not supported"],
    ),
    (
        "health-check-number",
        WEB,
        "web:\n  health_check: {port: 80, interval: 2s}\n",
        {},
        [f"{R}: health_check: interval '2s' is not a whole number of at least 0"],
    ),
    (
        "health-check-strategy",
        WEB,
        "web:\n  health_check: {port: 80, strategy: restart}\n",
        {},
        [f"{R}: health_check: strategy 'restart' is not one of none, recreate, recreateOnQuorum"],
    ),
    (
        "health-check-quorum",
        WEB,
        "web:\n  health_check: {port: 80, strategy: recreateOnQuorum}\n",
        {},
        [f"{R}: health_check: strategy recreateOnQuorum and recreate_on_quorum_strategy_config go together"],
    ),
    (
        "health-check-quorum-config",
        WEB,
        "web:\n  health_check: {port: 80, strategy: recreateOnQuorum, recreate_on_quorum_strategy_config: {q: 1}}\n",
        {},
        [
            f"{R}: health_check: recreate_on_quorum_strategy_config must be a mapping with quorum only",
            f"{R}: health_check: strategy recreateOnQuorum and recreate_on_quorum_strategy_config go together",
        ],
    ),
    (
        "health-check-request-line",
        WEB,
        "web:\n  health_check: {port: 80, request_line: [GET]}\n",
        {},
        [f"{R}: health_check: request_line must be a string, not ['GET']"],
    ),
    (
        "upgrade-strategy",
        WEB,
        "web:\n  upgrade_strategy: {start_first: yes please, batch_size: 0, rollback: true}\n",
        {},
        [
            f"{R}: upgrade_strategy: key rollback is not supported",
            f"{R}: upgrade_strategy: start_first must be true or false, not 'yes please'",
            f"{R}: upgrade_strategy: batch_size 0 is not a whole number of at least 1",
        ],
    ),
    # what Rancher itself refused: start_first starts the new container while the old one still runs
    (
        "start-first-with-retain-ip",
        WEB,
        "web:\n  retain_ip: true\n  upgrade_strategy: {start_first: true}\n",
        {},
        [f"{R}: upgrade_strategy start_first true does not go with retain_ip true: two containers cannot hold one address"],
    ),
    (
        "start-first-with-requested-ip",
        labelled(**{"io.rancher.container.requested_ip": "10.42.0.61"}),
        "web:\n  upgrade_strategy: {start_first: true}\n",
        {},
        [
            f"{R}: upgrade_strategy start_first true does not go with io.rancher.container.requested_ip 10.42.0.61: "
            "two containers cannot hold one address"
        ],
    ),
    (
        "upgrade-strategy-list",
        WEB,
        "web:\n  upgrade_strategy: []\n",
        {},
        [f"{R}: upgrade_strategy must be a mapping, not []"],
    ),
    # hosts
    (
        "host-label-no-host",
        labelled(**{"io.rancher.scheduler.affinity__host_label": "hostname=cassandra9"}),
        "",
        {"hosts": LAB_HOSTS},
        [
            f"{W}: io.rancher.scheduler.affinity:host_label hostname=cassandra9 matches no host (hosts: "
            "lab-host1 (hostname=cassandra1), lab-host2 (hostname=cassandra2), lab-host3 (hostname=cassandra3))"
        ],
    ),
    (
        "host-label-ne-every-host",
        labelled(**{"io.rancher.scheduler.affinity__host_label_ne": "role=db"}),
        "",
        {"hosts": {"h1": {"role": "db"}}},
        [f"{W}: io.rancher.scheduler.affinity:host_label_ne role=db matches no host (hosts: h1 (role=db))"],
    ),
    (
        "host-rules-together",
        PAIR.replace(
            "io.rancher.sidekicks: data",
            "io.rancher.sidekicks: data\n    io.rancher.scheduler.affinity:host_label: hostname=cassandra1",
        )
        + "  labels:\n    io.rancher.scheduler.affinity:host_label: hostname=cassandra2\n",
        "",
        {"hosts": LAB_HOSTS},
        [
            f"{W}: no host meets all the hard host rules of it and its sidekicks together (hosts: "
            "lab-host1 (hostname=cassandra1), lab-host2 (hostname=cassandra2), lab-host3 (hostname=cassandra3))"
        ],
    ),
    (
        "no-hosts",
        labelled(**{"io.rancher.scheduler.affinity__host_label": "a=b"}),
        "",
        {"hosts": {}},
        [f"{W}: io.rancher.scheduler.affinity:host_label a=b matches no host (hosts: none)"],
    ),
]


@pytest.mark.parametrize(
    ("docker", "rancher", "options", "expected"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_with_its_exact_error(docker: str, rancher: str, options: dict[str, Any], expected: list[str]) -> None:
    assert problems(docker, rancher, **options) == expected


def test_every_problem_of_a_stage_at_once() -> None:
    docker = """\
    web:
      image: nginx
      links: [db]
      labels:
        io.rancher.container.dns: 'true'
        io.rancher.sidekicks: ghost
        io.rancher.container.requested_ip: 10.43.0.2
    """
    assert problems(docker, "web:\n  scale: 0\n", subnet="10.42.0.0/16") == [
        f"{W}: key links is not supported: {LINKS}",
        f"{W}: label io.rancher.container.dns is not supported",
        f"{R}: scale 0 is not a whole number of at least 1",
        f"{W}: io.rancher.sidekicks names 'ghost', which is not a service of this stack",
        f"{W}: io.rancher.container.requested_ip 10.43.0.2 is outside the subnet 10.42.0.0/16",
    ]


@pytest.mark.parametrize(
    ("docker", "expected"),
    [
        # Not YAML: no word on ${VAR} or content yet.
        ("web:\n  image: ${TAG}\n  links: [a]\n   x: y\n", "not valid YAML"),
        # An unset ${VAR}: no echo of the blank it leaves (requested_ip '' is not an IPv4 address).
        ("web:\n  image: x\n  labels:\n    io.rancher.container.requested_ip: ${IP}\n", "variable IP is not set"),
    ],
)
def test_a_stage_with_problems_stops_the_next(docker: str, expected: str) -> None:
    found = problems(docker)
    assert len(found) == 1
    assert expected in found[0]


def test_host_rules_are_checked_only_when_hosts_are_given() -> None:
    docker = labelled(**{"io.rancher.scheduler.affinity__host_label": "hostname=cassandra9"})
    assert parse(docker).services["web"].host_label == ["hostname=cassandra9"]


# --- accepted to ignore ----------------------------------------------------------------------------


def test_what_the_caller_accepts_to_ignore_is_dropped_and_listed() -> None:
    docker = """\
    version: '2'
    services:
      web:
        image: nginx
        links: [db]
        labels:
          app: web
          io.rancher.container.dns: 'true'
    networks:
      front: {}
    """
    ignore = ["links", "io.rancher.container.dns", "networks", "lb_config"]
    stack = parse(docker, "web:\n  lb_config: {}\n  scale: 2\n", ignore=ignore)
    assert stack.services["web"].labels == {"app": "web"}
    assert stack.services["web"].scale == 2
    assert stack.ignored == [
        "docker-compose.yml: top-level key networks",
        f"{W}: key links",
        f"{W}: label io.rancher.container.dns",
        f"{R}: key lb_config",
    ]
    assert stack == parse(render_stack(stack)["docker-compose.yml"], render_stack(stack)["rancher-compose.yml"])


def test_ignoring_does_not_silence_a_wrong_value() -> None:
    docker = labelled(**{"io.rancher.container.requested_ip": "nowhere"})
    assert problems(docker, ignore=["io.rancher.container.requested_ip"]) == [
        f"{W}: io.rancher.container.requested_ip 'nowhere' is not an IPv4 address"
    ]


# --- writing ---------------------------------------------------------------------------------------


def full_stack(name: str = "Stack") -> RancherStack:
    """Every field the files can carry."""
    web = Service(
        name="web",
        image="registry:5000/web:1.0",
        environment={"B": "2", "A": "cost $5", "C": ""},
        command=["sh", "-c", "echo $HOME"],
        entrypoint="/entry.sh",
        volumes=["/srv/web:/data:ro"],
        volumes_from=["files"],
        ports=["8080:80/tcp", "127.0.0.1:9090:90"],
        restart="unless-stopped",
        tty=True,
        stdin_open=True,
        labels={"app": "web", "tier": "front"},
        sidekicks=["files"],
        host_label=["zone=a", "disk=ssd"],
        host_label_ne=["hostname=cassandra3"],
        host_label_soft=["cpu=fast"],
        host_label_soft_ne=["maintenance=true"],
        container_label_ne=["io.rancher.stack_service.name=${stack_name}/${service_name}"],
        container_label_soft_ne=["app=db"],
        pull_image="always",
        hostname_override="container_name",
        scale=2,
        retain_ip=True,
        start_on_create=True,
        health_check=HealthCheck(80, 2000, 2000, 2, 3, 60000, 60000, "recreateOnQuorum", 1, "GET / HTTP/1.0"),
        upgrade_strategy=UpgradeStrategy(start_first=False, batch_size=1, interval_millis=2000),
    )
    files = Service(name="files", image="busybox", volumes=["/srv/files:/files"], start_once=True, scale=2)
    agent = Service(name="agent", image="agent:2", scheduler_global=True, start_on_create=False)
    seed = Service(name="seed", image="cassandra:3.10", requested_ip="10.42.0.48", retain_ip=True)
    return RancherStack(name=name, services={"web": web, "files": files, "agent": agent, "seed": seed})


@pytest.mark.parametrize("stack", ["cassandra", "web"])
def test_fixtures_round_trip(stack: str) -> None:
    parsed = parse_stack("S", *fixture(stack))
    files = render_stack(parsed)
    assert parse_stack("S", files["docker-compose.yml"], files["rancher-compose.yml"]) == parsed
    assert render_stack(parse_stack("S", files["docker-compose.yml"], files["rancher-compose.yml"])) == files


def test_every_field_round_trips() -> None:
    stack = full_stack()
    files = render_stack(stack)
    assert parse_stack("Stack", files["docker-compose.yml"], files["rancher-compose.yml"]) == stack


def test_render_writes_rancher_1x_version_2() -> None:
    """The expected files hold every field full_stack() sets, in the order an export writes them."""
    assert render_stack(full_stack()) == {
        "docker-compose.yml": (FIXTURES / "export" / "docker-compose.yml").read_text(),
        "rancher-compose.yml": (FIXTURES / "export" / "rancher-compose.yml").read_text(),
    }


def test_two_exports_of_one_stack_are_byte_identical() -> None:
    first = full_stack("CassandraDB")
    second = full_stack("CassandraDB2")
    # Read back from running containers, services and variables come in any order.
    second.services = dict(reversed(second.services.items()))
    second.services["web"].environment = dict(reversed(second.services["web"].environment.items()))
    second.services["web"].labels = dict(reversed(second.services["web"].labels.items()))
    assert render_stack(first) == render_stack(second)


def test_export_defaults_retain_ips_and_health_check_cassandra() -> None:
    stack = with_export_defaults(parse_stack("S", fixture("web")[0]))
    assert all(service.retain_ip for service in stack.services.values())
    assert all(service.health_check is None for service in stack.services.values())
    seed = with_export_defaults(full_stack()).services["seed"]
    assert seed.health_check == CASSANDRA_HEALTH_CHECK
    assert seed.health_check is not CASSANDRA_HEALTH_CHECK
    rancher = render_stack(with_export_defaults(full_stack()))["rancher-compose.yml"]
    assert "  seed:\n    scale: 1\n    retain_ip: true\n    health_check:\n      port: 9042\n" in rancher


def test_export_defaults_keep_a_health_check_that_is_there() -> None:
    stack = parse_stack("S", *fixture("web"))
    stack.services["web"].image = "cassandra:3.10"
    stack.services["web"].__post_init__()
    assert with_export_defaults(stack).services["web"].health_check == stack.services["web"].health_check


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s.services["web"].labels.update({"io.rancher.sidekicks": "files"}),
            ["service 'web': label io.rancher.sidekicks comes from its field; remove it from labels"],
        ),
        (
            lambda s: s.services["web"].sidekicks.append("ghost"),
            [
                "stack 'Stack': the export would not import: docker-compose.yml: service 'web': "
                "io.rancher.sidekicks names 'ghost', which is not a service of this stack"
            ],
        ),
        (
            lambda s: setattr(s.services["files"], "scale", 1),
            [
                "stack 'Stack': the export would not import: rancher-compose.yml: service 'files': "
                "scale 1 differs from 'web''s 2: a sidekick runs beside each container of its primary"
            ],
        ),
    ],
)
def test_render_refuses_what_would_not_import(change: Any, expected: list[str]) -> None:
    stack = copy.deepcopy(full_stack())
    change(stack)
    with pytest.raises(RancherComposeError) as info:
        render_stack(stack)
    assert info.value.problems == expected
