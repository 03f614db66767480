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
from typing import Any, ClassVar

from messaging.driver import (
    Capabilities,
    Driver,
    IncomingMessage,
    Listener,
    Reply,
    TestingHooks,
)
from messaging.envelope import (
    ReplyFrame,
    Request,
    RequestMessage,
    build_heartbeat,
    build_notification,
    build_request,
    decode,
    encode,
    new_id,
    parse_notification,
    parse_reply,
    parse_request,
    unwrap,
    wrap,
    wrap_reply,
)
from messaging.exceptions import InvalidTarget, InvalidTransportURL, MessagingTimeout
from messaging.target import Target
from messaging.url import TransportURL

from .bus import Bus, Consumer, Queue, StoredMessage, get_bus

__all__ = ["FakeDriver"]

LOG = logging.getLogger(__name__)


def _fanout_exchange(topic: str) -> str:
    return f"{topic}_fanout"


# -- calls: the reply waiter ---------------------------------------------------------------


class _PendingCall:
    """One call waiting for its reply; heartbeats restart its monitor timer."""

    __slots__ = ("_cond", "closed", "final", "last_activity")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.final: ReplyFrame | None = None
        self.last_activity = time.monotonic()
        self.closed = False

    def deliver(self, frame: ReplyFrame) -> None:
        """Record a reply frame (final, or a heartbeat) and wake the caller."""
        with self._cond:
            if frame.ending:
                self.final = frame
            self.last_activity = time.monotonic()
            self._cond.notify()

    def close(self) -> None:
        """Wake the caller for good: the driver is being cleaned up."""
        with self._cond:
            self.closed = True
            self._cond.notify()

    def wait(self, deadline: float | None, monitor: float | None) -> ReplyFrame | str:
        """The final frame, or why there is none: ``"timeout"``, ``"monitor"``, ``"closed"``."""
        with self._cond:
            while True:
                if self.final is not None:
                    return self.final
                if self.closed:
                    return "closed"
                now = time.monotonic()
                limit, reason = deadline, "timeout"
                if monitor is not None:
                    monitor_limit = self.last_activity + monitor
                    if limit is None or monitor_limit < limit:
                        limit, reason = monitor_limit, "monitor"
                if limit is not None and now >= limit:
                    return reason
                self._cond.wait(None if limit is None else limit - now)


class _ReplyWaiter:
    """A driver's reply queue: a push consumer routing replies to waiting calls by msg_id."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.queue_name = f"reply_{new_id()}"
        self._lock = threading.Lock()
        self._pending: dict[str, _PendingCall] = {}
        self._closed = False
        bus.declare_queue(self.queue_name, sink=self._on_body)

    def expect(self, msg_id: str) -> _PendingCall:
        """Register a call before its request is sent (already closed if the waiter is)."""
        pending = _PendingCall()
        with self._lock:
            if self._closed:
                pending.closed = True
            else:
                self._pending[msg_id] = pending
        return pending

    def forget(self, msg_id: str) -> None:
        """The call is over: later replies to it are dropped."""
        with self._lock:
            self._pending.pop(msg_id, None)

    def _on_body(self, body: bytes) -> None:
        try:
            frame = parse_reply(unwrap(decode(body)))
        except Exception as exc:  # MalformedMessage, or anything odd in a reply
            LOG.warning("Dropping malformed reply on %s: %s", self.queue_name, exc)
            return
        with self._lock:
            pending = self._pending.get(frame.msg_id) if frame.msg_id is not None else None
        if pending is None:
            LOG.debug("No calling thread waiting for msg_id %s; reply dropped", frame.msg_id)
            return
        pending.deliver(frame)

    def close(self) -> None:
        """Delete the reply queue and wake every waiting call."""
        self._bus.delete_queue(self.queue_name)
        with self._lock:
            self._closed = True
            pending, self._pending = list(self._pending.values()), {}
        for call in pending:
            call.close()


# -- incoming messages ---------------------------------------------------------------------


class _Settlement:
    """Where a delivered message came from, so it can be acknowledged or requeued."""

    def __init__(self, listener: FakeListener, queue: Queue, stored: StoredMessage) -> None:
        self.listener = listener
        self.queue = queue
        self.stored = stored


class FakeRpcIncomingMessage(RequestMessage):
    """An RPC request taken from a queue; replies go to the caller's reply queue."""

    def __init__(self, settlement: _Settlement, request: Request) -> None:
        super().__init__(request)
        self._settlement = settlement

    def acknowledge(self) -> None:
        """Settle the request; it will not be delivered again."""
        self._settlement.listener.settle(self, requeue=False)

    def requeue(self) -> None:
        """Put the request back at the head of its queue for any server."""
        self._settlement.listener.settle(self, requeue=True)

    def reply(self, reply: Reply) -> None:
        """Send the final answer; does nothing for a cast and never raises."""
        if not self.wants_reply:
            return
        assert self.msg_id is not None
        try:
            self._send(wrap_reply(self.msg_id, reply))
        except Exception:
            LOG.exception("Could not send the reply to msg_id %s; the caller will time out",
                          self.msg_id)

    def heartbeat(self) -> None:
        """Tell the caller the call is still running (call monitoring)."""
        if self.wants_reply:
            assert self.msg_id is not None
            self._send(wrap(build_heartbeat(self.msg_id)))

    def _send(self, enveloped: dict[str, str]) -> None:
        assert self.reply_q is not None
        bus = self._settlement.listener.bus
        if not bus.publish_direct(self.reply_q, encode(enveloped)):
            LOG.info("Reply queue %s is gone; reply to msg_id %s dropped", self.reply_q,
                     self.msg_id)


class FakeNotificationIncomingMessage(IncomingMessage):
    """A notification taken from a queue; acknowledge or requeue it."""

    def __init__(self, settlement: _Settlement, ctxt: dict[str, Any], message: dict[str, Any],
                 ) -> None:
        super().__init__(ctxt, message)
        self._settlement = settlement

    def acknowledge(self) -> None:
        """Settle the notification; it will not be delivered again."""
        self._settlement.listener.settle(self, requeue=False)

    def requeue(self) -> None:
        """Put the notification back at the head of its queue for any listener."""
        self._settlement.listener.settle(self, requeue=True)


_FakeIncoming = FakeRpcIncomingMessage | FakeNotificationIncomingMessage
Parser = Callable[[_Settlement, bytes], _FakeIncoming]


def _parse_rpc(settlement: _Settlement, body: bytes) -> _FakeIncoming:
    return FakeRpcIncomingMessage(settlement, parse_request(unwrap(decode(body))))


def _parse_notification(settlement: _Settlement, body: bytes) -> _FakeIncoming:
    ctxt, message = parse_notification(unwrap(decode(body)))
    return FakeNotificationIncomingMessage(settlement, ctxt, message)


# -- listeners -----------------------------------------------------------------------------


class FakeListener(Listener):
    """A subscription to some queues of the bus.

    Messages handed out by :meth:`poll` stay *unacked* until acknowledged or
    requeued; those still unacked at :meth:`cleanup` go back to their queue,
    as when an AMQP channel closes.
    """

    def __init__(self, driver: FakeDriver, consumer: Consumer, parser: Parser,
                 owned_queues: Sequence[str] = ()) -> None:
        self.driver = driver
        self.bus = driver.bus
        self._consumer = consumer
        self._parser = parser
        self._owned_queues = list(owned_queues)
        self._lock = threading.Lock()
        self._unacked: set[_FakeIncoming] = set()
        self._closed = False

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Wait up to ``timeout`` for up to ``max_messages`` messages (``[]`` if none or stopped).

        Malformed bodies are logged and dropped; the wait goes on for a good one.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            taken = self._consumer.get(max_messages, remaining)
            if not taken:
                return []
            out: list[_FakeIncoming] = []
            for queue, stored in taken:
                try:
                    out.append(self._parser(_Settlement(self, queue, stored), stored.body))
                except Exception as exc:  # MalformedMessage, undecodable bytes...
                    LOG.warning("Dropping malformed message from queue %s: %s (body %r)",
                                queue.name, exc, stored.body[:200])
            if out:
                with self._lock:
                    self._unacked.update(out)
                return list(out)
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def settle(self, message: _FakeIncoming, requeue: bool) -> None:
        """Acknowledge or requeue ``message``; only its first settlement counts."""
        with self._lock:
            if message not in self._unacked:
                return
            self._unacked.discard(message)
        if requeue:
            s = message._settlement
            if not self.bus.requeue(s.queue, s.stored):
                LOG.debug("Queue %s is gone; requeued message dropped", s.queue.name)

    def stop(self) -> None:
        """Stop taking messages; a blocked :meth:`poll` returns ``[]`` at once."""
        self._consumer.stop()

    def cleanup(self) -> None:
        """Stop, requeue what is still unacked, and delete the queues this listener owns."""
        self.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            unacked, self._unacked = list(self._unacked), set()
        for message in unacked:
            s = message._settlement
            self.bus.requeue(s.queue, s.stored)
        if unacked:
            LOG.debug("Requeued %d unacknowledged message(s) at listener cleanup",
                      len(unacked))
        self._consumer.close()
        for name in self._owned_queues:
            self.bus.delete_queue(name)
        self.driver._forget_listener(self)


# -- testing hooks -------------------------------------------------------------------------


class FakeTestingHooks(TestingHooks):
    """Conformance-kit support: raw bytes straight onto a server's queue."""

    def __init__(self, driver: FakeDriver) -> None:
        self._driver = driver

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Put ``body`` on the server queue (``target.server``) or the topic queue.

        The queue is declared if missing, so the bytes wait for a server.
        """
        exchange, key = self._driver._route(target.replace(fanout=False))
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._driver.bus.publish_declared(f"{exchange}/{key}", [(exchange, key)], data,
                                          exchange, key)


# -- the driver ----------------------------------------------------------------------------


class FakeDriver(Driver):
    """In-memory transport; transports of one process on the same vhost share a bus."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=True, durable_notifications=True,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-least-once", publisher_confirms=False)

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        for key in url.query:
            raise InvalidTransportURL(
                url.render(mask=True),
                f"Unknown option {key!r} in transport URL query; the fake driver takes none")
        self.bus = get_bus(url.virtual_host)
        self._lock = threading.Lock()
        self._waiter: _ReplyWaiter | None = None
        self._listeners: set[FakeListener] = set()
        self._hooks = FakeTestingHooks(self)

    # -- sending ---------------------------------------------------------------------------

    def _route(self, target: Target) -> tuple[str, str]:
        """(exchange, routing key) of an RPC request to ``target``."""
        topic = str(target.topic)
        if target.fanout:
            return _fanout_exchange(topic), ""
        exchange = target.exchange or self.default_exchange
        return exchange, f"{topic}.{target.server}" if target.server else topic

    def _reply_waiter(self) -> _ReplyWaiter:
        with self._lock:
            if self._waiter is None:
                self._waiter = _ReplyWaiter(self.bus)
            return self._waiter

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        """Send a request to one server of ``target`` and wait for the reply."""
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        waiter = self._reply_waiter()
        msg_id = new_id()
        body = encode(wrap(build_request(message, ctxt, msg_id=msg_id,
                                         reply_q=waiter.queue_name,
                                         timeout=call_monitor_timeout)))
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        monitor = call_monitor_timeout or None
        pending = waiter.expect(msg_id)
        try:
            exchange, key = self._route(target)
            self.bus.publish(exchange, key, body, expires_at=deadline)
            outcome = pending.wait(deadline, monitor)
        finally:
            waiter.forget(msg_id)
        if isinstance(outcome, ReplyFrame):
            return Reply(outcome.result, outcome.failure)
        method = message.get("method")
        if outcome == "monitor":
            raise MessagingTimeout(
                f"Timed out waiting for a reply to message ID {msg_id} (topic {target.topic}, "
                f"method {method}): no heartbeat within call_monitor_timeout={monitor}s")
        if outcome == "closed":
            raise MessagingTimeout(
                f"Timed out waiting for a reply to message ID {msg_id} (topic {target.topic}, "
                f"method {method}): the transport was cleaned up")
        raise MessagingTimeout(f"Timed out waiting for a reply to message ID {msg_id} "
                               f"(topic {target.topic}, method {method})")

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Send a request without waiting; dropped if no queue is bound for it."""
        body = encode(wrap(build_request(message, ctxt)))
        exchange, key = self._route(target)
        self.bus.publish(exchange, key, body)

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish to ``<topic>.<priority>``, declaring its queue so nothing is lost."""
        inner = build_notification(message, ctxt)
        body = encode(wrap(inner)) if version >= 2.0 else encode(inner)
        exchange = target.exchange or self.default_exchange
        key = str(target.topic)
        self.bus.publish_declared(f"{exchange}/{key}", [(exchange, key)], body, exchange, key)

    # -- receiving -------------------------------------------------------------------------

    def listen(self, target: Target) -> Listener:
        """Subscribe an RPC server to its topic, server and fanout queues."""
        exchange = target.exchange or self.default_exchange
        topic = str(target.topic)
        queues = [self.bus.declare_queue(f"{exchange}/{topic}", [(exchange, topic)])]
        if target.server:
            key = f"{topic}.{target.server}"
            queues.append(self.bus.declare_queue(f"{exchange}/{key}", [(exchange, key)]))
        fanout_name = f"{_fanout_exchange(topic)}_{new_id()}"
        queues.append(self.bus.declare_queue(fanout_name, [(_fanout_exchange(topic), "")]))
        return self._register(FakeListener(self, self.bus.consume(queues), _parse_rpc,
                                           owned_queues=[fanout_name]))

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Subscribe to ``<topic>.<priority>`` queues, or to one ``pool`` queue bound to them."""
        bindings: list[tuple[str, str]] = []
        for target, priority in targets_and_priorities:
            binding = (target.exchange or self.default_exchange, f"{target.topic}.{priority}")
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
        """Clean up every listener of this driver and its reply queue (waking pending calls)."""
        with self._lock:
            listeners, self._listeners = list(self._listeners), set()
            waiter, self._waiter = self._waiter, None
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up a listener")
        if waiter is not None:
            waiter.close()

    @property
    def testing(self) -> TestingHooks:
        """Hooks for the conformance kit (:meth:`FakeTestingHooks.publish_raw`)."""
        return self._hooks

    def __repr__(self) -> str:
        return f"<FakeDriver vhost={self.bus.vhost!r}>"
