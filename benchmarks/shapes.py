"""The shapes of load a bench client produces, shared by every client (ours, raw, oslo).

A shape is what one row of the table measures: ``call`` (sequential),
``call-threads`` (:data:`THREADS` threads calling), ``call-async``
(:data:`IN_FLIGHT` calls in flight from one event loop), ``cast`` and
``notify`` (sequential, each confirmed where the bus confirms), and their
many-in-flight forms ``cast-threads``, ``cast-async``, ``notify-threads``,
``notify-async``. The casts and notifications are timed until the server
handled all of them (the harness asks the server when it handled the last).

A client role gives, per shape it supports, a function ``run(n)`` built from
the helpers here; :func:`timed` wraps it with the clock and the CPU figures
the harness needs.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from messaging.bench.protocol import process_cpu

__all__ = ["DATA", "IN_FLIGHT", "SHAPES", "THREADS", "WARMUP", "Window", "in_flight",
           "request_body", "sequential", "threaded", "timed", "until_counted"]

SHAPES = ("call", "call-threads", "call-async", "cast", "notify", "cast-threads",
          "cast-async", "notify-threads", "notify-async")
THREADS = 8
IN_FLIGHT = 100
WARMUP = 50
#: The payload of every message: 100 bytes of data, as the issue's figures use.
DATA = "x" * 100


def request_body(method: str = "echo") -> bytes:
    """The JSON body raw clients send: about the size of this library's envelope's content."""
    return json.dumps({"method": method, "args": {"data": DATA}}).encode()


def sequential(op: Callable[[], Any], n: int) -> None:
    for _ in range(n):
        op()


def threaded(ops: list[Callable[[], Any]], n: int) -> None:
    """Split ``n`` operations over one thread per entry of ``ops`` (each thread its own op:
    a raw client that is not thread-safe gets one connection per thread)."""
    counts = [n // len(ops) + (1 if i < n % len(ops) else 0) for i in range(len(ops))]
    errors: list[BaseException] = []
    start = threading.Barrier(len(ops))

    def work(op: Callable[[], Any], count: int) -> None:
        try:
            start.wait()
            for _ in range(count):
                op()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(op, k), daemon=True)
               for op, k in zip(ops, counts, strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]


def in_flight(make: Callable[[], Awaitable[Any]], n: int, width: int = IN_FLIGHT) -> None:
    """``width`` coroutines of one loop, each awaiting ``make()`` in turn, ``n`` in all."""
    counts = [n // width + (1 if i < n % width else 0) for i in range(width)]

    async def lane(count: int) -> None:
        for _ in range(count):
            await make()

    async def all_lanes() -> None:
        await asyncio.gather(*(lane(k) for k in counts if k))

    asyncio.run(all_lanes())


class Window:
    """At most ``width`` operations outstanding: the raw clients' way of keeping many in
    flight on one connection (the next goes out as one completes)."""

    def __init__(self, width: int = IN_FLIGHT) -> None:
        self.width = width
        self.cond = threading.Condition()
        self.outstanding = 0
        self.completed = 0

    def acquire(self) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.outstanding < self.width)
            self.outstanding += 1

    def release(self, count: int = 1) -> None:
        with self.cond:
            self.outstanding -= count
            self.completed += count
            self.cond.notify_all()

    def drain(self, timeout: float = 120.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.outstanding == 0, timeout):
                raise TimeoutError(f"{self.outstanding} operations still outstanding")


def until_counted(counter: Any, run: Callable[[int], Any],
                  timeout: float = 120.0) -> Callable[[int], dict[str, Any]]:
    """``run``, for a server in the client's own process (``fake://``): reset its count,
    run, wait until it counted every message; report as a server process would."""
    def run_counted(n: int) -> dict[str, Any]:
        counter.reset()
        run(n)
        handled, last = counter.wait(n, timeout)
        return {"server": {"handled": handled, "last": last, "cpu": None}}
    return run_counted


def timed(run: Callable[[int], Any], n: int) -> dict[str, Any]:
    """Run ``run(n)``; return when it started and finished (``time.monotonic``, shared by the
    machine's processes) and the CPU seconds this process spent on it."""
    cpu0 = process_cpu()
    started = time.monotonic()
    extra = run(n)
    finished = time.monotonic()
    out: dict[str, Any] = {"started": started, "finished": finished,
                           "cpu": process_cpu() - cpu0, "sent": n}
    if isinstance(extra, dict):
        out.update(extra)
    return out
