"""Notifications/s on the in-memory driver, beside a raw producer/consumer queue.

Time runs from the first send until the listener has handled the last one.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any

import messaging

PAYLOAD = {"instance": "x" * 100}


def raw_rate(n: int) -> float:
    """JSON bodies through a queue.Queue from one thread to another."""
    q: queue.Queue[bytes] = queue.Queue()
    done = threading.Event()

    def consume() -> None:
        for _ in range(n):
            json.loads(q.get())
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    start = time.perf_counter()
    for _ in range(n):
        q.put(json.dumps({"event_type": "e", "payload": PAYLOAD}).encode())
    done.wait(120)
    return n / (time.perf_counter() - start)


class Counter:
    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.done = threading.Event()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self.seen += 1
        if self.seen >= self.n:
            self.done.set()


def lib_rate(n: int, url: str = "fake://") -> float:
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    counter = Counter(n)
    with messaging.get_notification_transport(None, url) as transport:
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic)], [counter], executor="blocking")
        listener.start()
        notifier = messaging.Notifier(transport, publisher_id="bench", driver="messagingv2",
                                      topics=[topic])
        start = time.perf_counter()
        for _ in range(n):
            notifier.info({}, "bench.event", PAYLOAD)
        counter.done.wait(120)
        elapsed = time.perf_counter() - start
        listener.stop()
        listener.wait()
    return n / elapsed


def run(n: int = 3000) -> list[tuple[str, float, float | None]]:
    raw = raw_rate(n)
    rate = lib_rate(n)
    return [("notify raw queue producer/consumer", raw, None),
            ("fake notify -> listener", rate, rate / raw)]
