"""What the filter plugins share: plain data, library errors as filter errors."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import plain, refused


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
def test_refused_wraps_only_the_named_errors(what: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as info, refused(what, ValueError):
        raise ValueError("bad value")
    assert info.value.message == message
    with pytest.raises(KeyError), refused(what, ValueError):
        raise KeyError("other")
