"""What other threads hand a connection: messages to publish and queues to consume.

Plain data with its rules (budgets, deadlines, what a broker's return
means); each driver's connection carries it out with its own client
library on its I/O thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from .backlog import Task
from .delivery import Delivery
from .topology import ExchangeSpec, QueueSpec

__all__ = ["PROPERTIES", "Operation", "Publish", "Subscription"]

#: AMQP properties of every message, as oslo.messaging (kombu, ``serializer='json'``) sets them.
PROPERTIES = {"content_type": "application/json", "content_encoding": "utf-8",
              "delivery_mode": 2, "priority": 0}


class Publish(Task):
    """One message to publish and its outcome.

    The future's result is None once the broker routed the message
    (confirmed, when confirms are on); :attr:`returned` then tells whether a
    ``mandatory`` publish came back unroutable.

    :param exchange: declared before the first publish on a channel; None
        means the default exchange.
    :param queue: also declared (and bound) first: notifications do this so
        they wait for their first listener.
    :param mandatory: ask the broker to return the message if no queue takes it.
    :param undeliverable: with ``mandatory``, a return fails the future at once
        with this error (``at_least_once`` sends); without it, a return only
        sets :attr:`returned` (replies, which are retried).
    :param deadline: ``time.monotonic()`` after which the message is useless
        (a call's) or the send gives up (a cast's send timeout).
    :param expire: set the AMQP ``expiration`` to the time left to ``deadline``.
    :param retry: connection attempts allowed to fail (None: until the deadline).
    :param call: a call's request: past its deadline the future fails with
        ``MessagingTimeout`` (the call's own timeout says more), not
        ``MessageDeliveryFailure``.
    """

    __slots__ = ("body", "call", "exchange", "expire", "headers", "mandatory", "queue",
                 "returned", "routing_key", "undeliverable")

    def __init__(self, exchange: ExchangeSpec | None, routing_key: str, body: bytes, *,
                 mandatory: bool = False, undeliverable: BaseException | None = None,
                 queue: QueueSpec | None = None, deadline: float | None = None,
                 expire: bool = False, retry: int | None = None,
                 headers: dict[str, Any] | None = None, call: bool = False) -> None:
        super().__init__(retry, deadline)
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.mandatory = mandatory
        self.undeliverable = undeliverable
        self.queue = queue
        self.expire = expire
        self.headers = headers
        self.call = call
        #: a mandatory publish came back unroutable (``basic.return``)
        self.returned = False

    @property
    def exchange_name(self) -> str:
        """The exchange published to (``''``: the default exchange)."""
        return self.exchange.name if self.exchange is not None else ""

    def expiration(self, now: float) -> str | None:
        """The AMQP ``expiration`` (milliseconds left, as text), or None."""
        if self.expire and self.deadline is not None:
            return str(max(1, int((self.deadline - now) * 1000)))
        return None

    def matches_return(self, routing_key: str, body: bytes) -> bool:
        """True if a ``basic.return`` of ``routing_key`` and ``body`` is this message's."""
        return (self.mandatory and not self.returned and self.routing_key == routing_key
                and self.body == body)

    def describe(self) -> str:
        return f"exchange {self.exchange_name!r} routing key {self.routing_key!r}"


class Operation(Task):
    """A function of the connection's live session, run on its I/O thread."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any], retry: int | None,
                 deadline: float | None) -> None:
        super().__init__(retry, deadline)
        self.fn = fn


class Subscription:
    """Queues consumed with one callback, declared and consumed after every (re)connect.

    ``on_message(delivery, generation)`` runs on the I/O thread for each
    delivery; ``generation`` identifies the channel, so that a later ack can
    tell it is stale (the broker requeued the message when the channel went).
    ``ready`` completes once the queues are first consumed, or fails if the
    broker refused them (a declaration, e.g. 406 PRECONDITION_FAILED; or the
    login, though the subscription then stays and is consumed once a login
    works).
    """

    def __init__(self, queues: Sequence[QueueSpec],
                 on_message: Callable[[Delivery, int], None], *,
                 no_ack: bool = False) -> None:
        self.queues = list(queues)
        self.on_message = on_message
        self.no_ack = no_ack
        self.tags: list[str] = []
        self.active = True
        #: the channel generation the queues are consumed on (0: not consumed)
        self.generation = 0
        #: why the broker refused the subscription (it is then given up)
        self.error: str | None = None
        self.ready: Future[None] = Future()

    def names(self) -> set[str]:
        """Names of its queues and of the exchanges they are bound to (to tell blame)."""
        out = {spec.name for spec in self.queues}
        out.update(b.exchange.name for spec in self.queues for b in spec.bindings)
        return out
