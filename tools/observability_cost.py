"""What tracing and metrics cost: sequential calls with each off and on, in interleaved rounds.

Usage: ``python tools/observability_cost.py URL [-n CALLS] [--rounds R]``
(e.g. ``fake://`` or ``rabbit://guest:guest@127.0.0.1:5672/``). Modes:

- ``off``: neither enabled (the default; the transport has no instrumentation);
- ``traces``: ``tracing_enabled``, an SDK TracerProvider with a batch processor
  whose exporter drops the spans (the in-process cost, without the network);
- ``metrics``: ``metrics_enabled``, an SDK MeterProvider (recording only);
- ``both``.

For a bus that crosses processes the server runs in a child process set up
the same way as the client. Each round runs every mode once, in turn, so a
busy machine slows them alike; the table gives each mode's median CPU time
per call (client and server processes), its range and the ratio to
``off``. (With everything off a transport's verbs are the plain methods: the
only thing added is one ``is None`` test per received message.)
``run(url, n, rounds)`` returns the rows, for the benchmark harness.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

MODES = ("off", "traces", "metrics", "both")


def _conf(mode: str) -> dict[str, Any]:
    return {"oslo_messaging_tracing": {"tracing_enabled": mode in ("traces", "both")},
            "messaging_metrics": {"metrics_enabled": mode in ("metrics", "both")}}


def _install_sdk() -> None:
    """SDK providers as an application would install them, exporting nowhere."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


class Echo:
    def echo(self, ctxt: Any, value: Any) -> Any:
        return value


def _serve(url: str, topic: str, mode: str) -> None:
    import messaging

    transport = messaging.get_rpc_transport(_conf(mode), url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                      [Echo()])
    server.start()
    print("ready", flush=True)
    sys.stdin.readline()  # "start": the measured calls begin
    began = time.process_time()
    sys.stdin.readline()  # "stop"
    print(time.process_time() - began, flush=True)
    server.stop()
    server.wait()
    transport.cleanup()


def _cpu_per_call(url: str, mode: str, n: int, in_process: bool) -> float:
    """CPU microseconds per sequential call, client and server together."""
    import messaging

    topic = f"cost_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(_conf(mode), url)
    child = server = None
    try:
        if in_process:
            server = messaging.get_rpc_server(transport, messaging.Target(topic=topic,
                                                                          server="s"), [Echo()])
            server.start()
        else:
            child = subprocess.Popen([sys.executable, __file__, "--serve", url, topic, mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None and child.stdin is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the server did not start")
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)
        for i in range(min(100, n)):  # warm up
            client.call({}, "echo", value=i)
        if child is not None:
            child.stdin.write("start\n")
            child.stdin.flush()
        began = time.process_time()
        for i in range(n):
            client.call({"user": "u"}, "echo", value=i)
        cpu = time.process_time() - began
        if child is not None:
            out, _ = child.communicate("stop\n", timeout=30)
            child = None
            cpu += float(out.split()[0])
        return cpu / n * 1e6
    finally:
        if server is not None:
            server.stop()
            server.wait()
        if child is not None:
            child.kill()
            child.wait()
        transport.cleanup()


def run(url: str, n: int = 2000, rounds: int = 5) -> list[tuple[str, float, float, float, float]]:
    """Rows ``(mode, median CPU us per call, min, max, ratio to off)``.

    CPU time (client and server processes), not wall time: on a shared
    machine it is the figure that other load disturbs least.
    """
    _install_sdk()
    in_process = url.startswith("fake:")
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            rates[mode].append(_cpu_per_call(url, mode, n, in_process))
    off = statistics.median(rates["off"])
    return [(mode, statistics.median(r), min(r), max(r), statistics.median(r) / off)
            for mode, r in rates.items()]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _install_sdk()
        _serve(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("-n", type=int, default=2000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'mode':8} {'CPU us/call':>11} {'min':>7} {'max':>7} {'vs off':>7}")
    for mode, median, low, high, ratio in run(args.url, args.n, args.rounds):
        print(f"{mode:8} {median:11.0f} {low:7.0f} {high:7.0f} {ratio:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
