"""Batch listeners: lists per priority, batch size and timeout, filters, group requeue."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from messaging import Target
from messaging.driver import IncomingMessage
from messaging.notify import (
    BatchNotificationDispatcher,
    NotificationFilter,
    NotificationResult,
    Notifier,
    get_batch_notification_listener,
)
from messaging.testing import Recorder, running_server
from messaging.transport import get_notification_transport


@pytest.fixture
def transport():
    with get_notification_transport(None, "fake://") as t:
        yield t


@pytest.fixture
def topic():
    return f"b_{uuid.uuid4().hex[:12]}"


class BatchEndpoint:
    def __init__(self) -> None:
        self.batches = Recorder()

    def info(self, messages):
        self.batches.add(("info", messages))

    def error(self, messages):
        self.batches.add(("error", messages))


def test_a_full_batch_is_handed_over_as_one_list(transport, topic):
    endpoint = BatchEndpoint()
    listener = get_batch_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                               batch_size=3, batch_timeout=30)
    notifier = Notifier(transport, "pub", driver="messagingv2", topics=[topic])
    for i in range(3):
        notifier.info({}, f"e{i}", {"i": i})  # queued before the listener starts
    started = time.monotonic()
    with running_server(listener):
        [(priority, batch)] = endpoint.batches.wait_count(1)
    assert time.monotonic() - started < 30  # did not wait for the timeout
    assert priority == "info"
    assert [m["event_type"] for m in batch] == ["e0", "e1", "e2"]
    assert set(batch[0]) == {"ctxt", "publisher_id", "event_type", "payload", "metadata"}
    assert batch[1]["payload"] == {"i": 1} and batch[1]["publisher_id"] == "pub"
    assert set(batch[2]["metadata"]) == {"message_id", "timestamp"}


def test_batch_timeout_hands_over_a_partial_batch(transport, topic):
    endpoint = BatchEndpoint()
    listener = get_batch_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                               batch_size=100, batch_timeout=0.2)
    with running_server(listener):
        notifier = Notifier(transport, driver="messagingv2", topics=[topic])
        notifier.info({}, "a", {})
        notifier.info({}, "b", {})
        got = []
        while sum(len(b) for _, b in got) < 2:
            got = endpoint.batches.wait_count(len(got) + 1)
    assert [m["event_type"] for _, b in got for m in b] == ["a", "b"]


def test_priorities_are_grouped_per_endpoint_method(transport, topic):
    endpoint = BatchEndpoint()
    listener = get_batch_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                               batch_size=4, batch_timeout=30)
    notifier = Notifier(transport, driver="messagingv2", topics=[topic])
    notifier.info({}, "i1", {})
    notifier.error({}, "e1", {})
    notifier.info({}, "i2", {})
    notifier.error({}, "e2", {})
    with running_server(listener):
        got = endpoint.batches.wait_count(2)
    by_priority = {p: [m["event_type"] for m in b] for p, b in got}
    assert by_priority == {"info": ["i1", "i2"], "error": ["e1", "e2"]}


def test_filter_rule_applies_to_each_message_of_a_batch(transport, topic):
    endpoint = BatchEndpoint()
    endpoint.filter_rule = NotificationFilter(event_type="^keep")  # type: ignore[attr-defined]
    listener = get_batch_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                               batch_size=3, batch_timeout=30)
    notifier = Notifier(transport, driver="messagingv2", topics=[topic])
    for event in ("keep.1", "drop.1", "keep.2"):
        notifier.info({}, event, {})
    with running_server(listener):
        [(_, batch)] = endpoint.batches.wait_count(1)
    assert [m["event_type"] for m in batch] == ["keep.1", "keep.2"]


def test_requeue_gives_back_the_whole_batch(transport, topic):
    calls = Recorder()
    done = threading.Event()

    class RequeueOnce:
        def __init__(self) -> None:
            self.first = True

        def info(self, messages):
            calls.add([m["event_type"] for m in messages])
            if self.first:
                self.first = False
                return NotificationResult.REQUEUE
            done.set()
            return NotificationResult.HANDLED

    listener = get_batch_notification_listener(
        transport, [Target(topic=topic)], [RequeueOnce()], executor="blocking",
        allow_requeue=True, batch_size=2, batch_timeout=30)
    notifier = Notifier(transport, driver="messagingv2", topics=[topic])
    notifier.info({}, "a", {})
    notifier.info({}, "b", {})
    with running_server(listener):
        assert done.wait(10)
    got = calls.items
    assert got[0] == ["a", "b"]
    assert sorted(e for batch in got[1:] for e in batch) == ["a", "b"]


class StubMessage(IncomingMessage):
    def __init__(self, priority: str, event_type: str) -> None:
        super().__init__({}, {"priority": priority, "event_type": event_type,
                              "message_id": event_type, "payload": None})
        self.settled: list[str] = []

    def acknowledge(self) -> None:
        self.settled.append("ack")

    def requeue(self) -> None:
        self.settled.append("requeue")


@pytest.mark.parametrize(("allow", "info_settled"), [(True, "requeue"), (False, "ack")])
def test_requeue_applies_to_the_priority_group_only(allow, info_settled):
    class Endpoint:
        def info(self, messages: list[dict[str, Any]]) -> str:
            return NotificationResult.REQUEUE

        def error(self, messages: list[dict[str, Any]]) -> None:
            raise RuntimeError("the error group fails")

    class ErrorOK:
        def error(self, messages: list[dict[str, Any]]) -> None:
            return None

    msgs = [StubMessage("INFO", "i1"), StubMessage("ERROR", "e1"), StubMessage("INFO", "i2"),
            StubMessage("bogus", "x")]
    BatchNotificationDispatcher([Endpoint(), ErrorOK()], allow_requeue=allow,
                                batch_size=10).handle(msgs)
    # The error group failed in its first endpoint: requeued too when allowed, else acked.
    assert msgs[0].settled == [info_settled] and msgs[2].settled == [info_settled]
    assert msgs[1].settled == ["requeue" if allow else "ack"]
    assert msgs[3].settled == ["ack"]  # malformed: dropped


def test_batch_size_defaults_and_validation():
    endpoint = BatchEndpoint()
    assert BatchNotificationDispatcher([endpoint]).batch_size == 1
    with_timeout = BatchNotificationDispatcher([endpoint], batch_timeout=2)
    assert with_timeout.batch_size == BatchNotificationDispatcher.MAX_UNSIZED_BATCH
    assert with_timeout.batch_timeout == 2
    with pytest.raises(ValueError):
        BatchNotificationDispatcher([endpoint], batch_size=0)
    with pytest.raises(ValueError):
        BatchNotificationDispatcher([endpoint], batch_timeout=-1)
