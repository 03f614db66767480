"""The ``fake://`` driver: RPC and notifications through the in-process bus.

Every message is stored as the exact bytes the rabbit driver would send
(:mod:`messaging.envelope`) and parsed back on receipt, so what works on
``fake://`` is wire-safe: an argument that cannot become JSON fails here as
it would on a real bus. The topology follows oslo.messaging on RabbitMQ
(see :mod:`messaging_fake.bus`):

========================  =====================================  ===================
what                      queue                                  bound to
========================  =====================================  ===================
RPC topic (shared)        ``<exchange>/<topic>``                 ``exchange, topic``
RPC server                ``<exchange>/<topic>.<server>``        ``exchange, topic.server``
RPC fanout (per server)   ``<topic>_fanout_<uuid>``              ``<topic>_fanout, ""``
notifications             ``<exchange>/<topic>.<priority>``      ``exchange, topic.priority``
notification pool         ``<pool>``                             each ``exchange, topic.priority``
call replies (per driver) ``reply_<uuid>``                       default exchange
========================  =====================================  ===================
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from messaging.addressing import fanout_exchange, notification_route, rpc_route, server_key
from messaging.correlation import ReplyCorrelator
from messaging.driver import (
    Capabilities,
    Driver,
    IncomingMessage,
    Listener,
    Reply,
    TestingHooks,
    unserializable,
    wait_future,
)
from messaging.envelope import (
    build_notification,
    build_request,
    decode,
    encode,
    encode_envelope,
    encode_wrapped,
    new_id,
    parse_notification,
    parse_reply,
    parse_request,
    unwrap,
)
from messaging.exceptions import (
    InvalidTarget,
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessageUndeliverable,
)
from messaging.incoming import (
    NotificationMessage,
    RequestMessage,
    TrackedMessage,
    give_back_unsettled,
)
from messaging.settlement import DeliveryTracker
from messaging.target import Target
from messaging.url import TransportURL

from .bus import Bus, Consumer, Queue, StoredMessage, get_bus

__all__ = ["FakeDriver"]

LOG = logging.getLogger(__name__)


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


def _encode(target: Target, message: Mapping[str, Any], inner: Mapping[str, Any],
            envelope: bool = True) -> bytes:
    """The body of a message, encoded once; ``SerializationError`` if JSON cannot carry it."""
    try:
        return encode_wrapped(inner) if envelope else encode(inner)
    except (TypeError, ValueError) as exc:
        raise unserializable(target, message, exc) from None


# -- calls: the reply queue ----------------------------------------------------------------


class _ReplyQueue:
    """A driver's ``reply_<hex>`` queue: a push consumer feeding the reply correlator."""

    def __init__(self, bus: Bus, exchange: str) -> None:
        self._bus = bus
        self.queue_name = f"reply_{new_id()}"
        self.correlator = ReplyCorrelator(
            self.queue_name, listeners=lambda target: bus.consumers(*rpc_route(target, exchange)))
        bus.declare_queue(self.queue_name, sink=self._on_body)

    def _on_body(self, body: bytes) -> None:
        try:
            frame = parse_reply(unwrap(decode(body)))
        except Exception as exc:  # MalformedMessage, or anything odd in a reply
            LOG.warning("Dropping a malformed reply on %s: %s", self.queue_name, exc)
            return
        self.correlator.deliver(frame)

    def close(self) -> None:
        """Delete the reply queue and end every waiting call."""
        self._bus.delete_queue(self.queue_name)
        self.correlator.close()


# -- incoming messages ---------------------------------------------------------------------


class _Delivery:
    """Where a delivered message came from, so it can be given back."""

    __slots__ = ("bus", "queue", "stored")

    def __init__(self, bus: Bus, queue: Queue, stored: StoredMessage) -> None:
        self.bus = bus
        self.queue = queue
        self.stored = stored

    def settle(self, requeue: bool) -> None:
        # Taking a message off a queue already removed it: acknowledging is a no-op.
        if requeue and not self.bus.requeue(self.queue, self.stored):
            LOG.debug("Queue %s is gone; the requeued message is dropped", self.queue.name)


class FakeRequest(RequestMessage):
    """An RPC request taken from a queue; replies go to the caller's reply queue."""

    def __init__(self, delivery: _Delivery, *args: Any) -> None:
        super().__init__(*args)
        self._delivery = delivery

    def _settle(self, requeue: bool) -> None:
        self._delivery.settle(requeue)

    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        assert self.reply_q is not None
        if not self._delivery.bus.publish_direct(self.reply_q, encode_envelope(envelope)):
            LOG.info("Reply queue %s is gone; reply to message ID %s dropped", self.reply_q,
                     self.msg_id)


class FakeNotification(NotificationMessage):
    """A notification taken from a queue; acknowledge or requeue it."""

    def __init__(self, delivery: _Delivery, *args: Any) -> None:
        super().__init__(*args)
        self._delivery = delivery

    def _settle(self, requeue: bool) -> None:
        self._delivery.settle(requeue)


Parser = Callable[[_Delivery, bytes, DeliveryTracker[Any]], TrackedMessage]


def _parse_rpc(delivery: _Delivery, body: bytes, tracker: DeliveryTracker[Any]) -> TrackedMessage:
    return FakeRequest(delivery, parse_request(unwrap(decode(body))), tracker)


def _parse_notification(delivery: _Delivery, body: bytes,
                        tracker: DeliveryTracker[Any]) -> TrackedMessage:
    inner = unwrap(decode(body))
    unique_id = inner.get("_unique_id")
    ctxt, message = parse_notification(inner)
    return FakeNotification(delivery, ctxt, message, tracker,
                            unique_id if isinstance(unique_id, str) else None)


# -- listeners -----------------------------------------------------------------------------


class FakeListener(Listener):
    """A subscription to some queues of the bus.

    Messages handed out by :meth:`poll` stay unsettled until acknowledged or
    requeued; those still unsettled at :meth:`cleanup` go back to their
    queue, as when an AMQP channel closes.
    """

    def __init__(self, driver: FakeDriver, consumer: Consumer, parser: Parser,
                 owned_queues: Sequence[str] = ()) -> None:
        self.driver = driver
        self.bus = driver.bus
        self._consumer = consumer
        self._parser = parser
        self._owned_queues = list(owned_queues)
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._lock = threading.Lock()
        self._closed = False

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Wait up to ``timeout`` for up to ``max_messages`` messages (``[]`` if none or stopped).

        Malformed bodies are logged and dropped, duplicates of acknowledged
        messages too; the wait goes on for a good one.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            taken = self._consumer.get(max_messages, remaining)
            if not taken:
                return []
            out: list[IncomingMessage] = []
            for queue, stored in taken:
                try:
                    message = self._parser(_Delivery(self.bus, queue, stored), stored.body,
                                           self._tracker)
                except Exception as exc:  # MalformedMessage, undecodable bytes...
                    LOG.warning("Dropping a malformed message (%d bytes) from queue %s: %s",
                                len(stored.body), queue.name, exc)
                    LOG.debug("The dropped message began %r", stored.body[:200])
                    continue
                if self._tracker.is_duplicate(message.unique_id):
                    LOG.warning("Dropping a duplicate of message %s from queue %s",
                                message.unique_id, queue.name)
                    continue
                self._tracker.track(message, message.unique_id)
                out.append(message)
            if out:
                return out
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def stop(self) -> None:
        """Stop taking messages; a blocked :meth:`poll` returns ``[]`` at once."""
        self._consumer.stop()

    def cleanup(self) -> None:
        """Stop, give back what is still unsettled, delete the queues this listener owns."""
        self.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        give_back_unsettled(self._tracker)
        self._consumer.close()
        for name in self._owned_queues:
            self.bus.delete_queue(name)
        self.driver._forget_listener(self)


# -- testing hooks -------------------------------------------------------------------------


class FakeTestingHooks(TestingHooks):
    """Conformance-kit support: raw bytes straight onto a server's or listener's queue."""

    def __init__(self, driver: FakeDriver) -> None:
        self._driver = driver

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Put ``body`` on the server queue (``target.server``) or the topic queue."""
        exchange, key = rpc_route(target.replace(fanout=False), self._driver.default_exchange)
        self._driver.bus.publish_declared(f"{exchange}/{key}", [(exchange, key)], bytes(body),
                                          exchange, key)

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Put ``body`` where listeners of ``target.topic`` (``<topic>.<priority>``) read."""
        exchange, key = notification_route(target, self._driver.default_exchange)
        self._driver.bus.publish_declared(f"{exchange}/{key}", [(exchange, key)], bytes(body),
                                          exchange, key)


# -- the driver ----------------------------------------------------------------------------


class FakeDriver(Driver):
    """In-memory transport; transports of one process on the same vhost share a bus."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True, durable_notifications=True,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-least-once", publisher_confirms=False, brokered=False,
        mandatory=True, counts_listeners=True)
    checks_json: ClassVar[bool] = True  # every verb encodes once, before sending (_encode)

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        for key in url.query:
            raise InvalidTransportURL(
                url.render(mask=True),
                f"Unknown option {key!r} in transport URL query; the fake driver takes none")
        self.bus = get_bus(url.virtual_host)
        self._lock = threading.Lock()
        self._reply_queue: _ReplyQueue | None = None
        self._closed = False
        self._listeners: set[FakeListener] = set()
        self._hooks = FakeTestingHooks(self)

    # -- sending ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MessageDeliveryFailure("the transport was cleaned up")

    def _replies(self) -> _ReplyQueue:
        replies = self._reply_queue
        if replies is None:
            with self._lock:
                self._check_open()
                if self._reply_queue is None:
                    self._reply_queue = _ReplyQueue(self.bus, self.default_exchange)
                replies = self._reply_queue
        return replies

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None, mandatory: bool = False) -> Reply:
        """:meth:`submit_call`, waited for (the base class's, with ``mandatory``)."""
        return wait_future(self.submit_call(
            target, ctxt, message, timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            retry=retry, mandatory=mandatory), timeout + self.call_grace,
            f"reply to a call to {target} not delivered in time")

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None, mandatory: bool = False) -> Future[Reply]:
        """Send a request to one server of ``target``; the future gets its reply.

        With ``mandatory``, a request no queue is bound for fails the future
        at once with :class:`MessageUndeliverable`.
        """
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        self._check_open()
        replies = self._replies()
        msg_id = new_id()
        body = _encode(target, message, build_request(message, ctxt, msg_id=msg_id,
                                                      reply_q=replies.queue_name,
                                                      timeout=call_monitor_timeout))
        # one deadline for the call and its request: when the caller is told it timed
        # out, the request has expired too, and no server can still take it
        deadline = time.monotonic() + max(float(timeout), 0.0)
        future = replies.correlator.register(msg_id, timeout, call_monitor_timeout,
                                             target=target, method=message.get("method"),
                                             deadline=deadline)
        exchange, key = rpc_route(target, self.default_exchange)
        if self.bus.publish(exchange, key, body, expires_at=deadline) \
                or not mandatory:
            replies.correlator.sent(msg_id)
        else:
            replies.correlator.fail(msg_id, MessageUndeliverable(
                exchange=exchange, routing_key=key, message=message.get("method")))
        return future

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None, mandatory: bool = False) -> None:
        """Send a request without waiting; dropped if no queue is bound for it.

        With ``mandatory``, such a request raises :class:`MessageUndeliverable`.
        """
        self._check_open()
        body = _encode(target, message, build_request(message, ctxt))
        exchange, key = rpc_route(target, self.default_exchange)
        if not self.bus.publish(exchange, key, body) and mandatory:
            raise MessageUndeliverable(exchange=exchange, routing_key=key,
                                       message=message.get("method"))

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None, mandatory: bool = False) -> Future[None]:
        """:meth:`cast`, done before the future is returned (memory takes it at once)."""
        try:
            self.cast(target, ctxt, message, retry=retry, mandatory=mandatory)
        except MessageUndeliverable as exc:
            failed: Future[None] = Future()
            failed.set_exception(exc)
            return failed
        return _done()

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish to ``<topic>.<priority>``, declaring its queue so nothing is lost."""
        self._check_open()
        inner = build_notification(message, ctxt)
        body = _encode(target, message, inner, envelope=version >= 2.0)
        exchange, key = notification_route(target, self.default_exchange)
        self.bus.publish_declared(f"{exchange}/{key}", [(exchange, key)], body, exchange, key)

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """:meth:`notify`, done before the future is returned."""
        self.notify(target, ctxt, message, version=version, retry=retry)
        return _done()

    # -- receiving -------------------------------------------------------------------------

    def listen(self, target: Target) -> Listener:
        """Subscribe an RPC server to its topic, server and fanout queues."""
        exchange = target.exchange or self.default_exchange
        topic = str(target.topic)
        queues = [self.bus.declare_queue(f"{exchange}/{topic}", [(exchange, topic)])]
        if target.server:
            key = server_key(topic, target.server)
            queues.append(self.bus.declare_queue(f"{exchange}/{key}", [(exchange, key)]))
        fanout_name = f"{fanout_exchange(topic)}_{new_id()}"
        queues.append(self.bus.declare_queue(fanout_name, [(fanout_exchange(topic), "")]))
        # push: the topic's casts go round-robin to its servers, as on RabbitMQ
        return self._register(FakeListener(self, self.bus.consume(queues, push=True),
                                           _parse_rpc, owned_queues=[fanout_name]))

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Subscribe to ``<topic>.<priority>`` queues, or to one ``pool`` queue bound to them."""
        bindings: list[tuple[str, str]] = []
        for target, priority in targets_and_priorities:
            binding = notification_route(target.replace(topic=f"{target.topic}.{priority}"),
                                         self.default_exchange)
            if binding not in bindings:
                bindings.append(binding)
        if pool:
            queues = [self.bus.declare_queue(pool, bindings)]
        else:
            queues = [self.bus.declare_queue(f"{ex}/{key}", [(ex, key)]) for ex, key in bindings]
        return self._register(FakeListener(self, self.bus.consume(queues), _parse_notification))

    def _register(self, listener: FakeListener) -> FakeListener:
        with self._lock:
            self._listeners.add(listener)
        return listener

    def _forget_listener(self, listener: FakeListener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    # -- lifecycle -------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Clean up every listener of this driver and its reply queue (ending pending calls)."""
        with self._lock:
            self._closed = True
            listeners, self._listeners = list(self._listeners), set()
            replies = self._reply_queue
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up a listener")
        if replies is not None:
            replies.close()
        super().cleanup()

    @property
    def testing(self) -> TestingHooks:
        """Hooks for the conformance kit (raw publishing)."""
        return self._hooks

    def __repr__(self) -> str:
        return f"<FakeDriver vhost={self.bus.vhost!r}>"
