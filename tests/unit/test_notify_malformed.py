"""Malformed notifications are logged, acknowledged (dropped), and the listener keeps serving."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

from messaging import NoOpSerializer, Target
from messaging.driver import IncomingMessage
from messaging.notify import NotificationDispatcher, Notifier, get_notification_listener
from messaging.testing import Recorder, running_server
from messaging.transport import get_notification_transport


class StubMessage(IncomingMessage):
    def __init__(self, message: Any, ctxt: Any = None) -> None:
        super().__init__(ctxt if ctxt is not None else {}, message)
        self.settled: list[str] = []

    def acknowledge(self) -> None:
        self.settled.append("ack")

    def requeue(self) -> None:
        self.settled.append("requeue")


class Everything:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "filter_rule":
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))


@pytest.mark.parametrize(("body", "why"), [
    (["not", "an", "object"], "not an object"),
    ("a string", "not an object"),
    ({"event_type": "e"}, "no priority"),
    ({"event_type": "e", "priority": None}, "no priority"),
    ({"event_type": "e", "priority": 3}, "unknown priority"),
    ({"event_type": "e", "priority": "LOUD"}, "unknown priority"),
    ({"event_type": "e", "priority": ""}, "unknown priority"),
])
def test_malformed_message_is_acknowledged_with_a_warning(caplog, body, why):
    endpoint = Everything()
    msg = StubMessage(body)
    with caplog.at_level(logging.WARNING, logger="messaging.notify.dispatcher"):
        NotificationDispatcher([endpoint], allow_requeue=True).handle([msg])
    assert msg.settled == ["ack"]
    assert endpoint.calls == []
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "malformed" in record.getMessage()
    assert why.split()[-1] in record.getMessage()


def test_undeserializable_message_is_dropped_not_requeued(caplog):
    class Strict(NoOpSerializer):
        def deserialize_context(self, ctxt):
            raise ValueError("bad context")

    endpoint = Everything()
    msg = StubMessage({"priority": "INFO", "event_type": "e"})
    with caplog.at_level(logging.WARNING):
        NotificationDispatcher([endpoint], Strict(), allow_requeue=True).handle([msg])
    assert msg.settled == ["ack"] and endpoint.calls == []
    assert "serializer" in caplog.text


def test_missing_optional_fields_are_tolerated():
    endpoint = Everything()
    msg = StubMessage({"priority": "warn"})
    NotificationDispatcher([endpoint]).handle([msg])
    assert msg.settled == ["ack"]
    assert endpoint.calls == [("warn", ({}, None, None, None,
                                        {"message_id": None, "timestamp": None}))]


def test_warning_priority_spelling_reaches_warn():
    endpoint = Everything()
    NotificationDispatcher([endpoint]).handle([StubMessage({"priority": "WARNING"})])
    assert [name for name, _ in endpoint.calls] == ["warn"]


def test_listener_keeps_serving_after_malformed_bodies(caplog):
    topic = f"m_{uuid.uuid4().hex[:12]}"
    rec = Recorder()

    class Info:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(event_type)

    with get_notification_transport(None, "fake://") as transport:
        hooks = transport.driver.testing
        if hooks is None:
            pytest.skip("driver offers no raw publishing hook")
        raw_target = Target(topic=f"{topic}.info")
        bad_bodies = [
            b"\xff not json",
            b"[1, 2]",
            json.dumps({"event_type": "no.priority"}).encode(),
            json.dumps({"event_type": "bad.priority", "priority": "LOUD",
                        "message_id": "x"}).encode(),
            json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(
                {"event_type": "bad.priority.v2", "priority": "LOUD"})}).encode(),
        ]
        listener = get_notification_listener(transport, [Target(topic=topic)], [Info()],
                                             executor="blocking", allow_requeue=True)
        with caplog.at_level(logging.WARNING), running_server(listener):
            for body in bad_bodies:
                hooks.publish_raw(raw_target, body)
            Notifier(transport, driver="messagingv2", topics=[topic]).info({}, "good", {})
            assert rec.wait_count(1) == ["good"]
    assert rec.items == ["good"]
    assert "bad.priority" in caplog.text and "bad.priority.v2" in caplog.text
