"""Counters and histograms through the OpenTelemetry metrics API, and a Prometheus endpoint.

Turned on with ``[messaging_metrics] metrics_enabled = true`` (needs
``opentelemetry-api``: ``pip install 'messaging[tracing]'``). The instruments
are made on the global MeterProvider the application installs (also one it
installs later: the API's meters follow it); without one they record
nothing. :func:`serve_prometheus` installs one that Prometheus can scrape,
when the application has none (``pip install 'messaging[prometheus]'``).

Every label is bounded: ``driver`` (the URL scheme), ``operation`` (``call``,
``cast``, ``fanout``, ``notify``), ``topic``, ``method`` (a notification's
priority), ``outcome``; never a message id. On a server, a method no
endpoint has is labelled ``unknown``, so callers cannot grow the label set.

========================================  ==========  =============================================
instrument                                unit        what
========================================  ==========  =============================================
``messaging.client.messages``             {message}   requests and notifications sent, by outcome
                                                      (``ok``, ``remote_error``, ``timeout``,
                                                      ``failed``)
``messaging.client.duration``             s           a call until its reply; a cast or
                                                      notification until the bus took it
``messaging.client.calls.in_flight``      {call}      calls waiting for their reply
``messaging.server.messages``             {message}   requests and notifications handled, by
                                                      outcome (``ok``, ``error``, ``refused``,
                                                      ``requeued``, ``malformed``)
``messaging.server.duration``             s           time the endpoints took
``messaging.server.queue.duration``       s           from the server taking a message off the bus
                                                      to its dispatch (waiting for a worker)
``messaging.driver.reconnects``           {connect}   connections made again after one was lost
``messaging.driver.redeliveries``         {message}   messages the bus delivered again
``messaging.driver.blocked.duration``     s           time connections spent blocked by the broker
``messaging.driver.blocked.connections``  {conn}      connections blocked right now
========================================  ==========  =============================================
"""

from __future__ import annotations

import threading
from typing import Any

from . import options as _options
from .exceptions import MessagingException
from .options import Option

__all__ = ["GROUP", "METRICS_OPTIONS", "Metrics", "MetricsUnavailable", "metrics_options",
           "serve_prometheus"]

GROUP = "messaging_metrics"

METRICS_OPTIONS: tuple[Option, ...] = (
    Option("metrics_enabled", bool, False,
           "Record counters and histograms of sends, receipts, latencies, reconnects and "
           "blocked time through the OpenTelemetry metrics API (needs opentelemetry-api: "
           "pip install 'messaging[tracing]'); the application's MeterProvider receives them."),
)

_options.OPTION_GROUPS[GROUP] = METRICS_OPTIONS

SCOPE = "messaging"
#: Histogram buckets in seconds, from a fast local call to a minute-long timeout.
SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
           30.0, 60.0)


class MetricsUnavailable(MessagingException, RuntimeError):
    """Metrics are enabled but the packages they need are not installed."""


def metrics_options(conf: Any) -> dict[str, Any]:
    """The ``[messaging_metrics]`` values of ``conf`` (ConfigOpts, mapping or None)."""
    return _options.resolve_options(conf, GROUP, METRICS_OPTIONS)


class _Instruments:
    """The process's instruments, made once on the global meter."""

    def __init__(self) -> None:
        from opentelemetry import metrics

        meter = metrics.get_meter(SCOPE)
        self.client_messages = meter.create_counter(
            "messaging.client.messages", unit="{message}",
            description="Requests and notifications sent, by outcome")
        self.client_duration = meter.create_histogram(
            "messaging.client.duration", unit="s",
            description="Calls until their reply; casts and notifications until the bus took "
                        "them", explicit_bucket_boundaries_advisory=SECONDS)
        self.in_flight = meter.create_up_down_counter(
            "messaging.client.calls.in_flight", unit="{call}",
            description="Calls waiting for their reply")
        self.server_messages = meter.create_counter(
            "messaging.server.messages", unit="{message}",
            description="Requests and notifications handled by servers and listeners")
        self.server_duration = meter.create_histogram(
            "messaging.server.duration", unit="s", description="Time the endpoints took",
            explicit_bucket_boundaries_advisory=SECONDS)
        self.queue_duration = meter.create_histogram(
            "messaging.server.queue.duration", unit="s",
            description="From a server taking a message off the bus to its dispatch",
            explicit_bucket_boundaries_advisory=SECONDS)
        self.reconnects = meter.create_counter(
            "messaging.driver.reconnects", unit="{connect}",
            description="Connections made again after one was lost")
        self.redeliveries = meter.create_counter(
            "messaging.driver.redeliveries", unit="{message}",
            description="Messages the bus delivered again")
        self.blocked_duration = meter.create_counter(
            "messaging.driver.blocked.duration", unit="s",
            description="Time connections spent blocked by the broker")
        self.blocked_connections = meter.create_up_down_counter(
            "messaging.driver.blocked.connections", unit="{conn}",
            description="Connections blocked by the broker right now")


_LOCK = threading.Lock()
_INSTRUMENTS: _Instruments | None = None


def _instruments() -> _Instruments:
    global _INSTRUMENTS
    with _LOCK:
        if _INSTRUMENTS is None:
            _INSTRUMENTS = _Instruments()
        return _INSTRUMENTS


class Metrics:
    """What one transport records (built only when metrics are enabled).

    :param driver: the ``driver`` label (the transport URL's scheme).
    :raises MetricsUnavailable: opentelemetry-api is not installed.
    """

    def __init__(self, driver: str) -> None:
        try:
            self._i = _instruments()
        except ImportError:
            raise MetricsUnavailable(
                "[messaging_metrics] metrics_enabled is set but opentelemetry-api is not "
                "installed: pip install 'messaging[tracing]'") from None
        self.driver = driver
        self._driver_labels = {"driver": driver}

    def labels(self, operation: str, topic: str, method: str | None) -> dict[str, str]:
        """The bounded labels of one operation (``outcome`` is added when it ends)."""
        return {"driver": self.driver, "operation": operation, "topic": topic,
                "method": method or ""}

    # -- clients ---------------------------------------------------------------------------

    def sent(self, labels: dict[str, str], outcome: str, seconds: float) -> None:
        """One send ended with ``outcome`` after ``seconds``."""
        done = {**labels, "outcome": outcome}
        self._i.client_messages.add(1, done)
        self._i.client_duration.record(seconds, done)

    def call_started(self, labels: dict[str, str]) -> None:
        self._i.in_flight.add(1, {"driver": self.driver, "topic": labels["topic"]})

    def call_ended(self, labels: dict[str, str]) -> None:
        self._i.in_flight.add(-1, {"driver": self.driver, "topic": labels["topic"]})

    # -- servers ---------------------------------------------------------------------------

    def handled(self, labels: dict[str, str], outcome: str, seconds: float | None) -> None:
        """A server or listener handled one message (``seconds``: in its endpoints)."""
        done = {**labels, "outcome": outcome}
        self._i.server_messages.add(1, done)
        if seconds is not None:
            self._i.server_duration.record(seconds, done)

    def queued(self, kind: str, seconds: float) -> None:
        """A message waited ``seconds`` between the bus and its dispatch (``kind``: rpc...)."""
        self._i.queue_duration.record(seconds, {"driver": self.driver, "kind": kind})

    # -- drivers (through messaging.health.DriverMonitor) -----------------------------------

    def reconnected(self) -> None:
        self._i.reconnects.add(1, self._driver_labels)

    def redelivered(self, count: int) -> None:
        self._i.redeliveries.add(count, self._driver_labels)

    def blocked(self) -> None:
        self._i.blocked_connections.add(1, self._driver_labels)

    def unblocked(self, seconds: float) -> None:
        self._i.blocked_connections.add(-1, self._driver_labels)
        self._i.blocked_duration.add(seconds, self._driver_labels)


def serve_prometheus(port: int = 9464, address: str = "127.0.0.1") -> Any:
    """Expose the metrics for Prometheus at ``http://address:port/metrics``; returns the server.

    Installs a MeterProvider reading into ``prometheus_client``'s registry,
    unless the application installed a MeterProvider already: then add
    ``opentelemetry.exporter.prometheus.PrometheusMetricReader()`` to its
    readers and serve ``prometheus_client`` yourself (this raises
    ``RuntimeError`` saying so rather than replace it). Needs
    ``pip install 'messaging[prometheus]'``. Returns the
    ``prometheus_client`` HTTP server (``.shutdown()`` stops it).
    """
    try:
        import prometheus_client
        from opentelemetry import metrics
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
    except ImportError as exc:
        raise MetricsUnavailable(f"the Prometheus exporter needs pip install "
                                 f"'messaging[prometheus]' ({exc})") from None
    current = metrics.get_meter_provider()
    if type(current).__name__ != "_ProxyMeterProvider":
        raise RuntimeError(
            "the application already installed a MeterProvider; add "
            "opentelemetry.exporter.prometheus.PrometheusMetricReader() to its metric_readers "
            "and serve prometheus_client (prometheus_client.start_http_server) instead")
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    server, _thread = prometheus_client.start_http_server(port, addr=address)
    return server
