"""Kit: with the bus unreachable every verb ends in bounded time, with the documented error.

The sends are checked through the transport and through the async API
(``await client.call/cast``, ``AsyncNotifier``), as an application sees them.

Runs for drivers that declare ``capabilities.brokered`` and offer
``testing.unreachable_url()`` (a URL of the same driver whose bus cannot be
reached, with short send bounds).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import messaging
from messaging.target import Target

SLACK = 10.0  # on top of a verb's own bound


def _timed(fn) -> float:
    began = time.monotonic()
    fn()
    return time.monotonic() - began


def test_call_times_out_within_its_timeout(unreachable, topic):
    def call() -> None:
        with pytest.raises(messaging.MessagingTimeout):
            unreachable.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=1.5)
    assert _timed(call) < 1.5 + SLACK


@pytest.mark.parametrize("retry", [None, 0, 2])
def test_cast_fails_with_delivery_failure(unreachable, topic, retry):
    def cast() -> None:
        with pytest.raises(messaging.MessageDeliveryFailure):
            unreachable.cast(Target(topic=topic), {}, {"method": "m", "args": {}}, retry=retry)
    assert _timed(cast) < 30 + SLACK


def test_notify_fails_with_delivery_failure(unreachable, topic):
    def notify() -> None:
        with pytest.raises(messaging.MessageDeliveryFailure):
            unreachable.notify(Target(topic=f"{topic}.info"), {}, {
                "message_id": "m", "publisher_id": "kit", "event_type": "e",
                "priority": "INFO", "payload": {}, "timestamp": "2026-01-01 00:00:00"})
    assert _timed(notify) < 30 + SLACK


def test_server_start_returns_and_reports_not_consuming(unreachable, topic):
    class Echo:
        def echo(self, ctxt, value):
            return value

    server = messaging.get_rpc_server(unreachable, Target(topic=topic, server="s1"), [Echo()])
    began = time.monotonic()
    server.start()
    try:
        assert time.monotonic() - began < SLACK, "start() blocked while the bus is down"
        assert server.running and not server.consuming
    finally:
        server.stop()
        server.wait(timeout=SLACK)


def test_listeners_return_promptly_and_clean_up(unreachable, topic):
    for listen in (lambda: unreachable.listen(Target(topic=topic, server="s1")),
                   lambda: unreachable.listen_for_notifications([(Target(topic=topic), "info")])):
        began = time.monotonic()
        listener = listen()
        try:
            assert time.monotonic() - began < SLACK
            assert not listener.consuming
            assert listener.poll(timeout=0.2) == []
        finally:
            listener.cleanup()


# -- the same through the async API: what an awaiting application sees --------------------

def test_awaited_call_times_out_within_its_timeout(unreachable, topic):
    client = messaging.get_async_rpc_client(unreachable, Target(topic=topic), timeout=1.5)

    def call() -> None:
        with pytest.raises(messaging.MessagingTimeout):
            asyncio.run(client.call({}, "m"))
    assert _timed(call) < 1.5 + SLACK


@pytest.mark.parametrize("retry", [None, 0])
def test_awaited_cast_fails_with_delivery_failure(unreachable, topic, retry):
    client = messaging.get_async_rpc_client(unreachable, Target(topic=topic), retry=retry)

    def cast() -> None:
        with pytest.raises(messaging.MessageDeliveryFailure):
            asyncio.run(client.cast({}, "m"))
    assert _timed(cast) < 30 + SLACK


def test_async_notifier_returns_without_raising(unreachable, topic, caplog):
    notifier = messaging.AsyncNotifier(unreachable, "kit.down", driver="messagingv2",
                                       topics=[topic])
    with caplog.at_level(logging.ERROR):
        assert _timed(lambda: asyncio.run(notifier.info({}, "kit.down", {}))) < 30 + SLACK
    dropped = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("kit.down" in m and "INFO" in m for m in dropped), \
        f"the dropped notification was not logged at ERROR with its event type and priority: " \
        f"{dropped}"
