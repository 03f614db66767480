"""In-memory driver (``fake://``): RabbitMQ's topology in one process, for tests."""

from __future__ import annotations

from .driver import FakeDriver

__all__ = ["FakeDriver"]
