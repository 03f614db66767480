"""The client side of calls: one reply queue per driver, replies routed by ``_msg_id``.

As in oslo.messaging, the queue is ``reply_<uuid4 hex>`` with ``x-expires``,
declared on the first call and reused; servers reach it through the default
exchange. Replies are parsed on the connection's I/O thread and handed to a
:class:`~messaging.correlation.ReplyCorrelator`, which owns the calls in
flight as futures (deadlines, call-monitor gaps, cancellation, cleanup). The
reply queue's subscription is queued before the first request, so the queue
exists before any reply can be sent to it, and it is consumed again after
every reconnect.

With ``use_queue_manager`` the name is ``reply_<hostname>:<processname>:<n>``
(:mod:`messaging_amqp091.queue_names`): the slot is held until the queue is
closed, and the queue is left to expire rather than deleted, so a restarted
process consumes it again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid

from messaging.correlation import ReplyCorrelator
from messaging.envelope import parse_reply, unwrap

from .codec import decode_body
from .connection import Connection
from .delivery import Delivery
from .options import Settings
from .queue_names import QueueNameClaim, claim, reply_queue_name
from .topology import reply_queue
from .work import Subscription

__all__ = ["ReplyQueue"]

LOG = logging.getLogger(__name__)


class ReplyQueue:
    """The reply queue of one driver, feeding its :attr:`correlator`."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self._conn = conn
        #: the slot of a stable name (``use_queue_manager``), held until :meth:`close`
        self.claim: QueueNameClaim | None = None
        if settings.use_queue_manager:
            self.claim = claim(settings.hostname, settings.processname, "reply")
            #: the ``_reply_q`` put in requests
            self.queue_name = reply_queue_name(self.claim)
        else:
            self.queue_name = f"reply_{uuid.uuid4().hex}"
        spec = dataclasses.replace(reply_queue(settings, self.queue_name),
                                   owned=self.claim is None)
        self._sub = Subscription([spec], self._on_message, no_ack=True)
        self.correlator = ReplyCorrelator(self.queue_name, state=conn.trouble, listeners=lambda
                                          t: conn.consumers(f"{t.topic}.{t.server}" if t.server
                                                            else str(t.topic)))
        self._lock = threading.Lock()
        self._started = False

    def ensure_started(self) -> None:
        """Subscribe to the reply queue (once; the connection consumes it after reconnects)."""
        if self._started:
            return
        with self._lock:
            if not self._started:
                self._conn.subscribe(self._sub)
                self._started = True

    def _on_message(self, message: Delivery, generation: int) -> None:
        """I/O thread: parse one reply and hand it to the correlator."""
        try:
            frame = parse_reply(unwrap(decode_body(message.body, message.headers)))
        except Exception as exc:  # MalformedMessage, or anything odd in a reply
            LOG.warning("Dropping a malformed reply on %s: %s", self.queue_name, exc)
            return
        self.correlator.deliver(frame)

    def close(self, reason: str = "the transport was cleaned up") -> None:
        """End every waiting call at once with ``MessagingTimeout`` naming ``reason``."""
        self.correlator.close(reason)

    def release_name(self) -> None:
        """Give back a stable name's slot: call once its connection is closed (no consumer)."""
        if self.claim is not None:
            self.claim.release()
