"""Helpers for the kit's asyncio tests: wait on a loop, a gated endpoint, catch a blocked loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Gated", "LoopWatch", "async_wait_for", "watch_loop"]

#: Seconds one callback may hold the loop before the watch counts it as blocking.
SLOW_CALLBACK = 0.05


async def async_wait_for(predicate: Callable[[], Any], timeout: float = 10.0,
                         interval: float = 0.01, message: str = "condition") -> Any:
    """Poll ``predicate`` on the loop until truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


class Gated:
    """An async endpoint: ``held`` calls wait for :attr:`gate`, ``echo`` answers at once.

    The gate is an :class:`asyncio.Event` of the loop the server runs on
    (the test's own, when it starts the server from async code).
    """

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.arrived: list[Any] = []
        self.finished: list[Any] = []

    async def held(self, ctxt: Any, n: Any) -> Any:
        self.arrived.append(n)
        await self.gate.wait()
        self.finished.append(n)
        return n

    async def echo(self, ctxt: Any, value: Any) -> Any:
        return value


class LoopWatch(logging.Handler):
    """Collects asyncio's debug-mode reports of callbacks that held the loop too long."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.slow: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Executing ") and " took " in text:
            self.slow.append(text)


@contextlib.contextmanager
def watch_loop(loop: asyncio.AbstractEventLoop,
               threshold: float = SLOW_CALLBACK) -> Iterator[LoopWatch]:
    """Put ``loop`` in debug mode with a ``threshold``-second slow-callback limit.

    The yielded :class:`LoopWatch` lists every callback asyncio reported as
    slower than that while the block ran. The objects alive before the block
    are collected and frozen (:func:`gc.freeze`) for its duration, so that a
    full garbage collection of a long test run's heap, which can take tens of
    milliseconds and says nothing about the code under test, is not counted.
    """
    watch = LoopWatch()
    gc.collect()
    gc.freeze()
    logger = logging.getLogger("asyncio")
    old = (loop.get_debug(), loop.slow_callback_duration, logger.level)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    logger.addHandler(watch)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield watch
    finally:
        gc.unfreeze()
        logger.removeHandler(watch)
        loop.set_debug(old[0])
        loop.slow_callback_duration = old[1]
        logger.setLevel(old[2])
