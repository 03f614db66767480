"""Raw python-qpid-proton on the AMQP 1.0 node: the same jobs with no framework.

The raw server (its own process) consumes ``/queue/<q>`` and answers a
request through ``/queue`` with the reply queue as subject (pre-settled), as
RabbitMQ's AMQP 1.0 plugin routes it; every message is accepted and
counted. The client runs one proton ``Container`` per measurement: ``call``
sends the next request when the reply arrives; ``cast`` sends the next
message once the broker settled the last one ``accepted`` (what a confirmed
cast waits for). Each measurement warms its own new connection first
(:data:`shapes.WARMUP` messages) and is timed from the first message after.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from shapes import WARMUP, request_body

from messaging.bench.protocol import Counter
from messaging.url import TransportURL


def proton_url(url: str) -> str:
    host = TransportURL.parse(url).hosts[0]
    return f"amqp://{host.username}:{host.password}@{host.hostname}:{host.port}"


class RawProtonServer:
    """A proton ``Container`` in its own thread (the process does nothing else)."""

    def __init__(self, url: str, topic: str, kind: str) -> None:
        self.counter = Counter()
        self.info = {"queue": f"raw_{topic}"}
        self._url = proton_url(url)
        self._ready = threading.Event()
        self._container: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from proton import Message
        from proton.handlers import MessagingHandler
        from proton.reactor import AtMostOnce, Container

        server = self

        class Handler(MessagingHandler):
            def __init__(self) -> None:
                super().__init__(prefetch=100)

            def on_start(self, event: Any) -> None:
                self.conn = event.container.connect(server._url, reconnect=False)
                self.receiver = event.container.create_receiver(
                    self.conn, f"/queue/{server.info['queue']}")
                self.sender = event.container.create_sender(self.conn, "/queue",
                                                            options=AtMostOnce())

            def on_link_opened(self, event: Any) -> None:
                if event.link == self.receiver:
                    server._ready.set()

            def on_message(self, event: Any) -> None:
                request = event.message
                if request.reply_to:
                    self.sender.send(Message(body=request.body, inferred=True,
                                             subject=request.reply_to,
                                             correlation_id=request.correlation_id))
                server.counter.add()

        self._container = Container(Handler())
        self._container.run()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the raw proton server did not attach to its queue")

    def stop(self) -> None:
        pass  # the process exits; the container thread is a daemon


def _run_container(url: str, n: int, queue: str, calls: bool) -> dict[str, Any]:
    """One connection: WARMUP then ``n`` sequential calls (or accepted sends)."""
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import Container

    body = request_body("echo" if calls else "sink")
    reply_q = f"reply_raw_{uuid.uuid4().hex[:8]}"
    result: dict[str, Any] = {}

    class Client(MessagingHandler):
        def __init__(self) -> None:
            super().__init__(prefetch=100)
            self.count = 0
            self.opened = 0

        def on_start(self, event: Any) -> None:
            self.conn = event.container.connect(url, reconnect=False)
            if calls:
                self.receiver = event.container.create_receiver(self.conn, f"/queue/{reply_q}")
                self.sender = event.container.create_sender(self.conn, "/queue")
            else:
                self.opened = 1
                self.sender = event.container.create_sender(self.conn, f"/queue/{queue}")

        def on_link_opened(self, event: Any) -> None:
            self.opened += 1
            if self.opened == 2:
                self.next()

        def next(self) -> None:
            if self.count == WARMUP:
                result["started"] = time.monotonic()
            if self.count == WARMUP + n:
                result["finished"] = time.monotonic()
                self.conn.close()
                return
            self.count += 1
            if calls:
                self.sender.send(Message(body=body, inferred=True, subject=queue,
                                         reply_to=reply_q, correlation_id=self.count))
            else:
                self.sender.send(Message(body=body, inferred=True))

        def on_message(self, event: Any) -> None:
            self.next()

        def on_accepted(self, event: Any) -> None:
            if not calls:
                self.next()

    Container(Client()).run()
    return {**result, "sent": n + WARMUP, "warm": WARMUP}


class RawProtonClient:
    def __init__(self, url: str, topic: str, servers: dict[str, Any]) -> None:
        raw_url, queue = proton_url(url), servers["rpc"]["queue"]
        self.shapes = {
            "call": lambda n: _run_container(raw_url, n, queue, calls=True),
            "cast": lambda n: _run_container(raw_url, n, queue, calls=False),
        }

    def close(self) -> None:
        pass
