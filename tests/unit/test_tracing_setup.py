"""Turning tracing on: oslo's options, the application's provider, OTLP otherwise, clear errors.

Each case that needs a process without a TracerProvider runs in a child process.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

import messaging
from messaging import opts
from messaging.tracing import TRACING_OPTIONS, TracingUnavailable


def _run(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def test_options_are_oslo_messagings():
    assert [(o.name, o.default) for o in TRACING_OPTIONS] == [
        ("tracing_enabled", False), ("tracing_service_name", "openstack"),
        ("otel_exporter_otlp_endpoint", "http://localhost:4318"),
        ("otlp_protocol", "http/protobuf"), ("insecure", False)]
    listed = {group: [o.name for o in options] for group, options in opts.list_opts()}
    assert listed["oslo_messaging_tracing"] == [o.name for o in TRACING_OPTIONS]


def test_disabled_by_default():
    with messaging.get_transport(None, "fake://") as transport:
        assert transport.instrumentation is None


def test_enabled_from_an_oslo_config_file(tmp_path):
    from oslo_config import cfg

    conf_file = tmp_path / "service.conf"
    conf_file.write_text("[oslo_messaging_tracing]\ntracing_enabled = true\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(conf_file)])
    with messaging.get_transport(conf, "fake://") as transport:
        assert transport.instrumentation is not None
        assert transport.instrumentation.tracing is not None


def test_bad_protocol_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        messaging.get_transport({"oslo_messaging_tracing": {
            "tracing_enabled": True, "otlp_protocol": "carrier-pigeon"}}, "fake://")


def test_missing_opentelemetry_is_a_clear_error():
    result = _run("""
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        import messaging
        try:
            messaging.get_transport({"oslo_messaging_tracing": {"tracing_enabled": True}},
                                    "fake://")
        except messaging.MessagingException as exc:
            print("refused:", exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "opentelemetry-api is not installed" in result.stdout
    assert "messaging[tracing]" in result.stdout


def test_missing_exporter_without_provider_is_a_clear_error():
    result = _run("""
        import sys
        sys.modules["opentelemetry.exporter.otlp.proto.grpc"] = None
        import messaging
        try:
            messaging.get_transport({"oslo_messaging_tracing": {
                "tracing_enabled": True, "otlp_protocol": "grpc"}}, "fake://")
        except messaging.MessagingException as exc:
            print("refused:", exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "messaging[tracing-grpc]" in result.stdout
    assert "install a TracerProvider" in result.stdout


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP server recording what an OTLP/HTTP exporter posts."""
    received: list[tuple[str, bytes]] = []
    got = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, body))
            got.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_without_application_provider_spans_go_over_otlp(otlp_receiver):
    endpoint, received = otlp_receiver
    result = _run(f"""
        import messaging
        from opentelemetry import trace
        conf = {{"oslo_messaging_tracing": {{"tracing_enabled": True,
                 "tracing_service_name": "svc-under-test",
                 "otel_exporter_otlp_endpoint": "{endpoint}"}}}}
        t = messaging.get_transport(conf, "fake://")
        client = messaging.get_rpc_client(t, messaging.Target(topic="otlp_topic"))
        client.cast({{}}, "ping_me")
        # the library installs nothing globally: the application may still install one
        print("global provider:", type(trace.get_tracer_provider()).__name__)
        t.cleanup()
    """)  # the private provider flushes its batch at exit
    assert result.returncode == 0, result.stderr
    assert "global provider: ProxyTracerProvider" in result.stdout
    assert [path for path, _body in received] == ["/v1/traces"]
    body = received[0][1]
    assert b"svc-under-test" in body and b"cast otlp_topic.ping_me" in body


def test_tracing_unavailable_is_a_messaging_exception():
    assert issubclass(TracingUnavailable, messaging.MessagingException)
