"""The server loop shared by RPC servers and notification listeners.

One daemon thread polls the driver's listener and hands each message (or
batch) to the executor, which runs the dispatcher. ``start``, ``stop`` and
``wait`` are idempotent and safe to call from any thread; ``wait`` returns
once ``stop`` was called and every message already taken has been handled.

With ``executor='asyncio'`` the dispatcher's steps (:mod:`messaging.steps`)
run as coroutines: ``async def`` endpoints on an event loop, sync endpoints
and driver calls on the executor's thread pool. Started from async code
(``async with server:``, ``await server.astart()``, or ``start()`` inside a
coroutine, which subscribes in a worker thread) the server uses the running
loop; started from sync code it owns a loop in its own thread. The polling
thread never runs on the loop: it hands each message over with
``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .driver import IncomingMessage, Listener
from .exceptions import (  # the last three are re-exported at oslo's module path
    ExecutorLoadFailure,
    InvalidTarget,
    MessagingServerError,
    ServerListenError,
)
from .executors import AsyncioExecutor, load_executor
from .green import server_executor
from .health import ServerHealth
from .steps import Step, Steps, run_steps, run_steps_async

if TYPE_CHECKING:
    from .instrument import Instrumentation
    from .transport import Transport

__all__ = ["Dispatcher", "ExecutorLoadFailure", "MessageHandlingServer", "MessagingServerError",
           "ServerListenError"]

LOG = logging.getLogger(__name__)
_POLL_INTERVAL = 1.0
_ERROR_BACKOFF = 1.0


class Dispatcher(abc.ABC):
    """What a server runs: how to subscribe, and how to handle what arrives."""

    #: Messages handed to :meth:`handle` at once (notification batches).
    batch_size: int = 1
    #: Seconds to wait for a batch to fill before handing over what there is.
    batch_timeout: float | None = None
    #: What the dispatcher listens on, named in errors (a Target or a list of them).
    target: Any = None
    #: What it handles, as metrics label it (``rpc``, ``notification``).
    kind: str = "custom"
    #: The transport's tracing and metrics (set by the server; None when disabled).
    instrumentation: Instrumentation | None = None

    @abc.abstractmethod
    def listen(self, transport: Transport) -> Listener:
        """Subscribe on ``transport`` and return the listener to poll."""

    def handle(self, incoming: list[IncomingMessage]) -> None:
        """Process and settle (ack, requeue, reply) the messages. Must not raise.

        The default runs :meth:`steps` in the calling thread.
        """
        run_steps(self.steps(incoming))

    def steps(self, incoming: list[IncomingMessage]) -> Steps[None]:
        """:meth:`handle` as :class:`~messaging.steps.Step` s, for the ``asyncio`` executor.

        The built-in dispatchers write their handling here once; the default
        (for a dispatcher that only overrides :meth:`handle`) is one step
        running :meth:`handle`, which the ``asyncio`` executor runs on its
        thread pool.
        """
        yield Step(self.handle, incoming)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.handle is Dispatcher.handle and cls.steps is Dispatcher.steps:
            raise TypeError(f"dispatcher {cls.__qualname__} must override handle or steps")


class MessageHandlingServer:
    """Polls a listener and runs a dispatcher on an executor.

    :param executor: name of an executor entry point (``threading``,
        ``blocking``, ``asyncio``, ...); None means ``threading``.

    From async code, ``async with server:`` starts it and on leaving stops
    it and waits for the messages in flight (also :meth:`astart`,
    :meth:`astop`); these work with every executor.
    """

    def __init__(self, transport: Transport, dispatcher: Dispatcher,
                 executor: str | None = None) -> None:
        self.transport = transport
        self.conf = transport.conf  # as oslo's servers
        self.dispatcher = dispatcher
        dispatcher.instrumentation = getattr(transport, "instrumentation", None)
        self.executor_type = server_executor(executor)  # "eventlet" where threads are green
        load_executor(self.executor_type, 1).shutdown(wait=False)  # fail early on a bad name
        self._lock = threading.RLock()
        self._running = False
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._listener: Listener | None = None
        self._executor: concurrent.futures.Executor | None = None
        self._thread: threading.Thread | None = None
        self._slots: threading.BoundedSemaphore | None = None
        # Starts made from an event loop run in a worker thread; a stop meanwhile waits for them.
        self._pending_lock = threading.Lock()
        self._pending_starts = 0
        self._stop_pending = False
        self._starts_settled = threading.Event()
        self._starts_settled.set()
        self._start_tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._running

    @property
    def consuming(self) -> bool:
        """True while running with the subscription established on the bus.

        ``start`` returns promptly even while the bus is unreachable; the
        server then connects (and reconnects) in the background, and this
        turns True once messages can arrive. A liveness probe can read it.
        """
        listener = self._listener
        return self._running and listener is not None and listener.consuming

    @property
    def last_error(self) -> str | None:
        """Why the server is not consuming, if its listener knows."""
        listener = self._listener
        return listener.last_error if listener is not None else None

    @property
    def health(self) -> ServerHealth:
        """Running, consuming, last error and the transport's health, for a liveness probe."""
        return ServerHealth(running=self._running, consuming=self.consuming,
                            last_error=self.last_error, transport=self.transport.health)

    def _create_listener(self) -> Listener:
        """Subscribe on the transport (RPC servers listen on their own target)."""
        return self.dispatcher.listen(self.transport)

    def start(self, override_pool_size: int | None = None) -> asyncio.Task[None] | None:
        """Subscribe and start serving in a background thread; returns promptly.

        While the bus is unreachable the server keeps connecting in the
        background (see :attr:`consuming`). A second call while running does
        nothing. Raises :class:`ServerListenError` if the bus refused the
        subscription.

        Called inside a coroutine, it does not block the event loop:
        subscribing talks to the bus, so it runs in a worker thread, and
        ``start()`` returns at once a task that completes when the server
        is serving (``await`` it to get the ``ServerListenError``; a
        failure is logged either way). ``await server.astart()`` says the
        same more plainly. With ``executor='asyncio'`` endpoints run on that
        running loop; started from sync code, on a loop the server owns.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._start(override_pool_size, None)
            return None
        task = asyncio.ensure_future(self._start_off_loop(override_pool_size,
                                                          self._begin_pending()))
        self._start_tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._started_from_loop)
        return task

    def _started_from_loop(self, task: asyncio.Task[None]) -> None:
        self._start_tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            LOG.error("Server for %s could not start: %s", self.dispatcher.target, error)

    async def astart(self, override_pool_size: int | None = None) -> None:
        """:meth:`start` from async code: endpoints run on the running loop.

        Subscribing talks to the bus, so it runs in a worker thread, never on
        the loop. A ``stop()`` or ``astop()`` made before it finished takes
        effect once it has.
        """
        await self._start_off_loop(override_pool_size, self._begin_pending())

    def _begin_pending(self) -> list[str]:
        """Count a start from a loop as under way (before it yields, so a stop sees it)."""
        with self._pending_lock:
            self._pending_starts += 1
            self._starts_settled.clear()
        return ["queued"]

    async def _start_off_loop(self, override_pool_size: int | None, state: list[str]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._start_pending, override_pool_size, loop, state)
        finally:
            with self._pending_lock:
                abandoned = state[0] == "queued"  # cancelled before the worker took it
                state[0] = "abandoned"
            if abandoned:
                self._settle_pending()

    def _start_pending(self, override_pool_size: int | None,
                       loop: asyncio.AbstractEventLoop, state: list[str]) -> None:
        """Run a start made from a loop, then any stop that was asked for meanwhile."""
        with self._pending_lock:
            if state[0] != "queued":
                return
            state[0] = "running"
        try:
            self._start(override_pool_size, loop)
        finally:
            self._settle_pending()

    def _settle_pending(self) -> None:
        """One start from a loop is over: once none is left, make the stop asked meanwhile."""
        with self._pending_lock:
            self._pending_starts -= 1
            stop = not self._pending_starts and self._stop_pending
            if stop:
                self._stop_pending = False
        if stop:
            self.stop()
        with self._pending_lock:
            if not self._pending_starts:
                self._starts_settled.set()

    async def astop(self) -> None:
        """Stop taking messages and wait for those in flight (:meth:`stop` and :meth:`wait`).

        Waits in a worker thread, so coroutines still running on this loop can finish.
        """
        await asyncio.to_thread(self._stop_and_wait)

    def _stop_and_wait(self) -> None:
        self.stop()
        self.wait()

    async def __aenter__(self) -> MessageHandlingServer:
        await self.astart()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    def _start(self, override_pool_size: int | None,
               loop: asyncio.AbstractEventLoop | None) -> None:
        with self._lock:
            if self._running:
                return
            if self._thread is not None:  # stopped but not yet waited: finish that first
                self._finish()
            pool = override_pool_size or self.transport.executor_thread_pool_size
            try:
                listener = self._create_listener()
            except (ServerListenError, InvalidTarget):
                raise
            except Exception as exc:
                raise ServerListenError(self.dispatcher.target, exc) from exc
            self._listener = listener
            executor = load_executor(self.executor_type, pool)
            if isinstance(executor, AsyncioExecutor):
                executor.use_loop(loop)
            self._executor = executor
            self._slots = threading.BoundedSemaphore(max(pool, 1))
            self._stop_requested.clear()
            self._stopped.clear()
            self._running = True
            self._thread = threading.Thread(target=self._loop, name="messaging-server",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop taking new messages; returns at once. Safe before ``start``."""
        with self._pending_lock:
            if self._pending_starts:  # a start from a loop is under way: stop after it
                self._stop_pending = True
                return
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._stop_requested.set()
            if self._listener is not None:
                self._listener.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Block until ``stop`` was called and in-flight messages are handled.

        Then release the listener and executor. Returns at once if the server
        never started. From a coroutine on the loop that runs this server's
        endpoints, waiting would block them: that raises ``RuntimeError``
        (``await server.astop()`` is the async form).
        """
        executor = self._executor
        if isinstance(executor, AsyncioExecutor) and executor.on_own_loop():
            raise RuntimeError("wait() would block the event loop that runs this server's "
                               "endpoints; use 'await server.astop()'")
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._starts_settled.wait(timeout):
            from .exceptions import TaskTimeout
            raise TaskTimeout("server was still starting at the end of the wait timeout")
        while not self._stop_requested.wait(0.5 if deadline is None
                                            else max(0.0, min(0.5, deadline - time.monotonic()))):
            if not self._running and self._thread is None:
                return
            if deadline is not None and time.monotonic() >= deadline:
                from .exceptions import TaskTimeout
                raise TaskTimeout("server was not stopped within the wait timeout")
        with self._lock:
            self._finish()

    def reset(self) -> None:
        """Kept for oslo.messaging compatibility; nothing to reset."""

    def _finish(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up listener")
        self._stopped.set()

    def _loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stop_requested.is_set():
            started = time.monotonic()
            try:
                batch = self._poll_batch(listener)
            except Exception:
                LOG.exception("Error polling for messages; retrying")
                self._stop_requested.wait(_ERROR_BACKOFF)
                continue
            if batch:
                self._submit(batch)
            elif time.monotonic() - started < 0.005:
                # an empty poll that returned at once: the listener is gone; don't spin
                self._stop_requested.wait(0.1)

    def _poll_batch(self, listener: Listener) -> list[IncomingMessage]:
        size = max(1, self.dispatcher.batch_size)
        batch = listener.poll(timeout=_POLL_INTERVAL, max_messages=size)
        if size == 1 or not batch:
            return batch
        deadline = time.monotonic() + (self.dispatcher.batch_timeout or 0)
        while len(batch) < size and not self._stop_requested.is_set():
            left = deadline - time.monotonic()
            if self.dispatcher.batch_timeout is not None and left <= 0:
                break
            more = listener.poll(timeout=min(_POLL_INTERVAL, left) if
                                 self.dispatcher.batch_timeout is not None else _POLL_INTERVAL,
                                 max_messages=size - len(batch))
            batch.extend(more)
        return batch

    def _submit(self, batch: list[IncomingMessage]) -> None:
        executor, slots = self._executor, self._slots
        assert executor is not None and slots is not None
        slots.acquire()  # back-pressure: never take more than the pool (or loop) can run
        try:
            arrived = time.monotonic() if self.dispatcher.instrumentation is not None else None
            if isinstance(executor, AsyncioExecutor):
                future = executor.submit(self._handle_async, batch, executor, arrived)
            else:
                future = executor.submit(self._handle, batch, arrived)
        except Exception:
            slots.release()
            LOG.exception("Executor refused work; requeueing %d message(s)", len(batch))
            for message in batch:
                _quietly(message.requeue)
            self._stop_requested.wait(_ERROR_BACKOFF)
            return
        future.add_done_callback(lambda _f: slots.release())

    def _queued(self, arrived: float | None) -> None:
        """Record how long a batch waited for a worker (metrics enabled only)."""
        inst = self.dispatcher.instrumentation
        if arrived is not None and inst is not None:
            inst.queued(self.dispatcher.kind, time.monotonic() - arrived)

    def _handle(self, batch: list[IncomingMessage], arrived: float | None = None) -> None:
        self._queued(arrived)
        try:
            self.dispatcher.handle(batch)
        except Exception:
            LOG.exception("Dispatcher failed on %d message(s)", len(batch))

    async def _handle_async(self, batch: list[IncomingMessage], executor: AsyncioExecutor,
                            arrived: float | None = None) -> None:
        self._queued(arrived)
        try:
            await run_steps_async(self.dispatcher.steps(batch), executor.run_blocking)
        except Exception:
            LOG.exception("Dispatcher failed on %d message(s)", len(batch))


def _quietly(fn: Any) -> None:
    try:
        fn()
    except Exception:
        LOG.exception("Error settling a message")
