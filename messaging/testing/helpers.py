"""Small helpers for tests: wait with a deadline, record calls, run a server."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import envelope
from ..server import MessageHandlingServer
from ..transport import LEAK_RECORD_ATTRIBUTE

__all__ = ["Recorder", "no_driver_leaks", "raw_notification", "raw_request", "running_server",
           "wait_for"]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
             message: str = "condition") -> Any:
    """Poll ``predicate`` until it is truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Recorder:
    """Thread-safe list of what endpoints saw, with a wait for a count."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Any]:
        """Block until at least ``count`` items arrived; fail after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise AssertionError(f"expected {count} items within {timeout}s, "
                                     f"got {len(self._items)}: {self._items!r}")
            return list(self._items)


class _LeakRecords(logging.Handler):
    """Collects the transport's records of a driver exception it had to convert."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, LEAK_RECORD_ATTRIBUTE):
            self.leaks.append(record.getMessage())


@contextlib.contextmanager
def no_driver_leaks() -> Iterator[None]:
    """Fail (``AssertionError`` at exit) if a driver let a non-``messaging`` exception out.

    The :class:`~messaging.Transport` turns such an exception from a send into
    ``MessageDeliveryFailure``, so applications see the documented error, and
    logs it; this notices that log record, so a test still sees that the
    driver broke the interface. The kit wraps each of its tests in it.
    """
    handler = _LeakRecords()
    logger = logging.getLogger("messaging.transport")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.leaks, f"a driver leaked a non-messaging exception: {handler.leaks}"


@contextlib.contextmanager
def running_server(server: MessageHandlingServer) -> Iterator[MessageHandlingServer]:
    """Start ``server``, yield it, then stop and wait for it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.wait()


def start_all(servers: Sequence[MessageHandlingServer]) -> contextlib.ExitStack:
    """Start several servers; the returned stack stops them all."""
    stack = contextlib.ExitStack()
    for s in servers:
        stack.enter_context(running_server(s))
    return stack


def raw_request(method: str, args: dict[str, Any] | None = None, *,
                unique_id: str | None = None) -> bytes:
    """The bytes of a cast of ``method(**args)`` as drivers carry it (the 2.0 envelope).

    ``unique_id`` fixes the ``_unique_id`` a driver de-duplicates on.
    """
    inner = envelope.build_request({"method": method, "args": args or {}}, {})
    if unique_id is not None:
        inner["_unique_id"] = unique_id
    return envelope.encode(envelope.wrap(inner))


def raw_notification(priority: str, event_type: str, payload: Any, *,
                     unique_id: str | None = None) -> bytes:
    """The bytes of a 2.0 notification at ``priority`` (e.g. ``"INFO"``)."""
    inner = envelope.build_notification(
        {"message_id": envelope.new_id(), "publisher_id": "kit.raw", "event_type": event_type,
         "priority": priority, "payload": payload, "timestamp": "2026-01-01 00:00:00.000000"},
        {})
    if unique_id is not None:
        inner["_unique_id"] = unique_id
    return envelope.encode(envelope.wrap(inner))
