"""The OpenTelemetry SDK as a test application installs it: in-memory spans and metrics.

A process can install one TracerProvider and one MeterProvider, so they are
installed once (:mod:`messaging.testing.otel`) and tests tell their data apart by topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from messaging.testing.otel import metric_reader, span_exporter


def install() -> tuple[Any, Any]:
    """Install (once) and return ``(span exporter, metric reader)``."""
    return span_exporter(), metric_reader()


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
