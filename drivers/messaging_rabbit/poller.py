"""Waiting for the I/O thread's file descriptors, in a plain process and under eventlet.

The kombu connection's I/O thread waits on two descriptors: the broker's
socket and a wake-up pipe. In a plain process that is ``select.poll``. A
process monkey-patched by eventlet has no ``select.poll`` any more (eventlet
deletes it, even from a module imported before the patch), its I/O
"thread" is a green thread, and a real blocking wait there would stop every
green thread of the process. There the wait goes through eventlet's hub
(its green ``select``), and what it reports is checked again with the real,
unpatched ``poll`` at a zero timeout: the hub may wake a waiter for a
descriptor that another read has already emptied, and a green read of an
empty pipe or socket would then block the I/O thread until more bytes come.

The mode is chosen when a :class:`Poller` is built: a connection made after
the patch waits the green way, one made in a plain process the real way.
"""

from __future__ import annotations

import math
import os
import select
import time
from typing import Any

from messaging.green import is_monkey_patched

__all__ = ["Poller", "select_is_patched"]


def select_is_patched() -> bool:
    """True if eventlet monkey-patched ``select`` in this process (never imports eventlet)."""
    return is_monkey_patched("select")


def _originals() -> tuple[Any, Any]:
    """The unpatched ``select`` and ``os`` modules of a monkey-patched process."""
    from eventlet import patcher

    return patcher.original("select"), patcher.original("os")


class Poller:
    """Readiness of a few file descriptors for reading, with a timeout in seconds.

    ``register``/``unregister`` descriptors, then ``poll(timeout)`` returns
    the registered ones readable now (waiting up to ``timeout`` for one);
    ``readable(fd)`` asks about one without waiting; ``read(fd, n)`` reads
    a non-blocking descriptor without ever waiting (``b''`` when it is empty).
    """

    def __init__(self) -> None:
        self.green = select_is_patched()
        self._fds: list[int] = []
        if self.green:
            from eventlet.green import select as green_select

            real_select, real_os = _originals()
            self._green_select: Any = green_select.select
            self._real_poll: Any = real_select.poll
            self._read: Any = real_os.read
            self._pollin = int(real_select.POLLIN)
        else:
            self._green_select = None
            self._real_poll = select.poll
            self._read = os.read
            self._pollin = int(select.POLLIN)
        self._poll = self._real_poll()

    def register(self, fd: int) -> None:
        """Watch ``fd`` for reading."""
        self._poll.register(fd, self._pollin)
        self._fds.append(fd)

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd`` (a descriptor not watched is ignored)."""
        if fd in self._fds:
            self._fds.remove(fd)
            self._poll.unregister(fd)

    def poll(self, timeout: float) -> list[int]:
        """The registered descriptors readable now, waiting up to ``timeout`` seconds."""
        if not self.green:
            return self._ready(max(0, math.ceil(timeout * 1000)))
        deadline = time.monotonic() + timeout
        while True:
            ready = self._ready(0)
            if ready:
                return ready
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            # the hub's wait lets every other green thread run meanwhile
            self._green_select(list(self._fds), [], [], remaining)

    def readable(self, fd: int) -> bool:
        """True if ``fd`` has bytes to read now (never waits)."""
        check = self._real_poll()
        check.register(fd, self._pollin)
        return bool(check.poll(0))

    def read(self, fd: int, size: int) -> bytes:
        """Read up to ``size`` bytes of a non-blocking ``fd``; ``b''`` if none are there."""
        try:
            data: bytes = self._read(fd, size)
        except (BlockingIOError, InterruptedError):
            return b""
        return data

    def _ready(self, timeout_ms: int) -> list[int]:
        events: list[tuple[int, int]] = self._poll.poll(timeout_ms)
        return [fd for fd, _event in events]
