"""An in-test connection factory for unit tests of the shared AMQP 0-9-1 layer.

:class:`FakeConnection` keeps the :class:`~messaging_amqp091.connection.Connection`
protocol's promises without a client library or a broker: a publish is
confirmed at once (or held, or returned when its routing key has no queue),
a subscription is consumed at once on the current channel generation, and
acks, rejects and delayed work are recorded for the test to read or run.
:meth:`FakeConnection.deliver` hands a delivery to the subscription that
consumes a queue, as a client library's consumer callback does. The driver,
its listeners and its reply queue run unchanged on top; the functional
suites run the same code over kombu and pika against a real RabbitMQ.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from messaging_amqp091.delivery import Delivery
from messaging_amqp091.driver import Amqp091Driver
from messaging_amqp091.options import Settings
from messaging_amqp091.work import Publish, Subscription

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure
from messaging.url import TransportURL

__all__ = ["FakeConnection", "FakeFactory", "fake_driver"]

#: an ack's place in :attr:`FakeConnection.settles` (a reject records its requeue flag)
ACK = None


class FakeConnection:
    """A connection of the shared layer with no I/O (see the module's docstring)."""

    def __init__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> None:
        self.settings = settings
        self.url = url
        self.purpose = purpose
        self.prefetch_count = prefetch_count
        self.name = f"fake:{purpose}"
        self.connects = 1
        self.failed_attempts = 0
        self.last_error: str | None = None
        self.blocked = None
        self.peak_unconfirmed = 0
        self.first_failure: Future[str] = Future()
        #: every publish handed over, in order
        self.published: list[Publish] = []
        #: (channel generation, delivery tag, ACK or the reject's requeue flag)
        self.settles: list[tuple[int, int, bool | None]] = []
        #: ("subscribe", queue names) and ("publish", routing key), in order
        self.events: list[tuple[str, Any]] = []
        #: work handed to :meth:`call_later`: (delay, function)
        self.delayed: list[tuple[float, Callable[[], None]]] = []
        #: routing keys no queue is bound to: a mandatory publish to one comes back
        self.unroutable: set[str] = set()
        #: leave publishes unconfirmed (their futures pending)
        self.hold_confirms = False
        self.started = False
        self._subs: list[Subscription] = []
        self._generation = 1
        self._closed = False
        self._tags = itertools.count(1)

    # ------------------------------------------------------------------ the protocol

    def start(self) -> None:
        self.started = True

    @property
    def connected(self) -> bool:
        return not self._closed

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def closed(self) -> bool:
        return self._closed

    def alive(self, generation: int) -> bool:
        return not self._closed and generation == self._generation

    def trouble(self) -> str | None:
        return "the connection is closed" if self._closed else None

    def consuming(self, sub: Subscription) -> bool:
        return sub in self._subs and sub.generation == self._generation

    def publish(self, message: Publish) -> Future[None]:
        self.published.append(message)
        self.events.append(("publish", message.routing_key))
        if self._closed:
            settle_future(message.future, exc=MessageDeliveryFailure("connection closed"))
        elif message.mandatory and message.routing_key in self.unroutable:
            message.returned = True  # basic.return, then the confirm
            settle_future(message.future, exc=message.undeliverable)
        elif not self.hold_confirms:
            settle_future(message.future, None)
        return message.future

    def ack(self, generation: int, tag: int) -> None:
        self.settles.append((generation, tag, ACK))

    def reject(self, generation: int, tag: int, requeue: bool) -> None:
        self.settles.append((generation, tag, requeue))

    def subscribe(self, sub: Subscription) -> Future[None]:
        if self._closed:
            settle_future(sub.ready, exc=MessageDeliveryFailure("connection closed"))
            return sub.ready
        self._subs.append(sub)
        self.events.append(("subscribe", [spec.name for spec in sub.queues]))
        sub.generation = self._generation
        settle_future(sub.ready, None)
        return sub.ready

    def unsubscribe(self, sub: Subscription, delete_owned: bool = False) -> Future[None]:
        sub.active = False
        if sub in self._subs:
            self._subs.remove(sub)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.delayed.append((delay, fn))

    def close(self, timeout: float = 5.0) -> None:
        """Closed: delayed work still pending runs now (and fails), as on the real connections."""
        self._closed = True
        self.run_delayed()

    # ------------------------------------------------------------------ for tests

    @property
    def subscriptions(self) -> list[Subscription]:
        """The subscriptions consumed now."""
        return list(self._subs)

    def deliver(self, queue: str, body: bytes, headers: dict[str, Any] | None = None, *,
                generation: int | None = None) -> int:
        """Hand ``body`` to whoever consumes ``queue``, as the broker would; its delivery tag."""
        sub = next(s for s in self._subs if any(spec.name == queue for spec in s.queues))
        tag = next(self._tags)
        sub.on_message(Delivery(body, headers, tag, "", queue),
                       self._generation if generation is None else generation)
        return tag

    def new_channel(self) -> None:
        """The channel was lost and replaced: earlier deliveries can no longer be settled."""
        self._generation += 1
        for sub in self._subs:
            sub.generation = self._generation

    def run_delayed(self) -> None:
        """Run the delayed work now."""
        delayed, self.delayed = self.delayed, []
        for _delay, fn in delayed:
            fn()


class FakeFactory:
    """A :data:`~messaging_amqp091.connection.ConnectionFactory` of :class:`FakeConnection`."""

    def __init__(self) -> None:
        self.made: list[FakeConnection] = []

    def __call__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> FakeConnection:
        conn = FakeConnection(settings, url, purpose=purpose, prefetch_count=prefetch_count)
        self.made.append(conn)
        return conn

    def only(self, purpose: str) -> FakeConnection:
        """The one connection built for ``purpose`` ("client", "rpc-server"...)."""
        (conn,) = [c for c in self.made if c.purpose == purpose]
        return conn


def fake_driver(query: str = "", conf: Any = None) -> tuple[Amqp091Driver, FakeFactory]:
    """The shared driver on fake connections, with ``query`` as the URL's options."""
    factory = FakeFactory()
    cls = type("FakeAmqp091Driver", (Amqp091Driver,),
               {"connection_factory": factory, "client_library": None})
    url = "rabbit://guest:secret@broker:5672/" + (f"?{query}" if query else "")
    return cls(conf, TransportURL.parse(url)), factory
