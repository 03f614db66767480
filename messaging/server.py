"""The server loop shared by RPC servers and notification listeners.

One daemon thread polls the driver's listener and hands each message (or
batch) to the executor, which runs the dispatcher. ``start``, ``stop`` and
``wait`` are idempotent and safe to call from any thread; ``wait`` returns
once ``stop`` was called and every message already taken has been handled.
"""

from __future__ import annotations

import abc
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
from .executors import load_executor
from .green import server_executor

if TYPE_CHECKING:
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

    @abc.abstractmethod
    def listen(self, transport: Transport) -> Listener:
        """Subscribe on ``transport`` and return the listener to poll."""

    @abc.abstractmethod
    def handle(self, incoming: list[IncomingMessage]) -> None:
        """Process and settle (ack, requeue, reply) the messages. Must not raise."""


class MessageHandlingServer:
    """Polls a listener and runs a dispatcher on an executor.

    :param executor: name of an executor entry point (``threading``,
        ``blocking``, ...); None means ``threading``.
    """

    def __init__(self, transport: Transport, dispatcher: Dispatcher,
                 executor: str | None = None) -> None:
        self.transport = transport
        self.conf = transport.conf  # as oslo's servers
        self.dispatcher = dispatcher
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

    def _create_listener(self) -> Listener:
        """Subscribe on the transport (RPC servers listen on their own target)."""
        return self.dispatcher.listen(self.transport)

    def start(self, override_pool_size: int | None = None) -> None:
        """Subscribe and start serving in a background thread; returns promptly.

        While the bus is unreachable the server keeps connecting in the
        background (see :attr:`consuming`). A second call while running does
        nothing. Raises :class:`ServerListenError` if the bus refused the
        subscription.
        """
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
            self._executor = load_executor(self.executor_type, pool)
            self._slots = threading.BoundedSemaphore(max(pool, 1))
            self._stop_requested.clear()
            self._stopped.clear()
            self._running = True
            self._thread = threading.Thread(target=self._loop, name="messaging-server",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop taking new messages; returns at once. Safe before ``start``."""
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
        never started.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
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
        slots.acquire()  # back-pressure: never take more than the pool can run
        try:
            future = executor.submit(self._handle, batch)
        except Exception:
            slots.release()
            LOG.exception("Executor refused work; requeueing %d message(s)", len(batch))
            for message in batch:
                _quietly(message.requeue)
            return
        future.add_done_callback(lambda _f: slots.release())

    def _handle(self, batch: list[IncomingMessage]) -> None:
        try:
            self.dispatcher.handle(batch)
        except Exception:
            LOG.exception("Dispatcher failed on %d message(s)", len(batch))


def _quietly(fn: Any) -> None:
    try:
        fn()
    except Exception:
        LOG.exception("Error settling a message")
