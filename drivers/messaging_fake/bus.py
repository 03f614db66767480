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

Consumers (:class:`Consumer`, one per listener, possibly on several queues)
are given a queue's messages round-robin, as RabbitMQ gives them: RPC
servers as *push* consumers (every message in turn, so casts to a topic
spread evenly over its servers), notification listeners as *pull*
consumers (only while waiting, so a busy pool member takes no more). A
queue's ``sink`` is used by the reply waiter instead: the body is handed
over in the publisher's thread, without the bus lock. Everything is
event-driven: a message given to a consumer wakes it through a
:class:`threading.Condition` sharing the bus lock; nobody polls with sleeps.
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
        #: Messages not yet handed to a consumer (RabbitMQ's "ready" messages).
        self.messages: deque[StoredMessage] = deque()
        self.consumers: list[Consumer] = []
        self.bindings: set[tuple[str, str]] = set()
        #: Push consumer: receives every body instead of it being stored.
        self.sink = sink
        self._next = 0

    def dispatch(self) -> None:
        """Hand waiting messages to consumers, round-robin. Caller holds the bus lock.

        As RabbitMQ does: each message goes to the next consumer (in
        subscription order) that can take one; a push consumer always can, a
        pull consumer only while it waits in :meth:`Consumer.get`.
        Messages nobody can take stay here.
        """
        now: float | None = None
        while self.messages:
            consumer = self._next_ready()
            if consumer is None:
                return
            message = self.messages.popleft()
            now = time.monotonic() if now is None else now
            if message.expired(now):
                LOG.debug("Dropping expired message from queue %s", self.name)
                continue
            consumer.give(self, message)

    def _next_ready(self) -> Consumer | None:
        count = len(self.consumers)
        for i in range(count):
            index = (self._next + i) % count
            consumer = self.consumers[index]
            if consumer.ready():
                self._next = (index + 1) % count
                return consumer
        return None

    def __repr__(self) -> str:
        return f"<Queue {self.name} messages={len(self.messages)}>"


class Consumer:
    """A subscription to one or more queues of a bus.

    A *push* consumer is given every message of its queues in turn with the
    queues' other consumers, as RabbitMQ delivers to consumers without a
    prefetch limit (oslo.messaging's default); RPC servers subscribe so,
    which spreads a topic's casts round-robin over its servers. A *pull*
    consumer is given messages only while it waits in :meth:`get`, so one
    busy member of a notification pool leaves the rest to the others.
    Messages given and not yet taken wait in the consumer's inbox.
    """

    def __init__(self, bus: Bus, queues: Iterable[Queue], push: bool = False) -> None:
        self._bus = bus
        self._cond = threading.Condition(bus.lock)
        self.queues: list[Queue] = list(queues)
        self.push = push
        self.inbox: deque[tuple[Queue, StoredMessage]] = deque()
        #: How many messages the current :meth:`get` asks for (0 when not waiting).
        self.wanted = 0
        self.stopped = False

    def ready(self) -> bool:
        """True if this consumer can be given a message now. Caller holds the bus lock."""
        if self.stopped:
            return False
        return self.push or len(self.inbox) < self.wanted

    def give(self, queue: Queue, message: StoredMessage) -> None:
        """Put ``message`` in this consumer's inbox and wake it. Caller holds the bus lock."""
        self.inbox.append((queue, message))
        self._cond.notify()

    def get(self, max_messages: int, timeout: float | None,
            ) -> list[tuple[Queue, StoredMessage]]:
        """Take up to ``max_messages`` messages, waiting up to ``timeout`` (None: forever).

        Returns an empty list when the timeout passed or the consumer was stopped.
        """
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        wanted = max(max_messages, 1)
        with self._bus.lock:
            try:
                while True:
                    if self.stopped:
                        return []
                    taken = self._take_locked(wanted)
                    if taken:
                        return taken
                    self.wanted = wanted
                    for queue in self.queues:  # what waits on the queues may come to us now
                        queue.dispatch()
                    if self.inbox:
                        continue
                    if deadline is None:
                        remaining = None
                    else:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return []
                    self._cond.wait(remaining)
            finally:
                self.wanted = 0

    def _take_locked(self, max_messages: int) -> list[tuple[Queue, StoredMessage]]:
        taken: list[tuple[Queue, StoredMessage]] = []
        now = time.monotonic()
        while self.inbox and len(taken) < max_messages:
            queue, message = self.inbox.popleft()
            if message.expired(now):
                LOG.debug("Dropping expired message from queue %s", queue.name)
                continue
            taken.append((queue, message))
        return taken

    def _give_back_locked(self) -> None:
        """Return what was given and not taken to the queues' heads, for other consumers."""
        returned = set()
        while self.inbox:
            queue, message = self.inbox.pop()  # last first, so the order is kept
            if self._bus._queues.get(queue.name) is queue:
                queue.messages.appendleft(message)
                returned.add(queue.name)
        for queue in self.queues:
            if queue.name in returned:
                queue.dispatch()

    def stop(self) -> None:
        """Stop taking messages; a blocked :meth:`get` returns ``[]`` at once.

        Messages given to this consumer and not taken go back to their queues.
        """
        with self._bus.lock:
            if self.stopped:
                return
            self.stopped = True
            self._cond.notify_all()
            self._give_back_locked()

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
            for consumer in consumers:  # what they were given from it goes too
                kept = [(q, m) for q, m in consumer.inbox if q is not queue]
                dropped += len(consumer.inbox) - len(kept)
                consumer.inbox = deque(kept)
        for consumer in consumers:
            consumer.stop()
        LOG.debug("Deleted queue %s on vhost %s (%d message(s) dropped)", name, self.vhost,
                  dropped)

    def consume(self, queues: Iterable[Queue], push: bool = False) -> Consumer:
        """A consumer on ``queues`` (declared beforehand); see :class:`Consumer` for ``push``."""
        with self.lock:
            consumer = Consumer(self, [q for q in queues if self._queues.get(q.name) is q], push)
            for queue in consumer.queues:
                queue.consumers.append(consumer)
            for queue in consumer.queues:  # a push consumer takes its share of the backlog
                queue.dispatch()
            return consumer

    def queue_exists(self, name: str) -> bool:
        """True if queue ``name`` is declared."""
        with self.lock:
            return name in self._queues

    def consumers(self, exchange: str, routing_key: str) -> int:
        """Live consumers of the queues ``routing_key`` reaches on ``exchange``."""
        with self.lock:
            bound = self._bindings.get((exchange, routing_key), {}).values()
            return sum(1 for queue in bound for c in queue.consumers if not c.stopped)

    def depth(self, name: str) -> int:
        """Messages of queue ``name`` not yet taken by a consumer (0 if it does not exist)."""
        with self.lock:
            queue = self._queues.get(name)
            if queue is None:
                return 0
            return len(queue.messages) + sum(
                1 for consumer in queue.consumers for q, _ in consumer.inbox if q is queue)

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
            queue.dispatch()
            return True

    def _enqueue_locked(self, queues: Iterable[Queue], body: bytes,
                        expires_at: float | None) -> list[Sink]:
        sinks: list[Sink] = []
        for queue in queues:
            if queue.sink is not None:
                sinks.append(queue.sink)
                continue
            queue.messages.append(StoredMessage(body, expires_at))
            queue.dispatch()
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
