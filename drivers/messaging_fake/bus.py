"""The in-process broker behind ``fake://``: RabbitMQ's topology, in memory.

One :class:`Bus` per virtual host is shared by every driver of the process
(:func:`get_bus`), so two transports on the same vhost talk to each other
and different vhosts are isolated, as on a real broker.

The model is AMQP 0-9-1's, reduced to what oslo.messaging uses:

- a *queue* holds message bodies (the exact bytes a real driver would send)
  in FIFO order, survives its consumers (non-auto-delete) until deleted;
- an *exchange* routes by exact routing key to the queues bound to it
  (topic exchanges with literal keys, fanout exchanges with the key ``""``);
  a message nothing is bound to is dropped, as RabbitMQ drops it;
- the default exchange routes to the queue named by the routing key
  (:meth:`Bus.publish_direct`, used for replies).

Consumers are either *pull* (:class:`Consumer`, one per listener, possibly
on several queues) or *push* (a queue's ``sink``, used by the reply waiter:
the body is handed over in the publisher's thread, without the bus lock).
Everything is event-driven: a publish wakes one waiting consumer of the
queue through a :class:`threading.Condition` sharing the bus lock; nobody
polls with sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Bus", "Consumer", "Queue", "StoredMessage", "get_bus", "reset", "DEFAULT_VHOST"]

LOG = logging.getLogger(__name__)

#: RabbitMQ's default virtual host; ``fake://`` and ``fake:///`` use it.
DEFAULT_VHOST = "/"

Sink = Callable[[bytes], None]


@dataclass(slots=True)
class StoredMessage:
    """One message on a queue: its bytes and, for call requests, when it expires."""

    body: bytes
    #: ``time.monotonic()`` after which the message is dropped instead of delivered
    #: (RabbitMQ's per-message ``expiration``), or None.
    expires_at: float | None = None
    redelivered: bool = False

    def expired(self, now: float) -> bool:
        """True if the message's deadline passed."""
        return self.expires_at is not None and now >= self.expires_at


class Queue:
    """A named FIFO of messages with its consumers. Guarded by the owning bus's lock."""

    def __init__(self, name: str, sink: Sink | None = None) -> None:
        self.name = name
        self.messages: deque[StoredMessage] = deque()
        self.consumers: list[Consumer] = []
        self.bindings: set[tuple[str, str]] = set()
        #: Push consumer: receives every body instead of it being stored.
        self.sink = sink
        self._next = 0

    def wake_one(self, exclude: Consumer | None = None) -> None:
        """Wake one waiting consumer (round-robin), if any. Caller holds the bus lock."""
        count = len(self.consumers)
        for i in range(count):
            consumer = self.consumers[(self._next + i) % count]
            if consumer is not exclude and consumer.waiting and not consumer.stopped:
                self._next = (self._next + i + 1) % count
                consumer.wake()
                return

    def __repr__(self) -> str:
        return f"<Queue {self.name} messages={len(self.messages)}>"


class Consumer:
    """A pull subscription to one or more queues of a bus.

    :meth:`get` blocks on a condition sharing the bus lock until one of the
    queues has a message, the deadline passes, or :meth:`stop` is called.
    """

    def __init__(self, bus: Bus, queues: Iterable[Queue]) -> None:
        self._bus = bus
        self._cond = threading.Condition(bus.lock)
        self.queues: list[Queue] = list(queues)
        self.waiting = False
        self.stopped = False
        self._next = 0

    def wake(self) -> None:
        """Wake this consumer's blocked :meth:`get`. Caller holds the bus lock."""
        self.waiting = False
        self._cond.notify()

    def get(self, max_messages: int, timeout: float | None,
            ) -> list[tuple[Queue, StoredMessage]]:
        """Take up to ``max_messages`` messages, waiting up to ``timeout`` (None: forever).

        Returns an empty list when the timeout passed or the consumer was stopped.
        """
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._bus.lock:
            while True:
                if self.stopped:
                    return []
                taken = self._take_locked(max(max_messages, 1))
                if taken:
                    return taken
                if deadline is None:
                    remaining = None
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                self.waiting = True
                try:
                    self._cond.wait(remaining)
                finally:
                    self.waiting = False

    def _take_locked(self, max_messages: int) -> list[tuple[Queue, StoredMessage]]:
        taken: list[tuple[Queue, StoredMessage]] = []
        count = len(self.queues)
        if not count:
            return taken
        now = time.monotonic()
        start = self._next
        self._next = (self._next + 1) % count  # rotate so no queue starves the others
        for i in range(count):
            queue = self.queues[(start + i) % count]
            while queue.messages and len(taken) < max_messages:
                msg = queue.messages.popleft()
                if msg.expired(now):
                    LOG.debug("Dropping expired message from queue %s", queue.name)
                    continue
                taken.append((queue, msg))
        for queue in self.queues:  # what we leave behind goes to another waiting consumer
            if queue.messages:
                queue.wake_one(exclude=self)
        return taken

    def stop(self) -> None:
        """Stop taking messages; a blocked :meth:`get` returns ``[]`` at once."""
        with self._bus.lock:
            if self.stopped:
                return
            self.stopped = True
            self._cond.notify_all()
            for queue in self.queues:  # a wake-up meant for us goes to someone else
                if queue.messages:
                    queue.wake_one(exclude=self)

    def close(self) -> None:
        """Stop and detach from every queue (the queues themselves stay)."""
        self.stop()
        with self._bus.lock:
            for queue in self.queues:
                if self in queue.consumers:
                    queue.consumers.remove(self)
            self.queues = []


class Bus:
    """Exchanges, bindings and queues of one virtual host. Thread-safe."""

    def __init__(self, vhost: str) -> None:
        self.vhost = vhost
        self.lock = threading.Lock()
        self._queues: dict[str, Queue] = {}
        #: (exchange, routing key) -> bound queues, in binding order.
        self._bindings: dict[tuple[str, str], dict[str, Queue]] = {}

    # -- topology ---------------------------------------------------------------------

    def declare_queue(self, name: str, bindings: Iterable[tuple[str, str]] = (),
                      sink: Sink | None = None) -> Queue:
        """Create queue ``name`` if missing and bind it to each ``(exchange, key)``."""
        with self.lock:
            return self._declare_locked(name, bindings, sink)

    def _declare_locked(self, name: str, bindings: Iterable[tuple[str, str]],
                        sink: Sink | None = None) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = Queue(name, sink)
            LOG.debug("Declared queue %s on vhost %s", name, self.vhost)
        for binding in bindings:
            self._bindings.setdefault(binding, {})[name] = queue
            queue.bindings.add(binding)
        return queue

    def delete_queue(self, name: str) -> None:
        """Delete a queue, its bindings and its messages; its consumers stop."""
        with self.lock:
            queue = self._queues.pop(name, None)
            if queue is None:
                return
            for binding in queue.bindings:
                bound = self._bindings.get(binding)
                if bound is not None:
                    bound.pop(name, None)
                    if not bound:
                        del self._bindings[binding]
            dropped = len(queue.messages)
            queue.messages.clear()
            consumers, queue.consumers = queue.consumers, []
        for consumer in consumers:
            consumer.stop()
        LOG.debug("Deleted queue %s on vhost %s (%d message(s) dropped)", name, self.vhost,
                  dropped)

    def consume(self, queues: Iterable[Queue]) -> Consumer:
        """A pull consumer on ``queues`` (declared beforehand)."""
        with self.lock:
            consumer = Consumer(self, [q for q in queues if self._queues.get(q.name) is q])
            for queue in consumer.queues:
                queue.consumers.append(consumer)
            return consumer

    def queue_exists(self, name: str) -> bool:
        """True if queue ``name`` is declared."""
        with self.lock:
            return name in self._queues

    def depth(self, name: str) -> int:
        """Messages waiting in queue ``name`` (0 if it does not exist)."""
        with self.lock:
            queue = self._queues.get(name)
            return len(queue.messages) if queue is not None else 0

    # -- publishing -------------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, body: bytes,
                expires_at: float | None = None) -> int:
        """Route ``body`` through ``exchange`` by ``routing_key``; return the queue count.

        A message no queue is bound for is dropped (0), as on RabbitMQ.
        """
        with self.lock:
            queues = list(self._bindings.get((exchange, routing_key), {}).values())
            sinks = self._enqueue_locked(queues, body, expires_at)
        self._run_sinks(sinks, body)
        if not queues:
            LOG.debug("No queue bound to %s/%s on vhost %s: message dropped", exchange,
                      routing_key, self.vhost)
        return len(queues)

    def publish_direct(self, queue_name: str, body: bytes) -> bool:
        """Send through the default exchange to the queue named ``queue_name``.

        Returns False (message dropped) if that queue does not exist.
        """
        with self.lock:
            queue = self._queues.get(queue_name)
            sinks = self._enqueue_locked([queue], body, None) if queue is not None else []
        self._run_sinks(sinks, body)
        return queue is not None

    def publish_declared(self, queue_name: str, bindings: Iterable[tuple[str, str]],
                         body: bytes, exchange: str, routing_key: str) -> int:
        """Declare ``queue_name`` with ``bindings``, then publish (as oslo's notifier does)."""
        with self.lock:
            self._declare_locked(queue_name, bindings)
            queues = list(self._bindings.get((exchange, routing_key), {}).values())
            sinks = self._enqueue_locked(queues, body, None)
        self._run_sinks(sinks, body)
        return len(queues)

    def requeue(self, queue: Queue, message: StoredMessage) -> bool:
        """Put ``message`` back at the head of ``queue`` for any consumer.

        Returns False (message dropped) if the queue was deleted meanwhile.
        """
        with self.lock:
            if self._queues.get(queue.name) is not queue:
                return False
            message.redelivered = True
            queue.messages.appendleft(message)
            queue.wake_one()
            return True

    def _enqueue_locked(self, queues: Iterable[Queue], body: bytes,
                        expires_at: float | None) -> list[Sink]:
        sinks: list[Sink] = []
        for queue in queues:
            if queue.sink is not None:
                sinks.append(queue.sink)
                continue
            queue.messages.append(StoredMessage(body, expires_at))
            queue.wake_one()
        return sinks

    @staticmethod
    def _run_sinks(sinks: list[Sink], body: bytes) -> None:
        for sink in sinks:
            try:
                sink(body)
            except Exception:
                LOG.exception("Push consumer failed on a message; dropped")

    def __repr__(self) -> str:
        return f"<Bus vhost={self.vhost!r} queues={len(self._queues)}>"


_BUSES: dict[str, Bus] = {}
_BUSES_LOCK = threading.Lock()


def get_bus(vhost: str | None) -> Bus:
    """The process-wide bus of ``vhost`` (None or ``""`` mean the default vhost)."""
    name = vhost or DEFAULT_VHOST
    with _BUSES_LOCK:
        bus = _BUSES.get(name)
        if bus is None:
            bus = _BUSES[name] = Bus(name)
        return bus


def reset(vhost: str | None = None) -> None:
    """Forget the bus of ``vhost`` (default: every bus), for test suites.

    Queues outlive their consumers, as on RabbitMQ, so messages nobody read
    (notifications above all) stay on a vhost for the life of the process;
    call this between tests to start clean. Drivers built before keep the
    bus they already have. ``""`` means the default vhost.
    """
    with _BUSES_LOCK:
        if vhost is None:
            _BUSES.clear()
        else:
            _BUSES.pop(vhost or DEFAULT_VHOST, None)
