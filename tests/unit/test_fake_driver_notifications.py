"""fake:// notifications: durable queues, pools, requeue, at-least-once on cleanup."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from messaging.driver import IncomingMessage, Listener
from messaging.target import Target
from messaging.transport import Transport, get_notification_transport


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = get_notification_transport(None, f"fake:///notif-{uuid.uuid4().hex}")
    try:
        yield t
    finally:
        t.cleanup()


def _notification(event_type: str, priority: str = "INFO", **payload: Any) -> dict[str, Any]:
    return {"message_id": str(uuid.uuid4()), "publisher_id": "compute.host1",
            "event_type": event_type, "priority": priority, "payload": payload,
            "timestamp": "2026-11-24 13:48:39.126231"}


def _send(transport: Transport, event_type: str, priority: str = "info",
          version: float = 2.0, topic: str = "notifications", **payload: Any) -> None:
    transport.notify(Target(topic=f"{topic}.{priority}"), {"user": "u"},
                     _notification(event_type, priority.upper(), **payload), version=version)


def _take(listener: Listener, count: int, ack: bool = True) -> list[IncomingMessage]:
    got: list[IncomingMessage] = []
    while len(got) < count:
        batch = listener.poll(timeout=5, max_messages=count - len(got))
        assert batch, f"got {len(got)} of {count}"
        got += batch
    if ack:
        for msg in got:
            msg.acknowledge()
    return got


def _events(messages: list[IncomingMessage]) -> list[str]:
    return [m.message["event_type"] for m in messages]


def test_notification_sent_before_listener_is_kept(transport: Transport) -> None:
    assert transport.capabilities.durable_notifications
    _send(transport, "early.event", n=1)
    listener = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    [msg] = _take(listener, 1)
    assert msg.ctxt == {"user": "u"}
    assert msg.message["event_type"] == "early.event"
    assert msg.message["payload"] == {"n": 1}
    assert msg.message["priority"] == "INFO"
    assert set(msg.message) >= {"message_id", "publisher_id", "timestamp"}
    assert "_unique_id" not in msg.message
    assert listener.poll(timeout=0) == []


@pytest.mark.parametrize("version", [1.0, 2.0])
def test_both_wire_versions_are_read(transport: Transport, version: float) -> None:
    listener = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    _send(transport, f"v{version}", version=version)
    assert _events(_take(listener, 1)) == [f"v{version}"]


def test_oslo_v1_and_v2_bodies_are_understood(transport: Transport) -> None:
    """Bodies exactly as oslo.messaging's notifier sends them (one through publish_raw)."""
    inner = {"message_id": "b8768658", "publisher_id": "compute.host1",
             "event_type": "compute.instance.create.end", "priority": "INFO",
             "payload": {"id": 7}, "timestamp": "2026-11-24 13:48:39.639951",
             "_unique_id": "0684edf8"}
    listener = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    hooks = transport.driver.testing
    assert hooks is not None
    hooks.publish_raw(Target(topic="notifications.info"), json.dumps(inner).encode())
    hooks.publish_raw(Target(topic="notifications.info"), json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode())
    got = _take(listener, 2)
    for msg in got:
        assert msg.ctxt == {}
        assert msg.message["payload"] == {"id": 7}


def test_listener_on_several_priorities_wakes_on_any(transport: Transport) -> None:
    listener = transport.listen_for_notifications(
        [(Target(topic="notifications"), "info"), (Target(topic="notifications"), "error")])
    result: list[list[IncomingMessage]] = []
    thread = threading.Thread(target=lambda: result.append(listener.poll(timeout=10)))
    thread.start()
    _send(transport, "it.failed", priority="error")
    thread.join(10)
    assert _events(result[0]) == ["it.failed"]


def test_fifo_order_per_queue(transport: Transport) -> None:
    listener = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    for i in range(20):
        _send(transport, f"e{i}")
    assert _events(_take(listener, 20)) == [f"e{i}" for i in range(20)]


def test_exchanges_are_separate(transport: Transport) -> None:
    mine = transport.listen_for_notifications([(Target(exchange="ex1", topic="n"), "info")])
    transport.notify(Target(exchange="ex2", topic="n.info"), {}, _notification("other"))
    transport.notify(Target(exchange="ex1", topic="n.info"), {}, _notification("mine"))
    assert _events(_take(mine, 1)) == ["mine"]
    assert mine.poll(timeout=0) == []


def test_each_pool_gets_a_copy_and_pool_members_compete(transport: Transport) -> None:
    targets = [(Target(topic="notifications"), "info"), (Target(topic="notifications"), "warn")]
    p1a = transport.listen_for_notifications(targets, pool="p1")
    p1b = transport.listen_for_notifications(targets, pool="p1")
    p2 = transport.listen_for_notifications(targets, pool="p2")
    for i in range(6):
        _send(transport, f"e{i}", priority="info" if i % 2 else "warn")
    p1_events: list[str] = []
    while len(p1_events) < 6:  # alternate the two members of pool p1
        for member in (p1a, p1b):
            batch = member.poll(timeout=5)
            assert batch
            batch[0].acknowledge()
            p1_events.append(batch[0].message["event_type"])
    assert p1_events == [f"e{i}" for i in range(6)]
    assert sorted(_events(_take(p2, 6))) == sorted(f"e{i}" for i in range(6))
    for listener in (p1a, p1b, p2):
        assert listener.poll(timeout=0) == []
    # the publisher's own <topic>.<priority> queues still hold their copies
    plain = transport.listen_for_notifications(targets)
    assert len(_take(plain, 6)) == 6


def test_requeue_redelivers_to_any_listener(transport: Transport) -> None:
    assert transport.capabilities.requeue
    a = transport.listen_for_notifications([(Target(topic="notifications"), "info")], pool="p")
    b = transport.listen_for_notifications([(Target(topic="notifications"), "info")], pool="p")
    _send(transport, "first")
    _send(transport, "second")
    [msg] = a.poll(timeout=5)
    assert msg.message["event_type"] == "first"
    msg.requeue()
    assert _events(_take(b, 1)) == ["first"]  # back at the head of the queue
    assert _events(_take(a, 1)) == ["second"]


def test_unsettled_messages_are_requeued_at_cleanup(transport: Transport) -> None:
    first = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    for name in ("acked", "unsettled1", "unsettled2"):
        _send(transport, name)
    got = first.poll(timeout=5, max_messages=3)
    while len(got) < 3:
        got += first.poll(timeout=5, max_messages=3 - len(got))
    got[0].acknowledge()
    first.cleanup()
    got[1].acknowledge()  # too late: already given back
    second = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    assert sorted(_events(_take(second, 2))) == ["unsettled1", "unsettled2"]
    assert second.poll(timeout=0) == []


def test_non_json_payload_fails(transport: Transport) -> None:
    from messaging.exceptions import SerializationError

    with pytest.raises(SerializationError):
        transport.notify(Target(topic="notifications.info"), {},
                         _notification("bad", payload=object()))
    listener = transport.listen_for_notifications([(Target(topic="notifications"), "info")])
    assert listener.poll(timeout=0) == []
