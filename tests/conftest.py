"""Root of the test tree: puts ``tests/`` on the path for ``rabbitmq_local``."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def spans() -> Any:
    """The in-memory exporter of the test process's TracerProvider, emptied for the test."""
    pytest.importorskip("opentelemetry.sdk")
    from otel_helpers import install

    exporter, _reader = install()
    exporter.clear()
    return exporter


@pytest.fixture
def metric_reader() -> Any:
    """The in-memory reader of the test process's MeterProvider (cumulative: filter by topic)."""
    pytest.importorskip("opentelemetry.sdk")
    from otel_helpers import install

    return install()[1]
