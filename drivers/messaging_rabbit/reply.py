"""The client side of calls: one reply queue per driver, replies routed by ``_msg_id``.

As in oslo.messaging, the queue is ``reply_<uuid4 hex>`` with ``x-expires``,
declared on the first call and reused; servers reach it through the default
exchange. Each waiting call owns a :class:`queue.SimpleQueue` that the I/O
thread feeds; a failed publish is fed in too, so the caller learns at once.
The reply queue is declared by a task queued before the call's request, so
setting it up counts against the call's deadline like everything else.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any

import amqp

from messaging.driver import Reply
from messaging.envelope import MalformedMessage, ReplyFrame, parse_reply, unwrap
from messaging.exceptions import MessagingTimeout

from .codec import decode_body
from .connection import IOConnection, Subscription
from .options import Settings
from .topology import reply_queue

__all__ = ["ReplyWaiter"]

LOG = logging.getLogger(__name__)


class ReplyWaiter:
    """Owns the reply queue of one driver and the calls waiting on it."""

    def __init__(self, conn: IOConnection, settings: Settings) -> None:
        self._conn = conn
        #: the ``_reply_q`` put in requests
        self.queue_name = f"reply_{uuid.uuid4().hex}"
        spec = dataclasses.replace(reply_queue(settings, self.queue_name), owned=True)
        self._sub = Subscription([spec], self._on_message, no_ack=True)
        self._waiters: dict[str, queue.SimpleQueue[Any]] = {}
        self._lock = threading.Lock()
        self._ready: Future[None] | None = None

    def ensure_started(self) -> None:
        """Queue the reply queue's declaration and consumer (once; redone after reconnects).

        Queued before the first request, so the queue exists before any reply
        can be sent to it. If it fails (e.g. a refused login), the next call
        tries again.
        """
        if self._ready is not None:
            return
        with self._lock:
            if self._ready is None:
                ready = self._conn.subscribe(self._sub)
                self._ready = ready
                ready.add_done_callback(self._subscribed)

    def _subscribed(self, future: Future[None]) -> None:
        if future.exception() is not None:
            self._ready = None

    def register(self, msg_id: str) -> queue.SimpleQueue[Any]:
        """Start collecting replies to ``msg_id``."""
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiters[msg_id] = q
        return q

    def unregister(self, msg_id: str) -> None:
        """Stop collecting replies to ``msg_id``; later ones are dropped."""
        self._waiters.pop(msg_id, None)

    def fail(self, msg_id: str, future: Future[Any]) -> None:
        """Done-callback of a request's publish: wake the caller if it failed.

        A request dropped at its deadline is not forwarded: the caller's own
        timeout, due at the same moment, says more.
        """
        exc = future.exception()
        if exc is not None and not isinstance(exc, MessagingTimeout):
            q = self._waiters.get(msg_id)
            if q is not None:
                q.put(exc)

    def _on_message(self, message: amqp.Message, generation: int) -> None:
        """I/O thread: parse one reply and hand it to its caller."""
        try:
            frame = parse_reply(unwrap(decode_body(message.body, message.headers)))
        except MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply on %s: %s", self.queue_name, exc)
            return
        q = self._waiters.get(frame.msg_id) if isinstance(frame.msg_id, str) else None
        if q is None:
            LOG.debug("No caller waits for reply to message ID %s (late or duplicate)",
                      frame.msg_id)
            return
        LOG.debug("Received a reply to msg_id %s (ending: %s)", frame.msg_id, frame.ending)
        q.put(frame)

    def wait(self, msg_id: str, q: queue.SimpleQueue[Any], deadline: float,
             call_monitor_timeout: float | None, what: str) -> Reply:
        """Block until the final reply, a failure or the deadline.

        With ``call_monitor_timeout`` the call also fails when neither a reply
        nor a server heartbeat arrived for that long (oslo's call monitor).
        """
        result: Any = None
        cm_deadline = time.monotonic() + call_monitor_timeout if call_monitor_timeout else None
        while True:
            limit = deadline if cm_deadline is None else min(deadline, cm_deadline)
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise self._timeout(msg_id, what, cm_deadline is not None and
                                    cm_deadline < deadline)
            try:
                item = q.get(timeout=remaining)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            frame: ReplyFrame = item
            if frame.failure is not None:
                return Reply(failure=frame.failure)
            if frame.result is not None:
                result = frame.result
            if frame.ending:
                return Reply(result=result)
            if frame.result is None and call_monitor_timeout:
                cm_deadline = time.monotonic() + call_monitor_timeout

    def _timeout(self, msg_id: str, what: str, monitor: bool) -> MessagingTimeout:
        why = "no call-monitor heartbeat" if monitor else "no reply"
        text = (f"Timed out waiting for a reply to message ID {msg_id} ({what}; reply queue "
                f"{self.queue_name}): {why} in time")
        if not self._conn.connected and self._conn.last_error:
            text += f"; the broker is unreachable ({self._conn.last_error})"
        return MessagingTimeout(text)
