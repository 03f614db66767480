"""Received messages as drivers hand them to the server loop.

A driver subclasses :class:`RequestMessage` (RPC requests) and
:class:`NotificationMessage`, implementing only how to settle one delivery
on its bus (:meth:`TrackedMessage._settle`) and, for requests, how to send
a reply frame (:meth:`RequestMessage._send_reply`). Settling once,
de-duplicating after settling (:mod:`messaging.settlement`), building
replies and heartbeats (:mod:`messaging.envelope`) and never letting a
reply error escape are done here, the same way for every driver.
"""

from __future__ import annotations

import abc
import logging
from typing import Any

from .driver import IncomingMessage, Reply, RpcIncomingMessage
from .envelope import Request, build_heartbeat, wrap, wrap_reply
from .settlement import DeliveryTracker

__all__ = ["NotificationMessage", "RequestMessage", "TrackedMessage", "give_back_unsettled"]

LOG = logging.getLogger(__name__)


class TrackedMessage(IncomingMessage):
    """A delivery settled through its listener's :class:`DeliveryTracker`.

    The tracker decides whether an ``acknowledge``/``requeue`` is the first
    settlement; only that one reaches :meth:`_settle`.
    """

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any],
                 tracker: DeliveryTracker[Any], unique_id: str | None = None) -> None:
        super().__init__(ctxt, message)
        self.unique_id = unique_id
        self._tracker = tracker

    def acknowledge(self) -> None:
        """Settle: the bus forgets the message (its id is remembered against redelivery)."""
        if self._tracker.settle(self, requeue=False):
            self._settle(requeue=False)

    def requeue(self) -> None:
        """Settle by giving the message back to the bus for redelivery."""
        if self._tracker.settle(self, requeue=True):
            self._settle(requeue=True)

    @abc.abstractmethod
    def _settle(self, requeue: bool) -> None:
        """Acknowledge (``requeue`` False) or give back this delivery on the bus; thread-safe."""


class NotificationMessage(TrackedMessage):
    """A received notification: ``ctxt`` and the notification dict (priority, payload...)."""


class RequestMessage(TrackedMessage, RpcIncomingMessage):
    """A received RPC request, as :func:`~messaging.envelope.parse_request` reads it."""

    def __init__(self, request: Request, tracker: DeliveryTracker[Any]) -> None:
        super().__init__(request.ctxt, request.message, tracker, request.unique_id)
        self.msg_id = request.msg_id
        self.reply_q = request.reply_q
        self.client_timeout = request.client_timeout

    @property
    def wants_reply(self) -> bool:
        """True for a call: the request names a reply queue and a message id."""
        return self.msg_id is not None and self.reply_q is not None

    def reply(self, reply: Reply) -> None:
        """Send the final answer (``ending: true``); nothing for a cast; never raises."""
        if self.msg_id is None or self.reply_q is None:
            return
        try:
            self._send_reply(wrap_reply(self.msg_id, reply.result, reply.failure), final=True)
        except Exception:
            LOG.exception("Could not send the reply to message ID %s (reply queue %s); the "
                          "caller will time out", self.msg_id, self.reply_q)

    def heartbeat(self) -> None:
        """Tell the caller the call still runs (``ending: false``); never raises."""
        if self.msg_id is None or self.reply_q is None:
            return
        try:
            self._send_reply(wrap(build_heartbeat(self.msg_id)), final=False)
        except Exception:
            LOG.exception("Could not send a call-monitor heartbeat to message ID %s",
                          self.msg_id)

    @abc.abstractmethod
    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        """Put one reply frame (already enveloped) on its way to ``reply_q``.

        ``final`` tells the answer from a heartbeat: drivers may retry the
        answer while the reply queue is missing, and drop a heartbeat.
        """


def give_back_unsettled(tracker: DeliveryTracker[TrackedMessage]) -> int:
    """Give back to the bus every message of ``tracker`` still unsettled; return how many.

    What ``Listener.cleanup`` owes the bus: messages handed out by ``poll``
    and never acknowledged or requeued go back for redelivery, as an AMQP
    channel's do when it closes. They count as settled afterwards, so a
    late ``acknowledge`` from an executor thread does nothing.
    """
    unsettled = tracker.take_unsettled()
    for message in unsettled:
        message._settle(requeue=True)
    if unsettled:
        LOG.debug("Gave back %d unsettled message(s) at listener cleanup", len(unsettled))
    return len(unsettled)
