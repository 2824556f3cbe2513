"""The rancher_compose_* filter wrappers: names, plain data out, refusals as {"error": the library's text}."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.corral.cassandra.plugins.filter.rancher_compose import FilterModule

FILTERS = FilterModule().filters()
FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "rancher"
LAB_HOSTS = {f"lab-host{n}": {"hostname": f"cassandra{n}"} for n in (1, 2, 3)}


def files(name: str) -> tuple[str, str]:
    return (FIXTURES / name / "docker-compose.yml").read_text(), (FIXTURES / name / "rancher-compose.yml").read_text()


def test_filter_names_are_prefixed() -> None:
    assert set(FILTERS) == {"rancher_compose_parse", "rancher_compose_place", "rancher_compose_render"}


def test_parse_gives_plain_data() -> None:
    docker, rancher = files("cassandra")
    stack = FILTERS["rancher_compose_parse"](
        docker, rancher, name="CassandraDB", subnet="10.42.0.0/16", hosts=LAB_HOSTS, variables={}, ignore=[]
    )
    assert stack["name"] == "CassandraDB"
    assert stack["services"]["cdb1"]["is_cassandra"] is True
    assert stack["services"]["cdb1"]["requested_ip"] == "10.42.0.48"
    assert stack["services"]["data1"]["start_once"] is True


def test_parse_refusal_has_every_problem() -> None:
    refused = FILTERS["rancher_compose_parse"]("web:\n  image: ${TAG}\n  command: ${CMD}\n", name="Web")
    assert refused["error"] == (
        "the Rancher stack 'Web' cannot be imported; nothing was changed:\n"
        "docker-compose.yml: service 'web': image: variable TAG is not set\n"
        "docker-compose.yml: service 'web': command: variable CMD is not set"
    )


def test_place_takes_the_parsed_stack() -> None:
    stack = FILTERS["rancher_compose_parse"](*files("web"), name="Web")
    assert FILTERS["rancher_compose_place"](stack, LAB_HOSTS) == {
        "web": ["lab-host1", "lab-host2"],
        "web-data": ["lab-host1", "lab-host2"],
    }
    refused = FILTERS["rancher_compose_place"](stack, {"lab-host3": {"hostname": "cassandra3"}})
    assert refused["error"].startswith("the Rancher stack cannot be placed; nothing was changed:\nservice 'web': ")


def test_render_reads_back_to_the_parsed_stack() -> None:
    stack = FILTERS["rancher_compose_parse"](*files("cassandra"), name="CassandraDB")
    written = FILTERS["rancher_compose_render"](stack)
    assert set(written) == {"docker-compose.yml", "rancher-compose.yml"}
    again = FILTERS["rancher_compose_parse"](
        written["docker-compose.yml"], written["rancher-compose.yml"], name="CassandraDB"
    )
    assert again == stack


@pytest.mark.parametrize(("export_defaults", "expected"), [(True, True), (False, False)])
def test_render_export_defaults(export_defaults: bool, expected: bool) -> None:
    stack = FILTERS["rancher_compose_parse"](*files("web"), name="Web")
    written = FILTERS["rancher_compose_render"](stack, export_defaults=export_defaults)
    assert ("web-data:\n    scale: 2\n    retain_ip: true\n" in written["rancher-compose.yml"]) is expected


def test_render_refusal() -> None:
    stack = FILTERS["rancher_compose_parse"](*files("web"), name="Web")
    stack["services"]["web"]["links"] = ["db"]
    assert FILTERS["rancher_compose_render"](stack) == {
        "error": "the Rancher stack cannot be exported:\nservice 'web': unknown fields links"
    }


def test_place_and_render_hand_a_parse_refusal_on() -> None:
    refused = FILTERS["rancher_compose_parse"]("web: [", name="Web")
    assert list(refused) == ["error"]
    assert FILTERS["rancher_compose_place"](refused, LAB_HOSTS) == refused
    assert FILTERS["rancher_compose_render"](refused) == refused
