"""Casts from one thread to one server arrive in the order they were sent, and all of them.

A thread's casts leave on its own connection to the server; when that
connection is still being made, or its queue is full because the server
reads slower than the client sends, the cast waits for it (back-pressure)
instead of taking another connection and overtaking, or being overtaken.
The thread ends right after its last cast: what its socket still queued
goes out anyway (``zmq_linger``).
"""

from __future__ import annotations

import threading

from messaging.target import Target
from messaging.testing.helpers import wait_for

WAIT = 60.0
#: More than both ends' queues and the kernel's buffers hold: the sender must wait.
COUNT = 8000
#: Casts sent before the server starts reading.
HEAD_START = 1000


def test_casts_keep_their_order_through_full_queues(url, topic, transports):
    transport = transports(url)
    target = Target(topic=topic, server="s1")
    listener = transport.listen(target)
    sent: list[int] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            for n in range(COUNT):
                transport.cast(Target(topic=topic), {}, {"method": "n", "args": {"n": n}})
                sent.append(n)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        wait_for(lambda: len(sent) >= HEAD_START or failures, WAIT, message="a head start")
        received: list[int] = []
        while len(received) < COUNT and not failures:
            batch = listener.poll(timeout=20, max_messages=64)
            assert batch, (f"nothing more after {len(received)} casts; sent {len(sent)}, "
                           f"sender alive {sender.is_alive()}, failures {failures}, "
                           f"last {received[-3:]}")
            for message in batch:
                message.acknowledge()
                received.append(message.message["args"]["n"])
        sender.join(WAIT)
        assert not failures, failures
        assert received == list(range(COUNT)), next(
            (i, n) for i, n in enumerate(received) if n != i)
    finally:
        listener.cleanup()
