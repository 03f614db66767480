"""Sequential call/s and cast/s on zmq://, beside raw pyzmq in the same run.

Every server runs in its own process (``multiprocessing`` spawn), as a real
deployment would, and the client in this one; bodies carry 100 bytes of
payload.

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
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

WARMUP = 200
WINDOW = 200
BODY_ARGS = {"data": "x" * 100}


def _rate(fn: Callable[[], Any], n: int) -> float:
    for _ in range(WARMUP):
        fn()
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
    def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        return None


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


def _raw(mp: Any, n: int) -> dict[str, float]:
    import zmq

    ready, done = mp.Queue(), mp.Queue()
    proc = mp.Process(target=_raw_server, args=(ready, done), daemon=True)
    proc.start()
    rep_port, sink_port = ready.get(timeout=60)
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.connect(f"tcp://127.0.0.1:{rep_port}")
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{sink_port}")
    body = json.dumps({"method": "echo", "args": BODY_ARGS}).encode()
    out: dict[str, float] = {}
    try:
        def call() -> None:
            req.send(body)
            json.loads(req.recv())

        out["call"] = _rate(call, n)
        for _ in range(WARMUP):
            dealer.send(body)
        dealer.send(b"count")
        done.get(timeout=60)
        start = time.perf_counter()
        for _ in range(n):
            dealer.send(body)
        dealer.send(b"count")
        got = done.get(timeout=60)
        out["cast"] = n / (time.perf_counter() - start)
        assert got == n, got
        req.send(b"stop")
        req.recv()
    finally:
        ctx.destroy(linger=0)
        proc.join(10)
    return out


def _spi(mp: Any, url: str, n: int) -> dict[str, float]:
    from messaging.target import Target
    from messaging.transport import get_rpc_transport

    topic = f"bench_{uuid.uuid4().hex[:8]}"
    ready, done, stop = mp.Queue(), mp.Queue(), mp.Event()
    proc = mp.Process(target=_driver_server, args=(url, topic, ready, done, stop), daemon=True)
    proc.start()
    ready.get(timeout=60)
    transport = get_rpc_transport(None, url)
    driver = transport.driver
    target = Target(topic=topic)
    request = {"method": "echo", "args": BODY_ARGS}
    out: dict[str, float] = {}
    try:
        out["call"] = _rate(lambda: driver.call(target, {}, request, timeout=30), n)

        def in_flight(total: int) -> float:
            start = time.perf_counter()
            window: list[Future[Any]] = []
            for _ in range(total):
                window.append(driver.submit_call(target, {}, request, timeout=60))
                if len(window) >= WINDOW:
                    for f in window:
                        f.result()
                    window = []
            for f in window:
                f.result()
            return total / (time.perf_counter() - start)

        in_flight(WARMUP)
        out["in_flight"] = in_flight(n)
        sink = {"method": "sink", "args": BODY_ARGS}
        for _ in range(WARMUP):
            driver.cast(target, {}, sink)
        driver.cast(target, {}, {"method": "count", "args": {}})
        done.get(timeout=60)
        start = time.perf_counter()
        for _ in range(n):
            driver.cast(target, {}, sink)
        driver.cast(target, {}, {"method": "count", "args": {}})
        got = done.get(timeout=60)
        out["cast"] = n / (time.perf_counter() - start)
        assert got == n, got
    finally:
        stop.set()
        proc.join(10)
        transport.cleanup()
    return out


def _public_api(mp: Any, url: str, n: int) -> dict[str, float]:
    import messaging

    topic = f"bench_api_{uuid.uuid4().hex[:8]}"
    ready, stop = mp.Queue(), mp.Event()
    proc = mp.Process(target=_api_server, args=(url, topic, ready, stop), daemon=True)
    proc.start()
    ready.get(timeout=60)
    transport = messaging.get_rpc_transport(None, url)
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)
        return {"call": _rate(lambda: client.call({}, "echo", data=BODY_ARGS["data"]), n),
                "cast": _rate(lambda: client.cast({}, "sink", data=BODY_ARGS["data"]), n)}
    finally:
        stop.set()
        proc.join(10)
        transport.cleanup()


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Measure everything; rows of (label, ops/s, ratio to the raw pyzmq baseline or None)."""
    from messaging.transport import get_rpc_transport

    mp = multiprocessing.get_context("spawn")
    url = f"zmq:///bench-{uuid.uuid4().hex[:8]}"
    try:
        raw = _raw(mp, n)
        spi = _spi(mp, url, n)
        api = _public_api(mp, url, n)
    finally:
        with get_rpc_transport(None, url) as transport:
            transport.driver.matchmaker.purge()  # type: ignore[attr-defined]
    return [
        ("raw pyzmq REQ/REP (server process)", raw["call"], None),
        ("raw pyzmq DEALER->ROUTER one-way", raw["cast"], None),
        ("zmq driver call (SPI)", spi["call"], spi["call"] / raw["call"]),
        (f"zmq driver calls, {WINDOW} in flight (SPI)", spi["in_flight"],
         spi["in_flight"] / raw["call"]),
        ("zmq driver cast (SPI)", spi["cast"], spi["cast"] / raw["cast"]),
        ("zmq RPCClient.call", api["call"], api["call"] / raw["call"]),
        ("zmq RPCClient.cast", api["cast"], api["cast"] / raw["cast"]),
    ]


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    for label, rate, ratio in run(count):
        extra = f"  ratio {ratio:5.2f}x raw" if ratio is not None else ""
        print(f"{label:45s} {rate:10.0f} ops/s{extra}")
