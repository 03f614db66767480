"""Settling notifications: HANDLED, REQUEUE, exceptions, with and without allow_requeue."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import pytest

from messaging import Target
from messaging.driver import IncomingMessage
from messaging.notify import (
    NotificationDispatcher,
    NotificationResult,
    Notifier,
    get_notification_listener,
)
from messaging.testing import Recorder, running_server
from messaging.transport import get_notification_transport


class StubMessage(IncomingMessage):
    """An incoming notification that records how it was settled."""

    def __init__(self, message: Any, ctxt: Any = None) -> None:
        super().__init__(ctxt if ctxt is not None else {}, message)
        self.settled: list[str] = []

    def acknowledge(self) -> None:
        self.settled.append("ack")

    def requeue(self) -> None:
        self.settled.append("requeue")


def notification(priority: str = "INFO", event_type: str = "e") -> dict[str, Any]:
    return {"message_id": str(uuid.uuid4()), "publisher_id": "p", "event_type": event_type,
            "priority": priority, "payload": {}, "timestamp": "2026-01-01 00:00:00.000000"}


class Returns:
    def __init__(self, result: Any, calls: list[str], name: str = "") -> None:
        self.result, self.calls, self.name = result, calls, name

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.calls.append(self.name)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize(("result", "allow", "settled"), [
    (None, False, "ack"), (None, True, "ack"),
    (NotificationResult.HANDLED, True, "ack"),
    (NotificationResult.REQUEUE, True, "requeue"),
    (NotificationResult.REQUEUE, False, "ack"),
    (RuntimeError("boom"), True, "requeue"),
    (RuntimeError("boom"), False, "ack"),
    ("something else", True, "ack"),
])
def test_result_settles_the_message(result, allow, settled):
    calls: list[str] = []
    dispatcher = NotificationDispatcher([Returns(result, calls)], allow_requeue=allow)
    msg = StubMessage(notification())
    dispatcher.handle([msg])
    assert msg.settled == [settled]
    assert calls == [""]


def test_refused_requeue_and_endpoint_errors_are_logged(caplog):
    calls: list[str] = []
    with caplog.at_level(logging.WARNING, logger="messaging.notify.dispatcher"):
        NotificationDispatcher([Returns(NotificationResult.REQUEUE, calls)]).handle(
            [StubMessage(notification())])
        assert "allow_requeue" in caplog.text
        caplog.clear()
        NotificationDispatcher([Returns(KeyError("oops"), calls)]).handle(
            [StubMessage(notification(event_type="compute.x"))])
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "compute.x" in record.getMessage()
    assert record.exc_info is not None


def test_with_requeue_the_first_requeue_stops_the_later_endpoints():
    calls: list[str] = []
    endpoints = [Returns(None, calls, "a"), Returns(NotificationResult.REQUEUE, calls, "b"),
                 Returns(None, calls, "c")]
    msg = StubMessage(notification())
    NotificationDispatcher(endpoints, allow_requeue=True).handle([msg])
    assert calls == ["a", "b"] and msg.settled == ["requeue"]


def test_without_requeue_every_endpoint_still_runs():
    calls: list[str] = []
    endpoints = [Returns(RuntimeError("x"), calls, "a"),
                 Returns(NotificationResult.REQUEUE, calls, "b"), Returns(None, calls, "c")]
    msg = StubMessage(notification())
    NotificationDispatcher(endpoints, allow_requeue=False).handle([msg])
    assert calls == ["a", "b", "c"] and msg.settled == ["ack"]


def test_a_failing_settlement_does_not_raise(caplog):
    class Broken(StubMessage):
        def acknowledge(self) -> None:
            raise ConnectionError("gone")

    calls: list[str] = []
    msgs = [Broken(notification()), StubMessage(notification())]
    with caplog.at_level(logging.ERROR):
        NotificationDispatcher([Returns(None, calls)]).handle(msgs)
    assert calls == ["", ""] and msgs[1].settled == ["ack"]
    assert "acknowledge" in caplog.text


# -- end to end on fake:// -----------------------------------------------------------------

@pytest.fixture
def transport():
    with get_notification_transport(None, "fake://") as t:
        yield t


class FailsFirst:
    """Asks for a requeue (or raises) on the first delivery of each message, then handles."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.recorder = Recorder()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.recorder.add(event_type)
        with self._lock:
            first = metadata["message_id"] not in self._seen
            self._seen.add(metadata["message_id"])
        if first:
            if self.how == "raise":
                raise RuntimeError("first delivery fails")
            return NotificationResult.REQUEUE
        return NotificationResult.HANDLED


@pytest.mark.parametrize("how", ["requeue", "raise"])
def test_requeued_notification_is_delivered_again(transport, how):
    topic = f"rq_{uuid.uuid4().hex[:12]}"
    endpoint = FailsFirst(how)
    listener = get_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                         executor="blocking", allow_requeue=True)
    with running_server(listener):
        Notifier(transport, driver="messagingv2", topics=[topic]).info({}, "again", {})
        assert endpoint.recorder.wait_count(2) == ["again", "again"]


@pytest.mark.parametrize("how", ["requeue", "raise"])
def test_without_allow_requeue_the_notification_is_acknowledged(transport, how):
    topic = f"rq_{uuid.uuid4().hex[:12]}"
    endpoint = FailsFirst(how)
    listener = get_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                         executor="blocking")
    with running_server(listener):
        notifier = Notifier(transport, driver="messagingv2", topics=[topic])
        notifier.info({}, "once", {})
        notifier.info({}, "marker", {})
        # A requeued message goes back to the head of its queue, before "marker": had
        # "once" been requeued it would show up again before "marker".
        got = endpoint.recorder.wait_count(2)
    assert got == ["once", "marker"]
