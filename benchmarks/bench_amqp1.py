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

Raw and driver measurements alternate in rounds; a ratio is the median of
the per-round ratios (the machine is shared and its load swings), a rate the
best round. Ratios: calls against raw request/reply, casts and notifications
against raw accepted sends; the cast is also set beside raw request/reply
(best against best), the yardstick of the issue that asked for the driver. A
private RabbitMQ node with the AMQP 1.0 plugin is started for the run
(``tests/functional/amqp1/amqp1_broker.py``), or ``MESSAGING_BENCH_AMQP1_URL``
names one (loopback only here).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
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


class _Rounds:
    """Rates measured in rounds alternating with the raw baseline's.

    The machine is shared and its load swings: each round measures the raw
    baseline and every contender back to back, and a contender's ratio is
    the median of its per-round ratios. Rates shown are each side's best round.
    """

    def __init__(self) -> None:
        self.best: dict[str, float] = {}
        self.ratios: dict[str, list[float]] = {}

    def measure(self, baseline: str, fns: dict[str, Callable[[], float]]) -> None:
        base = fns[baseline]()
        self.best[baseline] = max(self.best.get(baseline, 0.0), base)
        for name, fn in fns.items():
            if name == baseline:
                continue
            rate = fn()
            self.best[name] = max(self.best.get(name, 0.0), rate)
            self.ratios.setdefault(name, []).append(rate / base)

    def ratio(self, name: str) -> float:
        return statistics.median(self.ratios[name])


def _calls(url: str, n: int, rounds: int, out: _Rounds) -> None:
    """Raw request/reply, the driver's call (SPI) and RPCClient.call, servers in processes."""
    import messaging
    from messaging.target import Target

    raw_url = _hostport(url)
    queue = f"raw_rpc_{uuid.uuid4().hex[:8]}"
    topic, api_topic = f"bench_{uuid.uuid4().hex[:8]}", f"bench_api_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(None, url)
    driver = transport.driver
    target = Target(topic=topic)
    request = {"method": "echo", "args": BODY_ARGS}
    client = messaging.get_rpc_client(transport, Target(topic=api_topic), timeout=30)
    try:
        with _raw_server_process(raw_url, queue), _server(url, topic, api=False), \
                _server(url, api_topic, api=True):
            for _ in range(rounds):
                out.measure("raw call", {
                    "raw call": lambda: _raw_client(raw_url, n, queue, None),
                    "call": lambda: _rate(
                        lambda: driver.call(target, {}, request, timeout=30), n),
                    "api call": lambda: _rate(
                        lambda: client.call({}, "echo", data=BODY_ARGS["data"]), n)})
    finally:
        transport.cleanup()


def _sends(url: str, n: int, rounds: int, out: _Rounds) -> None:
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
    client = messaging.get_rpc_client(transport, target)
    try:
        driver.testing.publish_raw(target, b"{}")  # declares the server's queue
        for _ in range(rounds):
            out.measure("raw send", {
                "raw send": lambda: _raw_client(raw_url, n, None, sink),
                "cast": lambda: _rate(lambda: driver.cast(target, {}, request), n),
                "notify": lambda: _rate(lambda: driver.notify(ntarget, {}, notice), n),
                "api cast": lambda: _rate(
                    lambda: client.cast({}, "sink", data=BODY_ARGS["data"]), n)})
    finally:
        transport.cleanup()


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Measure everything; rows of (label, ops/s, ratio to the raw proton baseline or None)."""
    n = min(n, 500)  # rounds of about a second per row at proton's pace
    rounds = int(os.environ.get("MESSAGING_BENCH_ROUNDS", "5"))
    out = _Rounds()
    with _node() as url:
        _calls(url, n, rounds, out)
        _sends(url, n, rounds, out)
    best = out.best
    return [
        ("raw proton request/reply (server process)", best["raw call"], None),
        ("raw proton send, accepted", best["raw send"], None),
        ("amqp driver call (SPI)", best["call"], out.ratio("call")),
        ("amqp driver cast, accepted (SPI)", best["cast"], out.ratio("cast")),
        ("amqp driver cast vs raw request/reply", best["cast"],
         best["cast"] / best["raw call"]),
        ("amqp driver notify, accepted (SPI)", best["notify"], out.ratio("notify")),
        ("amqp RPCClient.call", best["api call"], out.ratio("api call")),
        ("amqp RPCClient.cast, accepted", best["api cast"], out.ratio("api cast")),
    ]


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for label, rate, ratio in run(count):
        extra = f"  ratio {ratio:5.2f}x raw" if ratio is not None else ""
        print(f"{label:45s} {rate:10.0f} ops/s{extra}")
