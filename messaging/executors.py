"""Executors run a server's dispatches; loaded by name from ``messaging.executors``.

``blocking`` runs each dispatch in the server's polling thread (one at a
time, in order); ``threading`` runs them on a pool of
``executor_thread_pool_size`` threads; ``asyncio`` runs them as coroutines
on an event loop (:class:`AsyncioExecutor`). A third party may register
more: any :class:`concurrent.futures.Executor` taking ``max_workers`` will do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .exceptions import ExecutorLoadFailure
from .first_use import first_use_setup
from .steps import is_async_callable

__all__ = ["EXECUTOR_NAMESPACE", "AsyncioExecutor", "BlockingExecutor", "ThreadingExecutor",
           "StartedThreadPool", "load_executor", "start_threads"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")
#: Seconds to wait for a pool's threads to start before going on without them.
_THREAD_START_TIMEOUT = 30.0

EXECUTOR_NAMESPACE = "messaging.executors"


class BlockingExecutor(concurrent.futures.Executor):
    """Runs each task in the caller's thread before ``submit`` returns."""

    def __init__(self, max_workers: int | None = None) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any,
               ) -> concurrent.futures.Future[Any]:
        """Run ``fn`` now, in this thread; return a future holding its outcome."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the future, as a pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work (nothing runs in the background to wait for)."""
        self._shutdown = True


class ThreadingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose threads are named after the server."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers or 64, thread_name_prefix="messaging-worker")


class AsyncioExecutor(concurrent.futures.Executor):
    """Runs coroutine functions on an event loop, and plain functions on a bounded thread pool.

    It is a :class:`concurrent.futures.Executor` (``submit`` returns a
    concurrent future, ``shutdown(wait=True)`` waits for the work in
    flight), so a server treats it like the other executors: the same
    semaphore of ``max_workers`` slots bounds the messages in flight, here
    coroutines, and ``wait()`` drains it the same way. A server hands it the
    coroutine form of its work, which awaits ``async def`` endpoints on the
    loop and runs sync endpoints and driver calls (acknowledge, requeue,
    reply) through :meth:`run_blocking` on the pool of ``max_workers``
    threads, never on the loop.

    The loop is the one given to :meth:`use_loop` (a server started from
    async code passes the running loop and the application keeps owning
    it); otherwise the executor starts its own loop in a daemon thread on
    first use and closes it at :meth:`shutdown`.

    An event loop fits the executor abstraction this way, so ``asyncio`` is
    an entry point of ``messaging.executors`` like the others rather than a
    special case in the server, which only hands it a loop and the
    coroutine form of its work.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self._max_workers = max_workers or 64
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owned: threading.Thread | None = None
        self._pool = StartedThreadPool(self._max_workers, "messaging-worker")
        self._in_flight: set[concurrent.futures.Future[Any]] = set()
        self._shutdown = False

    def use_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Run coroutines on ``loop`` (None: a loop of the executor's own, in its own thread).

        Also starts the pool's threads now: starting a thread waits for it to
        run, which must not happen later on the loop, when work is handed to
        the pool. (A server calls this from ``start``, off the loop.)
        """
        self._pool.get()
        with self._lock:
            if self._loop is not None:
                raise RuntimeError("the executor already runs on a loop")
            if loop is None:
                loop = asyncio.new_event_loop()
                self._owned = threading.Thread(target=_run_owned_loop, args=(loop,),
                                               name="messaging-asyncio", daemon=True)
                self._owned.start()
            self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop coroutines run on (starting the executor's own if none was given)."""
        if self._loop is None:
            self.use_loop(None)
        assert self._loop is not None
        return self._loop

    def on_own_loop(self) -> bool:
        """True when called from a coroutine running on this executor's loop."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any,
               ) -> concurrent.futures.Future[Any]:
        """Schedule ``fn``: awaited on the loop if it is ``async def``, else run on the pool."""
        if not is_async_callable(fn):
            with self._lock:
                if self._shutdown:
                    raise RuntimeError("cannot schedule new work after shutdown")
            return self._pool.get().submit(fn, *args, **kwargs)
        loop = self.loop
        coro = fn(*args, **kwargs)
        with self._lock:
            if self._shutdown or loop.is_closed():
                coro.close()
                raise RuntimeError("cannot schedule new work after shutdown or once the "
                                   "event loop is closed")
            try:
                future = asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:  # the loop closed meanwhile
                coro.close()
                raise
            self._in_flight.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    async def run_blocking(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the executor's thread pool and await its result."""
        call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        return await asyncio.get_running_loop().run_in_executor(self._pool.get(), call)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work; with ``wait``, return once the work in flight is done.

        Waiting from a coroutine on the executor's own loop would wait for
        itself: that raises ``RuntimeError`` (await the server's ``astop()``
        instead). The executor's own loop, if it started one, is closed.
        """
        with self._lock:
            self._shutdown = True
            in_flight = list(self._in_flight)
        if cancel_futures:
            for future in in_flight:
                future.cancel()
        if wait and in_flight:
            if self.on_own_loop():
                raise RuntimeError("waiting for the server's coroutines from its own event "
                                   "loop would block them; use 'await server.astop()'")
            concurrent.futures.wait(in_flight)
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        owned, loop = self._owned, self._loop
        if owned is not None and loop is not None:
            self._owned = None
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # already closed
                return
            if wait and owned is not threading.current_thread():
                owned.join()


class StartedThreadPool:
    """A thread pool made on first use with all its threads started at once.

    A pool otherwise starts a thread inside ``submit`` when none is idle,
    and starting a thread waits for it to run: on an event loop, a stall.
    ``shutdown`` drops the pool; the next use makes a new one.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = max_workers
        self.name = name
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def get(self) -> concurrent.futures.ThreadPoolExecutor:
        """The pool, made and its threads started if there is none yet."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self.max_workers, thread_name_prefix=self.name)
                    start_threads(self._pool, self.max_workers)
                pool = self._pool
        return pool

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down (if there is one) and forget it."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@first_use_setup
def start_threads(pool: concurrent.futures.ThreadPoolExecutor, count: int) -> None:
    """Make ``pool`` start ``count`` threads now: each task holds its thread until all started."""
    started = threading.Barrier(count + 1)

    def hold() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            started.wait(_THREAD_START_TIMEOUT)

    for _ in range(count):
        pool.submit(hold)
    with contextlib.suppress(threading.BrokenBarrierError):
        started.wait(_THREAD_START_TIMEOUT)


def _run_owned_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Body of an executor's own loop thread: run until stopped, then close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:  # background tasks endpoints left behind
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    except Exception:
        LOG.exception("Error closing the server's event loop")
    finally:
        loop.close()


def load_executor(name: str, max_workers: int) -> concurrent.futures.Executor:
    """Build the executor registered as ``name``; unknown names list the installed ones."""
    from stevedore import driver as sd_driver

    try:
        mgr: Any = sd_driver.DriverManager(EXECUTOR_NAMESPACE, name, invoke_on_load=True,
                                      invoke_kwds={"max_workers": max_workers})
    except Exception as exc:
        from importlib import metadata

        known = sorted(ep.name for ep in metadata.entry_points(group=EXECUTOR_NAMESPACE))
        raise ExecutorLoadFailure(name, f"{exc}; installed executors: {', '.join(known)}"
                                  ) from None
    executor: concurrent.futures.Executor = mgr.driver
    return executor
