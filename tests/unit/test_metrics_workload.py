"""Metrics after a known workload on fake://: counts, outcomes, durations, bounded labels."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from otel_helpers import points, total

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for

MEASURED = {"messaging_metrics": {"metrics_enabled": True}}


@pytest.fixture
def measured(metric_reader) -> Iterator[messaging.Transport]:
    t = messaging.get_transport(MEASURED, f"fake:///metrics-{uuid.uuid4().hex}")
    yield t
    t.cleanup()


@pytest.fixture
def topic() -> str:
    return f"measured_{uuid.uuid4().hex[:8]}"


class Endpoint:
    def __init__(self) -> None:
        self.casts = Recorder()

    def echo(self, ctxt, value):
        return value

    def fail(self, ctxt):
        raise RuntimeError("no")

    def note(self, ctxt):
        self.casts.add(1)


def test_rpc_workload_counts(metric_reader, measured, topic):
    endpoint = Endpoint()
    server = messaging.get_rpc_server(measured, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    client = messaging.get_rpc_client(measured, messaging.Target(topic=topic))
    with running_server(server):
        for i in range(5):
            assert client.call({}, "echo", value=i) == i
        for _ in range(2):
            with pytest.raises(RuntimeError):
                client.call({}, "fail")
        with pytest.raises(messaging.NoSuchMethod):
            client.call({}, "made_up_by_the_caller")
        for _ in range(3):
            client.cast({}, "note")
        endpoint.casts.wait_count(3)
        # the server counts a message once it has answered it: wait for the last cast's count
        wait_for(lambda: total(metric_reader, "messaging.server.messages", topic=topic,
                               operation="cast") == 3, message="3 casts counted")
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=0.1, topic=f"{topic}_nobody").call({}, "echo", value=0)

    client_counts = {(p.attributes["operation"], p.attributes["method"],
                      p.attributes["outcome"]): p.value
                     for p in points(metric_reader, "messaging.client.messages", topic=topic)}
    assert client_counts == {("call", "echo", "ok"): 5, ("call", "fail", "remote_error"): 2,
                             ("call", "made_up_by_the_caller", "remote_error"): 1,
                             ("cast", "note", "ok"): 3}
    assert total(metric_reader, "messaging.client.messages", topic=f"{topic}_nobody",
                 outcome="timeout") == 1
    latency = points(metric_reader, "messaging.client.duration", topic=topic,
                     method="echo", outcome="ok")
    assert [p.count for p in latency] == [5] and latency[0].sum > 0
    server_counts = {(p.attributes["operation"], p.attributes["method"],
                      p.attributes["outcome"]): p.value
                     for p in points(metric_reader, "messaging.server.messages", topic=topic)}
    # a method no endpoint has is labelled "unknown": callers cannot grow the label set
    assert server_counts == {("call", "echo", "ok"): 5, ("call", "fail", "error"): 2,
                             ("call", "unknown", "refused"): 1, ("cast", "note", "ok"): 3}
    in_flight = points(metric_reader, "messaging.client.calls.in_flight", topic=topic)
    assert [p.value for p in in_flight] == [0]
    assert total(metric_reader, "messaging.server.duration", topic=topic, method="echo") == 5
    labels = {k for p in points(metric_reader, "messaging.client.messages", topic=topic)
              for k in p.attributes}
    assert labels == {"driver", "operation", "topic", "method", "outcome"}
    assert {p.attributes["driver"] for p in points(
        metric_reader, "messaging.client.messages", topic=topic)} == {"fake"}


def test_notification_workload_counts(metric_reader, measured, topic):
    handled = Recorder()

    class Listener:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            handled.add(payload)

        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            first = payload not in handled.items
            handled.add(payload)
            return messaging.NotificationResult.REQUEUE if first else None  # once

    listener = messaging.get_notification_listener(
        measured, [messaging.Target(topic=topic)], [Listener()], allow_requeue=True)
    notifier = messaging.Notifier(measured, "svc", driver="messagingv2", topics=[topic])
    with running_server(listener):
        for i in range(4):
            notifier.info({}, "thing", i)
        notifier.error({}, "thing", "again")
        handled.wait_count(6)
        wait_for(lambda: total(metric_reader, "messaging.server.messages",
                               topic=f"{topic}.error") == 2, message="error counted twice")
    sent = {(p.attributes["topic"], p.attributes["method"]): p.value
            for p in points(metric_reader, "messaging.client.messages", operation="notify")
            if p.attributes["topic"].startswith(topic)}
    assert sent == {(f"{topic}.info", "info"): 4, (f"{topic}.error", "error"): 1}
    got = {(p.attributes["topic"], p.attributes["outcome"]): p.value
           for p in points(metric_reader, "messaging.server.messages", operation="notify")
           if p.attributes["topic"].startswith(topic)}
    assert got == {(f"{topic}.info", "ok"): 4, (f"{topic}.error", "requeued"): 1,
                   (f"{topic}.error", "ok"): 1}


def test_queue_time_is_recorded_per_dispatch(metric_reader, measured, topic):
    server = messaging.get_rpc_server(measured, messaging.Target(topic=topic, server="s1"),
                                      [Endpoint()])
    before = total(metric_reader, "messaging.server.queue.duration", kind="rpc",
                   driver="fake")
    with running_server(server):
        client = messaging.get_rpc_client(measured, messaging.Target(topic=topic))
        for i in range(4):
            client.call({}, "echo", value=i)
    after = total(metric_reader, "messaging.server.queue.duration", kind="rpc", driver="fake")
    assert after - before >= 4
