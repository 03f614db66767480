"""Raw kombu and raw pika on RabbitMQ: the same jobs with no framework.

Each raw server runs in its own process (as this library's and
oslo.messaging's do): it consumes one queue, acknowledges every message,
answers those with a ``reply_to`` on the default exchange (JSON bodies of
the envelope's size) and counts the rest. The clients:

- ``call``: publish with ``reply_to`` and a correlation id, wait for the
  reply on an exclusive queue (no confirm: the reply proves delivery);
- ``call-threads``: :data:`shapes.THREADS` threads, each its own connection
  (neither client is thread-safe);
- ``call-async`` (pika): :data:`shapes.IN_FLIGHT` requests outstanding on
  one ``SelectConnection``;
- ``cast``: confirm-each publishing (kombu ``confirm_publish``, pika
  ``BlockingConnection.confirm_delivery``);
- ``cast-threads``: confirm-each from :data:`shapes.THREADS` connections;
- ``cast-async`` (pika): pipelined confirms, :data:`shapes.IN_FLIGHT`
  unconfirmed at a time on one ``SelectConnection``: the ceiling.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from shapes import IN_FLIGHT, THREADS, request_body, sequential, threaded

from messaging.bench.protocol import Counter
from messaging.url import TransportURL

logging.getLogger("pika").setLevel(logging.CRITICAL)
logging.getLogger("amqp").setLevel(logging.ERROR)


def amqp_url(url: str) -> str:
    """``rabbit://user:pass@host:port/vhost`` as the raw clients' ``amqp://`` URL."""
    parsed = TransportURL.parse(url)
    host = parsed.hosts[0]
    vhost = parsed.virtual_host or "%2F"
    return (f"amqp://{host.username or 'guest'}:{host.password or 'guest'}@"
            f"{host.hostname or '127.0.0.1'}:{host.port or 5672}/{vhost}")


def _queue(topic: str) -> str:
    return f"raw_{topic}"


# -- pika ----------------------------------------------------------------------------------


class RawPikaServer:
    """A ``SelectConnection`` consumer on its own I/O thread (the process does nothing
    else): pika's fastest way to consume, acknowledging each message as this library's
    servers do."""

    def __init__(self, url: str, topic: str, kind: str) -> None:
        import pika

        self._pika = pika
        self.counter = Counter()
        self.info = {"queue": _queue(topic)}
        self._ready = threading.Event()
        self._error: Any = None
        self._conn = pika.SelectConnection(pika.URLParameters(amqp_url(url)),
                                           on_open_callback=self._on_open,
                                           on_open_error_callback=self._on_error,
                                           on_close_callback=self._on_error)
        self._thread = threading.Thread(target=self._conn.ioloop.start, daemon=True)

    def _on_error(self, _conn: Any, error: Any) -> None:
        self._error = error
        self._ready.set()

    def _on_open(self, conn: Any) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.queue_declare(self.info["queue"], callback=self._on_queue)

    def _on_queue(self, _frame: Any) -> None:
        self._channel.basic_consume(self.info["queue"], self._on_message,
                                    callback=lambda _f: self._ready.set())

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        request = json.loads(body)
        if properties.reply_to:
            channel.basic_publish("", properties.reply_to, json.dumps(
                {"result": request["args"], "ending": True}).encode(),
                self._pika.BasicProperties(correlation_id=properties.correlation_id,
                                           content_type="application/json"))
        self.counter.add()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or self._error:
            raise RuntimeError(f"the raw pika server did not start: {self._error}")

    def stop(self) -> None:
        def close() -> None:
            self._channel.queue_delete(self.info["queue"])
            self._conn.close()

        self._conn.ioloop.add_callback_threadsafe(close)
        self._thread.join(10)


class _PikaCaller:
    """One ``BlockingConnection`` that calls (request/reply) or publishes confirm-each."""

    def __init__(self, url: str, queue: str, confirm: bool) -> None:
        import pika

        self._pika = pika
        # No heartbeats: a BlockingConnection serves them only inside its calls, and this
        # one idles while the other contenders are measured.
        self.conn = pika.BlockingConnection(pika.URLParameters(url + "?heartbeat=0"))
        self.channel = self.conn.channel()
        self.queue = queue
        self.got: list[bytes] = []
        if confirm:
            self.channel.confirm_delivery()
        else:
            self.reply_q = self.channel.queue_declare("", exclusive=True).method.queue
            self.channel.basic_consume(self.reply_q, lambda _c, _m, _p, body: self.got.append(
                body), auto_ack=True)
        self.call_body, self.sink_body = request_body("echo"), request_body("sink")
        self.props = pika.BasicProperties(content_type="application/json")

    def call(self) -> None:
        self.got.clear()
        self.channel.basic_publish("", self.queue, self.call_body, self._pika.BasicProperties(
            reply_to=self.reply_q, correlation_id=uuid.uuid4().hex,
            content_type="application/json"))
        while not self.got:
            self.conn.process_data_events(time_limit=None)
        json.loads(self.got[0])

    def cast(self) -> None:
        self.channel.basic_publish("", self.queue, self.sink_body, self.props)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class _PikaPipeline:
    """A ``SelectConnection`` on its own I/O thread keeping many requests or unconfirmed
    publishes outstanding; :meth:`calls` and :meth:`casts` block until ``n`` completed."""

    def __init__(self, url: str, queue: str) -> None:
        import pika

        self._pika = pika
        self.queue = queue
        self._opened = threading.Event()
        self._done = threading.Event()
        self._error: Any = None
        self._to_complete = self._to_send = 0
        self._unconfirmed: list[int] = []
        self._published = 0
        self.conn = pika.SelectConnection(pika.URLParameters(url),
                                          on_open_callback=self._on_open,
                                          on_open_error_callback=self._on_error,
                                          on_close_callback=self._on_error)
        self._thread = threading.Thread(target=self.conn.ioloop.start, daemon=True)
        self._thread.start()
        if not self._opened.wait(30):
            raise RuntimeError(f"raw pika SelectConnection did not open: {self._error}")

    def _on_error(self, _conn: Any, error: Any) -> None:
        self._error = error
        self._opened.set()
        self._done.set()

    def _on_open(self, conn: Any) -> None:
        conn.channel(on_open_callback=self._on_calls_channel)

    def _on_calls_channel(self, channel: Any) -> None:
        self.calls_ch = channel
        channel.queue_declare("", exclusive=True, callback=self._on_reply_queue)

    def _on_reply_queue(self, frame: Any) -> None:
        self.reply_q = frame.method.queue
        self.calls_ch.basic_consume(self.reply_q, self._on_reply, auto_ack=True)
        self.conn.channel(on_open_callback=self._on_casts_channel)

    def _on_casts_channel(self, channel: Any) -> None:
        self.casts_ch = channel
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: self._opened.set())

    # calls: a reply completes one, and sends the next
    def _on_reply(self, _ch: Any, _m: Any, _p: Any, body: bytes) -> None:
        json.loads(body)
        self._completed(1, self._send_call)

    def _send_call(self) -> None:
        self.calls_ch.basic_publish("", self.queue, request_body("echo"),
                                    self._pika.BasicProperties(
                                        reply_to=self.reply_q, correlation_id=uuid.uuid4().hex,
                                        content_type="application/json"))

    # casts: a confirm (possibly of many) completes them, and sends as many more
    def _on_confirm(self, frame: Any) -> None:
        tag, multiple = frame.method.delivery_tag, frame.method.multiple
        done = sum(1 for t in self._unconfirmed if t <= tag) if multiple else 1
        self._unconfirmed = [t for t in self._unconfirmed if (t > tag if multiple else t != tag)]
        self._completed(done, self._send_cast)

    def _send_cast(self) -> None:
        self.casts_ch.basic_publish("", self.queue, request_body("sink"),
                                    self._pika.BasicProperties(content_type="application/json"))
        self._published += 1
        self._unconfirmed.append(self._published)

    def _completed(self, count: int, send: Callable[[], None]) -> None:
        self._to_complete -= count
        if self._to_complete <= 0:
            self._done.set()
            return
        more = min(count, self._to_send)
        self._to_send -= more
        for _ in range(more):
            send()

    def _run(self, n: int, what: str, send: Callable[[], None]) -> None:
        self._done.clear()
        self._to_complete = n
        first = min(n, IN_FLIGHT)
        self._to_send = n - first

        def begin() -> None:
            for _ in range(first):
                send()

        self.conn.ioloop.add_callback_threadsafe(begin)
        if not self._done.wait(120) or self._error:
            raise RuntimeError(f"raw pika {what} did not complete: {self._error}")

    def calls(self, n: int) -> None:
        self._run(n, "calls", self._send_call)

    def casts(self, n: int) -> None:
        self._run(n, "casts", self._send_cast)

    def close(self) -> None:
        self.conn.ioloop.add_callback_threadsafe(self.conn.close)
        self._thread.join(10)


class _RawClient:
    """Connections per shape, made on first use and kept: one for the sequential shapes,
    :data:`shapes.THREADS` for the threaded ones (neither client is thread-safe)."""

    caller: Any  # the connection class: _PikaCaller or _KombuCaller

    def __init__(self, url: str, topic: str, servers: dict[str, Any]) -> None:
        self._url = amqp_url(url)
        self._queue = servers["rpc"]["queue"]
        self._callers: dict[str, list[Any]] = {}
        self.shapes: dict[str, Callable[[int], Any]] = {
            "call": lambda n: sequential(self._conns("call", 1)[0].call, n),
            "call-threads": lambda n: threaded([c.call for c in self._conns("call", THREADS)],
                                               n),
            "cast": lambda n: sequential(self._conns("cast", 1)[0].cast, n),
            "cast-threads": lambda n: threaded([c.cast for c in self._conns("cast", THREADS)],
                                               n),
        }

    def _conns(self, what: str, count: int) -> list[Any]:
        have = self._callers.setdefault(what, [])
        while len(have) < count:
            have.append(self.caller(self._url, self._queue, confirm=what == "cast"))
        return have[:count]

    def close(self) -> None:
        for callers in self._callers.values():
            for caller in callers:
                caller.close()


class RawPikaClient(_RawClient):
    caller = _PikaCaller

    def __init__(self, url: str, topic: str, servers: dict[str, Any]) -> None:
        super().__init__(url, topic, servers)
        self._pipeline: _PikaPipeline | None = None
        self.shapes["call-async"] = lambda n: self._pipelined().calls(n)
        self.shapes["cast-async"] = lambda n: self._pipelined().casts(n)

    def _pipelined(self) -> _PikaPipeline:
        if self._pipeline is None:
            self._pipeline = _PikaPipeline(self._url, self._queue)
        return self._pipeline

    def close(self) -> None:
        super().close()
        if self._pipeline is not None:
            self._pipeline.close()


# -- kombu ---------------------------------------------------------------------------------


class RawKombuServer:
    """A kombu consumer draining events in its own thread."""

    def __init__(self, url: str, topic: str, kind: str) -> None:
        import kombu

        self.counter = Counter()
        self.info = {"queue": _queue(topic)}
        self._stop = threading.Event()
        self._conn = kombu.Connection(amqp_url(url))
        self._channel = self._conn.channel()
        self._queue = kombu.Queue(self.info["queue"], channel=self._channel)
        self._queue.declare()
        self._producer = kombu.Producer(self._channel)
        self._consumer = kombu.Consumer(self._channel, [self._queue],
                                        callbacks=[self._on_message])
        self._thread = threading.Thread(target=self._drain, daemon=True)

    def _on_message(self, body: Any, message: Any) -> None:
        message.ack()
        reply_to = message.properties.get("reply_to")
        if reply_to:
            self._producer.publish({"result": body["args"], "ending": True}, exchange="",
                                   routing_key=reply_to, serializer="json",
                                   correlation_id=message.properties.get("correlation_id"))
        self.counter.add()

    def _drain(self) -> None:
        with self._consumer:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    self._conn.drain_events(timeout=0.2)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        with contextlib.suppress(Exception):
            self._queue.delete()
            self._conn.close()


class _KombuCaller:
    def __init__(self, url: str, queue: str, confirm: bool) -> None:
        import kombu

        options = {"confirm_publish": True} if confirm else {}
        self.conn = kombu.Connection(url, transport_options=options)
        self.channel = self.conn.channel()
        self.queue = queue
        self.producer = kombu.Producer(self.channel)
        self.got: list[Any] = []
        if not confirm:
            self.reply_q = kombu.Queue(f"raw_reply_{uuid.uuid4().hex[:10]}", exclusive=True,
                                       channel=self.channel)
            self.reply_q.declare()
            self.consumer = kombu.Consumer(self.channel, [self.reply_q], no_ack=True,
                                           callbacks=[lambda body, _m: self.got.append(body)])
            self.consumer.consume()
        self.args = json.loads(request_body("echo"))["args"]

    def call(self) -> None:
        self.got.clear()
        self.producer.publish({"method": "echo", "args": self.args}, exchange="",
                              routing_key=self.queue, reply_to=self.reply_q.name,
                              correlation_id=uuid.uuid4().hex, serializer="json")
        while not self.got:
            self.conn.drain_events(timeout=30)

    def cast(self) -> None:
        self.producer.publish({"method": "sink", "args": self.args}, exchange="",
                              routing_key=self.queue, serializer="json")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class RawKombuClient(_RawClient):
    caller = _KombuCaller
