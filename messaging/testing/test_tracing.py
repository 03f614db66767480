"""Kit: with tracing on, the receiver's span continues the sender's, on every driver.

The trace context rides in the message context, so a driver that carries the
context faithfully carries traces. Needs ``opentelemetry-sdk`` (skipped without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for
from messaging.testing.plugin import require_broker
from messaging.transport import Transport, get_rpc_transport

TRACED = {"oslo_messaging_tracing": {"tracing_enabled": True}}


@pytest.fixture
def spans() -> Any:
    pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")
    from messaging.testing.otel import span_exporter

    return span_exporter()


@pytest.fixture
def traced(transport_url: str, spans: Any) -> Iterator[Transport]:
    require_broker(transport_url)
    t = get_rpc_transport(TRACED, transport_url)
    try:
        yield t
    finally:
        t.cleanup()


def _pairs(spans: Any, topic: str, count: int) -> list[tuple[Any, Any]]:
    """``(producer, consumer)`` span pairs of ``topic``, once ``count`` consumers ended."""
    def mine() -> list[Any]:
        return [s for s in spans.get_finished_spans()
                if str(s.attributes.get("messaging.destination.name", "")).startswith(topic)]

    wait_for(lambda: len([s for s in mine() if s.kind.name == "CONSUMER"]) >= count, 10,
             message=f"{count} consumer spans on {topic}")
    found = mine()
    producers = {s.context.span_id: s for s in found if s.kind.name == "PRODUCER"}
    return [(producers.get(c.parent.span_id if c.parent else None), c)
            for c in found if c.kind.name == "CONSUMER"]


class Echo:
    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, ctxt: Any, value: Any) -> Any:
        self.seen.add(value)
        return value


def test_calls_and_casts_are_traced_end_to_end(api, traced, spans, topic):
    endpoint = Echo()
    server = api.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"), [endpoint])
    with running_server(server):
        client = api.get_rpc_client(traced, messaging.Target(topic=topic))
        assert client.call({}, "echo", value=1) == 1
        client.cast({}, "echo", value=2)
        endpoint.seen.wait_count(2)
        pairs = _pairs(spans, topic, 2)
    assert sorted(p.attributes["messaging.operation.name"] for p, _c in pairs if p) == [
        "call", "cast"]
    for producer, consumer in pairs:
        assert producer is not None, "a consumer span without its producer"
        assert consumer.context.trace_id == producer.context.trace_id
        assert consumer.attributes["rpc.method"] == "echo"


def test_notifications_are_traced_end_to_end(api, traced, spans, topic):
    seen = Recorder()

    class Listener:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            seen.add(payload)

    listener = api.get_notification_listener(traced, [messaging.Target(topic=topic)],
                                             [Listener()])
    with running_server(listener):
        api.Notifier(traced, "kit", driver="messagingv2", topics=[topic]).info(
            {}, "kit.event", {"n": 1})
        seen.wait_count(1)
        (producer, consumer), = _pairs(spans, topic, 1)
    assert producer is not None and producer.name == f"notify {topic}.info"
    assert consumer.context.trace_id == producer.context.trace_id
