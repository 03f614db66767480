"""Kit: ``Listener.cleanup`` gives back what was taken and not settled."""

from __future__ import annotations

import pytest

from messaging.target import Target

WAIT = 20.0


def _notify(transport, topic: str, event_type: str, payload: dict | None = None) -> None:
    transport.notify(Target(topic=f"{topic}.info"), {}, {
        "message_id": event_type, "publisher_id": "kit", "event_type": event_type,
        "priority": "INFO", "payload": payload or {}, "timestamp": "2026-01-01 00:00:00"})


def _pool(transport) -> str | None:
    """A listener pool where the driver has them (the point here is cleanup, not pools)."""
    return "kit-pool" if transport.capabilities.pools else None


def _poll_one(listener, what: str):
    messages = listener.poll(timeout=WAIT)
    assert len(messages) == 1, f"expected one {what} within {WAIT}s, got {messages!r}"
    return messages[0]


def test_unsettled_request_goes_to_the_next_server(transport, topic):
    if not transport.capabilities.requeue:
        pytest.skip("driver declares it cannot give messages back (requeue)")
    first = transport.listen(Target(topic=topic, server="first"))
    second = None
    try:
        transport.cast(Target(topic=topic), {}, {"method": "work", "args": {"n": 1}})
        taken = _poll_one(first, "request")
        assert taken.message["args"] == {"n": 1}
        second = transport.listen(Target(topic=topic, server="second"))
        first.cleanup()  # taken, never acknowledged: back to the topic queue
        again = _poll_one(second, "given-back request")
        assert again.message["args"] == {"n": 1}
        again.acknowledge()
    finally:
        first.cleanup()
        if second is not None:
            second.cleanup()


def test_unsettled_notification_goes_to_the_next_listener(transport, topic):
    if not transport.capabilities.requeue:
        pytest.skip("driver declares it cannot give messages back (requeue)")
    targets = [(Target(topic=topic), "info")]
    first = transport.listen_for_notifications(targets, pool=_pool(transport))
    second = None
    try:
        _notify(transport, topic, "kit.event", {"n": 2})
        taken = _poll_one(first, "notification")
        assert taken.message["payload"] == {"n": 2}
        second = transport.listen_for_notifications(targets, pool=_pool(transport))
        first.cleanup()
        again = _poll_one(second, "given-back notification")
        assert again.message["payload"] == {"n": 2}
        again.acknowledge()
    finally:
        first.cleanup()
        if second is not None:
            second.cleanup()


def _poll_marker(transport, topic: str, listener):
    """Send ``kit.second`` and poll ``listener`` for the first message it gets.

    A driver whose notifications are at-most-once may lose one sent the
    instant the previous listener left (a brokerless client can still hold
    its address, with the server in another process): it is sent again,
    once a second, until one arrives.
    """
    if transport.capabilities.notification_delivery != "at-most-once":
        _notify(transport, topic, "kit.second")
        return _poll_one(listener, "second notification")
    for _attempt in range(int(WAIT)):
        _notify(transport, topic, "kit.second")
        got = listener.poll(timeout=1.0)
        if got:
            return got[0]
    raise AssertionError(f"no notification reached the second listener in {WAIT:.0f} tries")


def test_settled_messages_are_not_given_back(transport, topic):
    """Acknowledged before cleanup: the next listener must not see it again."""
    targets = [(Target(topic=topic), "info")]
    first = transport.listen_for_notifications(targets, pool=_pool(transport))
    second = None
    try:
        _notify(transport, topic, "kit.first")
        _poll_one(first, "notification").acknowledge()
        second = transport.listen_for_notifications(targets, pool=_pool(transport))
        first.cleanup()
        nxt = _poll_marker(transport, topic, second)
        assert nxt.message["event_type"] == "kit.second"
        nxt.acknowledge()
    finally:
        first.cleanup()
        if second is not None:
            second.cleanup()
