"""OpenTelemetry's SDK for tests: the spans and metrics of this process, kept in memory.

A process has one TracerProvider and one MeterProvider. :func:`span_exporter`
and :func:`metric_reader` install SDK ones when the application installed
none, and otherwise attach to the SDK ones installed (a TracerProvider takes
another span processor; a MeterProvider cannot take another reader, so a
foreign MeterProvider is an error). Tests tell their data apart by topic.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["metric_reader", "span_exporter"]

_LOCK = threading.Lock()
_EXPORTER: Any = None
_READER: Any = None


def span_exporter() -> Any:
    """An ``InMemorySpanExporter`` receiving every span of the process (made once)."""
    global _EXPORTER
    with _LOCK:
        if _EXPORTER is None:
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            provider = trace.get_tracer_provider()
            if isinstance(provider, trace.ProxyTracerProvider):
                provider = TracerProvider()
                trace.set_tracer_provider(provider)
            if not isinstance(provider, TracerProvider):
                raise RuntimeError(f"the installed {type(provider).__name__} is not the SDK's")
            exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            _EXPORTER = exporter
        return _EXPORTER


def metric_reader() -> Any:
    """An ``InMemoryMetricReader`` of the process's MeterProvider (installed once, here)."""
    global _READER
    with _LOCK:
        if _READER is None:
            from opentelemetry import metrics
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader

            reader = InMemoryMetricReader()
            provider = MeterProvider(metric_readers=[reader])
            metrics.set_meter_provider(provider)  # refused (logged) if one was installed
            if metrics.get_meter_provider() is not provider:
                raise RuntimeError("another MeterProvider was installed first")
            _READER = reader
        return _READER
