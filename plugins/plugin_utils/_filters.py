# Private to corral.cassandra: may change at any time; do not import it from other collections.
"""What the collection's filter plugins share: plain data in and out, refusals as data.

A filter that refuses its input returns {"error": message} instead of raising. An exception raised in a filter
reaches the user inside Ansible's templating wrapper ("Finalization of task args for 'ansible.builtin.set_fact'
failed: Error while resolving value for ..."); a refusal returned as data is shown by the task after it, an
ansible.builtin.fail whose msg is the refusal, as the message alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeGuard, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

REFUSAL_KEY = "error"


class Refusal(Exception):
    """Raised inside a filter by refused(); returned to the task by @refusing as {"error": message}."""


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


def is_refusal(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """A refusal is a mapping with the one key "error"; no result of a filter has that shape."""
    return isinstance(value, Mapping) and list(value) == [REFUSAL_KEY]


def refusal(message: str) -> dict[str, str]:
    return {REFUSAL_KEY: str(message)}


def refusing(function: Callable[P, R]) -> Callable[P, R | dict[str, str]]:
    """A filter that can refuse: a Refusal becomes its result, and a refusal among its arguments is handed on as is.

    Handing refusals on lets one filter's result feed the next in the same expression; the task after the
    expression shows the first refusal.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | dict[str, str]:
        for value in (*args, *kwargs.values()):
            if is_refusal(value):
                return refusal(value[REFUSAL_KEY])
        try:
            return function(*args, **kwargs)
        except Refusal as exc:
            return refusal(str(exc))

    return wrapper


@contextmanager
def refused(what: str, *errors: type[Exception]) -> Iterator[None]:
    """Raise any of `errors` as a Refusal: 'what:' and its text on the next line (its text alone without `what`)."""
    try:
        yield
    except errors as exc:
        raise Refusal(f"{what}:\n{exc}" if what else str(exc)) from None


def split_refusal(text: str) -> tuple[str, list[str]]:
    """'headline:\\none\\ntwo' -> ('headline', ['one', 'two']); a text of one line is all headline."""
    headline, sep, rest = str(text).partition(":\n")
    if not sep:
        return headline.strip(), []
    return headline.strip(), [line for line in rest.splitlines() if line.strip()]
