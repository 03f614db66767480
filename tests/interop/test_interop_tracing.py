"""Traces cross between oslo.messaging 18.3 (tracing enabled) and this library, both ways.

Both libraries run in this process and export to its one TracerProvider (an
in-memory exporter), as two services of one deployment would to one
collector: the W3C context travels in the request context
(``_context_traceparent`` on the wire), so a consumer span of one library is
the child of the other library's producer span.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import messaging
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

TRACED = {"oslo_messaging_tracing": {"tracing_enabled": True}}


class Endpoint:
    def __init__(self) -> None:
        self.current: list[Any] = []
        self.event = threading.Event()

    def add(self, ctxt, a, b):
        from opentelemetry import trace

        self.current.append(trace.get_current_span().get_span_context())
        self.event.set()
        return a + b


@pytest.fixture
def oslo_traced(oslo_conf: Any, spans: Any) -> Any:
    oslo_conf.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
    return oslo_conf


@pytest.fixture
def traced_transport(url: str, ours: str, spans: Any) -> Iterator[messaging.Transport]:
    t = messaging.get_rpc_transport(TRACED, url.replace("rabbit://", f"{ours}://", 1))
    yield t
    t.cleanup()


def _root() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("interop-test").start_as_current_span("root")


def _trace(spans: Any, trace_id: int, count: int) -> list[Any]:
    return wait_for(lambda: (found := [s for s in spans.get_finished_spans()
                                       if s.context.trace_id == trace_id])
                    and len(found) >= count and found, 10, message=f"{count} spans")


def test_our_trace_continues_in_an_oslo_server(oslo, oslo_traced, url, traced_transport,
                                               spans, running, topic):
    oslo_transport = oslo.get_rpc_transport(oslo_traced, url=url)
    try:
        endpoint = Endpoint()
        running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="s1"),
                                    [endpoint]))
        client = messaging.get_rpc_client(traced_transport, messaging.Target(topic=topic),
                                          timeout=10)
        with _root() as root:
            assert client.call({"user": "bob"}, "add", a=1, b=2) == 3
            client.cast({}, "add", a=3, b=4)
            wait_for(lambda: len(endpoint.current) == 2, 10, message="the cast")
        trace_id = root.get_span_context().trace_id
        found = _trace(spans, trace_id, 5)
        ours = {s.attributes["messaging.operation.name"]: s for s in found
                if s.kind.name == "PRODUCER"}
        theirs = [s for s in found if s.kind.name == "CONSUMER"]
        assert set(ours) == {"call", "cast"}
        assert sorted(s.parent.span_id for s in theirs) == sorted(
            s.context.span_id for s in ours.values())
        assert {s.instrumentation_scope.name for s in theirs} == {"oslo.messaging"}
        assert {c.span_id for c in endpoint.current} == {s.context.span_id for s in theirs}
    finally:
        oslo_transport.cleanup()


def test_an_oslo_trace_continues_in_our_server(oslo, oslo_traced, url, traced_transport,
                                               spans, running, topic):
    oslo_transport = oslo.get_rpc_transport(oslo_traced, url=url)
    try:
        endpoint = Endpoint()
        running(messaging.get_rpc_server(traced_transport,
                                         messaging.Target(topic=topic, server="s1"),
                                         [endpoint], executor="threading"))
        client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=10)
        with _root() as root:
            assert client.call({"user": "bob"}, "add", a=1, b=2) == 3
        trace_id = root.get_span_context().trace_id
        found = _trace(spans, trace_id, 3)
        theirs, = [s for s in found if s.kind.name == "PRODUCER"]
        ours, = [s for s in found if s.kind.name == "CONSUMER"]
        assert theirs.instrumentation_scope.name == "oslo.messaging"
        assert ours.instrumentation_scope.name == "messaging"
        assert ours.parent.span_id == theirs.context.span_id
        assert ours.attributes["messaging.system"] == "rabbitmq"
        assert ours.attributes["rpc.method"] == "add"
        assert endpoint.current[0].span_id == ours.context.span_id
    finally:
        oslo_transport.cleanup()


def test_our_tracing_options_are_oslos(oslo):
    from oslo_messaging._tracing.client import oslo_messaging_tracing

    from messaging.tracing import TRACING_OPTIONS

    theirs = {o.name: (o.default, getattr(o.type, "choices", None) and list(o.type.choices))
              for o in oslo_messaging_tracing}
    ours = {o.name: (o.default, list(o.choices) if o.choices else None)
            for o in TRACING_OPTIONS}
    assert ours == theirs
