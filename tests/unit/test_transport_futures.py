"""Transport.submit_*: checks before sending, only MessagingExceptions from futures, cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import pytest

from messaging.driver import Driver, Listener, Reply
from messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    SerializationError,
)
from messaging.target import Target
from messaging.transport import Transport
from messaging.url import TransportURL


class Leaky(Driver):
    """Returns futures the test completes by hand, e.g. with a client library's error."""

    def __init__(self) -> None:
        super().__init__(None, TransportURL.parse("leaky://"))
        self.futures: list[Future[Any]] = []

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        f: Future[Reply] = Future()
        self.futures.append(f)
        return f

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        raise OSError("connection reset by peer")

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        f: Future[None] = Future()
        f.set_result(None)
        return f

    def listen(self, target: Target) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        raise NotImplementedError


@pytest.fixture
def leaky() -> tuple[Transport, Leaky]:
    driver = Leaky()
    return Transport(driver), driver


def test_client_library_error_in_a_future_becomes_delivery_failure(leaky):
    transport, driver = leaky
    future = transport.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5)
    driver.futures[0].set_exception(ConnectionResetError("socket closed"))
    with pytest.raises(MessageDeliveryFailure, match="socket closed"):
        future.result(1)


def test_client_library_error_at_submit_becomes_delivery_failure(leaky):
    transport, _ = leaky
    with pytest.raises(MessageDeliveryFailure, match="connection reset"):
        transport.submit_cast(Target(topic="t"), {}, {"method": "m"})


def test_results_pass_through(leaky):
    transport, driver = leaky
    future = transport.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5)
    driver.futures[0].set_result(Reply(result=3))
    assert future.result(1) == Reply(result=3)


def test_cancelling_the_transport_future_cancels_the_driver_future(leaky):
    transport, driver = leaky
    future = transport.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5)
    assert future.cancel()
    assert driver.futures[0].cancelled()


def test_bad_target_and_unserializable_message_raise_before_the_driver(leaky):
    transport, driver = leaky
    with pytest.raises(InvalidTarget):
        transport.submit_call(Target(), {}, {"method": "m"}, timeout=5)
    with pytest.raises(SerializationError):
        transport.submit_call(Target(topic="t"), {}, {"method": "m", "args": {"x": object()}},
                              timeout=5)
    with pytest.raises(SerializationError):
        transport.submit_notify(Target(topic="t.info"), {"token": object()}, {})
    assert driver.futures == []
