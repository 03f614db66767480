"""The raw baseline of ``fake://``: two threads passing JSON over ``queue.Queue``.

What an in-memory bus cannot avoid: encode, hand over to another thread,
decode, and for a call the same back. One server thread answers requests
(each carries the queue to reply on) and counts one-way messages; the
client side is the calling thread (or :data:`shapes.THREADS` threads, or a
window of :data:`shapes.IN_FLIGHT` requests outstanding). Casts and
notifications are the same thing here: a message to a consumer, timed until
it decoded the last one.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from shapes import THREADS, Window, request_body, sequential, threaded, until_counted

from messaging.bench.protocol import Counter

Item = tuple[bytes, "queue.SimpleQueue[bytes] | None"]


class QueueClient:
    """Client and server threads of one process, over ``queue.SimpleQueue``."""

    def __init__(self, url: str, topic: str, servers: dict[str, Any] | None = None) -> None:
        self._requests: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._counter = Counter()
        self._server = threading.Thread(target=self._serve, daemon=True)
        self._server.start()
        call_body, sink_body = request_body("echo"), request_body("sink")

        def caller() -> Any:
            replies: queue.SimpleQueue[bytes] = queue.SimpleQueue()

            def call() -> None:
                self._requests.put((call_body, replies))
                json.loads(replies.get())
            return call

        def send() -> None:
            self._requests.put((sink_body, None))

        self.shapes = {
            "call": self._counted(lambda n: sequential(caller(), n)),
            "call-threads": self._counted(
                lambda n: threaded([caller() for _ in range(THREADS)], n)),
            "call-async": self._counted(self._windowed_calls),
            "cast": self._counted(lambda n: sequential(send, n)),
        }

    def _serve(self) -> None:
        while (item := self._requests.get()) is not None:
            body, reply_to = item
            request = json.loads(body)
            self._counter.add()
            if reply_to is not None:
                reply_to.put(json.dumps({"result": request["args"], "ending": True}).encode())

    def _windowed_calls(self, n: int) -> None:
        """:data:`shapes.IN_FLIGHT` requests outstanding from one thread; a reader thread
        decodes the replies."""
        window = Window()
        replies: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        body = request_body("echo")

        def read() -> None:
            for _ in range(n):
                json.loads(replies.get())
                window.release()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for _ in range(n):
            window.acquire()
            self._requests.put((body, replies))
        window.drain()
        reader.join()

    def _counted(self, run: Any) -> Any:
        return until_counted(self._counter, run)

    def close(self) -> None:
        self._requests.put(None)
        self._server.join(10)
