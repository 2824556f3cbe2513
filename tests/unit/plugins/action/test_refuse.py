"""The refuse action: the headline is the message, each problem comes once, in `problems`."""

from __future__ import annotations

import pytest
from ansible_collections.corral.cassandra.plugins.plugin_utils._filters import split_refusal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "the Rancher stack 'X' cannot be imported; nothing was changed:\nservice 'a': one\nservice 'b': two\n",
            ("the Rancher stack 'X' cannot be imported; nothing was changed", ["service 'a': one", "service 'b': two"]),
        ),
        ("The overlay is missing: run site.yml", ("The overlay is missing: run site.yml", [])),
        ("head:\n\nonly: one\n", ("head", ["only: one"])),
    ],
)
def test_split_refusal(text: str, expected: tuple[str, list[str]]) -> None:
    assert split_refusal(text) == expected
