"""RPC servers and notification listeners: their queues, messages and replies.

Each listener owns one :class:`~messaging_amqp091.connection.Connection`
(as oslo.messaging gives each its own connection), kombu's or pika's. Deliveries are parsed on
its I/O thread and queued for :meth:`AmqpListener.poll`; acks, rejects,
replies and call-monitor heartbeats from the executor's threads are handed
back to that I/O thread, never run on the caller's thread.

Delivery guarantees (the driver's ``capabilities`` say the same):

- RPC requests are at-most-once, as in oslo: the core acknowledges them
  before dispatch; a request redelivered because its ack was lost with the
  connection is recognised by its ``_unique_id`` and dropped. Ids are
  remembered when a request is acknowledged, never on arrival
  (:mod:`messaging.settlement`): requests still buffered when the channel
  was lost are dropped locally without being remembered, and run when the
  broker redelivers them.
- Notifications are at-least-once: they are acknowledged only when the
  endpoint returns; ``requeue`` is ``basic.reject(requeue=True)``.
- A malformed body is logged, rejected without requeue, and the listener
  keeps serving.
- A delivery from a fanout stream (``rabbit_stream_fanout``) is always
  acked, never rejected (RabbitMQ 3.10 closes the channel on a reject of a
  stream delivery); its :class:`~messaging_amqp091.streams.StreamCursor`
  learns which offsets were handled, so a reconnect resumes after them.
- An ack or reject is bound to the channel its delivery came on: never
  dropped while that channel lives (also while a reconnected connection
  still consumes its other queues), moot once it is gone.

The listener's connection connects in the background: :attr:`AmqpListener.consuming`
and :attr:`AmqpListener.last_error` say whether its queues are consumed, and
why not.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from messaging.driver import IncomingMessage, Listener
from messaging.envelope import (
    Request,
    parse_notification,
    parse_request,
    unwrap,
)
from messaging.incoming import NotificationMessage as _NotificationMessage
from messaging.incoming import RequestMessage, TrackedMessage, give_back_unsettled
from messaging.settlement import DeliveryTracker

from .codec import decode_body, encode_body
from .connection import Connection
from .delivery import Delivery
from .options import Settings
from .streams import StreamCursor, offset_of, stream_cursor
from .topology import QueueSpec
from .work import Publish, Subscription

__all__ = ["NotificationMessage", "ObsoleteReplyQueues", "AmqpListener", "RpcMessage"]

LOG = logging.getLogger(__name__)
_STOP = object()
#: Seconds between two attempts to deliver a reply whose queue is missing (oslo's).
_REPLY_RETRY_DELAY = 0.25


class ObsoleteReplyQueues:
    """Reply queues found missing for longer than the retry timeout; replies to them are dropped.

    Shared by the listeners of one driver, bounded (oslo keeps 200 for 60 s).
    """

    def __init__(self, size: int = 200, ttl: float = 60.0) -> None:
        self._size = size
        self._ttl = ttl
        self._entries: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, reply_q: str) -> None:
        with self._lock:
            self._entries[reply_q] = time.monotonic() + self._ttl
            self._entries.move_to_end(reply_q)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __contains__(self, reply_q: object) -> bool:
        if not self._entries or not isinstance(reply_q, str):
            return False
        with self._lock:
            until = self._entries.get(reply_q)
            if until is None:
                return False
            if until < time.monotonic():
                del self._entries[reply_q]
                return False
            return True


class _Settle:
    """Ack or reject one delivery once, on the I/O thread, on the channel it came from.

    Bound to that channel (its generation), not to a retry budget: it is
    never dropped while the channel lives, also while the connection is
    still consuming its other queues after a reconnect.
    """

    __slots__ = ("_conn", "_done", "_generation", "_tag")

    def __init__(self, conn: Connection, tag: int, generation: int) -> None:
        self._conn = conn
        self._tag = tag
        self._generation = generation
        self._done = False

    def ack(self) -> None:
        if not self._done:
            self._done = True
            self._conn.ack(self._generation, self._tag)

    def reject(self, requeue: bool) -> None:
        if not self._done:
            self._done = True
            self._conn.reject(self._generation, self._tag, requeue)

    def settle(self, requeue: bool) -> None:
        """Give the delivery back (``basic.reject`` with requeue) or acknowledge it."""
        if requeue:
            self.reject(requeue=True)
        else:
            self.ack()


class _StreamSettle(_Settle):
    """Settle a stream delivery: always ``basic.ack``, and tell the cursor if it was handled.

    Acknowledging (or rejecting without requeue: malformed) marks the
    offset handled; a requeue (handing it back at stop) only returns the
    credit: the offset stays unhandled, so a consumer resumes at it.
    """

    __slots__ = ("_cursor", "_offset")

    def __init__(self, conn: Connection, tag: int, generation: int,
                 cursor: StreamCursor, offset: int | None) -> None:
        super().__init__(conn, tag, generation)
        self._cursor = cursor
        self._offset = offset

    def ack(self) -> None:
        if not self._done:
            self._done = True
            if self._offset is not None:
                self._cursor.handled(self._offset)
            self._conn.ack(self._generation, self._tag)

    def reject(self, requeue: bool) -> None:
        if requeue:
            if not self._done:
                self._done = True
                self._conn.ack(self._generation, self._tag)
        else:
            self.ack()


class RpcMessage(RequestMessage):
    """An RPC request received by a :class:`AmqpListener`."""

    def __init__(self, listener: AmqpListener, request: Request, settle: _Settle,
                 generation: int, tracker: DeliveryTracker[Any]) -> None:
        super().__init__(request, tracker)
        self._listener = listener
        self._settle_op = settle
        self.generation = generation

    def _settle(self, requeue: bool) -> None:
        self._settle_op.settle(requeue)

    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        if final:
            self._listener.send_reply(self, envelope)
        else:
            self._listener.send_heartbeat(self, envelope)


class NotificationMessage(_NotificationMessage):
    """A notification received by a :class:`AmqpListener`; requeue is ``basic.reject``."""

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any], settle: _Settle,
                 generation: int, tracker: DeliveryTracker[Any],
                 unique_id: str | None) -> None:
        super().__init__(ctxt, message, tracker, unique_id)
        self._settle_op = settle
        self.generation = generation

    def _settle(self, requeue: bool) -> None:
        self._settle_op.settle(requeue)


class AmqpListener(Listener):
    """Messages of one subscription (an RPC server's three queues, or notification queues).

    :param rpc: parse deliveries as RPC requests (else as notifications).
    """

    def __init__(self, conn: Connection, settings: Settings, queues: list[QueueSpec], *,
                 rpc: bool, obsolete: ObsoleteReplyQueues,
                 on_cleanup: Callable[[AmqpListener], None] | None = None) -> None:
        self._conn = conn
        self._settings = settings
        self._rpc = rpc
        self._obsolete = obsolete
        self._on_cleanup = on_cleanup
        self._incoming: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopped = False
        self._cleaned = False
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._sub = Subscription(queues, self._on_message)
        #: the queues this listener consumes (for introspection and tests)
        self.queues = list(queues)
        #: the cursors of its fanout stream (``rabbit_stream_fanout``), by queue name
        self.streams: dict[str, StreamCursor] = {
            spec.name: cursor for spec in queues if (cursor := stream_cursor(spec)) is not None}

    @property
    def connection(self) -> Connection:
        """The listener's own connection (tests read ``name`` and ``connects``)."""
        return self._conn

    def start(self) -> Future[None]:
        """Declare the queues and start consuming, now or once connected, and after reconnects.

        The future completes once first consuming, or fails if the broker
        refused the queues or the login.
        """
        return self._conn.subscribe(self._sub)

    @property
    def consuming(self) -> bool:
        """True while the queues are consumed on a live channel (False while reconnecting)."""
        return not self._stopped and self._conn.consuming(self._sub)

    @property
    def last_error(self) -> str | None:
        """Why the listener is not consuming (never contains a password), or None."""
        if self.consuming:
            return None
        if self._sub.error:
            return self._sub.error
        if self._stopped:
            return "the listener was stopped"
        return self._conn.trouble() or "consuming the queues again"

    # ------------------------------------------------------------------ I/O thread

    def _on_message(self, message: Delivery, generation: int) -> None:
        tag = message.delivery_tag
        cursor = self.streams.get(message.queue) if self.streams else None
        settle: _Settle
        if cursor is not None:
            offset = offset_of(message.headers)
            if offset is not None and not cursor.delivered(offset):
                LOG.debug("Skipping offset %d of stream %s: handled before a reconnect",
                          offset, cursor.queue)
                self._conn.ack(generation, tag)
                return
            settle = _StreamSettle(self._conn, tag, generation, cursor, offset)
        else:
            settle = _Settle(self._conn, tag, generation)
        if self._stopped:
            settle.reject(requeue=True)
            return
        try:
            inner = unwrap(decode_body(message.body, message.headers))
            incoming = self._rpc_message(inner, settle, generation) if self._rpc \
                else self._notification(inner, settle, generation)
        except Exception as exc:  # MalformedMessage, or anything odd in a body
            LOG.warning("Rejecting a malformed message from queue of routing key %r: %s",
                        message.routing_key, exc)
            settle.reject(requeue=False)
            return
        if self._tracker.is_duplicate(incoming.unique_id):
            LOG.warning("Dropping a duplicate of acknowledged message %s (routing key %r)",
                        incoming.unique_id, message.routing_key)
            settle.ack()
            return
        self._incoming.put(incoming)

    def _rpc_message(self, inner: dict[str, Any], settle: _Settle,
                     generation: int) -> RpcMessage:
        request = parse_request(inner)
        LOG.debug("Received request %s (msg_id %s, reply queue %s)", request.unique_id,
                  request.msg_id, request.reply_q)
        return RpcMessage(self, request, settle, generation, self._tracker)

    def _notification(self, inner: dict[str, Any], settle: _Settle,
                      generation: int) -> NotificationMessage:
        unique_id = inner.get("_unique_id")
        ctxt, message = parse_notification(inner)
        return NotificationMessage(ctxt, message, settle, generation, self._tracker,
                                   unique_id if isinstance(unique_id, str) else None)

    # ------------------------------------------------------------------ any thread

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Up to ``max_messages`` messages, waiting up to ``timeout`` (None: until stopped)."""
        if self._stopped:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        out: list[IncomingMessage] = []
        while not out:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._incoming.get(timeout=remaining)
            except queue.Empty:
                return []
            if item is _STOP or self._stopped:
                self._incoming.put(_STOP)  # wake any other poller too
                return []
            self._keep_if_current(item, out)
            while len(out) < max_messages:
                try:
                    item = self._incoming.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._incoming.put(_STOP)
                    break
                self._keep_if_current(item, out)
            if deadline is not None and not out and time.monotonic() >= deadline:
                return []
        return out

    def _keep_if_current(self, item: Any, out: list[IncomingMessage]) -> None:
        if not self._conn.alive(item.generation):
            # Not remembered as seen: the broker redelivers it, and it must run then.
            LOG.debug("Dropping a message received before a reconnect (the broker "
                      "redelivers it)")
        else:
            self._tracker.track(item, item.unique_id)
            out.append(item)

    def stop(self) -> None:
        """Stop taking messages: cancel the consumers, hand buffered ones back, wake poll."""
        if self._stopped:
            return
        self._stopped = True
        self._incoming.put(_STOP)
        self._conn.unsubscribe(self._sub)
        while True:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item._settle(requeue=True)
        self._incoming.put(_STOP)

    def cleanup(self) -> None:
        """Stop, flush pending replies and acks, delete the owned fanout queue, disconnect."""
        if self._cleaned:
            return
        self._cleaned = True
        self.stop()
        give_back_unsettled(self._tracker)
        self._conn.close()
        if self._on_cleanup is not None:
            self._on_cleanup(self)

    # ------------------------------------------------------------------ replies

    def send_reply(self, message: RpcMessage, envelope: dict[str, str]) -> None:
        """Publish the final reply, retrying while its reply queue is missing (as oslo)."""
        reply_q, msg_id = message.reply_q, message.msg_id
        assert reply_q is not None and msg_id is not None
        if reply_q in self._obsolete:
            LOG.debug("Not replying to message ID %s: reply queue %s is gone", msg_id, reply_q)
            return
        body, headers = encode_body(envelope, self._settings.kombu_compression)
        deadline = time.monotonic() + self._settings.kombu_missing_consumer_retry_timeout
        LOG.debug("Sending the reply to msg_id %s to %s", msg_id, reply_q)
        self._publish_reply(reply_q, msg_id, body, headers, deadline)

    def _publish_reply(self, reply_q: str, msg_id: str, body: bytes,
                       headers: dict[str, Any] | None, deadline: float) -> None:
        publish = Publish(None, reply_q, body, mandatory=True, deadline=deadline,
                          headers=headers)
        future = self._conn.publish(publish)
        future.add_done_callback(partial(self._reply_done, publish, msg_id, deadline))

    def _reply_done(self, publish: Publish, msg_id: str, deadline: float,
                    future: Future[None]) -> None:
        reply_q, body, headers = publish.routing_key, publish.body, publish.headers
        exc = future.exception()
        if exc is not None:
            LOG.error("The reply to message ID %s (reply queue %s) could not be sent: %s",
                      msg_id, reply_q, exc)
            return
        if not publish.returned:
            return
        if time.monotonic() + _REPLY_RETRY_DELAY >= deadline or self._conn.closed:
            self._obsolete.add(reply_q)
            LOG.error("The reply to message ID %s failed to send after %d seconds due to a "
                      "missing queue (%s). Abandoning...", msg_id,
                      self._settings.kombu_missing_consumer_retry_timeout, reply_q)
            return
        LOG.debug("The reply to message ID %s could not be routed (reply queue %s missing); "
                  "retrying", msg_id, reply_q)
        self._conn.call_later(_REPLY_RETRY_DELAY, partial(
            self._publish_reply, reply_q, msg_id, body, headers, deadline))

    def send_heartbeat(self, message: RpcMessage, envelope: dict[str, str]) -> None:
        """Publish one call-monitor heartbeat; dropped if the bus is unreachable."""
        reply_q = message.reply_q
        assert reply_q is not None
        if reply_q in self._obsolete:
            return
        body, headers = encode_body(envelope, self._settings.kombu_compression)
        self._conn.publish(Publish(None, reply_q, body, mandatory=True, retry=0,
                                   headers=headers))
