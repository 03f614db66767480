"""Throughput on the in-memory driver, beside a raw two-thread queue ping-pong.

The raw baseline moves the same JSON body between two threads with
``queue.Queue``; the ratio shows what the library's layers cost.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any

import messaging

PAYLOAD = {"data": "x" * 100}


class Echo:
    def __init__(self) -> None:
        self.casts = 0
        self.done = threading.Event()
        self.expected = 0

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def sink(self, ctxt: Any, value: Any) -> None:
        self.casts += 1
        if self.casts >= self.expected:
            self.done.set()


def raw_round_trips(n: int) -> float:
    """Sequential request/reply between two threads over queue.Queue, JSON-encoded."""
    requests: queue.Queue[bytes | None] = queue.Queue()
    replies: queue.Queue[bytes] = queue.Queue()

    def server() -> None:
        while (body := requests.get()) is not None:
            replies.put(json.dumps({"result": json.loads(body)["args"]}).encode())

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    start = time.perf_counter()
    for _ in range(n):
        requests.put(json.dumps({"method": "echo", "args": PAYLOAD}).encode())
        replies.get()
    elapsed = time.perf_counter() - start
    requests.put(None)
    return n / elapsed


def lib_calls(n: int) -> float:
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    with messaging.get_transport(None, "fake://") as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                          [Echo()], executor="blocking")
        server.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        for _ in range(50):
            client.call({}, "echo", value=PAYLOAD)
        start = time.perf_counter()
        for _ in range(n):
            client.call({}, "echo", value=PAYLOAD)
        elapsed = time.perf_counter() - start
        server.stop()
        server.wait()
    return n / elapsed


def lib_casts(n: int) -> float:
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    endpoint = Echo()
    endpoint.expected = n
    with messaging.get_transport(None, "fake://") as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                          [endpoint], executor="blocking")
        server.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        start = time.perf_counter()
        for _ in range(n):
            client.cast({}, "sink", value=PAYLOAD)
        endpoint.done.wait(60)
        elapsed = time.perf_counter() - start
        server.stop()
        server.wait()
    return n / elapsed


def run(n: int = 3000) -> list[tuple[str, float, float | None]]:
    """Return (name, ops/s, ratio to raw) rows."""
    raw = raw_round_trips(n)
    calls = lib_calls(n)
    casts = lib_casts(n)
    return [("fake raw queue ping-pong", raw, None),
            ("fake call (sequential)", calls, calls / raw),
            ("fake cast (until all handled)", casts, casts / raw)]
