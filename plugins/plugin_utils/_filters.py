# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""What the collection's filter plugins share: plain data in and out, library errors as filter errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible.errors import AnsibleFilterError


def plain(value: Any) -> Any:
    """Ansible's lazy containers and tagged strings -> plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


@contextmanager
def refused(what: str, *errors: type[Exception]) -> Iterator[None]:
    """Raise any of `errors` as an AnsibleFilterError: 'what:' and its text on the next line (its text alone without `what`)."""
    try:
        yield
    except errors as exc:
        raise AnsibleFilterError(f"{what}:\n{exc}" if what else str(exc)) from None
