"""Tracing on fake://: a producer span per send, a consumer span per receipt continuing it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for

TRACED = {"oslo_messaging_tracing": {"tracing_enabled": True}}


@pytest.fixture
def traced() -> Iterator[messaging.Transport]:
    t = messaging.get_transport(TRACED, f"fake:///trace-{uuid.uuid4().hex}")
    yield t
    t.cleanup()


@pytest.fixture
def topic() -> str:
    return f"traced_{uuid.uuid4().hex[:8]}"


class Endpoint:
    """Records the span current while it runs, and the context it got."""

    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, ctxt: Any, value: Any) -> Any:
        from opentelemetry import trace

        self.seen.add((trace.get_current_span().get_span_context(), dict(ctxt)))
        return value

    def fail(self, ctxt: Any) -> None:
        raise ValueError("the endpoint failed")


def _root(name: str = "test-root") -> Any:
    from opentelemetry import trace

    return trace.get_tracer("tests").start_as_current_span(name)


def _by_kind(spans: Any, trace_id: int, kind: str) -> list[Any]:
    return [s for s in spans.get_finished_spans()
            if s.context.trace_id == trace_id and s.kind.name == kind]


def _wait_spans(spans: Any, trace_id: int, count: int) -> list[Any]:
    return wait_for(lambda: len([s for s in spans.get_finished_spans()
                                 if s.context.trace_id == trace_id]) >= count
                    and [s for s in spans.get_finished_spans()
                         if s.context.trace_id == trace_id], 10, message=f"{count} spans")


def test_call_continues_the_callers_trace_on_the_server(spans, traced, topic):
    endpoint = Endpoint()
    server = messaging.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    client = messaging.get_rpc_client(traced, messaging.Target(topic=topic, namespace=None))
    caller_ctxt = {"user": "alice", "request_id": "req-1"}
    with running_server(server), _root() as root:
        assert client.call(caller_ctxt, "echo", value=7) == 7
    trace_id = root.get_span_context().trace_id
    found = _wait_spans(spans, trace_id, 3)
    producer, = [s for s in found if s.kind.name == "PRODUCER"]
    consumer, = [s for s in found if s.kind.name == "CONSUMER"]
    assert producer.name == f"call {topic}.echo"
    assert producer.parent.span_id == root.get_span_context().span_id
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.name == f"process {topic}.echo"
    assert dict(producer.attributes) == {
        "messaging.system": "fake", "messaging.operation.type": "send",
        "messaging.operation.name": "call", "messaging.destination.name": topic,
        "rpc.method": "echo", "openstack.request_id": "req-1"}
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["messaging.message.id"]
    # the endpoint ran inside the consumer span and saw the W3C context in its ctxt
    (current, ctxt), = endpoint.seen.items
    assert current.span_id == consumer.context.span_id
    assert ctxt["traceparent"].split("-")[1] == f"{trace_id:032x}"
    assert "traceparent" not in caller_ctxt  # the caller's dict is not touched


def test_cast_and_fanout_have_their_operation(spans, traced, topic):
    endpoint = Endpoint()
    server = messaging.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    client = messaging.get_rpc_client(traced, messaging.Target(topic=topic))
    with running_server(server), _root() as root:
        client.cast({}, "echo", value=1)
        client.prepare(fanout=True).cast({}, "echo", value=2)
        endpoint.seen.wait_count(2)
    trace_id = root.get_span_context().trace_id
    found = _wait_spans(spans, trace_id, 5)
    producers = {s.attributes["messaging.operation.name"]: s
                 for s in found if s.kind.name == "PRODUCER"}
    assert set(producers) == {"cast", "fanout"}
    consumers = [s for s in found if s.kind.name == "CONSUMER"]
    assert sorted(c.parent.span_id for c in consumers) == sorted(
        p.context.span_id for p in producers.values())


def test_notification_is_traced_from_notifier_to_listener(spans, traced, topic):
    seen = Recorder()

    class Listener:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            from opentelemetry import trace

            seen.add((trace.get_current_span().get_span_context(), metadata["message_id"]))

    listener = messaging.get_notification_listener(traced, [messaging.Target(topic=topic)],
                                                   [Listener()])
    notifier = messaging.Notifier(traced, "svc.host", driver="messagingv2", topics=[topic])
    with running_server(listener), _root() as root:
        notifier.info({}, "thing.happened", {"n": 1})
        seen.wait_count(1)
    trace_id = root.get_span_context().trace_id
    found = _wait_spans(spans, trace_id, 3)
    producer, = [s for s in found if s.kind.name == "PRODUCER"]
    consumer, = [s for s in found if s.kind.name == "CONSUMER"]
    assert producer.name == f"notify {topic}.info"
    assert consumer.parent.span_id == producer.context.span_id
    (current, message_id), = seen.items
    assert current.span_id == consumer.context.span_id
    assert producer.attributes["messaging.message.id"] == message_id
    assert consumer.attributes["messaging.message.id"] == message_id


def test_failures_mark_both_spans(spans, traced, topic):
    server = messaging.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"),
                                      [Endpoint()])
    client = messaging.get_rpc_client(traced, messaging.Target(topic=topic))
    with running_server(server), _root() as root:
        with pytest.raises(ValueError):
            client.call({}, "fail")
    trace_id = root.get_span_context().trace_id
    found = _wait_spans(spans, trace_id, 3)
    for span in (s for s in found if s.kind.name in ("PRODUCER", "CONSUMER")):
        assert span.status.status_code.name == "ERROR", span.name
        assert span.attributes["error.type"] == "ValueError"
    consumer, = [s for s in found if s.kind.name == "CONSUMER"]
    assert [e.name for e in consumer.events] == ["exception"]


def test_timeout_marks_the_producer_span(spans, traced, topic):
    client = messaging.get_rpc_client(traced, messaging.Target(topic=topic), timeout=0.2)
    with _root() as root, pytest.raises(messaging.MessagingTimeout):
        client.call({}, "nobody_listens")
    producer, = _by_kind(spans, root.get_span_context().trace_id, "PRODUCER")
    assert producer.attributes["error.type"] == "MessagingTimeout"


def test_unknown_method_marks_the_consumer_span(spans, traced, topic):
    server = messaging.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"),
                                      [Endpoint()])
    client = messaging.get_rpc_client(traced, messaging.Target(topic=topic))
    with running_server(server), _root() as root:
        with pytest.raises(messaging.NoSuchMethod):
            client.call({}, "no_such_thing")
    consumer, = _wait_spans(spans, root.get_span_context().trace_id, 3) and _by_kind(
        spans, root.get_span_context().trace_id, "CONSUMER")
    assert consumer.attributes["error.type"] == "NoSuchMethod"
    assert consumer.attributes["messaging.outcome"] == "refused"


def test_async_client_and_asyncio_executor_share_the_tracing(spans, traced, topic):
    current = Recorder()

    class AsyncEndpoint:
        async def echo(self, ctxt, value):
            from opentelemetry import trace

            current.add(("async", trace.get_current_span().get_span_context().span_id))
            return value

        def sync_echo(self, ctxt, value):  # on the executor's thread pool
            from opentelemetry import trace

            current.add(("sync", trace.get_current_span().get_span_context().span_id))
            return value

    async def main() -> int:
        server = messaging.get_rpc_server(traced, messaging.Target(topic=topic, server="s1"),
                                          [AsyncEndpoint()], executor="asyncio")
        async with server:
            client = messaging.get_async_rpc_client(traced, messaging.Target(topic=topic))
            with _root() as root:
                assert await client.call({}, "echo", value=3) == 3
                assert await client.call({}, "sync_echo", value=4) == 4
                await client.cast({}, "echo", value=5)
                # the cast's endpoint runs on this loop: wait without blocking it
                await asyncio.to_thread(current.wait_count, 3)
            return int(root.get_span_context().trace_id)

    trace_id = asyncio.run(main())
    found = _wait_spans(spans, trace_id, 7)
    consumers = {s.context.span_id for s in found if s.kind.name == "CONSUMER"}
    assert len(consumers) == 3
    assert {span_id for _kind, span_id in current.items} == consumers


def test_untraced_transport_adds_nothing(spans, transport, topic):
    endpoint = Endpoint()
    assert transport.instrumentation is None
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    with running_server(server), _root():
        messaging.get_rpc_client(transport, messaging.Target(topic=topic)).call(
            {}, "echo", value=1)
    (_current, ctxt), = endpoint.seen.items
    assert "traceparent" not in ctxt
    assert [s.name for s in spans.get_finished_spans()] == ["test-root"]
