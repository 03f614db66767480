"""``rabbit://`` (alias ``kombu://``): RabbitMQ over kombu/py-amqp, wire-compatible with oslo.

A service using this driver and one using oslo.messaging 18.x can share a
RabbitMQ: the bodies, properties, exchanges, queues and their arguments are
oslo's (see :mod:`messaging_rabbit.topology`). What it adds:

- ``call(timeout=T)`` returns or raises ``MessagingTimeout`` within about T,
  also while the broker is down (setting up the reply queue counts too);
- casts and notifications wait for publisher confirms, pipelined over one
  shared connection; one that cannot be confirmed within its ``retry``
  budget raises ``MessageDeliveryFailure`` (``retry`` None or -1: keep
  trying, 0: no retry, N: N more connection attempts);
- every connection has its own I/O thread, so heartbeats flow while an
  endpoint blocks, and reconnects (with failover over the URL's hosts)
  re-declare and re-consume everything.

Connection layout: one client connection per driver for calls, casts,
notifications and the reply queue, and one connection per listener (RPC
server or notification listener), which also carries its replies.

URL: ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value``;
every ``[oslo_messaging_rabbit]`` option may appear in the query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from messaging.driver import Capabilities, Driver, Listener, Reply, TestingHooks
from messaging.envelope import build_notification, build_request, new_id, wrap
from messaging.exceptions import (
    MessageDeliveryFailure,
    MessagingException,
    MessagingTimeout,
    ServerListenError,
)
from messaging.target import Target
from messaging.url import TransportURL

from .codec import encode_body
from .connection import IOConnection, Publish, ssl_protocol
from .listener import ObsoleteReplyQueues, RabbitListener
from .options import Settings, load_settings
from .reply import ReplyWaiter
from .topology import (
    ExchangeSpec,
    QueueSpec,
    control_exchange,
    fanout_exchange,
    merge_bindings,
    notification_queue,
    rpc_server_queues,
)

__all__ = ["RabbitDriver"]

LOG = logging.getLogger(__name__)
#: How often a listen() blocked on an unreachable broker says so.
_LISTEN_WARN_EVERY = 10.0


class RabbitDriver(Driver):
    """The RabbitMQ driver; thread-safe, one per transport."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True, durable_notifications=True,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-least-once", publisher_confirms=True)
    client_library: ClassVar[str | None] = "kombu"

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        self.settings: Settings = load_settings(conf, url)
        self._lock = threading.Lock()
        self._client: IOConnection | None = None
        self._replies: ReplyWaiter | None = None
        self._listeners: set[RabbitListener] = set()
        self._obsolete = ObsoleteReplyQueues(ttl=max(60.0, float(
            self.settings.kombu_missing_consumer_retry_timeout)))
        self._closed = False
        ssl_protocol(self.settings, url.render(mask=True))  # a bad ssl_version fails here

    # ------------------------------------------------------------------ helpers

    def _client_connection(self) -> IOConnection:
        client = self._client
        if client is None:
            with self._lock:
                if self._closed:
                    raise MessageDeliveryFailure("the transport was cleaned up")
                if self._client is None:
                    self._client = IOConnection(self.settings, self.url, purpose="client")
                    self._client.start()
                client = self._client
        return client

    def _reply_waiter(self) -> ReplyWaiter:
        replies = self._replies
        if replies is None:
            client = self._client_connection()
            with self._lock:
                if self._replies is None:
                    self._replies = ReplyWaiter(client, self.settings)
                replies = self._replies
        replies.ensure_started()
        return replies

    def _exchange_name(self, target: Target) -> str:
        return target.exchange or self.default_exchange

    def _route(self, target: Target) -> tuple[ExchangeSpec, str]:
        """Exchange and routing key of a request, as oslo's ``_send`` picks them."""
        topic = target.topic or ""
        if target.fanout:
            return fanout_exchange(self.settings, topic), ""
        exchange = control_exchange(self.settings, self._exchange_name(target))
        return exchange, f"{topic}.{target.server}" if target.server else topic

    def _encode(self, inner: Mapping[str, Any], envelope: bool = True,
                ) -> tuple[bytes, dict[str, Any] | None]:
        """Body bytes (the 2.0 envelope of ``inner``, or ``inner`` bare) and headers."""
        try:
            return encode_body(wrap(inner) if envelope else inner,
                               self.settings.kombu_compression)
        except (TypeError, ValueError) as exc:
            raise MessageDeliveryFailure(f"Cannot serialize the message: {exc}") from None

    def _wait_confirm(self, future: Future[bool]) -> None:
        """Block until the broker confirmed (unless confirms are off: then only handed over)."""
        if self.settings.publisher_confirms:
            future.result()

    # ------------------------------------------------------------------ sending

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        """Publish a request with ``_msg_id``/``_reply_q`` and wait for its reply.

        Everything counts against ``timeout``: reconnecting, declaring the
        reply queue, the request's ``expiration`` (the time left, in ms).
        """
        deadline = time.monotonic() + timeout
        replies = self._reply_waiter()
        msg_id = new_id()
        inner = build_request(message, ctxt, msg_id=msg_id, reply_q=replies.queue_name,
                              timeout=call_monitor_timeout)
        body, headers = self._encode(inner)
        exchange, routing_key = self._route(target)
        publish = Publish(exchange, routing_key, body, deadline=deadline, expire=True,
                          retry=retry, headers=headers)
        q = replies.register(msg_id)
        LOG.debug("CALL msg_id %s to exchange %r routing key %r, reply queue %s", msg_id,
                  exchange.name, routing_key, replies.queue_name)
        try:
            future = self._client_connection().publish(publish)
            future.add_done_callback(lambda f: replies.fail(msg_id, f))
            what = f"method {message.get('method')!r} on {target}"
            return replies.wait(msg_id, q, deadline, call_monitor_timeout, what)
        finally:
            replies.unregister(msg_id)

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Publish a request and wait for the broker's confirm (not for a server)."""
        body, headers = self._encode(build_request(message, ctxt))
        exchange, routing_key = self._route(target)
        publish = Publish(exchange, routing_key, body, retry=retry, headers=headers)
        self._wait_confirm(self._client_connection().publish(publish))

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish to ``<topic>.<priority>``, declaring that queue first (as oslo does)."""
        inner = build_notification(message, ctxt)
        body, headers = self._encode(inner, envelope=version == 2.0)
        topic = target.topic or ""
        exchange_name = self._exchange_name(target)
        queue = notification_queue(self.settings, exchange_name, topic)
        publish = Publish(control_exchange(self.settings, exchange_name), topic, body,
                          queue=queue, retry=retry, headers=headers)
        self._wait_confirm(self._client_connection().publish(publish))

    # ------------------------------------------------------------------ listening

    def listen(self, target: Target) -> Listener:
        """Consume ``T`` (shared), ``T.S`` and a private ``T_fanout_<hex>`` queue."""
        queues = rpc_server_queues(self.settings, self._exchange_name(target),
                                   target.topic or "", target.server or "")
        return self._start_listener(target, queues, rpc=True, purpose="rpc-server")

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Consume ``<topic>.<priority>`` for each pair, or one ``pool`` queue bound to all."""
        queues = [notification_queue(self.settings, self._exchange_name(target),
                                     f"{target.topic}.{priority}", pool)
                  for target, priority in targets_and_priorities]
        first = targets_and_priorities[0][0] if targets_and_priorities else Target()
        return self._start_listener(first, merge_bindings(queues), rpc=False,
                                    purpose="notification-listener")

    def _start_listener(self, target: Target, queues: list[QueueSpec], *, rpc: bool,
                        purpose: str) -> Listener:
        with self._lock:
            if self._closed:
                raise ServerListenError(target, msg="the transport was cleaned up")
        conn = IOConnection(self.settings, self.url, purpose=purpose,
                            prefetch_count=self.settings.rabbit_qos_prefetch_count)
        listener = RabbitListener(conn, self.settings, queues, rpc=rpc,
                                  obsolete=self._obsolete, on_cleanup=self._forget)
        with self._lock:
            self._listeners.add(listener)
        ready = listener.start()
        started = time.monotonic()
        warned = started
        try:
            while True:
                try:
                    ready.result(timeout=1.0)
                    break
                except TimeoutError:
                    if self._closed or conn.closed:
                        raise ServerListenError(target, msg="the transport was cleaned up") \
                            from None
                    if time.monotonic() - warned >= _LISTEN_WARN_EVERY:
                        warned = time.monotonic()
                        LOG.warning("Still waiting for the broker to listen on %s (%.0f s): %s",
                                    target, warned - started, conn.last_error)
        except MessagingException as exc:
            listener.cleanup()
            if isinstance(exc, ServerListenError):
                raise
            raise ServerListenError(target, msg=f"Failed to listen on target {target}: "
                                                f"{exc}") from None
        return listener

    def _forget(self, listener: RabbitListener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    # ------------------------------------------------------------------ lifecycle

    def cleanup(self) -> None:
        """Close every listener and the client connection; the driver is unusable afterwards."""
        with self._lock:
            self._closed = True
            listeners = list(self._listeners)
            client, self._client = self._client, None
        for listener in listeners:
            listener.cleanup()
        if client is not None:
            client.close()

    @property
    def testing(self) -> TestingHooks | None:
        """Raw publishing for the conformance kit."""
        return _RabbitTestingHooks(self)


class _RabbitTestingHooks(TestingHooks):
    """Conformance-kit support: put arbitrary bytes where a server reads."""

    def __init__(self, driver: RabbitDriver) -> None:
        self._driver = driver

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Publish ``body`` verbatim (JSON properties) to the exchange and key ``target`` reads."""
        exchange, routing_key = self._driver._route(target)
        publish = Publish(exchange, routing_key, bytes(body), retry=3)
        future = self._driver._client_connection().publish(publish)
        try:
            future.result(timeout=30)
        except TimeoutError:
            raise MessagingTimeout("raw publish not confirmed in 30 s") from None
