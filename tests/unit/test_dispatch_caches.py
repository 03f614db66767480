"""The dispatcher's remembered answers (coroutine-ness per method, version checks) stay right."""

from __future__ import annotations

import functools

import pytest

from messaging.exceptions import MessagingException
from messaging.steps import is_async_callable
from messaging.versions import version_is_compatible


class Endpoint:
    def plain(self) -> int:
        return 1

    async def coro(self) -> int:
        return 2


class AsyncCallable:
    async def __call__(self) -> None:
        return None


def test_bound_methods_answer_like_their_functions_every_time() -> None:
    a, b = Endpoint(), Endpoint()
    for _ in range(3):  # a fresh bound method object at every access
        assert not is_async_callable(a.plain) and not is_async_callable(b.plain)
        assert is_async_callable(a.coro) and is_async_callable(b.coro)
        assert is_async_callable(Endpoint.coro) and not is_async_callable(Endpoint.plain)


def test_other_callables_are_still_looked_at() -> None:
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(functools.partial(Endpoint().plain))
    assert not is_async_callable(len)


def test_version_answers_are_remembered_and_invalid_versions_still_raise() -> None:
    for _ in range(2):
        assert version_is_compatible("1.2", "1.1")
        assert not version_is_compatible("1.2", "1.3")
        assert not version_is_compatible("2.0", "1.0")
        assert version_is_compatible(None, "1.0")
        assert not version_is_compatible("1.0", None)
        with pytest.raises(MessagingException):
            version_is_compatible("1.0", "one")
