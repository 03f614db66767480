"""messaging.aio: awaiting driver futures keeps no event loop alive once it is closed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import weakref

from messaging import aio


async def _await_one_completed_elsewhere() -> weakref.ref[asyncio.AbstractEventLoop]:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    threading.Timer(0.01, future.set_result, (7,)).start()
    assert await aio.await_future(future, 10, "overdue") == 7
    return weakref.ref(asyncio.get_running_loop())


def test_closed_loops_are_freed():
    loops = [asyncio.run(_await_one_completed_elsewhere()) for _ in range(5)]
    gc.collect()
    assert [ref() for ref in loops] == [None] * 5
    assert not any(ref() in aio._wakers for ref in loops)
    assert len(aio._wakers) == 0
