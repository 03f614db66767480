"""Health a liveness probe can read, and the hook drivers report their connections through.

``transport.health`` and ``server.health`` are snapshots (frozen
dataclasses): whether the transport's connections are up, whether the broker
blocks one (a resource alarm), the last error, and for a server whether it
is consuming. ``.ok`` sums each up; ``.as_dict()`` is JSON for an HTTP probe::

    health = server.health
    if not health.ok:
        return 503, json.dumps(health.as_dict())

A driver reports through its :attr:`messaging.driver.Driver.monitor` (a
:class:`DriverMonitor`), one call per event, from any thread:
``connected(conn)``, ``lost(conn, error)``, ``closed(conn)``,
``blocked(conn, reason)``, ``unblocked(conn)``, ``redelivered()``. ``conn``
is any hashable naming one connection (the connection object itself will
do). The same events feed the reconnect, redelivery and blocked-time metrics.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["DriverMonitor", "ServerHealth", "TransportHealth"]


@dataclass(frozen=True)
class TransportHealth:
    """The state of a transport's connections, as its driver reports them.

    :param connected: True while every connection the driver opened is up,
        False while one is down (reconnecting), None before the driver opened
        any (for a brokerless driver that reports nothing: True).
    :param blocked: True while the broker blocks a connection (resource alarm).
    :param blocked_reason: the broker's reason (e.g. "low on memory").
    :param last_error: the last connection error (never a password), or None.
    :param connections: connections the driver has open (up or down).
    :param reconnects: connections made again after one was lost, so far.
    """

    connected: bool | None
    blocked: bool
    blocked_reason: str | None
    last_error: str | None
    connections: int
    reconnects: int

    @property
    def ok(self) -> bool:
        """Nothing is down and nothing is blocked (a transport not yet connected is ok)."""
        return self.connected is not False and not self.blocked

    def as_dict(self) -> dict[str, Any]:
        """The fields and ``ok``, for JSON."""
        return {**dataclasses.asdict(self), "ok": self.ok}


@dataclass(frozen=True)
class ServerHealth:
    """The state of an RPC server or notification listener and of its transport.

    :param running: between ``start()`` and ``stop()``.
    :param consuming: the subscription is established (messages can arrive).
    :param last_error: why the server is not consuming, if its listener knows.
    :param transport: the transport's :class:`TransportHealth`.
    """

    running: bool
    consuming: bool
    last_error: str | None
    transport: TransportHealth

    @property
    def ok(self) -> bool:
        """Running, consuming, and the transport is ok."""
        return self.running and self.consuming and self.transport.ok

    def as_dict(self) -> dict[str, Any]:
        """The fields and ``ok`` (the transport's nested), for JSON."""
        return {"running": self.running, "consuming": self.consuming,
                "last_error": self.last_error, "transport": self.transport.as_dict(),
                "ok": self.ok}


class DriverMonitor:
    """Where a driver reports its connections' events; read as :class:`TransportHealth`.

    Thread-safe and cheap (a lock and a dict update per event); events are
    rare (connects, losses, alarms), except :meth:`redelivered`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._up: dict[Hashable, bool] = {}
        self._ever_lost: set[Hashable] = set()
        self._blocked: dict[Hashable, tuple[str, float]] = {}
        self._last_error: str | None = None
        self._reconnects = 0
        #: Set by the transport when metrics are enabled.
        self.metrics: Metrics | None = None

    def connected(self, conn: Hashable) -> None:
        """``conn`` is up (again: after :meth:`lost`, this counts as a reconnect)."""
        with self._lock:
            again = conn in self._ever_lost and not self._up.get(conn, False)
            self._up[conn] = True
            if again:
                self._reconnects += 1
        if again and self.metrics is not None:
            self.metrics.reconnected()

    def lost(self, conn: Hashable, error: BaseException | str | None = None) -> None:
        """``conn`` is down and the driver reconnects; ``error`` says why (no password in it)."""
        with self._lock:
            self._up[conn] = False
            self._ever_lost.add(conn)
            if error is not None:
                self._last_error = _describe(error)
        self._end_block(conn)

    def failed(self, error: BaseException | str) -> None:
        """Record an error that is not a connection's state (e.g. a refused subscription)."""
        with self._lock:
            self._last_error = _describe(error)

    def closed(self, conn: Hashable) -> None:
        """``conn`` was closed for good (cleanup): it no longer counts."""
        with self._lock:
            self._up.pop(conn, None)
            self._ever_lost.discard(conn)
        self._end_block(conn)

    def blocked(self, conn: Hashable, reason: str | None) -> None:
        """The broker blocks ``conn`` (``connection.blocked``: a memory or disk alarm)."""
        with self._lock:
            new = conn not in self._blocked
            self._blocked[conn] = (reason or "no reason given", time.monotonic())
        if new and self.metrics is not None:
            self.metrics.blocked()

    def unblocked(self, conn: Hashable) -> None:
        """The broker unblocked ``conn``."""
        self._end_block(conn)

    def redelivered(self, count: int = 1) -> None:
        """The bus delivered ``count`` message(s) again (the AMQP ``redelivered`` flag...)."""
        if self.metrics is not None:
            self.metrics.redelivered(count)

    def _end_block(self, conn: Hashable) -> None:
        with self._lock:
            block = self._blocked.pop(conn, None)
        if block is not None and self.metrics is not None:
            self.metrics.unblocked(time.monotonic() - block[1])

    def snapshot(self, brokered: bool = True) -> TransportHealth:
        """The current state; ``brokered`` False: a driver that reports nothing is connected."""
        with self._lock:
            up = list(self._up.values())
            blocked = list(self._blocked.values())
            connected: bool | None
            if up:
                connected = all(up)
            else:
                connected = None if brokered else True
            return TransportHealth(
                connected=connected, blocked=bool(blocked),
                blocked_reason=blocked[0][0] if blocked else None,
                last_error=self._last_error, connections=len(up),
                reconnects=self._reconnects)


def _describe(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)
