"""One timer thread for every deadline in the process.

Futures returned by drivers must end by themselves when their time is up
(a call's timeout, a call-monitor gap, a send's bound), whether anybody
waits on them or an event loop merely awaits them. A thread per call would
not scale to thousands in flight, and ``threading.Timer`` is exactly that;
so all deadlines share one heap served by one daemon thread, started on
first use (and again in a forked child).

Callbacks run on that thread: keep them short (settle a future, queue work).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

from .first_use import first_use_setup

__all__ = ["Deadlines", "TimerHandle", "pending", "schedule", "schedule_at"]

LOG = logging.getLogger(__name__)
_CREATE_LOCK = threading.Lock()


class TimerHandle:
    """A scheduled callback; :meth:`cancel` stops it if it has not run yet."""

    __slots__ = ("callback", "cancelled", "owner", "when")

    def __init__(self, when: float, callback: Callable[[], object],
                 owner: Deadlines | None = None) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        """Do not run the callback (a no-op once it ran).

        The handle leaves the heap soon after, not at its time: a call that
        ended early must not keep its timer (and what it refers to) alive for
        the rest of its timeout.
        """
        if self.cancelled:
            return
        self.cancelled = True
        owner, self.owner = self.owner, None
        self.callback = _noop  # drop the references the callback holds at once
        if owner is not None:
            owner._cancelled_one()


def _noop() -> None:
    return None


#: The heap is rebuilt without its cancelled handles once they are this many and
#: more than half of it (so sweeping costs O(1) amortised per cancel).
SWEEP_AT = 256


class Deadlines:
    """A heap of ``time.monotonic()`` deadlines served by one daemon thread."""

    def __init__(self, name: str = "messaging-deadlines") -> None:
        self._name = name
        # Made on first use, not at import: a process that imports the library and
        # then monkey-patches with eventlet must get a green lock here, or the timer
        # thread would block every green thread while it waits.
        self._cond_or_none: threading.Condition | None = None
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._cancelled = 0  # cancelled handles still in the heap (approximate, never < 0)

    @property
    def _cond(self) -> threading.Condition:
        cond = self._cond_or_none
        if cond is None:
            with _CREATE_LOCK:  # never held across a wait, so safe even if it is a real lock
                if self._cond_or_none is None:
                    self._cond_or_none = threading.Condition(threading.Lock())
                cond = self._cond_or_none
        return cond

    def at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the timer thread at monotonic time ``when``."""
        handle = TimerHandle(when, callback, self)
        with self._cond:
            self._ensure_thread()
            first = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._seq), handle))
            if first:
                self._cond.notify()
        return handle

    def __len__(self) -> int:
        """Handles in the heap, cancelled ones not yet swept included."""
        return len(self._heap)

    def pending(self) -> int:
        """Callbacks waiting to run (neither cancelled nor run yet)."""
        with self._cond:
            return sum(1 for entry in self._heap if not entry[2].cancelled)

    def _cancelled_one(self) -> None:
        with self._cond:
            self._cancelled += 1
            if self._cancelled >= SWEEP_AT and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def after(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the timer thread ``delay`` seconds from now."""
        return self.at(time.monotonic() + delay, callback)

    def _ensure_thread(self) -> None:
        """Start the timer thread if it is not running (once per process)."""
        pid = os.getpid()
        if self._pid == pid and self._thread is not None:  # it never ends (but in a fork)
            return
        if self._pid != pid:  # a forked child inherits the heap but not the thread
            self._heap.clear()
            self._cancelled = 0
        self._pid = pid
        self._start_thread()

    @first_use_setup
    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                        if self._cancelled:
                            self._cancelled -= 1
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        handle = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(delay)
            if handle.cancelled:
                continue
            callback = handle.callback
            handle.cancelled = True  # ran: a later cancel() is a no-op
            handle.owner = None
            try:
                callback()
            except Exception:
                LOG.exception("Deadline callback %r failed", callback)


_DEFAULT = Deadlines()


def schedule(delay: float, callback: Callable[[], object]) -> TimerHandle:
    """Run ``callback`` on the process's timer thread after ``delay`` seconds."""
    return _DEFAULT.after(delay, callback)


def pending() -> int:
    """Callbacks waiting on the process's timer thread (see :meth:`Deadlines.pending`)."""
    return _DEFAULT.pending()


def schedule_at(when: float, callback: Callable[[], object]) -> TimerHandle:
    """Run ``callback`` on the process's timer thread at monotonic time ``when``."""
    return _DEFAULT.at(when, callback)
