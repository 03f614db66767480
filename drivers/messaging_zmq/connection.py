"""The I/O thread: one thread per driver owns the client's shared sockets.

ZeroMQ sockets must not be used from two threads at once. The client's
shared sockets (a monitored DEALER per server, the fanout XPUB, their
monitors) are created, polled, written and closed by one thread running a
``zmq.Poller``; other threads hand it work with :meth:`IOLoop.submit`: a
queue of callables plus a wake-up pipe in the poller. The pipe is only
written when the loop sleeps in ``poll``, so a busy loop costs no system
call per message. (A listener's sockets, and a thread's own sockets for
synchronous calls, belong to whoever holds their lock: see
:mod:`messaging_zmq.listener` and :mod:`messaging_zmq.direct`.)
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

__all__ = ["IOLoop", "Timer"]

LOG = logging.getLogger(__name__)
Handler = Callable[[int], None]


class Timer:
    """A callback scheduled on the I/O thread; :meth:`cancel` it from that thread."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback."""
        self.cancelled = True


class IOLoop:
    """A thread polling sockets and running submitted callables, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._poller = zmq.Poller()
        self._handlers: dict[Any, Handler] = {}
        self._flags: dict[Any, int] = {}
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._sleeping = False
        self._stopping = False
        self._closers: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._lock = threading.Lock()
        self._pipe_lock = threading.Lock()
        self._pipe_open = True

    # -- any thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def in_loop(self) -> bool:
        """True when called from the I/O thread itself."""
        return threading.current_thread() is self._thread

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread, after what was submitted before."""
        self._commands.append(fn)
        if self._sleeping:
            with self._pipe_lock:
                if self._pipe_open:
                    try:
                        os.write(self._wake_w, b"\0")
                    except BlockingIOError:  # the pipe is full: the loop wakes anyway
                        pass

    def stop(self, timeout: float = 10.0) -> None:
        """Run the registered closers on the I/O thread, end it, and wait for it."""
        if not self._started:
            self._close_pipe()
            return
        def ask() -> None:
            self._stopping = True
        self.submit(ask)
        if not self.in_loop():
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning("I/O thread %s did not stop within %.0f s", self.name, timeout)

    # -- I/O thread only --------------------------------------------------------------

    def add(self, sock: Any, handler: Handler, flags: int = zmq.POLLIN) -> None:
        """Poll ``sock`` for ``flags``; ``handler(events)`` runs when it is ready."""
        self._handlers[sock] = handler
        self._flags[sock] = flags
        self._poller.register(sock, flags)

    def modify(self, sock: Any, flags: int) -> None:
        """Change what ``sock`` is polled for (0: nothing, but stay registered)."""
        if sock in self._handlers and self._flags.get(sock) != flags:
            self._flags[sock] = flags
            self._poller.register(sock, flags)

    def remove(self, sock: Any) -> None:
        """Stop polling ``sock`` (it may be closed afterwards)."""
        if self._handlers.pop(sock, None) is not None:
            self._flags.pop(sock, None)
            self._poller.unregister(sock)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the I/O thread after ``delay`` seconds."""
        timer = Timer(callback)
        heapq.heappush(self._timers, (time.monotonic() + max(delay, 0.0), next(self._seq),
                                      timer))
        return timer

    def on_stop(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` on the I/O thread when the loop stops (close sockets there)."""
        self._closers.append(closer)

    # -- the loop ---------------------------------------------------------------------

    def _timeout_ms(self) -> int | None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        if not timers:
            return None
        return max(0, int((timers[0][0] - time.monotonic()) * 1000) + 1)

    def _run(self) -> None:
        poller = self._poller
        handlers = self._handlers
        commands = self._commands
        wake_r = self._wake_r
        while not self._stopping:
            timeout = self._timeout_ms()
            self._sleeping = True
            if commands:
                timeout = 0
            try:
                events = poller.poll(timeout)
            except zmq.ZMQError as exc:
                LOG.error("Polling failed on %s: %s", self.name, exc)
                events = []
            self._sleeping = False
            for sock, flags in events:
                if sock == wake_r:
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                handler = handlers.get(sock)
                if handler is not None:
                    try:
                        handler(flags)
                    except Exception:
                        LOG.exception("Error handling a socket on %s", self.name)
            while commands:
                fn = commands.popleft()
                try:
                    fn()
                except Exception:
                    LOG.exception("Error running a task on %s", self.name)
            if self._timers:
                self._run_timers()
        self._shutdown()

    def _run_timers(self) -> None:
        now = time.monotonic()
        timers = self._timers
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)[2]
            if timer.cancelled:
                continue
            timer.cancelled = True
            try:
                timer.callback()
            except Exception:
                LOG.exception("Error running a timer on %s", self.name)

    def _shutdown(self) -> None:
        while self._commands:  # what was submitted before stop still runs (closing sockets)
            fn = self._commands.popleft()
            try:
                fn()
            except Exception:
                LOG.exception("Error running a task on %s", self.name)
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                LOG.exception("Error closing sockets on %s", self.name)
        self._closers.clear()
        self._close_pipe()

    def _close_pipe(self) -> None:
        with self._pipe_lock:
            if not self._pipe_open:
                return
            self._pipe_open = False
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
