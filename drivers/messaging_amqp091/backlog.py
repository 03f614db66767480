"""Work waiting for a connection's I/O loop: order, retry budgets, deadlines, confirms.

Plain logic without a client library, so that any AMQP 0-9-1 I/O loop (kombu's
here) can drive it. The loop hands every send and operation to a
:class:`Backlog`, runs what it offers while a channel is up, tells it about
each failed connection attempt (:meth:`Backlog.charge_attempt`) and sweeps it
for work past its deadline (:meth:`Backlog.sweep`). Published messages
awaiting the broker's confirm sit in a :class:`ConfirmTracker` by delivery tag.

The rules, in one place:

- a task's ``retry`` counts *failed connection attempts* it may live through
  (``None`` or negative: no limit); one past it fails with the error the loop
  builds (``MessageDeliveryFailure``);
- a task's ``deadline`` bounds it whatever the budget says: a call's request
  is dropped at the call's deadline, a cast waits at most the send timeout;
- a task waiting for a retry (a message the broker refused) stays in this
  backlog (:meth:`Backlog.defer`), so it survives reconnects and is swept,
  charged and failed like any other;
- a task whose future is already done (expired, cancelled) is skipped.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from messaging.correlation import settle_future

__all__ = ["Backlog", "BlockedState", "ConfirmTracker", "Task"]


@dataclass(frozen=True)
class BlockedState:
    """The broker blocked the connection (``connection.blocked``): a resource alarm.

    :param reason: the broker's text, e.g. ``low on memory``.
    :param since: ``time.monotonic()`` when it started.
    """

    reason: str
    since: float


class Task:
    """Work for an I/O loop with its retry budget and deadline; ``future`` tells the outcome.

    :param retry: failed connection attempts allowed (None or negative: no limit).
    :param deadline: ``time.monotonic()`` after which the task is useless.
    """

    __slots__ = ("deadline", "failures", "future", "retry")

    def __init__(self, retry: int | None, deadline: float | None) -> None:
        self.retry = retry
        self.deadline = deadline
        self.failures = 0
        self.future: Future[Any] = Future()

    def over_budget(self) -> bool:
        """True once more connection attempts failed than ``retry`` allows."""
        return self.retry is not None and 0 <= self.retry < self.failures

    def expired(self, now: float) -> bool:
        """True once ``deadline`` passed."""
        return self.deadline is not None and now >= self.deadline

    def describe(self) -> str:
        """What the task is, for error messages."""
        return "operation"


ErrorFor = Callable[[Task], BaseException]


class Backlog:
    """Tasks in the order they were handed over, plus tasks deferred to a later time.

    Used by the I/O thread only.
    """

    def __init__(self) -> None:
        self._ready: collections.deque[Task] = collections.deque()
        self._delayed: list[tuple[float, int, Task]] = []
        self._seq = itertools.count()
        #: no task here or in flight has a deadline before this (a lower bound: sweep then)
        self.earliest = math.inf

    def __len__(self) -> int:
        return len(self._ready) + len(self._delayed)

    def add(self, task: Task) -> None:
        """Queue ``task`` behind the others."""
        self._ready.append(task)
        if task.deadline is not None and task.deadline < self.earliest:
            self.earliest = task.deadline

    def add_front(self, tasks: Iterable[Task]) -> None:
        """Put ``tasks`` (in their order) before everything queued: work to do again."""
        for task in reversed(list(tasks)):
            self._ready.appendleft(task)
            if task.deadline is not None and task.deadline < self.earliest:
                self.earliest = task.deadline

    def defer(self, task: Task, when: float) -> None:
        """Queue ``task`` again at ``time.monotonic()`` ``when`` (a retry after a refusal)."""
        heapq.heappush(self._delayed, (when, next(self._seq), task))
        if task.deadline is not None and task.deadline < self.earliest:
            self.earliest = task.deadline

    def next_due(self) -> float:
        """When the first deferred task becomes ready (``inf``: none)."""
        return self._delayed[0][0] if self._delayed else math.inf

    def release_due(self, now: float) -> None:
        """Move deferred tasks whose time came behind the ready ones."""
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            self._ready.append(heapq.heappop(delayed)[2])

    def first(self) -> Task | None:
        """The next task to run (skipping finished ones), left in place until :meth:`done`."""
        ready = self._ready
        while ready:
            task = ready[0]
            if not task.future.done():
                return task
            ready.popleft()
        return None

    def done(self, task: Task) -> None:
        """``task`` (the one :meth:`first` gave) ran; forget it."""
        if self._ready and self._ready[0] is task:
            self._ready.popleft()

    def _all(self) -> Iterator[Task]:
        yield from self._ready
        for _, _, task in self._delayed:
            yield task

    def charge_attempt(self, fatal: bool, error: ErrorFor) -> int:
        """A connection attempt failed: charge every waiting task; fail those over budget.

        With ``fatal`` (a refusal a retry cannot fix) every task fails at once.
        Returns how many failed.
        """
        failed = 0
        for task in self._all():
            task.failures += 1
            if (fatal or task.over_budget()) and settle_future(task.future, exc=error(task)):
                failed += 1
        self._prune()
        return failed

    def sweep(self, now: float, error: ErrorFor, in_flight: Iterable[Task] = ()) -> None:
        """Fail every task past its deadline (also those ``in_flight``); update :attr:`earliest`."""
        earliest = math.inf
        for task in itertools.chain(self._all(), in_flight):
            deadline = task.deadline
            if deadline is None or task.future.done():
                continue
            if now >= deadline:
                settle_future(task.future, exc=error(task))
            elif deadline < earliest:
                earliest = deadline
        self.earliest = earliest
        self._prune()

    def fail_all(self, error: ErrorFor) -> None:
        """Fail and forget every task (the connection is closing)."""
        for task in self._all():
            settle_future(task.future, exc=error(task))
        self._ready.clear()
        self._delayed.clear()
        self.earliest = math.inf

    def _prune(self) -> None:
        if any(t.future.done() for t in self._ready):
            self._ready = collections.deque(t for t in self._ready if not t.future.done())
        if any(t.future.done() for _, _, t in self._delayed):
            self._delayed = [e for e in self._delayed if not e[2].future.done()]
            heapq.heapify(self._delayed)


class ConfirmTracker:
    """Published tasks awaiting the broker's ``basic.ack``/``basic.nack``, by delivery tag.

    One per channel in confirm mode: tags start at 1 and grow by one per publish.
    """

    __slots__ = ("next_tag", "peak", "pending")

    def __init__(self) -> None:
        self.pending: dict[int, Task] = {}
        self.next_tag = 1
        #: most tasks awaiting their confirm at once
        self.peak = 0

    def __len__(self) -> int:
        return len(self.pending)

    def sent(self, task: Task) -> None:
        """``task`` was published with the next delivery tag."""
        pending = self.pending
        pending[self.next_tag] = task
        self.next_tag += 1
        if len(pending) > self.peak:
            self.peak = len(pending)

    def settled(self, tag: int, multiple: bool) -> list[Task]:
        """Remove and return the tasks an ack or nack of ``tag`` (``multiple``) covers."""
        pending = self.pending
        if not multiple:
            one = pending.pop(tag, None)
            return [] if one is None else [one]
        out = []
        while pending:
            first = next(iter(pending))
            if first > tag:
                break
            out.append(pending.pop(first))
        return out

    def take_all(self) -> list[Task]:
        """Every unconfirmed task, oldest first (the channel is gone: send them again)."""
        out = list(self.pending.values())
        self.pending.clear()
        return out
