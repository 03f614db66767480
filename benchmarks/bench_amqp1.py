"""Sequential call/s and cast/s of the AMQP 1.0 driver beside raw proton, on one node, one run.

- ``raw proton request/reply``: the baseline of ``brokers.md`` section 3: a
  proton ``Container`` server in its own process consuming ``/queue/<q>``
  and answering through ``/queue`` with the reply queue as subject
  (pre-settled), a client ``Container`` here sending the next request when
  the reply arrives. JSON bodies of the same size as the driver's.
- ``raw proton send, accepted``: one unsettled send at a time, the next once
  the broker settled it ``accepted`` (what a confirmed cast waits for).
- ``amqp driver call/cast/notify (SPI)``: ``Driver.call`` with the server
  (polling its listener, acknowledging, replying) in its own process, like
  the raw server; ``cast``/``notify`` to queues nobody consumes, like the raw
  sends. ``RPCClient`` rows: the public API on both
  sides (threading executor).

Raw and driver rounds alternate and each keeps its best (the machine is
shared). Ratios: calls against raw request/reply; casts and notifications
against raw accepted sends (and the cast also against raw request/reply, the
issue's yardstick); the public API rows against raw request/reply. A
private RabbitMQ node with the AMQP 1.0 plugin is started for the run
(``tests/functional/amqp1/amqp1_broker.py``), or ``MESSAGING_BENCH_AMQP1_URL``
names one (loopback only here).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench_rabbit import BODY_ARGS, WARMUP, _rate

HERE = os.path.dirname(os.path.abspath(__file__))


@contextlib.contextmanager
def _node() -> Iterator[str]:
    url = os.environ.get("MESSAGING_BENCH_AMQP1_URL")
    if url:
        yield url
        return
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "functional", "amqp1"))
    from amqp1_broker import Amqp1Node

    if not os.path.exists(Amqp1Node.SERVER):
        raise RuntimeError(f"{Amqp1Node.SERVER} not found: no AMQP 1.0 node to measure")
    node = Amqp1Node()
    try:
        node.start()
        print(f"bench_amqp1: private node started in {node.startup_seconds:.1f} s",
              flush=True)
        yield node.url
    finally:
        node.destroy()


def _hostport(url: str) -> str:
    from messaging.url import TransportURL

    host = TransportURL.parse(url).hosts[0]
    return f"amqp://{host.username}:{host.password}@{host.hostname}:{host.port}"


# -- raw proton ----------------------------------------------------------------------------


def _raw_server(url: str, queue: str, ready: Any) -> None:
    """Process: answer every request on ``/queue/<queue>`` through ``/queue`` + subject."""
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import AtMostOnce, Container

    class Server(MessagingHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(prefetch=100)

        def on_start(self, event: Any) -> None:
            conn = event.container.connect(url, reconnect=False)
            self.receiver = event.container.create_receiver(conn, f"/queue/{queue}")
            self.sender = event.container.create_sender(conn, "/queue", options=AtMostOnce())

        def on_link_opened(self, event: Any) -> None:
            if event.link == self.receiver:
                ready.set()

        def on_message(self, event: Any) -> None:
            request = event.message
            self.sender.send(Message(body=request.body, inferred=True,
                                     subject=request.reply_to,
                                     correlation_id=request.correlation_id))

    Container(Server()).run()


def _raw_client(url: str, n: int, queue: str | None, sink: str | None) -> float:
    """Sequential request/reply to ``queue``, or sequential accepted sends to ``sink``."""
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import Container

    body = json.dumps({"method": "echo", "args": BODY_ARGS}).encode()
    reply_q = f"reply_raw_{uuid.uuid4().hex[:8]}"
    result: dict[str, float] = {}

    class Client(MessagingHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(prefetch=100)
            self.count = 0
            self.opened = 0
            self.started = 0.0

        def on_start(self, event: Any) -> None:
            self.conn = event.container.connect(url, reconnect=False)
            if queue is not None:
                self.receiver = event.container.create_receiver(self.conn, f"/queue/{reply_q}")
                self.sender = event.container.create_sender(self.conn, "/queue")
            else:
                self.opened = 1
                self.sender = event.container.create_sender(self.conn, f"/queue/{sink}")

        def on_link_opened(self, event: Any) -> None:
            self.opened += 1
            if self.opened == 2:
                self.next()

        def next(self) -> None:
            if self.count == WARMUP:
                self.started = time.perf_counter()
            if self.count == WARMUP + n:
                result["rate"] = n / (time.perf_counter() - self.started)
                self.conn.close()
                return
            self.count += 1
            if queue is not None:
                self.sender.send(Message(body=body, inferred=True, subject=queue,
                                         reply_to=reply_q, correlation_id=self.count))
            else:
                self.sender.send(Message(body=body, inferred=True))

        def on_message(self, event: Any) -> None:
            self.next()

        def on_accepted(self, event: Any) -> None:
            if queue is None:
                self.next()

    Container(Client()).run()
    return result["rate"]


@contextlib.contextmanager
def _raw_server_process(url: str, queue: str) -> Iterator[None]:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_raw_server, args=(url, queue, ready), daemon=True)
    proc.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the raw proton server did not start")
        yield
    finally:
        proc.terminate()
        proc.join(10)


# -- the driver ----------------------------------------------------------------------------


class _Echo:
    def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        return None


def _driver_server(url: str, topic: str, api: bool, ready: Any) -> None:
    """Process: serve ``topic`` with the driver interface, or with the public API."""
    import messaging
    from messaging.driver import Reply
    from messaging.target import Target

    transport = messaging.get_rpc_transport(None, url)
    if api:
        server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"),
                                          [_Echo()], executor="threading")
        server.start()
        ready.set()
        threading.Event().wait()
    listener = transport.driver.listen(Target(topic=topic, server="s1"))
    ready.set()
    while True:
        for msg in listener.poll(timeout=1.0):
            msg.acknowledge()
            if getattr(msg, "wants_reply", False):
                msg.reply(Reply(result=msg.message["args"]))  # type: ignore[attr-defined]


@contextlib.contextmanager
def _server(url: str, topic: str, api: bool) -> Iterator[None]:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_driver_server, args=(url, topic, api, ready), daemon=True)
    proc.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the driver's server did not start")
        yield
    finally:
        proc.terminate()
        proc.join(10)


def _calls(url: str, n: int, rounds: int) -> dict[str, float]:
    """Raw request/reply and the driver's call, measured in alternating rounds (best of each).

    The machine is shared: alternating and keeping each side's best round
    compares the two under the same conditions.
    """
    import messaging
    from messaging.target import Target

    raw_url = _hostport(url)
    queue = f"raw_rpc_{uuid.uuid4().hex[:8]}"
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(None, url)
    driver = transport.driver
    target = Target(topic=topic)
    request = {"method": "echo", "args": BODY_ARGS}
    best = {"raw": 0.0, "call": 0.0}
    try:
        with _raw_server_process(raw_url, queue), _server(url, topic, api=False):
            for _ in range(rounds):
                best["raw"] = max(best["raw"], _raw_client(raw_url, n, queue, None))
                best["call"] = max(best["call"], _rate(
                    lambda: driver.call(target, {}, request, timeout=30), n))
    finally:
        transport.cleanup()
    return best


def _sends(url: str, n: int, rounds: int) -> dict[str, float]:
    """Raw accepted sends, the driver's casts and notifications, to queues nobody consumes."""
    import messaging
    from messaging.target import Target

    raw_url = _hostport(url)
    sink = f"raw_sink_{uuid.uuid4().hex[:8]}"
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(None, url)
    driver = transport.driver
    target = Target(topic=topic)
    request = {"method": "echo", "args": BODY_ARGS}
    notice = {"priority": "INFO", "event_type": "bench", "payload": BODY_ARGS}
    ntarget = Target(topic=f"{topic}_n.info")
    best = {"send": 0.0, "cast": 0.0, "notify": 0.0}
    try:
        driver.testing.publish_raw(target, b"{}")  # declares the server's queue
        for _ in range(rounds):
            best["send"] = max(best["send"], _raw_client(raw_url, n, None, sink))
            best["cast"] = max(best["cast"], _rate(lambda: driver.cast(target, {}, request), n))
            best["notify"] = max(best["notify"], _rate(
                lambda: driver.notify(ntarget, {}, notice), n))
    finally:
        transport.cleanup()
    return best


def _public_api(url: str, n: int) -> dict[str, float]:
    import messaging

    topic = f"bench_api_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(None, url)
    try:
        with _server(url, topic, api=True):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=30)
            return {"call": _rate(lambda: client.call({}, "echo", data=BODY_ARGS["data"]), n),
                    "cast": _rate(lambda: client.cast({}, "sink", data=BODY_ARGS["data"]), n)}
    finally:
        transport.cleanup()


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Measure everything; rows of (label, ops/s, ratio to the raw proton baseline or None)."""
    n = min(n, 1000)  # about 2 s per round at proton's pace
    rounds = int(os.environ.get("MESSAGING_BENCH_ROUNDS", "3"))
    with _node() as url:
        calls = _calls(url, n, rounds)
        sends = _sends(url, n, rounds)
        api = _public_api(url, n)
    raw_call, raw_send = calls["raw"], sends["send"]
    return [
        ("raw proton request/reply (server process)", raw_call, None),
        ("raw proton send, accepted", raw_send, None),
        ("amqp driver call (SPI)", calls["call"], calls["call"] / raw_call),
        ("amqp driver cast, accepted (SPI)", sends["cast"], sends["cast"] / raw_send),
        ("amqp driver cast vs raw request/reply", sends["cast"], sends["cast"] / raw_call),
        ("amqp driver notify, accepted (SPI)", sends["notify"], sends["notify"] / raw_send),
        ("amqp RPCClient.call", api["call"], api["call"] / raw_call),
        ("amqp RPCClient.cast", api["cast"], api["cast"] / raw_call),
    ]


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for label, rate, ratio in run(count):
        extra = f"  ratio {ratio:5.2f}x raw" if ratio is not None else ""
        print(f"{label:45s} {rate:10.0f} ops/s{extra}")
