"""RPC servers and notification listeners: their links, messages, settlement and replies.

Each listener owns one :class:`~messaging_amqp1.connection.AmqpConnection`
(its replies go out on it too). Deliveries are parsed on the I/O thread and
queued for :meth:`AmqpListener.poll`; settlements and replies from executor
threads are handed back to the I/O thread.

Settlement (the driver's ``capabilities`` say the same):

- RPC requests are at-most-once: the core acknowledges (``accepted``) them
  before dispatch; a redelivered copy of an acknowledged request is
  recognised by its ``_unique_id`` and dropped (:mod:`messaging.settlement`).
- Notifications are at-least-once: ``accepted`` when the endpoint returns;
  ``requeue`` settles ``modified`` (delivery failed), which RabbitMQ requeues.
- Messages taken but given back (stop, cleanup) are ``released``.
- A malformed body is ``rejected`` with an ``amqp:decode-error`` condition
  and the listener keeps serving.
- Link credit is given back as deliveries are settled, so ``*_server_credit``
  bounds the unsettled messages a listener holds (like an AMQP 0-9-1 prefetch).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from proton import Condition, Delivery, Message

from messaging.driver import IncomingMessage, Listener
from messaging.envelope import (
    MalformedMessage,
    decode,
    encode,
    parse_notification,
    parse_request,
    unwrap,
)
from messaging.incoming import NotificationMessage, RequestMessage, TrackedMessage
from messaging.settlement import DeliveryTracker

from .addressing import AddressProfile, Source
from .connection import AmqpConnection, Outgoing, ReceiverLink, Subscription
from .options import Settings

__all__ = ["AmqpListener", "AmqpNotification", "AmqpRequest", "json_message", "read_body"]

LOG = logging.getLogger(__name__)
_STOP = object()
#: Seconds cleanup waits for answers already handed to the I/O thread to be sent.
_REPLY_FLUSH = 5.0
CONTENT_TYPE = "application/json"


def json_message(body: bytes, **properties: Any) -> Message:
    """A proton message whose body is ``body`` as one AMQP ``data`` section (JSON bytes)."""
    return Message(body=body, inferred=True, content_type=CONTENT_TYPE, **properties)


def read_body(message: Message) -> Any:
    """The decoded JSON of a received message (``data`` or a string ``amqp-value``)."""
    body = message.body
    if isinstance(body, memoryview | bytearray):
        body = bytes(body)
    if not isinstance(body, bytes | str):
        raise MalformedMessage(f"body is an AMQP {type(body).__name__}, not JSON bytes")
    return decode(body)


class _Delivered:
    """Where a message came from, so it can be settled on its link."""

    __slots__ = ("dlv", "link", "listener")

    def __init__(self, listener: AmqpListener, link: ReceiverLink, dlv: Any) -> None:
        self.listener = listener
        self.link = link
        self.dlv = dlv

    def settle(self, outcome: int, failed: bool = False) -> None:
        link, dlv = self.link, self.dlv
        self.listener._io(lambda: link.settle(dlv, outcome, failed=failed))


class _Settled(TrackedMessage):
    """Settles on the link it came from: ``accepted``, or ``modified`` (failed) to requeue."""

    def __init__(self, delivered: _Delivered, *args: Any) -> None:
        super().__init__(*args)
        self.delivered = delivered

    def _settle(self, requeue: bool) -> None:
        self.delivered.settle(Delivery.MODIFIED if requeue else Delivery.ACCEPTED,
                              failed=requeue)


class AmqpRequest(_Settled, RequestMessage):
    """An RPC request; its replies go through the listener's connection."""

    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        self.delivered.listener.send_reply(self, envelope, final)


class AmqpNotification(_Settled, NotificationMessage):
    """A notification; ``requeue`` settles it ``modified`` so the broker delivers it again."""


class AmqpListener(Listener):
    """Messages of one subscription (an RPC server's sources, or notification sources).

    :param sources: the sources for a connection's address profile.
    :param rpc: parse deliveries as RPC requests (else as notifications).
    """

    def __init__(self, conn: AmqpConnection, settings: Settings,
                 sources: Callable[[AddressProfile], Sequence[Source]], *, rpc: bool,
                 credit: int, on_cleanup: Callable[[AmqpListener], None] | None = None,
                 ) -> None:
        self.conn = conn
        self._settings = settings
        self._rpc = rpc
        self._on_cleanup = on_cleanup
        self._incoming: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._sub = Subscription(sources, self._on_message, credit=credit,
                                 on_change=self._on_change)
        self._stopped = False
        self._cleaned = False
        self._state = threading.Condition()
        self._unreachable: str | None = None
        #: answers handed to the I/O thread and not yet sent; cleanup lets them go out
        self._replies: set[Future[None]] = set()

    # ------------------------------------------------------------------ I/O thread

    def _io(self, fn: Callable[[], None]) -> None:
        try:
            self.conn.loop.submit(fn)
        except Exception:  # the transport is gone: the broker requeues what was unsettled
            LOG.debug("I/O thread gone; dropped a settlement or reply")

    def begin(self) -> None:
        """Subscribe and connect (I/O thread)."""
        self.conn.subscribe(self._sub)
        self.conn.start()
        self.conn.when_ready().add_done_callback(self._attempted)

    def _attempted(self, future: Future[None]) -> None:
        exc = future.exception()
        with self._state:
            self._unreachable = str(exc) if exc is not None else None
            self._state.notify_all()

    def _on_change(self, sub: Subscription) -> None:
        with self._state:
            self._state.notify_all()

    def _on_message(self, link: ReceiverLink, dlv: Any, message: Message) -> None:
        if self._stopped:
            link.settle(dlv, Delivery.RELEASED, credit=False)
            return
        delivered = _Delivered(self, link, dlv)
        try:
            inner = unwrap(read_body(message))
            incoming = self._request(delivered, inner) if self._rpc \
                else self._notification(delivered, inner)
        except MalformedMessage as exc:
            LOG.warning("Rejecting a malformed message from %r: %s", link.address, exc)
            link.settle(dlv, Delivery.REJECTED,
                        condition=Condition("amqp:decode-error", str(exc)))
            return
        if self._tracker.is_duplicate(incoming.unique_id):
            LOG.warning("Dropping a duplicate of acknowledged message %s (from %r)",
                        incoming.unique_id, link.address)
            link.settle(dlv, Delivery.ACCEPTED)
            return
        self._incoming.put(incoming)

    def _request(self, delivered: _Delivered, inner: dict[str, Any]) -> TrackedMessage:
        request = parse_request(inner)
        LOG.debug("Received request %s (msg_id %s, reply to %s)", request.unique_id,
                  request.msg_id, request.reply_q)
        return AmqpRequest(delivered, request, self._tracker)

    def _notification(self, delivered: _Delivered, inner: dict[str, Any]) -> TrackedMessage:
        unique_id = inner.get("_unique_id")
        ctxt, message = parse_notification(inner)
        return AmqpNotification(delivered, ctxt, message, self._tracker,
                                unique_id if isinstance(unique_id, str) else None)

    # ------------------------------------------------------------------ any thread

    def wait_started(self, timeout: float) -> str | None:
        """Block until consuming, refused, or every host of the URL failed once (or ``timeout``).

        Returns the refusal text when the broker refused the subscription.
        """
        deadline = time.monotonic() + timeout
        with self._state:
            while True:
                if self._sub.refused:
                    return self._sub.refused
                if self._sub.consuming or self._unreachable:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._state.wait(left)

    @property
    def consuming(self) -> bool:
        """True while every source of the subscription is attached."""
        return not self._stopped and self._sub.consuming

    @property
    def last_error(self) -> str | None:
        """Why the listener is not consuming (never contains a password)."""
        if self._sub.refused:
            return self._sub.refused
        return self.conn.last_error

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Up to ``max_messages`` messages, waiting up to ``timeout`` (None: until stopped).

        Messages whose link is gone since they arrived are dropped unseen (the
        broker delivers them again), so they are not tracked as taken.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        out: list[IncomingMessage] = []
        while not out:
            first = self._take(deadline)
            if first is None:
                return []
            for item in (first, *self._take_ready(max_messages - 1)):
                if item.delivered.link.alive:
                    self._tracker.track(item, item.unique_id)
                    out.append(item)
                else:
                    LOG.debug("Dropping a message whose link is gone (it is redelivered)")
        return out

    def _take(self, deadline: float | None) -> Any:
        """The next buffered message, waiting until ``deadline``; None if none or stopped."""
        if self._stopped:
            return None
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            item = self._incoming.get(timeout=wait)
        except queue.Empty:
            return None
        if item is _STOP or self._stopped:
            self._incoming.put(_STOP)  # every other poller wakes too
            if isinstance(item, _Settled):
                item.delivered.settle(Delivery.RELEASED)
            return None
        return item

    def _take_ready(self, count: int) -> list[Any]:
        """Up to ``count`` more buffered messages, without waiting."""
        items: list[Any] = []
        while len(items) < count:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._incoming.put(_STOP)
                break
            items.append(item)
        return items

    def stop(self) -> None:
        """Stop taking messages: drain the links' credit, give back what is buffered."""
        if self._stopped:
            return
        self._stopped = True
        self._incoming.put(_STOP)
        sub = self._sub

        def pause() -> None:
            sub.paused = True
            for link in sub.links:
                if link.plink is not None:
                    link.plink.drain(0)
        self._io(pause)
        while True:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item.delivered.settle(Delivery.RELEASED)
        self._incoming.put(_STOP)
        with self._state:
            self._state.notify_all()

    def cleanup(self) -> None:
        """Stop, give back unsettled messages, detach and close the connection."""
        if self._cleaned:
            return
        self._cleaned = True
        self.stop()
        for message in self._tracker.take_unsettled():
            assert isinstance(message, _Settled)
            message.delivered.settle(Delivery.RELEASED)
        with self._state:
            replies = list(self._replies)
        if replies:  # calls answered just before the server stopped: let the answers leave
            concurrent.futures.wait(replies, timeout=_REPLY_FLUSH)
        self._io(self.conn.close)
        if self._on_cleanup is not None:
            self._on_cleanup(self)

    # ------------------------------------------------------------------ replies

    def send_reply(self, message: AmqpRequest, envelope: dict[str, str], final: bool) -> None:
        """Send a reply frame to the caller's reply address through this listener's connection.

        The answer is bounded by ``default_reply_timeout`` and retried up to
        ``default_reply_retry`` times; a heartbeat is dropped unless connected.
        """
        reply_q, msg_id = message.reply_q, message.msg_id
        assert reply_q is not None and msg_id is not None
        s = self._settings
        body = encode(envelope)
        out = Outgoing(lambda p: p.reply(reply_q),
                       lambda p: json_message(body, correlation_id=msg_id),
                       what=f"reply to message ID {msg_id} (reply address {reply_q})",
                       deadline=time.monotonic() + s.default_reply_timeout,
                       retry=s.default_reply_retry if final else 0,
                       presettled=s.presettle("rpc-reply"), only_if_connected=not final)
        if final:
            with self._state:
                self._replies.add(out.future)
            out.future.add_done_callback(self._reply_done)
        conn = self.conn
        self._io(lambda: conn.send(out))


    def _reply_done(self, future: Future[None]) -> None:
        with self._state:
            self._replies.discard(future)
        exc = future.exception()
        if exc is not None:
            LOG.error("%s; the caller will time out", exc)
