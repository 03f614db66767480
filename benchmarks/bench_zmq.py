"""Sequential call/s and cast/s on zmq://, beside raw pyzmq in the same run.

Every server runs in its own process (``multiprocessing`` spawn), as a real
deployment would, and the client in this one; bodies carry 100 bytes of
payload. Sequential calls and casts are measured in rounds that alternate
between raw pyzmq and the driver (against servers that all stay up), and
each row reports its median round: on a shared machine the load changes
from one second to the next, and alternating keeps the ratio honest.

- ``raw pyzmq REQ/REP``: the baseline for calls: a REP socket echoing JSON.
- ``raw pyzmq DEALER->ROUTER one-way``: the baseline for casts: the time
  until the server counted every message.
- ``zmq driver call (SPI)``: ``Driver.call`` against a server process that
  polls its listener, acknowledges and replies in one thread.
- ``zmq driver cast (SPI)``: sequential ``Driver.cast`` (each waits until a
  connected socket took it), timed until the server counted every message.
- ``zmq driver calls in flight (SPI)``: ``submit_call`` with a window of 200
  futures outstanding, against the same server.
- ``zmq RPCClient.call`` / ``.cast``: the public API, server on the
  threading executor.

The matchmaker is the local one, in a namespace of its own, removed afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

WARMUP = 200
WINDOW = 200
ROUNDS = 5
BODY_ARGS = {"data": "x" * 100}


def _rate(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


# -- server processes ----------------------------------------------------------------------


def _raw_server(ready: Any, done: Any) -> None:
    import zmq

    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep_port = rep.bind_to_random_port("tcp://127.0.0.1")
    sink = ctx.socket(zmq.ROUTER)
    sink_port = sink.bind_to_random_port("tcp://127.0.0.1")
    ready.put((rep_port, sink_port))
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    poller.register(sink, zmq.POLLIN)
    counted = 0
    while True:
        for sock, _ in poller.poll():
            if sock is rep:
                body = rep.recv()
                if body == b"stop":
                    rep.send(b"")
                    ctx.destroy(linger=0)
                    return
                request = json.loads(body)
                rep.send(json.dumps({"result": request["args"]}).encode())
            else:
                frames = sink.recv_multipart()
                if frames[1] == b"count":
                    done.put(counted)
                    counted = 0
                else:
                    json.loads(frames[1])
                    counted += 1


def _driver_server(url: str, topic: str, ready: Any, done: Any, stop: Any) -> None:
    from messaging.driver import Reply
    from messaging.target import Target
    from messaging.transport import get_rpc_transport

    transport = get_rpc_transport(None, url)
    listener = transport.listen(Target(topic=topic, server="s1"))
    ready.put(True)
    counted = 0
    while not stop.is_set():
        for msg in listener.poll(timeout=0.2, max_messages=64):
            msg.acknowledge()
            if getattr(msg, "wants_reply", False):
                msg.reply(Reply(result=msg.message["args"]))
            elif msg.message.get("method") == "count":
                done.put(counted)
                counted = 0
            else:
                counted += 1
    listener.cleanup()
    transport.cleanup()


class _Echo:
    def __init__(self) -> None:
        self.sunk = 0
        self.cond = threading.Condition()

    def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        with self.cond:
            self.sunk += 1
            self.cond.notify_all()

    def count(self, ctxt: Any, expected: int) -> int:
        """Wait (up to 60 s) until ``expected`` casts arrived; return and reset the count."""
        with self.cond:
            self.cond.wait_for(lambda: self.sunk >= expected, 60)
            sunk, self.sunk = self.sunk, 0
        return sunk


def _api_server(url: str, topic: str, ready: Any, stop: Any) -> None:
    import messaging

    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [_Echo()], executor="threading")
    server.start()
    ready.put(True)
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


# -- measurements --------------------------------------------------------------------------


class _Raw:
    """Raw pyzmq clients of the raw server process."""

    def __init__(self, mp: Any) -> None:
        import zmq

        self.ready, self.done = mp.Queue(), mp.Queue()
        self.proc = mp.Process(target=_raw_server, args=(self.ready, self.done), daemon=True)
        self.proc.start()
        rep_port, sink_port = self.ready.get(timeout=60)
        self.ctx = zmq.Context()
        self.req = self.ctx.socket(zmq.REQ)
        self.req.connect(f"tcp://127.0.0.1:{rep_port}")
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.connect(f"tcp://127.0.0.1:{sink_port}")
        self.body = json.dumps({"method": "echo", "args": BODY_ARGS}).encode()

    def call(self) -> None:
        self.req.send(self.body)
        json.loads(self.req.recv())

    def casts(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.dealer.send(self.body)
        self.dealer.send(b"count")
        got = self.done.get(timeout=60)
        assert got == n, got
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        self.req.send(b"stop")
        self.req.recv()
        self.ctx.destroy(linger=0)
        self.proc.join(10)


class _Spi:
    """The driver interface against a server process polling its listener."""

    def __init__(self, mp: Any, url: str) -> None:
        from messaging.target import Target
        from messaging.transport import get_rpc_transport

        topic = f"bench_{uuid.uuid4().hex[:8]}"
        self.ready, self.done, self.stop = mp.Queue(), mp.Queue(), mp.Event()
        self.proc = mp.Process(target=_driver_server,
                               args=(url, topic, self.ready, self.done, self.stop), daemon=True)
        self.proc.start()
        self.ready.get(timeout=60)
        self.transport = get_rpc_transport(None, url)
        self.driver = self.transport.driver
        self.target = Target(topic=topic)
        self.request = {"method": "echo", "args": BODY_ARGS}
        self.sink = {"method": "sink", "args": BODY_ARGS}

    def call(self) -> None:
        self.driver.call(self.target, {}, self.request, timeout=30)

    def casts(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.driver.cast(self.target, {}, self.sink)
        self.driver.cast(self.target, {}, {"method": "count", "args": {}})
        got = self.done.get(timeout=60)
        assert got == n, got
        return n / (time.perf_counter() - start)

    def in_flight(self, total: int) -> float:
        start = time.perf_counter()
        window: list[Future[Any]] = []
        for _ in range(total):
            window.append(self.driver.submit_call(self.target, {}, self.request, timeout=60))
            if len(window) >= WINDOW:
                for f in window:
                    f.result()
                window = []
        for f in window:
            f.result()
        return total / (time.perf_counter() - start)

    def close(self) -> None:
        self.stop.set()
        self.proc.join(10)
        self.transport.cleanup()


class _Api:
    """RPCClient against an RPC server process (threading executor)."""

    def __init__(self, mp: Any, url: str) -> None:
        import messaging

        topic = f"bench_api_{uuid.uuid4().hex[:8]}"
        self.ready, self.stop = mp.Queue(), mp.Event()
        self.proc = mp.Process(target=_api_server, args=(url, topic, self.ready, self.stop),
                               daemon=True)
        self.proc.start()
        self.ready.get(timeout=60)
        self.transport = messaging.get_rpc_transport(None, url)
        self.client = messaging.get_rpc_client(self.transport, messaging.Target(topic=topic),
                                               timeout=30)

    def call(self) -> None:
        self.client.call({}, "echo", data=BODY_ARGS["data"])

    def casts(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.client.cast({}, "sink", data=BODY_ARGS["data"])
        got = self.client.call({}, "count", expected=n)  # the server counted them all
        assert got == n, got
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        self.stop.set()
        self.proc.join(10)
        self.transport.cleanup()


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Measure everything; rows of (label, ops/s, ratio to the raw pyzmq baseline or None)."""
    from messaging_zmq.matchmaker import purge_namespace

    mp = multiprocessing.get_context("spawn")
    url = f"zmq:///bench-{uuid.uuid4().hex[:8]}"
    per_round = max(n // ROUNDS, 100)
    got: dict[str, list[float]] = {k: [] for k in (
        "raw_call", "spi_call", "api_call", "raw_cast", "spi_cast", "api_cast", "in_flight")}
    raw = _Raw(mp)
    spi = _Spi(mp, url)
    api = _Api(mp, url)
    try:
        for fn in (raw.call, spi.call, api.call):
            for _ in range(WARMUP):
                fn()
        raw.casts(WARMUP)
        spi.casts(WARMUP)
        api.casts(WARMUP)
        spi.in_flight(WARMUP)
        for _ in range(ROUNDS):
            got["raw_call"].append(_rate(raw.call, per_round))
            got["spi_call"].append(_rate(spi.call, per_round))
            got["api_call"].append(_rate(api.call, per_round))
            got["raw_cast"].append(raw.casts(per_round))
            got["spi_cast"].append(spi.casts(per_round))
            got["api_cast"].append(api.casts(per_round))
            got["in_flight"].append(spi.in_flight(per_round))
    finally:
        api.close()
        spi.close()
        raw.close()
        purge_namespace(url)
    m = {k: statistics.median(v) for k, v in got.items()}
    return [
        ("raw pyzmq REQ/REP (server process)", m["raw_call"], None),
        ("raw pyzmq DEALER->ROUTER one-way", m["raw_cast"], None),
        ("zmq driver call (SPI)", m["spi_call"], m["spi_call"] / m["raw_call"]),
        (f"zmq driver calls, {WINDOW} in flight (SPI)", m["in_flight"],
         m["in_flight"] / m["raw_call"]),
        ("zmq driver cast (SPI)", m["spi_cast"], m["spi_cast"] / m["raw_cast"]),
        ("zmq RPCClient.call", m["api_call"], m["api_call"] / m["raw_call"]),
        ("zmq RPCClient.cast", m["api_cast"], m["api_cast"] / m["raw_cast"]),
    ]


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    for label, rate, ratio in run(count):
        extra = f"  ratio {ratio:5.2f}x raw" if ratio is not None else ""
        print(f"{label:45s} {rate:10.0f} ops/s{extra}")
