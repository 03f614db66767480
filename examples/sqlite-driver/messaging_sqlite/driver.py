"""``sqlite://``: RPC and notifications through one SQLite file, across processes.

URL: ``sqlite:////absolute/path/bus.db`` (or ``sqlite:///relative.db``);
options in the query (:mod:`messaging_sqlite.options`). Written as a third
party would write a driver: it imports only the core's driver interface and
helpers, and is found through its entry point.

How it maps the library's model (oslo.messaging's, as on RabbitMQ):

=====================  ================================  =============================
what                   queue                             bound to (exchange, key)
=====================  ================================  =============================
RPC topic (shared)     ``<exchange>/<topic>``            ``(exchange, topic)``
RPC server             ``<exchange>/<topic>.<server>``   ``(exchange, topic.server)``
RPC fanout (private)   ``<topic>_fanout_<hex>``          ``(<topic>_fanout, "")``
notifications          ``<exchange>/<topic>.<priority>`` ``(exchange, topic.priority)``
notification pool      ``<pool>``                        each ``(exchange, topic.priority)``
call replies (private) ``reply_<hex>``                   read by the caller's process
=====================  ================================  =============================

Calls use the core's :class:`~messaging.correlation.ReplyCorrelator` (the
driver implements ``submit_call``: one reader thread per driver, no thread
waiting per call; the insert itself runs on the base class's pool, through
:meth:`~messaging.driver.Driver.offload`); casts and notifications are
plain synchronous inserts, and the base class derives their futures.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from messaging.addressing import fanout_exchange, notification_route, rpc_route, server_key
from messaging.correlation import ReplyCorrelator
from messaging.driver import Capabilities, Driver, Listener, Reply, TestingHooks
from messaging.envelope import (
    build_notification,
    build_request,
    decode,
    encode,
    new_id,
    parse_reply,
    unwrap,
    wrap,
)
from messaging.exceptions import InvalidTarget, InvalidTransportURL, MessageDeliveryFailure
from messaging.first_use import first_use_setup
from messaging.target import Target
from messaging.url import TransportURL

from .listener import SqliteListener, parse_notification_body, parse_rpc
from .options import Settings, load_settings
from .store import Store

__all__ = ["SqliteDriver"]

LOG = logging.getLogger(__name__)


class _Replies:
    """The driver's private reply queue, read by one thread that feeds the correlator."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self.queue = f"reply_{new_id()}"
        self.correlator = ReplyCorrelator(self.queue)
        self._stop = threading.Event()
        store.declare(self.queue, expires=time.time() + settings.queue_ttl)
        self._thread = threading.Thread(target=self._read, name="messaging-sqlite-replies",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        refresh_at = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= refresh_at:
                    self._store.refresh([self.queue], time.time() + self._settings.queue_ttl)
                    refresh_at = time.monotonic() + self._settings.queue_ttl / 3.0
                bodies = self._store.take(self.queue, 100)
            except MessageDeliveryFailure as exc:
                LOG.warning("Cannot read replies from %s: %s", self._store.path, exc)
                bodies = []
            for body in bodies:
                try:
                    frame = parse_reply(unwrap(decode(body)))
                except Exception as exc:
                    LOG.warning("Dropping a malformed reply on %s: %s", self.queue, exc)
                    continue
                self.correlator.deliver(frame)
            if not bodies:
                self._stop.wait(self._settings.poll_interval)

    def close(self) -> None:
        """End every waiting call, stop reading, delete the queue."""
        self.correlator.close()
        self._stop.set()
        self._thread.join(5)
        try:
            self._store.delete(self.queue)
        except MessageDeliveryFailure as exc:
            LOG.debug("Could not delete reply queue %s: %s", self.queue, exc)


class _Hooks(TestingHooks):
    """Conformance-kit support: raw bytes onto a server's or listener's queue."""

    def __init__(self, driver: SqliteDriver) -> None:
        self._driver = driver

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Put ``body`` on the queue of ``target`` (its server, or its topic)."""
        exchange, key = rpc_route(target.replace(fanout=False), self._driver.default_exchange)
        self._driver.store.publish(exchange, key, bytes(body),
                                   declare=(f"{exchange}/{key}", [(exchange, key)]))

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Put ``body`` where listeners of ``target.topic`` (``<topic>.<priority>``) read."""
        exchange, key = notification_route(target, self._driver.default_exchange)
        self._driver.store.publish(exchange, key, bytes(body),
                                   declare=(f"{exchange}/{key}", [(exchange, key)]))


class SqliteDriver(Driver):
    """The SQLite driver: thread-safe, one per transport; processes share the file."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True, durable_notifications=True,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-least-once", publisher_confirms=True, brokered=False)

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        shown = url.render(mask=True)
        if url.hosts:
            raise InvalidTransportURL(shown, "a sqlite:// URL names a file, not hosts: "
                                             "use sqlite:////path/to/bus.db")
        if not url.virtual_host:
            raise InvalidTransportURL(shown, "no file: use sqlite:////path/to/bus.db")
        self.settings = load_settings(conf, url)
        path = url.virtual_host
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise InvalidTransportURL(shown, f"the directory of {path} does not exist")
        self.store = Store(path, self.settings.busy_timeout)
        self.store.sweep(time.time())
        self._lock = threading.Lock()
        self._replies: _Replies | None = None
        self._listeners: set[SqliteListener] = set()
        self._closed = False

    # -- sending -----------------------------------------------------------------------

    def _open_replies(self) -> _Replies:
        replies = self._replies
        return replies if replies is not None else self._start_replies()

    @first_use_setup
    def _start_replies(self) -> _Replies:
        """Declare the reply queue and start its reader: once, at the first call."""
        with self._lock:
            if self._closed:
                raise MessageDeliveryFailure("the transport was cleaned up")
            if self._replies is None:
                self._replies = _Replies(self.store, self.settings)
            return self._replies

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        """Register the call, hand the insert to the pool; the reader thread ends the future.

        Called on the application's event loop by the asyncio API, so it never
        waits: an SQLite write may wait up to ``busy_timeout`` for another
        process's lock, so it runs on the driver's pool (:meth:`offload`).
        """
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        replies = self._open_replies()
        msg_id = new_id()
        future = replies.correlator.register(msg_id, timeout, call_monitor_timeout,
                                             target=target, method=message.get("method"))
        body = encode(wrap(build_request(message, ctxt, msg_id=msg_id, reply_q=replies.queue,
                                         timeout=call_monitor_timeout)))
        exchange, key = rpc_route(target, self.default_exchange)
        expires = time.time() + timeout
        sent = self.offload(lambda: self.store.publish(exchange, key, body, expires=expires))
        replies.correlator.track_send(msg_id, sent)  # a failed insert fails the call
        return future

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Insert the request into every queue bound for it (none: dropped, as a broker does)."""
        self._check_open()
        exchange, key = rpc_route(target, self.default_exchange)
        self.store.publish(exchange, key, encode(wrap(build_request(message, ctxt))))

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Insert into ``<topic>.<priority>``, declaring that queue so nothing is lost."""
        self._check_open()
        inner = build_notification(message, ctxt)
        body = encode(wrap(inner) if version >= 2.0 else inner)
        exchange, key = notification_route(target, self.default_exchange)
        self.store.publish(exchange, key, body,
                           declare=(f"{exchange}/{key}", [(exchange, key)]))

    def _check_open(self) -> None:
        if self._closed:
            raise MessageDeliveryFailure("the transport was cleaned up")

    # -- receiving ---------------------------------------------------------------------

    def listen(self, target: Target) -> Listener:
        """Consume the topic queue, the server queue and a private fanout queue."""
        self._check_open()
        exchange = target.exchange or self.default_exchange
        topic = target.topic or ""
        queues = [(f"{exchange}/{topic}", [(exchange, topic)])]
        if target.server:
            key = server_key(topic, target.server)
            queues.append((f"{exchange}/{key}", [(exchange, key)]))
        for name, bindings in queues:
            self.store.declare(name, bindings)
        fanout = f"{fanout_exchange(topic)}_{new_id()}"
        self.store.declare(fanout, [(fanout_exchange(topic), "")],
                           expires=time.time() + self.settings.queue_ttl)
        return self._register(SqliteListener(
            self.store, self.settings, [name for name, _ in queues] + [fanout], parse_rpc,
            owned=[fanout], on_cleanup=self._forget))

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Consume ``<topic>.<priority>`` queues, or one ``pool`` queue bound to all of them."""
        self._check_open()
        bindings: list[tuple[str, str]] = []
        for target, priority in targets_and_priorities:
            binding = notification_route(target.replace(topic=f"{target.topic}.{priority}"),
                                         self.default_exchange)
            if binding not in bindings:
                bindings.append(binding)
        if pool:
            self.store.declare(pool, bindings)
            names = [pool]
        else:
            names = []
            for exchange, key in bindings:
                self.store.declare(f"{exchange}/{key}", [(exchange, key)])
                names.append(f"{exchange}/{key}")
        return self._register(SqliteListener(self.store, self.settings, names,
                                             parse_notification_body, on_cleanup=self._forget))

    def _register(self, listener: SqliteListener) -> SqliteListener:
        with self._lock:
            self._listeners.add(listener)
        return listener

    def _forget(self, listener: SqliteListener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    # -- lifecycle ---------------------------------------------------------------------

    def cleanup(self) -> None:
        """Clean up listeners and the reply queue; pending calls end with MessagingTimeout."""
        with self._lock:
            self._closed = True
            listeners, self._listeners = list(self._listeners), set()
            replies, self._replies = self._replies, None
        for listener in listeners:
            listener.cleanup()
        if replies is not None:
            replies.close()
        super().cleanup()
        self.store.close()

    @property
    def testing(self) -> TestingHooks:
        """Raw publishing for the conformance kit."""
        return _Hooks(self)
