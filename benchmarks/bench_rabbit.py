"""Sequential call/s, cast/s and notify/s on RabbitMQ, beside raw kombu in the same run.

- ``rabbit call``: the driver interface (``Driver.call``) with a server
  polling its listener, acking and replying in one thread; baseline: raw
  kombu request/reply (one server thread draining, client publishing with
  ``reply_to`` and draining its own reply queue), JSON bodies, no confirms.
- ``rabbit cast`` / ``rabbit notify``: publisher-confirmed sends (the
  driver's default); baseline: raw kombu with ``confirm_publish=True``,
  i.e. one synchronous confirm per message, to a queue like the driver's.
- ``submit_cast`` / ``submit_call`` with 100 futures in flight: the
  driver's native futures (pipelined confirms, one reply correlator).
- Public API rows (``RPCClient``/``RPCServer``) and, when installed,
  oslo.messaging 18.x on the same broker, for comparison.

Runs in a private vhost created with ``rabbitmqctl`` (deleted afterwards),
or in ``/`` with unique names when ``rabbitmqctl`` is unavailable. Set
``MESSAGING_BENCH_RABBIT_URL`` to point elsewhere (loopback only here).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

WARMUP = 50
BODY_ARGS = {"data": "x" * 100}


def _rate(fn: Callable[[], Any], n: int) -> float:
    for _ in range(WARMUP):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


@contextlib.contextmanager
def _vhost() -> Iterator[str]:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    name = f"bench_{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> bool:
        try:
            return subprocess.run([ctl, "-q", *args], capture_output=True,
                                  timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    if run("add_vhost", name) and run("set_permissions", "-p", name, "guest", ".*", ".*",
                                      ".*"):
        try:
            yield name
        finally:
            run("delete_vhost", name)
    else:
        yield ""


def _raw_kombu(amqp_url: str, n: int) -> dict[str, float]:
    import kombu

    out: dict[str, float] = {}
    tag = uuid.uuid4().hex[:8]
    exchange = kombu.Exchange(f"raw_{tag}", "topic", durable=False)
    stop, ready = threading.Event(), threading.Event()

    def server() -> None:
        with kombu.Connection(amqp_url) as conn:
            channel = conn.channel()
            queue = kombu.Queue(f"raw_rpc_{tag}", exchange, "rpc", channel=channel)
            queue.declare()
            producer = kombu.Producer(channel)

            def on_request(body: Any, message: Any) -> None:
                message.ack()
                producer.publish({"result": body["args"], "ending": True}, exchange="",
                                 routing_key=message.properties["reply_to"],
                                 serializer="json")

            with kombu.Consumer(channel, [queue], callbacks=[on_request]):
                ready.set()
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.2)

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    ready.wait(30)
    with kombu.Connection(amqp_url) as conn:
        channel = conn.channel()
        reply_q = kombu.Queue(f"raw_reply_{tag}", exclusive=True, channel=channel)
        reply_q.declare()
        got: list[Any] = []
        consumer = kombu.Consumer(channel, [reply_q], no_ack=True,
                                  callbacks=[lambda body, msg: got.append(body)])
        consumer.consume()
        producer = kombu.Producer(channel)

        def call() -> None:
            got.clear()
            producer.publish({"method": "echo", "args": BODY_ARGS}, exchange=exchange,
                             routing_key="rpc", reply_to=reply_q.name, serializer="json")
            while not got:
                conn.drain_events(timeout=10)

        out["call"] = _rate(call, n)
    stop.set()
    thread.join(5)
    with kombu.Connection(amqp_url, transport_options={"confirm_publish": True}) as conn:
        sink = kombu.Queue(f"raw_sink_{tag}", exchange, "sink", channel=conn.default_channel)
        sink.declare()
        producer = conn.Producer()
        out["publish"] = _rate(lambda: producer.publish(
            {"method": "sink", "args": BODY_ARGS}, exchange=exchange, routing_key="sink",
            serializer="json"), n)
        sink.delete()
    return out


#: Futures kept in flight by the windowed rows.
WINDOW = 100


def _windowed(submit: Callable[[], Any], n: int) -> float:
    """Operations per second with up to :data:`WINDOW` futures in flight."""
    import collections

    def burst(count: int) -> None:
        window: collections.deque[Any] = collections.deque()
        for _ in range(count):
            if len(window) >= WINDOW:
                window.popleft().result(60)
            window.append(submit())
        for future in window:
            future.result(60)

    burst(WARMUP)
    start = time.perf_counter()
    burst(n)
    return n / (time.perf_counter() - start)


def _spi(url: str, n: int) -> dict[str, float]:
    from messaging_rabbit.driver import RabbitDriver

    from messaging.driver import Reply
    from messaging.target import Target
    from messaging.url import TransportURL

    out: dict[str, float] = {}
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    driver = RabbitDriver(None, TransportURL.parse(url))
    listener = driver.listen(Target(topic=topic, server="s1"))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for msg in listener.poll(timeout=0.2):
                msg.acknowledge()
                if getattr(msg, "wants_reply", False):
                    msg.reply(Reply(result=msg.message["args"]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    target = Target(topic=topic)
    request = {"method": "echo", "args": BODY_ARGS}
    try:
        out["call"] = _rate(lambda: driver.call(target, {}, request, timeout=30), n)
        out["cast"] = _rate(lambda: driver.cast(target, {}, request), n)
        notice = {"priority": "INFO", "event_type": "bench", "payload": BODY_ARGS}
        ntarget = Target(topic=f"{topic}_n.info")
        out["notify"] = _rate(lambda: driver.notify(ntarget, {}, notice), n)
        # Native futures: WINDOW sends or calls in flight at once, no thread each.
        out["cast_futures"] = _windowed(
            lambda: driver.submit_cast(target, {}, request), n)
        out["call_futures"] = _windowed(
            lambda: driver.submit_call(target, {}, request, timeout=30), n)
    finally:
        stop.set()
        thread.join(5)
        listener.cleanup()
        driver.cleanup()
    return out


class _Echo:
    def echo(self, ctxt: Any, data: Any) -> Any:
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        return None


def _public_api(url: str, n: int) -> dict[str, float]:
    import messaging

    topic = f"bench_api_{uuid.uuid4().hex[:8]}"
    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [_Echo()], executor="threading")
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)
        return {"call": _rate(lambda: client.call({}, "echo", data=BODY_ARGS["data"]), n),
                "cast": _rate(lambda: client.cast({}, "sink", data=BODY_ARGS["data"]), n)}
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def _oslo(url: str, n: int) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oslo_messaging as om
        from oslo_config import cfg
        from oslo_messaging._metrics.client import oslo_messaging_metrics
        from oslo_messaging._tracing.client import oslo_messaging_tracing

    conf = cfg.ConfigOpts()
    conf.register_opts(oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf([])
    topic = f"bench_oslo_{uuid.uuid4().hex[:8]}"
    transport = om.get_rpc_transport(conf, url=url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = om.get_rpc_server(transport, om.Target(topic=topic, server="s1"), [_Echo()],
                                   executor="threading")
    server.start()
    out = {}
    try:
        client = om.get_rpc_client(transport, om.Target(topic=topic), timeout=30)
        out["call"] = _rate(lambda: client.call({}, "echo", data=BODY_ARGS["data"]), n)
        out["cast"] = _rate(lambda: client.cast({}, "sink", data=BODY_ARGS["data"]), n)
    finally:
        server.stop()
        server.wait()
    notifier = om.Notifier(om.get_notification_transport(conf, url=url), publisher_id="bench",
                           driver="messagingv2", topics=[f"{topic}_n"])
    out["notify"] = _rate(lambda: notifier.info({}, "bench", BODY_ARGS), n)
    transport.cleanup()
    return out


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Measure everything; rows of (label, ops/s, ratio to the raw kombu baseline or None)."""
    import logging

    logging.getLogger("oslo.messaging").setLevel(logging.CRITICAL)
    logging.getLogger("amqp").setLevel(logging.ERROR)  # raw baseline teardown chatter
    base = os.environ.get("MESSAGING_BENCH_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
    with _vhost() as vhost:
        url = base.rstrip("/") + "/" + vhost
        raw = _raw_kombu(url.replace("rabbit://", "amqp://", 1), n)
        spi = _spi(url, n)
        api = _public_api(url, n)
        rows: list[tuple[str, float, float | None]] = [
            ("raw kombu request/reply", raw["call"], None),
            ("raw kombu confirmed publish", raw["publish"], None),
            ("rabbit driver call (SPI)", spi["call"], spi["call"] / raw["call"]),
            ("rabbit driver cast, confirmed (SPI)", spi["cast"], spi["cast"] / raw["publish"]),
            ("rabbit driver notify, confirmed (SPI)", spi["notify"],
             spi["notify"] / raw["publish"]),
            (f"rabbit driver submit_cast, {WINDOW} in flight", spi["cast_futures"],
             spi["cast_futures"] / raw["publish"]),
            (f"rabbit driver submit_call, {WINDOW} in flight", spi["call_futures"],
             spi["call_futures"] / raw["call"]),
            ("rabbit RPCClient.call", api["call"], api["call"] / raw["call"]),
            ("rabbit RPCClient.cast", api["cast"], api["cast"] / raw["publish"]),
        ]
        try:
            oslo = _oslo(url, n)
        except ImportError:
            oslo = {}
        if oslo:
            rows += [("oslo.messaging call", oslo["call"], oslo["call"] / raw["call"]),
                     ("oslo.messaging cast", oslo["cast"], oslo["cast"] / raw["publish"]),
                     ("oslo.messaging notify", oslo["notify"], oslo["notify"] / raw["publish"])]
    return rows


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for label, rate, ratio in run(count):
        extra = f"  ratio {ratio:5.2f}x raw" if ratio is not None else ""
        print(f"{label:45s} {rate:10.0f} ops/s{extra}")
