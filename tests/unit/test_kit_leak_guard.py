"""The kit notices a driver exception the Transport had to convert (``helpers.no_driver_leaks``).

The Transport turns a client-library exception escaping a driver's send into
``MessageDeliveryFailure``, so an application is safe, but the kit wraps
every test in ``no_driver_leaks`` so that such a driver fails the kit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from messaging.driver import Driver, Listener
from messaging.exceptions import MessageDeliveryFailure
from messaging.target import Target
from messaging.testing.helpers import no_driver_leaks
from messaging.transport import Transport
from messaging.url import TransportURL


class ClientError(Exception):
    """Stands for a client library's own exception (kombu's OperationalError, ...)."""


class Leaky(Driver):
    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        if message["method"] == "leak":
            raise ClientError("socket closed")
        raise MessageDeliveryFailure("documented")

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def notify(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def listen(self, target: Target) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        raise NotImplementedError


@pytest.fixture
def transport() -> Any:
    t = Transport(Leaky(None, TransportURL.parse("leaky://")))
    yield t
    t.cleanup()


def test_a_leaked_client_exception_fails_the_guard(transport):
    with pytest.raises(AssertionError, match="ClientError"):
        with no_driver_leaks():
            with pytest.raises(MessageDeliveryFailure):  # what the application sees
                transport.cast(Target(topic="t"), {}, {"method": "leak", "args": {}})


def test_a_documented_exception_passes_the_guard(transport):
    with no_driver_leaks():
        with pytest.raises(MessageDeliveryFailure):
            transport.cast(Target(topic="t"), {}, {"method": "fail", "args": {}})


def test_a_leak_through_a_future_fails_the_guard(transport):
    with pytest.raises(AssertionError, match="ClientError"):
        with no_driver_leaks():
            future = transport.submit_cast(Target(topic="t"), {}, {"method": "leak", "args": {}})
            with pytest.raises(MessageDeliveryFailure):
                future.result(timeout=10)
