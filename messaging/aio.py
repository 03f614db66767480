"""Awaiting a driver's :class:`concurrent.futures.Future` from asyncio, without a thread.

The driver interface hands out ``concurrent.futures.Future`` s (see
:mod:`messaging.driver`); the async front ends await them here. The future's
completion wakes the loop with ``call_soon_threadsafe``, so a thousand calls
in flight cost a thousand futures, not a thousand threads. Unlike
:func:`asyncio.wrap_future`, a future that the *driver* cancels is reported
as :class:`~messaging.exceptions.MessagingTimeout`, so ``CancelledError``
always means that the awaiting task itself was cancelled; and cancelling the
task cancels the driver's future (which abandons a call: its reply is ignored
and its correlation entry freed).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TypeVar

from .exceptions import MessagingTimeout

__all__ = ["await_future"]

T = TypeVar("T")


async def await_future(future: Future[T], timeout: float | None, overdue: str) -> T:
    """Wait for ``future`` on the running loop; its result, or its exception raised.

    ``timeout`` (seconds, None: none) guards against a driver whose future
    never ends although it should: past it the future is cancelled and
    ``MessagingTimeout(overdue)`` raised, as :func:`messaging.driver.wait_future`
    does for synchronous callers.
    """
    if not future.done():
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def wake(_f: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        def from_any_thread(_f: Future[T]) -> None:
            try:
                loop.call_soon_threadsafe(wake)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        future.add_done_callback(from_any_thread)
        timer = loop.call_later(timeout, wake) if timeout is not None else None
        try:
            await woken
        except asyncio.CancelledError:
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
