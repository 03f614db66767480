"""The driver both AMQP 0-9-1 schemes share: ``rabbit://`` (kombu) and ``pika://`` (pika).

A service using either and one using oslo.messaging 18.x can share a
RabbitMQ: the bodies, properties, exchanges, queues and their arguments are
oslo's (see :mod:`messaging_amqp091.topology`), so the two drivers also
talk to each other. Everything here is client-agnostic; a concrete driver
names its :data:`~messaging_amqp091.connection.ConnectionFactory` (the
kombu or pika connection class) and its client library. What it adds to
oslo's behaviour:

- native futures: ``submit_call`` registers the call with a
  :class:`~messaging.correlation.ReplyCorrelator` and returns its future
  (no thread per call in flight); ``submit_cast``/``submit_notify`` return
  the publish's confirm future. The synchronous verbs wait on them;
- ``call(timeout=T)`` returns or raises ``MessagingTimeout`` within about T,
  also while the broker is down (setting up the reply queue counts too);
  ``cleanup()`` ends pending calls at once;
- casts and notifications wait for publisher confirms, pipelined over one
  shared connection. Each ends in bounded time: one that cannot be sent and
  confirmed within ``send_timeout`` (the broker unreachable, blocked by a
  memory or disk alarm, or refusing it) or within its ``retry`` budget (N:
  N more failed connection attempts; None or -1: until ``send_timeout``)
  raises ``MessageDeliveryFailure`` naming the reason;
- ``mandatory=True`` (``TransportOptions(at_least_once=True)``) publishes a
  call's or cast's request mandatory: when no queue takes it the broker
  returns it and the call or cast fails at once with ``MessageUndeliverable``;
- ``listen()`` returns promptly: while the broker is unreachable the
  listener connects in the background (``Listener.consuming`` and
  ``last_error`` say how it goes); it raises ``ServerListenError`` only when
  the broker refuses the subscription or the login;
- every connection has its own I/O thread, so heartbeats flow while an
  endpoint blocks, and reconnects (with failover over the URL's hosts)
  re-declare and re-consume everything; a broker that comes back is found
  within ``rabbit_retry_interval`` (see :mod:`messaging_amqp091.recovery`).

Connection layout: one client connection per driver for calls, casts,
notifications and the reply queue, and one connection per listener (RPC
server or notification listener), which also carries its replies.

URL: ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value``
(or ``pika://...``); every ``[oslo_messaging_rabbit]`` option (and
``send_timeout``, ``connect_timeout``, ``publisher_confirms``) may appear in
the query.
"""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from messaging.addressing import notification_route, rpc_route
from messaging.driver import (
    Capabilities,
    Driver,
    Listener,
    Reply,
    TestingHooks,
    unserializable,
    wait_future,
)
from messaging.envelope import build_notification, build_request, new_id
from messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingTimeout,
    ServerListenError,
)
from messaging.first_use import first_use_setup
from messaging.target import Target
from messaging.url import TransportHost, TransportURL

from .codec import encode_body
from .connection import Connection, ConnectionFactory
from .listener import AmqpListener, ObsoleteReplyQueues
from .options import Settings, load_settings
from .queue_names import QueueNameClaim, claim
from .reply import ReplyQueue
from .tls import ssl_protocol
from .topology import (
    ExchangeSpec,
    QueueSpec,
    control_exchange,
    fanout_exchange,
    merge_bindings,
    notification_queue,
    rpc_server_queues,
)
from .work import Publish

__all__ = ["Amqp091Driver"]

LOG = logging.getLogger(__name__)
#: How long ``listen`` waits at most for the first outcome beyond one connection attempt.
_LISTEN_GRACE = 1.0


class Amqp091Driver(Driver):
    """An AMQP 0-9-1 driver over the connections :attr:`connection_factory` builds.

    Thread-safe, one per transport. Subclasses set :attr:`connection_factory`
    and :attr:`client_library`.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True, durable_notifications=True,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-least-once", publisher_confirms=True, brokered=True,
        mandatory=True, counts_listeners=True)
    messaging_system: ClassVar[str | None] = "rabbitmq"
    checks_json: ClassVar[bool] = True  # every verb encodes once before sending (_encode)
    #: builds the client connection and one connection per listener
    connection_factory: ClassVar[ConnectionFactory]

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        self.settings: Settings = load_settings(conf, url)
        self._lock = threading.Lock()
        self._client: Connection | None = None
        self._replies: ReplyQueue | None = None
        self._listeners: set[AmqpListener] = set()
        #: the stable fanout names' slots (``use_queue_manager``), by id of their listener
        self._claims: dict[int, QueueNameClaim] = {}
        self._obsolete = ObsoleteReplyQueues(ttl=max(60.0, float(
            self.settings.kombu_missing_consumer_retry_timeout)))
        self._closed = False
        self._hooks = _AmqpTestingHooks(self)
        ssl_protocol(self.settings, url.render(mask=True))  # a bad ssl_version fails here

    # ------------------------------------------------------------------ helpers

    def _client_connection(self) -> Connection:
        client = self._client
        if client is None:
            with self._lock:
                if self._closed:
                    raise MessageDeliveryFailure("the transport was cleaned up")
                if self._client is None:
                    self._client = self._make_client()
                client = self._client
        return client

    @first_use_setup
    def _make_client(self) -> Connection:
        """The transport's sending connection, with its I/O thread started (on first use)."""
        client = self.connection_factory(self.settings, self.url, purpose="client")
        client.monitor = self.monitor
        client.start()
        return client

    def _reply_queue(self) -> ReplyQueue:
        replies = self._replies
        if replies is None:
            client = self._client_connection()
            with self._lock:
                if self._replies is None:
                    self._replies = ReplyQueue(client, self.settings)
                    if self._closed:
                        self._replies.close()
                replies = self._replies
        replies.ensure_started()
        return replies

    def _route(self, target: Target) -> tuple[ExchangeSpec, str]:
        """Exchange and routing key of a request (:func:`messaging.addressing.rpc_route`)."""
        name, routing_key = rpc_route(target, self.default_exchange)
        if target.fanout:
            return fanout_exchange(self.settings, target.topic or ""), routing_key
        return control_exchange(self.settings, name), routing_key

    def _notification_route(self, target: Target) -> tuple[ExchangeSpec, str, QueueSpec]:
        """Exchange, routing key and queue of a notification to ``<topic>.<priority>``.

        The queue is declared by the publisher too, so notifications wait for
        their first listener (as oslo does).
        """
        name, routing_key = notification_route(target, self.default_exchange)
        return (control_exchange(self.settings, name), routing_key,
                notification_queue(self.settings, name, routing_key))

    def _encode(self, target: Target, message: Mapping[str, Any], inner: Mapping[str, Any],
                envelope: bool = True) -> tuple[bytes, dict[str, Any] | None]:
        """Body bytes (the 2.0 envelope of ``inner``, or ``inner`` bare) and headers.

        Encoded once; ``SerializationError`` for what JSON cannot carry, before
        anything is sent (so the transport leaves that check to this: ``checks_json``).
        """
        try:
            return encode_body(inner, self.settings.kombu_compression, envelope=envelope)
        except (TypeError, ValueError) as exc:
            raise unserializable(target, message, exc) from None

    def _send(self, publish: Publish) -> Future[None]:
        """Hand a cast or notification to the client connection; its future ends in bounded time."""
        publish.deadline = time.monotonic() + self.settings.send_timeout
        return self._client_connection().publish(publish)

    # ------------------------------------------------------------------ sending

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None, mandatory: bool = False) -> Reply:
        """:meth:`submit_call`, waited for (the base class's, passing ``mandatory`` on)."""
        return wait_future(self.submit_call(
            target, ctxt, message, timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            retry=retry, mandatory=mandatory), timeout + self.call_grace,
            f"reply to a call to {target} not delivered in time")

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None, mandatory: bool = False) -> None:
        """:meth:`submit_cast`, waited for (its future ends within ``send_timeout``)."""
        self.submit_cast(target, ctxt, message, retry=retry, mandatory=mandatory).result()

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None, mandatory: bool = False) -> Future[Reply]:
        """Publish a request with ``_msg_id``/``_reply_q``; the future gets its reply.

        Everything counts against ``timeout``: reconnecting, declaring the
        reply queue, the request's ``expiration`` (the time left, in ms).
        With ``mandatory`` a request no queue takes fails the future at once
        with ``MessageUndeliverable``.
        """
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        if self._replies is None:  # the first call: refuse bad JSON before connecting
            self._encode(target, message, {"ctxt": dict(ctxt), "message": dict(message)})
        replies = self._reply_queue()
        msg_id = new_id()
        inner = build_request(message, ctxt, msg_id=msg_id, reply_q=replies.queue_name,
                              timeout=call_monitor_timeout)
        body, headers = self._encode(target, message, inner)
        exchange, routing_key = self._route(target)
        deadline = time.monotonic() + max(float(timeout), 0.0)  # the call's and the request's
        future = replies.correlator.register(msg_id, timeout, call_monitor_timeout,
                                             target=target, method=message.get("method"),
                                             deadline=deadline)
        publish = Publish(exchange, routing_key, body, deadline=deadline,
                          expire=True, retry=retry, headers=headers, call=True,
                          **self._mandatory(mandatory, exchange, routing_key, message))
        LOG.debug("CALL msg_id %s to exchange %r routing key %r, reply queue %s", msg_id,
                  exchange.name, routing_key, replies.queue_name)
        replies.correlator.track_send(msg_id, self._client_connection().publish(publish))
        return future

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None, mandatory: bool = False) -> Future[None]:
        """Publish a request; the future completes once the broker confirmed it (not a server).

        With ``mandatory`` a request no queue takes fails the future with
        ``MessageUndeliverable``.
        """
        body, headers = self._encode(target, message, build_request(message, ctxt))
        exchange, routing_key = self._route(target)
        return self._send(Publish(exchange, routing_key, body, retry=retry, headers=headers,
                                  **self._mandatory(mandatory, exchange, routing_key,
                                                    message)))

    @staticmethod
    def _mandatory(mandatory: bool, exchange: ExchangeSpec, routing_key: str,
                   message: Mapping[str, Any]) -> dict[str, Any]:
        """The :class:`Publish` keywords of a request that must find a queue."""
        if not mandatory:
            return {}
        return {"mandatory": True, "undeliverable": MessageUndeliverable(
            exchange=exchange.name, routing_key=routing_key, message=message.get("method"))}

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """Publish to ``<topic>.<priority>``, declaring that queue first (as oslo does)."""
        inner = build_notification(message, ctxt)
        body, headers = self._encode(target, message, inner, envelope=version == 2.0)
        exchange, routing_key, queue = self._notification_route(target)
        return self._send(Publish(exchange, routing_key, body, queue=queue, retry=retry,
                                  headers=headers))

    # ------------------------------------------------------------------ listening

    def listen(self, target: Target) -> Listener:
        """Consume ``T`` (shared), ``T.S`` and a fanout queue.

        The fanout queue is a private ``T_fanout_<hex>``; with
        ``use_queue_manager`` ``T_fanout_<hostname>:<processname>:<n>``
        (its slot held until the listener is cleaned up); with
        ``rabbit_stream_fanout`` the stream ``T_fanout`` every server shares.
        """
        exchange_name, _ = rpc_route(target.replace(fanout=False), self.default_exchange)
        topic = target.topic or ""
        held: QueueNameClaim | None = None
        if self.settings.use_queue_manager and not self.settings.rabbit_stream_fanout:
            held = claim(self.settings.hostname, self.settings.processname, topic)
        queues = rpc_server_queues(self.settings, exchange_name, topic, target.server or "",
                                   fanout_suffix=held.suffix if held is not None else None)
        try:
            listener = self._start_listener(target, queues, rpc=True, purpose="rpc-server")
        except BaseException:
            if held is not None:
                held.release()
            raise
        if held is not None:
            with self._lock:
                self._claims[id(listener)] = held
        return listener

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Consume ``<topic>.<priority>`` for each pair, or one ``pool`` queue bound to all."""
        queues = []
        for target, priority in targets_and_priorities:
            name, routing_key = notification_route(
                target.replace(topic=f"{target.topic}.{priority}"), self.default_exchange)
            queues.append(notification_queue(self.settings, name, routing_key, pool))
        first = targets_and_priorities[0][0] if targets_and_priorities else Target()
        return self._start_listener(first, merge_bindings(queues), rpc=False,
                                    purpose="notification-listener")

    def _start_listener(self, target: Target, queues: list[QueueSpec], *, rpc: bool,
                        purpose: str) -> Listener:
        """Subscribe on a connection of its own; return once consuming or once it must wait.

        Waits for the first outcome only (one connection attempt, bounded by
        ``connect_timeout``): consuming, or the broker unreachable (the
        listener then connects in the background), or a refusal (raised).
        """
        with self._lock:
            if self._closed:
                raise ServerListenError(target, msg="the transport was cleaned up")
        conn = self.connection_factory(self.settings, self.url, purpose=purpose,
                                       prefetch_count=self.settings.rabbit_qos_prefetch_count)
        conn.monitor = self.monitor
        listener = AmqpListener(conn, self.settings, queues, rpc=rpc,
                                  obsolete=self._obsolete, on_cleanup=self._forget)
        with self._lock:
            self._listeners.add(listener)
        ready = listener.start()
        outcomes: list[Future[Any]] = [ready, conn.first_failure]
        concurrent.futures.wait(outcomes,
                                timeout=self.settings.connect_timeout + _LISTEN_GRACE,
                                return_when=concurrent.futures.FIRST_COMPLETED)
        if ready.done():
            exc = ready.exception()
            if exc is not None:
                listener.cleanup()
                raise ServerListenError(target, msg=f"Failed to listen on target \"{target}\": "
                                                    f"{exc}")
            return listener
        LOG.warning("Not yet consuming for %s (%s): %s; connecting in the background",
                    target, purpose, conn.trouble())
        return listener

    def _forget(self, listener: AmqpListener) -> None:
        """A listener was cleaned up (its connection closed): forget it, free its name's slot."""
        with self._lock:
            self._listeners.discard(listener)
            held = self._claims.pop(id(listener), None)
        if held is not None:
            held.release()

    # ------------------------------------------------------------------ lifecycle

    def cleanup(self) -> None:
        """End pending calls at once, close every listener and the client connection."""
        with self._lock:
            self._closed = True
            listeners = list(self._listeners)
            client, self._client = self._client, None
            replies = self._replies
        if replies is not None:
            replies.close()
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up a listener")
        if client is not None:
            client.close()
        if replies is not None:
            replies.release_name()
        super().cleanup()

    @property
    def testing(self) -> TestingHooks:
        """Hooks for the conformance kit (raw publishing, an unreachable URL)."""
        return self._hooks


class _AmqpTestingHooks(TestingHooks):
    """Conformance-kit support: put arbitrary bytes where a server or listener reads."""

    #: Seconds a raw publish may take.
    RAW_TIMEOUT = 30.0

    def __init__(self, driver: Amqp091Driver) -> None:
        self._driver = driver

    def _publish(self, publish: Publish) -> None:
        future = self._driver._client_connection().publish(publish)
        try:
            future.result(timeout=self.RAW_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MessagingTimeout(f"raw publish not confirmed in {self.RAW_TIMEOUT:g} s") \
                from None

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Publish ``body`` verbatim (JSON properties) to the exchange and key ``target`` reads."""
        exchange, routing_key = self._driver._route(target)
        self._publish(Publish(exchange, routing_key, bytes(body), retry=3))

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Publish ``body`` verbatim to ``<topic>.<priority>``, declaring its queue (as notify)."""
        exchange, routing_key, queue = self._driver._notification_route(target)
        self._publish(Publish(exchange, routing_key, bytes(body), queue=queue, retry=3))

    def unreachable_url(self) -> str:
        """This driver's URL with its hosts replaced by a closed loopback port; short bounds.

        ``send_timeout`` 2 s and ``connect_timeout`` 1 s, retries every 0.2 s.
        """
        url = self._driver.url
        with socket.socket() as sock:  # a port nothing listens on once closed
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        first = url.hosts[0] if url.hosts else TransportHost("127.0.0.1", 5672, "guest",
                                                             "guest")
        query = dict(url.query)
        query.update(send_timeout="2", connect_timeout="1", rabbit_retry_interval="0.2",
                     kombu_reconnect_delay="0.2")
        dead = TransportURL(url.transport, (TransportHost("127.0.0.1", port, first.username,
                                                          first.password),),
                            url.virtual_host, query)
        return dead.render(mask=False)
