"""The OpenTelemetry SDK as a test application installs it: in-memory spans and metrics.

A process can install one TracerProvider and one MeterProvider, so they are
installed once (:func:`install`) and tests tell their data apart by topic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

_LOCK = threading.Lock()
_INSTALLED: tuple[Any, Any] | None = None


def install() -> tuple[Any, Any]:
    """Install (once) and return ``(span exporter, metric reader)``."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED is None:
            from opentelemetry import metrics, trace
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            reader = InMemoryMetricReader()
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            _INSTALLED = (exporter, reader)
        return _INSTALLED


def points(reader: Any, name: str, **labels: str) -> list[Any]:
    """The data points of metric ``name`` whose attributes include ``labels``."""
    data = reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    attrs = dict(point.attributes)
                    if all(attrs.get(k) == v for k, v in labels.items()):
                        found.append(point)
    return found


def total(reader: Any, name: str, **labels: str) -> float:
    """The sum of a counter's points (or a histogram's counts) matching ``labels``."""
    out = 0.0
    for point in points(reader, name, **labels):
        out += point.count if hasattr(point, "bucket_counts") else point.value
    return out


def spans_of(exporter: Any, trace_id: int) -> Iterator[Any]:
    """Finished spans of one trace."""
    return (s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id)
