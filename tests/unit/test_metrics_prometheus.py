"""serve_prometheus: the metrics a service exposes for scraping (in a child process)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

import messaging
from messaging.metrics import MetricsUnavailable


def _sample(line: str) -> tuple[dict[str, str], float]:
    """A Prometheus text sample's labels (the exporter's otel_scope_* left out) and value."""
    labels, value = re.fullmatch(r"[a-z_]+\{(.*)\} (\S+)", line).groups()
    pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
    return {k: v for k, v in pairs.items() if not k.startswith("otel_scope")}, float(value)


def test_prometheus_endpoint_serves_the_metrics():
    code = textwrap.dedent("""
        import urllib.request
        import messaging
        from messaging.metrics import serve_prometheus
        server = serve_prometheus(port=0)
        port = server.server_address[1]
        conf = {"messaging_metrics": {"metrics_enabled": True}}
        t = messaging.get_transport(conf, "fake://")
        class E:
            def echo(self, ctxt, value):
                return value
        s = messaging.get_rpc_server(t, messaging.Target(topic="prom", server="s"), [E()])
        s.start()
        c = messaging.get_rpc_client(t, messaging.Target(topic="prom"))
        for i in range(3):
            c.call({}, "echo", value=i)
        s.stop(); s.wait(); t.cleanup()
        print(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
              .read().decode())
        try:
            serve_prometheus(port=0)
        except RuntimeError as exc:
            print("second:", exc)
        server.shutdown()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sent = [_sample(line) for line in lines
            if line.startswith("messaging_client_messages_total{")]
    assert sent == [({"driver": "fake", "method": "echo", "outcome": "ok", "operation": "call",
                      "topic": "prom"}, 3.0)]
    assert any(line.startswith("messaging_client_duration_seconds_count{") and
               line.endswith(" 3.0") for line in lines), lines
    assert any(line.startswith("messaging_server_messages_total{") for line in lines)
    assert any("already installed a MeterProvider" in line for line in lines)


def test_metrics_enabled_without_opentelemetry_is_a_clear_error():
    code = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None
        import messaging
        try:
            messaging.get_transport({"messaging_metrics": {"metrics_enabled": True}},
                                    "fake://")
        except messaging.MessagingException as exc:
            print("refused:", exc)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "refused:" in result.stdout and "messaging[tracing]" in result.stdout, result


def test_unavailable_is_a_messaging_exception():
    assert issubclass(MetricsUnavailable, messaging.MessagingException)
    with pytest.raises(ValueError):
        messaging.get_transport({"messaging_metrics": {"metrics_enabled": "maybe"}}, "fake://")
