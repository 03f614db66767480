"""``amqp://`` and ``amqps://``: AMQP 1.0 over python-qpid-proton.

Tested against RabbitMQ 3.10 with the ``rabbitmq_amqp1_0`` plugin; the
Qpid-style address profile is written to the specification and
oslo.messaging's old driver but not proven against a Qpid broker here (see
:mod:`messaging_amqp1.addressing` and ``doc/amqp1.md``).

- One I/O thread per driver owns the proton container; every verb hands it
  work and returns a future (``submit_call``/``submit_cast``/``submit_notify``
  are native; the synchronous verbs wait on them with deadlines).
- Calls return or raise within their timeout, also while the broker is down;
  casts and notifications complete when the broker accepted them (settled
  ``accepted``), or fail with ``MessageDeliveryFailure`` when their
  ``retry`` budget or ``default_send_timeout``/``default_notify_timeout``
  is spent.
- Connections reconnect with backoff across the URL's hosts, re-attach every
  link and resume consuming.

Connection layout: one client connection per driver (calls, casts,
notifications and the reply link) and one per listener (RPC server or
notification listener), which also carries its replies; every connection
starts at the next host of the URL, so they spread over a cluster.

URL: ``amqp://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value``;
every ``[oslo_messaging_amqp]`` option may appear in the query.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from messaging.driver import Capabilities, Driver, Listener, Reply, TestingHooks
from messaging.envelope import build_notification, build_request, encode, new_id, wrap
from messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessagingTimeout,
    NotSupported,
    ServerListenError,
)
from messaging.first_use import first_use_setup
from messaging.target import Target
from messaging.url import TransportURL

from .addressing import AddressProfile, Route
from .connection import AmqpConnection, IOLoop, Outgoing, ssl_domain
from .listener import AmqpListener, json_message
from .options import Settings, default_container_name, load_settings
from .reply import ReplyReceiver

__all__ = ["AmqpDriver"]

LOG = logging.getLogger(__name__)
#: Longest a listen() waits for its subscription before returning (it keeps trying).
_LISTEN_WAIT = 15.0


class AmqpDriver(Driver):
    """The AMQP 1.0 driver; thread-safe, one per transport."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True,
        # the notifier's attach declares the listeners' queue (RabbitMQ profile)
        durable_notifications=True,
        call_monitor=True,
        # RabbitMQ 3.10 cannot bind a named queue over AMQP 1.0; oslo's driver had none either
        pools=False,
        rpc_delivery="at-most-once", notification_delivery="at-least-once",
        # the broker's "accepted" outcome; like an AMQP 0-9-1 confirm it does not say
        # the message was routed (RabbitMQ accepts unroutable messages)
        publisher_confirms=True, brokered=True)
    client_library: ClassVar[str | None] = "python-qpid-proton"

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        shown = url.render(mask=True)
        self.settings: Settings = load_settings(conf, url)
        self._tls = url.scheme == "amqps" or self.settings.ssl
        self._ssl = ssl_domain(self.settings, shown) if self._tls else None
        self._container_id = self.settings.container_name or default_container_name()
        self._lock = threading.RLock()
        self._loop: IOLoop | None = None
        self._client: AmqpConnection | None = None
        self._replies: ReplyReceiver | None = None
        self._listeners: set[AmqpListener] = set()
        self._closed = False
        self._hosts = itertools.count(random.randrange(max(len(url.hosts), 1)))

    # ------------------------------------------------------------------ plumbing

    def _io(self) -> IOLoop:
        with self._lock:
            if self._closed:
                raise MessageDeliveryFailure("the transport was cleaned up")
            if self._loop is None:
                self._loop = self._start_io_loop()
            return self._loop

    @first_use_setup
    def _start_io_loop(self) -> IOLoop:
        """The transport's I/O thread (started on first use, from any thread)."""
        return IOLoop(f"amqp1-io-{self._container_id[-12:]}", self._container_id)

    def _connection(self, purpose: str) -> AmqpConnection:
        conn = AmqpConnection(self._io(), self.settings, self.url, purpose=purpose,
                              default_exchange=self.default_exchange, ssl_domain=self._ssl,
                              start_host=next(self._hosts))
        conn.monitor = self.monitor
        return conn

    def _client_connection(self) -> AmqpConnection:
        """The client connection, made and started on first use (lock held: it is re-entrant)."""
        with self._lock:
            if self._client is None:
                self._client = self._connection("client")
                self._io().submit(self._client.start)
            return self._client

    def _reply_receiver(self) -> ReplyReceiver:
        with self._lock:
            if self._replies is None:
                self._replies = ReplyReceiver(self._client_connection(), self.settings)
                self._io().submit(self._replies.start)
            return self._replies

    def _submit(self, conn: AmqpConnection, out: Outgoing) -> Future[None]:
        self._io().submit(lambda: conn.send(out))
        return out.future

    # ------------------------------------------------------------------ sending

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        """Send a request (with ``_msg_id`` and ``_reply_q``); the future gets its reply.

        The request waits for the reply link, carries ``ttl`` = the time left,
        and is dropped from the backlog at the call's deadline.
        """
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        replies = self._reply_receiver()
        msg_id = new_id()
        future = replies.correlator.register(msg_id, timeout, call_monitor_timeout,
                                             target=target, method=message.get("method"))
        deadline = time.monotonic() + timeout
        inner = build_request(message, ctxt, msg_id=msg_id, reply_q=replies.queue_name,
                              timeout=call_monitor_timeout)
        prebuilt = encode(wrap(inner))

        def make(profile: AddressProfile) -> Any:
            body = prebuilt
            if replies.address != replies.queue_name:  # a dynamic reply address
                body = encode(wrap(dict(inner, _reply_q=replies.address)))
            ttl = max(deadline - time.monotonic(), 0.001)
            return json_message(body, correlation_id=msg_id, reply_to=replies.address,
                                ttl=ttl)

        out = Outgoing(lambda p: p.request(target), make,
                       what=f"request {msg_id} ({message.get('method')!r} on {target})",
                       deadline=deadline, retry=retry, timeout_error=True)
        replies.correlator.track_send(msg_id, out.future)
        try:
            self._io().submit(lambda: replies.send(out))
        except MessageDeliveryFailure as exc:
            replies.correlator.fail(msg_id, exc)
        return future

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        """Send a request to one server (or all, with ``fanout``); done once accepted."""
        body = self._encode(build_request(message, ctxt))
        return self._send(lambda p: p.request(target), body,
                          f"cast {message.get('method')!r} to {target}",
                          self.settings.default_send_timeout, retry, "rpc-cast")

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """Publish to ``<topic>.<priority>`` (declaring its queue first on RabbitMQ)."""
        inner = build_notification(message, ctxt)
        body = self._encode(wrap(inner) if version >= 2.0 else inner, enveloped=True)
        return self._send(lambda p: p.notification(target), body,
                          f"notification to {target.topic!r}",
                          self.settings.default_notify_timeout, retry, "notify")

    def _send(self, route: Callable[[AddressProfile], Route], body: bytes, what: str,
              timeout: float, retry: int | None, kind: str) -> Future[None]:
        """Hand a durable JSON message to the client connection; done once accepted."""
        out = Outgoing(route, lambda p: json_message(body, durable=True), what=what,
                       deadline=time.monotonic() + timeout, retry=retry,
                       presettled=self.settings.presettle(kind))
        return self._submit(self._client_connection(), out)

    @staticmethod
    def _encode(inner: Mapping[str, Any], enveloped: bool = False) -> bytes:
        try:
            return encode(inner if enveloped else wrap(inner))
        except (TypeError, ValueError) as exc:
            raise MessageDeliveryFailure(f"Cannot serialize the message: {exc}") from None

    # ------------------------------------------------------------------ listening

    def listen(self, target: Target) -> Listener:
        """Consume the topic's shared source, the server's own and the topic's fanout."""
        return self._start_listener(
            target, lambda p: p.rpc_server_sources(target), rpc=True,
            credit=self.settings.rpc_server_credit, purpose="rpc-server")

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Consume ``<topic>.<priority>`` for each pair (pools are not supported)."""
        if pool:
            raise NotSupported(
                f"the amqp driver cannot give notification listener pool {pool!r} its own "
                f"copy: RabbitMQ's AMQP 1.0 plugin cannot bind a named queue (listen "
                f"without a pool, or use the rabbit driver)")
        targets: list[Target] = []
        for target, priority in targets_and_priorities:
            t = target.replace(topic=f"{target.topic}.{priority}")
            if t not in targets:
                targets.append(t)
        first = targets_and_priorities[0][0] if targets_and_priorities else Target()
        return self._start_listener(
            first, lambda p: p.notification_sources(targets), rpc=False,
            credit=self.settings.notify_server_credit, purpose="notification-listener")

    def _start_listener(self, target: Target, sources: Callable[[AddressProfile], Any], *,
                        rpc: bool, credit: int, purpose: str) -> Listener:
        with self._lock:
            if self._closed:
                raise ServerListenError(target, msg="the transport was cleaned up")
        listener = AmqpListener(self._connection(purpose), self.settings, sources, rpc=rpc,
                                credit=credit, on_cleanup=self._forget)
        with self._lock:
            self._listeners.add(listener)
        self._io().submit(listener.begin)
        refused = listener.wait_started(min(_LISTEN_WAIT, self.settings.connect_timeout + 5))
        if refused:
            listener.cleanup()
            raise ServerListenError(target, msg=f"Failed to listen on target \"{target}\": "
                                                f"{refused}")
        if not listener.consuming:
            LOG.warning("Listening on %s in the background: %s", target,
                        listener.last_error or "the subscription is not attached yet")
        return listener

    def _forget(self, listener: AmqpListener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    # ------------------------------------------------------------------ lifecycle

    def cleanup(self) -> None:
        """End pending calls, close every listener and connection, stop the I/O thread."""
        with self._lock:
            self._closed = True
            listeners = list(self._listeners)
            replies, self._replies = self._replies, None
            client, self._client = self._client, None
            loop = self._loop
        if replies is not None:
            replies.close()
        for listener in listeners:
            listener.cleanup()
        if loop is not None:
            if client is not None:
                try:
                    loop.submit(client.close)
                except MessageDeliveryFailure:
                    pass
            loop.stop()
        super().cleanup()

    @property
    def client_profile(self) -> str | None:
        """The address profile the client connection chose at its last open (None before)."""
        client = self._client
        profile = client.profile if client is not None else None
        return profile.name if profile is not None else None

    @property
    def testing(self) -> TestingHooks:
        """Raw publishing and an unreachable URL for the conformance kit."""
        return _AmqpTestingHooks(self)

    def __repr__(self) -> str:
        return f"<AmqpDriver {self.url.render(mask=True)}>"


class _AmqpTestingHooks(TestingHooks):
    """Conformance-kit support: arbitrary bytes where a server or listener reads."""

    def __init__(self, driver: AmqpDriver) -> None:
        self._driver = driver

    def _publish(self, route: Callable[[AddressProfile], Route], body: bytes) -> None:
        out = Outgoing(route, lambda p: json_message(bytes(body)), what="raw message",
                       deadline=time.monotonic() + 30, retry=3)
        future = self._driver._submit(self._driver._client_connection(), out)
        try:
            future.result(timeout=35)
        except concurrent.futures.TimeoutError:  # not the builtin TimeoutError on 3.10
            raise MessagingTimeout("raw publish not accepted in 30 s") from None

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Send ``body`` verbatim to the queue a server of ``target`` reads (created if missing)."""
        self._publish(lambda p: p.raw_request(target.replace(fanout=False)), body)

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Send ``body`` verbatim where listeners of ``target.topic`` read."""
        self._publish(lambda p: p.notification(target), body)

    def unreachable_url(self) -> str | None:
        """This driver's scheme on a loopback port nothing listens on, with short bounds."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        query = ("connection_retry_interval=0.1&connection_retry_backoff=0"
                 "&connection_retry_interval_max=0.5&default_send_timeout=2"
                 "&default_notify_timeout=2&connect_timeout=2")
        return f"{self._driver.url.scheme}://127.0.0.1:{port}/?{query}"
