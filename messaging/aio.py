"""Awaiting a driver's :class:`concurrent.futures.Future` from asyncio, without a thread.

The driver interface hands out ``concurrent.futures.Future`` s (see
:mod:`messaging.driver`); the async front ends await them here. The future's
completion wakes the loop with ``call_soon_threadsafe`` (once for a burst of
completions), so a thousand calls in flight cost a thousand futures, not a
thousand threads. Unlike
:func:`asyncio.wrap_future`, a future that the *driver* cancels is reported
as :class:`~messaging.exceptions.MessagingTimeout`, so ``CancelledError``
always means that the awaiting task itself was cancelled; and cancelling the
task cancels the driver's future (which abandons a call: its reply is ignored
and its correlation entry freed).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from concurrent.futures import Future
from typing import TypeVar

from .exceptions import MessagingTimeout

__all__ = ["await_future"]

T = TypeVar("T")


class _Waker:
    """Wakes waiters of one loop from other threads, many per loop wake-up.

    ``call_soon_threadsafe`` writes to the loop's self-pipe each time; a
    driver that completes a burst of futures at once (a broker acknowledging
    many publishes with one frame) would pay that, and a loop iteration,
    for every one of them. Here the first completion schedules one drain and
    the ones that follow before it runs join it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the waker is the value of a WeakKeyDictionary keyed by this loop, and a
        # strong reference would keep every loop the process ever ran alive.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._pending: list[asyncio.Future[None]] = []

    def wake(self, waiter: asyncio.Future[None]) -> None:
        """Complete ``waiter`` on its loop soon; callable from any thread."""
        with self._lock:
            self._pending.append(waiter)
            if len(self._pending) > 1:
                return  # a drain is already scheduled
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed (or gone): nobody is waiting any more
            with self._lock:
                self._pending.clear()

    def _drain(self) -> None:
        with self._lock:
            waiters, self._pending = self._pending, []
        for waiter in waiters:
            _complete(waiter)


_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker] = \
    weakref.WeakKeyDictionary()
_wakers_lock = threading.Lock()


def _waker(loop: asyncio.AbstractEventLoop) -> _Waker:
    waker = _wakers.get(loop)
    if waker is None:
        with _wakers_lock:
            waker = _wakers.setdefault(loop, _Waker(loop))
    return waker


def _complete(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def await_future(future: Future[T], timeout: float | None, overdue: str, *,
                       cancel: bool = True) -> T:
    """Wait for ``future`` on the running loop; its result, or its exception raised.

    ``timeout`` (seconds, None: none) guards against a driver whose future
    never ends although it should: past it the future is cancelled and
    ``MessagingTimeout(overdue)`` raised, as :func:`messaging.driver.wait_future`
    does for synchronous callers. If the awaiting task is cancelled, so is
    the future, unless ``cancel`` is False (a send that must go out anyway:
    the task only stops waiting for it).
    """
    if not future.done():
        loop = asyncio.get_running_loop()
        waker = _waker(loop)
        woken: asyncio.Future[None] = loop.create_future()
        future.add_done_callback(lambda _f: waker.wake(woken))
        timer = loop.call_later(timeout, _complete, woken) if timeout is not None else None
        try:
            await woken
        except asyncio.CancelledError:
            if cancel:
                future.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if not future.done():
            future.cancel()
            raise MessagingTimeout(overdue)
    if future.cancelled():
        raise MessagingTimeout(f"{overdue}: cancelled")
    return future.result()
