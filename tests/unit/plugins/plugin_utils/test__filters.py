"""What the filter plugins share: plain data, library errors as refusals returned as data."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import Refusal, is_refusal, plain, refused, refusing


class _Text(str):
    """Like Ansible's tagged strings: a str subclass."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({1: (_Text("a"), True, None, 2.5)}, {"1": ["a", True, None, 2.5]}),
        ([{"k": [_Text("v")]}], [{"k": ["v"]}]),
        (3, 3),
    ],
)
def test_plain(value: Any, expected: Any) -> None:
    assert plain(value) == expected


def test_plain_strings_lose_their_subclass() -> None:
    assert plain(_Text("x")).__class__ is str
    assert plain({"k": (_Text("v"),)})["k"][0].__class__ is str


@pytest.mark.parametrize(
    ("what", "message"),
    [("the stack cannot be exported", "the stack cannot be exported:\nbad value"), ("", "bad value")],
)
def test_refused_turns_only_the_named_errors_into_refusals(what: str, message: str) -> None:
    with pytest.raises(Refusal) as info, refused(what, ValueError):
        raise ValueError("bad value")
    assert str(info.value) == message
    with pytest.raises(KeyError), refused(what, ValueError):
        raise KeyError("other")


@refusing
def _double(value: int, check: Any = None) -> int:
    with refused("cannot double", ValueError):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value * 2


def test_refusing_returns_the_refusal_as_data() -> None:
    assert _double(2) == 4
    assert _double(-1) == {"error": "cannot double:\n-1 is negative"}


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(({"error": "first"},), {}), ((1, {"error": "first"}), {}), ((1,), {"check": {"error": "first"}})],
)
def test_refusing_hands_a_refusal_it_is_given_on(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    assert _double(*args, **kwargs) == {"error": "first"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [({"error": "x"}, True), ({"error": "x", "name": "y"}, False), ([], False), ("error", False), ({}, False)],
)
def test_is_refusal(value: Any, expected: bool) -> None:
    assert is_refusal(value) is expected


def test_refusing_lets_other_errors_through() -> None:
    @refusing
    def broken() -> None:
        raise KeyError("a bug, not a refusal")

    with pytest.raises(KeyError):
        broken()
