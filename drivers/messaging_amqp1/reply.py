"""The client side of calls: one reply link per driver, replies matched by ``_msg_id``.

On RabbitMQ the client names its reply queue (``reply_<uuid>``, consumed
through ``/queue/reply_<uuid>``, which declares it) and servers answer
through ``/queue`` with that name as the subject. On a Qpid-style peer the
reply link is dynamic: the peer assigns its address at attach, and every
reconnect brings a new one. Either way a request names the reply address
its link has *now*, so requests wait until the reply link is attached: a
reply can never be routed to a queue that does not exist yet.

Waiting calls, deadlines and call-monitor gaps are the core's
:class:`~messaging.correlation.ReplyCorrelator`.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

from proton import Delivery, Message

from messaging.correlation import ReplyCorrelator
from messaging.envelope import MalformedMessage, new_id, parse_reply, unwrap

from .connection import AmqpConnection, Outgoing, ReceiverLink, Subscription
from .listener import read_body
from .options import Settings

__all__ = ["ReplyReceiver"]

LOG = logging.getLogger(__name__)


class ReplyReceiver:
    """The reply link of a driver's client connection and the calls waiting on it."""

    def __init__(self, conn: AmqpConnection, settings: Settings) -> None:
        self.conn = conn
        #: the reply queue's name where the client names it (RabbitMQ)
        self.queue_name = f"reply_{new_id()}"
        self.correlator = ReplyCorrelator(self.queue_name, state=conn.describe_trouble)
        #: the address requests name as ``_reply_q`` now (None while not attached)
        self.address: str | None = None
        self._waiting: collections.deque[Outgoing] = collections.deque()
        self._sub = Subscription(lambda p: [p.reply_source(self.queue_name)], self._on_message,
                                 credit=settings.reply_link_credit, on_change=self._changed,
                                 presettled=True)

    def start(self) -> None:
        """Attach the reply link now and after every reconnect (I/O thread)."""
        self.conn.subscribe(self._sub)
        self.conn.start()

    def send(self, out: Outgoing) -> None:
        """Send a request once the reply link is attached (I/O thread)."""
        if self.address is not None:
            self.conn.send(out)
            return
        if self._sub.refused:  # e.g. RabbitMQ refusing a dynamic reply node: fail fast
            out.fail(self._sub.refused)
            return
        now = time.monotonic()
        self._waiting = collections.deque(o for o in self._waiting if not o.expire_if_due(now))
        self._waiting.append(out)

    def _changed(self, sub: Subscription) -> None:
        profile = self.conn.profile
        if not sub.consuming or profile is None:
            self.address = None
            if sub.refused:
                waiting, self._waiting = self._waiting, collections.deque()
                for out in waiting:
                    out.fail(sub.refused)
            return
        link = sub.links[0]
        self.address = link.address if profile.dynamic_replies else self.queue_name
        LOG.debug("Reply link attached: requests name %s", self.address)
        waiting, self._waiting = self._waiting, collections.deque()
        for out in waiting:
            if not out.future.done():
                self.conn.send(out)

    def _on_message(self, link: ReceiverLink, dlv: Any, message: Message) -> None:
        link.settle(dlv, Delivery.ACCEPTED)
        try:
            frame = parse_reply(unwrap(read_body(message)))
        except MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply on %s: %s", self.address, exc)
            return
        self.correlator.deliver(frame)

    def close(self, reason: str = "the transport was cleaned up") -> None:
        """End every waiting call (any thread)."""
        self.correlator.close(reason)
        for out in list(self._waiting):
            out.fail(reason)
