"""Async clients beside threaded ones, in one run: calls and confirmed casts in flight.

On ``fake://`` always, and on ``rabbit://`` when RabbitMQ answers on
127.0.0.1:5672 (a private vhost, as :mod:`bench_rabbit` makes one):

- ``call``: an RPCClient called sequentially, then from 8 threads (the
  baseline the async rows are compared with), then an AsyncRPCClient with 100
  calls in flight from one loop (a hundred coroutines calling in turn). The
  server is the same for the client rows: ``executor='threading'`` with a
  sync endpoint; one more row serves the async client from
  ``executor='asyncio'`` with an ``async def`` endpoint (on a loop the server
  owns, in its own thread).
- ``cast``: sends until the bus took every one (confirmed, on RabbitMQ),
  sequentially with RPCClient, then with 100 in flight from AsyncRPCClient,
  to the topic's queue with no server consuming; compared with raw pika
  publishing to a queue with publisher confirms, sequentially
  (BlockingConnection) and with 100 unconfirmed messages pipelined
  (SelectConnection, the ceiling).

Set ``MESSAGING_BENCH_RABBIT_URL`` to use another broker URL (loopback only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from bench_rabbit import WARMUP, _vhost
from bench_rabbit import _rate as _sequential

import messaging

IN_FLIGHT = 100
THREADS = 8
DATA = "x" * 100

Row = tuple[str, float, float | None, str]


class Echo:
    def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        return None


class AsyncEcho:
    async def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    async def sink(self, ctxt: Any, data: Any) -> None:
        return None


@contextlib.contextmanager
def _served(transport: messaging.Transport, topic: str, endpoint: Any,
            executor: str) -> Iterator[None]:
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint], executor=executor)
    server.start()
    try:
        yield
    finally:
        server.stop()
        server.wait()


def _threaded(fn: Callable[[], Any], n: int, threads: int = THREADS) -> float:
    for _ in range(WARMUP):
        fn()
    per_thread = max(n // threads, 1)
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            fn()

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - start)


def _in_flight(make: Callable[[], Any], n: int, width: int = IN_FLIGHT) -> float:
    """``width`` coroutines each awaiting ``make()`` in turn: ``width`` operations in flight."""
    per_task = max(n // width, 1)

    async def lane() -> None:
        for _ in range(per_task):
            await make()

    async def measure() -> float:
        await asyncio.gather(*(make() for _ in range(WARMUP)))
        start = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(width)))
        return per_task * width / (time.perf_counter() - start)

    return asyncio.run(measure())


def measure_bus(url: str, n: int) -> dict[str, float]:
    """Every library row for one bus."""
    out: dict[str, float] = {}
    topic = f"bench_async_{uuid.uuid4().hex[:8]}"
    target = messaging.Target(topic=topic)
    with messaging.get_rpc_transport(None, url) as transport:
        sync_client = messaging.get_rpc_client(transport, target, timeout=60)
        async_client = messaging.get_async_rpc_client(transport, target, timeout=60)
        with _served(transport, topic, Echo(), "threading"):
            out["call seq"] = _sequential(lambda: sync_client.call({}, "echo", data=DATA), n)
            out["call threads"] = _threaded(lambda: sync_client.call({}, "echo", data=DATA), n)
            out["call async"] = _in_flight(lambda: async_client.call({}, "echo", data=DATA), n)
        with _served(transport, topic, AsyncEcho(), "asyncio"):
            out["call async/asyncio"] = _in_flight(
                lambda: async_client.call({}, "echo", data=DATA), n)
        # Casts go to the topic's queue (declared by the servers above) with no consumer,
        # as raw pika's do: the rate is the client's and the broker's, not a server's.
        out["cast seq"] = _sequential(lambda: sync_client.cast({}, "sink", data=DATA), n)
        out["cast async"] = _in_flight(lambda: async_client.cast({}, "sink", data=DATA), n)
    return out


def _rows(bus: str, lib: dict[str, float]) -> list[Row]:
    base = lib["call threads"]
    return [
        (f"{bus} call, RPCClient sequential", lib["call seq"], lib["call seq"] / base,
         "8 threads"),
        (f"{bus} call, RPCClient {THREADS} threads", base, None, ""),
        (f"{bus} call, AsyncRPCClient {IN_FLIGHT} in flight", lib["call async"],
         lib["call async"] / base, "8 threads"),
        (f"{bus} call, async, asyncio server", lib["call async/asyncio"],
         lib["call async/asyncio"] / base, "8 threads"),
        (f"{bus} cast, RPCClient sequential", lib["cast seq"], None, ""),
        (f"{bus} cast, AsyncRPCClient {IN_FLIGHT} in flight", lib["cast async"],
         lib["cast async"] / lib["cast seq"], "sequential"),
    ]


def raw_pika(amqp_url: str, n: int) -> dict[str, float]:
    """Confirmed publishes with raw pika: one at a time, and ``IN_FLIGHT`` pipelined."""
    import pika

    queue = f"bench_raw_pika_{uuid.uuid4().hex[:8]}"
    body = json.dumps({"method": "sink", "args": {"data": DATA}}).encode()
    params = pika.URLParameters(amqp_url)
    out: dict[str, float] = {}
    conn = pika.BlockingConnection(params)
    try:
        channel = conn.channel()
        channel.queue_declare(queue=queue)
        channel.confirm_delivery()
        out["seq"] = _sequential(lambda: channel.basic_publish("", queue, body), n)
        out["pipelined"] = _pika_pipelined(params, queue, body, n)
        channel.queue_delete(queue=queue)
    finally:
        conn.close()
    return out


def _pika_pipelined(params: Any, queue: str, body: bytes, n: int) -> float:
    """Keep ``IN_FLIGHT`` publishes unconfirmed at a time on a SelectConnection."""
    import pika

    state: dict[str, Any] = {"sent": 0, "confirmed": 0, "start": 0.0, "end": 0.0}
    outstanding: set[int] = set()
    total = n + WARMUP

    def publish_more(channel: Any) -> None:
        while state["sent"] < total and len(outstanding) < IN_FLIGHT:
            channel.basic_publish("", queue, body)
            state["sent"] += 1
            outstanding.add(state["sent"])

    def on_confirm(frame: Any, channel: Any) -> None:
        tag, multiple = frame.method.delivery_tag, frame.method.multiple
        done = {t for t in outstanding if t <= tag} if multiple else {tag} & outstanding
        outstanding.difference_update(done)
        before = state["confirmed"]
        state["confirmed"] += len(done)
        if before < WARMUP <= state["confirmed"]:
            state["start"] = time.perf_counter()
        if state["confirmed"] >= total:
            state["end"] = time.perf_counter()
            channel.connection.close()
        else:
            publish_more(channel)

    def on_channel(channel: Any) -> None:
        channel.confirm_delivery(lambda frame: on_confirm(frame, channel),
                                 callback=lambda _frame: publish_more(channel))

    def stop(connection: Any, error: Any) -> None:
        state["error"] = error
        connection.ioloop.stop()

    conn = pika.SelectConnection(
        params, on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_open_error_callback=stop, on_close_callback=stop)
    conn.ioloop.start()
    if not state["end"]:
        raise RuntimeError(f"raw pika pipelined publishing failed: {state.get('error')}")
    confirmed_after_warmup = state["confirmed"] - WARMUP
    return confirmed_after_warmup / (state["end"] - state["start"])


def _unreachable(url: str) -> str | None:
    """Why the broker of ``url`` does not accept TCP connections, or None if it does."""
    import socket

    host = messaging.TransportURL.parse(url).hosts[0]
    address = (host.hostname or "127.0.0.1", host.port or 5672)
    try:
        with socket.create_connection(address, timeout=2):
            return None
    except OSError as exc:
        return f"{address[0]}:{address[1]}: {exc}"


def run(n: int = 3000) -> list[Row]:
    """Rows of (label, ops/s, ratio, what the ratio is against)."""
    import logging

    logging.getLogger("pika").setLevel(logging.WARNING)
    rows = _rows("fake", measure_bus(f"fake:///bench-{uuid.uuid4().hex[:8]}", n))

    base = os.environ.get("MESSAGING_BENCH_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
    problem = _unreachable(base)
    if problem:
        return [*rows, (f"rabbit: skipped ({problem})", 0.0, None, "")]
    try:
        with _vhost() as vhost:
            url = base.rstrip("/") + "/" + vhost
            lib = measure_bus(url, n)
            rows += _rows("rabbit", lib)
            try:
                raw = raw_pika(url.replace("rabbit://", "amqp://", 1), n)
            except ImportError:
                rows.append(("raw pika: not installed", 0.0, None, ""))
            else:
                rows += [
                    ("raw pika confirmed publish, sequential", raw["seq"], None, ""),
                    (f"raw pika confirmed publish, {IN_FLIGHT} pipelined", raw["pipelined"],
                     None, ""),
                    (f"rabbit cast async {IN_FLIGHT} in flight vs pika pipelined",
                     lib["cast async"], lib["cast async"] / raw["pipelined"],
                     "pika pipelined"),
                ]
    except messaging.MessagingException as exc:
        rows.append((f"rabbit: skipped ({type(exc).__name__}: {exc})", 0.0, None, ""))
    return rows


if __name__ == "__main__":
    import sys

    for label, rate, ratio, against in run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
        extra = f"  ratio {ratio:5.2f}x {against}" if ratio is not None else ""
        print(f"{label:55s} {rate:10.0f} ops/s{extra}")
