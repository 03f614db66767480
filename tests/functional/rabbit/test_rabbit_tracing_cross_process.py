"""A trace crosses processes over RabbitMQ: the server's spans continue the client's.

The server runs in a child process with a TracerProvider of its own (as a
second service would); when told to stop it prints its finished spans as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import messaging

pytestmark = pytest.mark.rabbit

TRACED = {"oslo_messaging_tracing": {"tracing_enabled": True}}

SERVER = textwrap.dedent("""
    import json, sys
    import messaging
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    url, topic = sys.argv[1], sys.argv[2]
    transport = messaging.get_rpc_transport(
        {"oslo_messaging_tracing": {"tracing_enabled": True}}, url)

    class Endpoint:
        def work(self, ctxt, n):
            with trace.get_tracer("server-app").start_as_current_span("inner work"):
                return n * 2

    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Endpoint()])
    server.start()
    print("ready", flush=True)
    sys.stdin.readline()
    server.stop(); server.wait(); transport.cleanup()
    for s in exporter.get_finished_spans():
        print(json.dumps({"name": s.name, "trace": s.context.trace_id, "span": s.context.span_id,
                          "parent": s.parent.span_id if s.parent else None,
                          "kind": s.kind.name}), flush=True)
""")


def test_the_servers_spans_continue_the_clients_trace(spans, url, topic):
    child = subprocess.Popen([sys.executable, "-c", SERVER, url, topic], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with messaging.get_rpc_transport(TRACED, url) as transport:
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=20)
            from opentelemetry import trace

            with trace.get_tracer("client-app").start_as_current_span("request") as root:
                assert client.call({}, "work", n=21) == 42
        out, _err = child.communicate("stop\n", timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    theirs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    trace_id = root.get_span_context().trace_id
    producer, = [s for s in spans.get_finished_spans()
                 if s.context.trace_id == trace_id and s.kind.name == "PRODUCER"]
    consumer, = [s for s in theirs if s["kind"] == "CONSUMER"]
    inner, = [s for s in theirs if s["name"] == "inner work"]
    assert consumer["trace"] == trace_id and consumer["parent"] == producer.context.span_id
    assert inner["trace"] == trace_id and inner["parent"] == consumer["span"]
