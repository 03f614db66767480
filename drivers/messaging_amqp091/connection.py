"""What an AMQP 0-9-1 connection offers the drivers, and the bookkeeping every one shares.

:class:`Connection` is the protocol the shared driver, its listeners and
its reply queue use; each driver builds its connections through a
:data:`ConnectionFactory`. :class:`ConnectionBase` holds everything that
does not depend on the client library, so the kombu and pika connections
add only their I/O loop and connect code:

- one daemon I/O thread per connection owns the client's connection and
  channel (neither kombu nor pika is thread-safe); other threads hand it
  work through the thread-safe methods (:meth:`~ConnectionBase.publish`,
  :meth:`~ConnectionBase.ack`, :meth:`~ConnectionBase.reject`,
  :meth:`~ConnectionBase.subscribe`, :meth:`~ConnectionBase.unsubscribe`,
  :meth:`~ConnectionBase.call_later`, :meth:`~ConnectionBase.close`);
- work waits in a :class:`~messaging_amqp091.backlog.Backlog` under its
  retry budget and deadline, publishes awaiting their confirm in a
  :class:`~messaging_amqp091.backlog.ConfirmTracker` (pipelined); a publish
  unconfirmed when the channel goes is sent again, within budget;
- acks and rejects are bound to the channel (its *generation*) their
  delivery came on: never dropped while it lives, moot once it is gone
  (the broker then redelivers);
- connection attempts walk the URL's hosts as
  :mod:`messaging_amqp091.recovery` says; failures are logged once per
  30 s, charged to waiting work, and fatal ones (bad login, unknown vhost,
  a certificate that does not verify) fail it at once;
- a broker that blocks the connection (``connection.blocked``: a resource
  alarm) holds publishes, recorded in :attr:`ConnectionBase.blocked`; the
  send timeout still bounds them;
- every subscription is declared and consumed again after each reconnect.
"""

from __future__ import annotations

import abc
import collections
import itertools
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.health import DriverMonitor
from messaging.url import TransportHost, TransportURL

from .backlog import Backlog, BlockedState, ConfirmTracker, Task
from .delivery import Delivery
from .options import Settings
from .recovery import ReconnectPolicy, spread_hosts
from .tls import ssl_protocol
from .work import Operation, Publish, Subscription

__all__ = ["Connection", "ConnectionBase", "ConnectionFactory", "SessionBase"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds between two warnings about the same failing connection attempt.
REPEAT_LOG_EVERY = 30.0


class Connection(Protocol):
    """An AMQP connection as the shared driver, listeners and reply queue use it.

    All methods are thread-safe. Implemented by :class:`ConnectionBase` subclasses.
    """

    #: ``connection_name`` shown by ``rabbitmqctl list_connections client_properties``
    name: str
    #: a label for logs and the thread name ("client", "rpc-server"...)
    purpose: str
    #: successful connections so far (1 after the first connect; more after reconnects)
    connects: int
    #: connection attempts that failed so far
    failed_attempts: int
    #: the last connection error, for error messages
    last_error: str | None
    #: set while the broker blocks this connection (resource alarm)
    blocked: BlockedState | None
    #: most publishes ever awaiting their confirm at once (pipelining depth reached)
    peak_unconfirmed: int
    #: completes (with the error text) once a first pass over the hosts failed
    first_failure: Future[str]
    #: where connects, losses and alarms are reported (:mod:`messaging.health`)
    monitor: DriverMonitor | None

    def start(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    @property
    def generation(self) -> int: ...

    @property
    def closed(self) -> bool: ...

    def alive(self, generation: int) -> bool: ...

    def trouble(self) -> str | None: ...

    def consumers(self, queue: str) -> int | None: ...

    def consuming(self, sub: Subscription) -> bool: ...

    def publish(self, message: Publish) -> Future[None]: ...

    def ack(self, generation: int, tag: int) -> None: ...

    def reject(self, generation: int, tag: int, requeue: bool) -> None: ...

    def subscribe(self, sub: Subscription) -> Future[None]: ...

    def unsubscribe(self, sub: Subscription, delete_owned: bool = False) -> Future[None]: ...

    def call_later(self, delay: float, fn: Callable[[], None]) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


class ConnectionFactory(Protocol):
    """Builds a driver's connections (the kombu or pika connection class)."""

    def __call__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> Connection: ...


class SessionBase:
    """The live channel of a connection, as far as the shared bookkeeping needs it.

    Used on the I/O thread only; subclasses add the client's objects.
    ``channel`` is the client's channel: py-amqp's and pika's both name the
    AMQP methods alike (``basic_ack``, ``basic_reject``, ``basic_cancel``,
    ``queue_delete``), which is all the shared code calls on it.
    """

    def __init__(self, channel: Any, generation: int, host: str) -> None:
        self.channel = channel
        self.generation = generation
        self.host = host
        #: exchange names and ("q", name) of queues declared for publishing on this channel
        self.declared: set[Any] = set()
        self.confirm = ConfirmTracker()


class ConnectionBase(abc.ABC):
    """An AMQP connection with its own I/O thread, reconnecting and failing over by itself.

    Subclasses implement the I/O thread (:meth:`_run`), waking it
    (:meth:`_wake`), publishing (:meth:`_publish`), settling
    (:meth:`_settle_on`), cancelling (:meth:`_cancel`), timers
    (:meth:`call_later`) and the classification of their client's errors.

    :param purpose: a label for logs and the thread name ("client", "rpc-server"...).
    :param prefetch_count: ``basic.qos`` for consumers (0: unlimited).
    """

    #: first part of the I/O thread's name
    thread_prefix: ClassVar[str] = "amqp"

    def __init__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> None:
        self.settings = settings
        self.purpose = purpose
        # Shuffled per connection (as oslo.messaging does): connections spread over the nodes.
        self._hosts: list[TransportHost] = spread_hosts(url.hosts) or [
            TransportHost("localhost", 5672, "guest", "guest")]
        self._vhost = url.virtual_host or "/"
        self._shown_url = url.render(mask=True)
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        self.name = f"{prog}:{os.getpid()}:{uuid.uuid4()}"
        self.durable_overrides: dict[str, bool] = {}
        self._ssl_version = ssl_protocol(settings, self._shown_url)
        self._prefetch = prefetch_count
        self._tags = itertools.count(1)
        #: tasks handed over by other threads, not yet in the backlog
        self._queue: collections.deque[Task] = collections.deque()
        self._backlog = Backlog()
        #: acks and rejects: (channel generation, delivery tag, None to ack or requeue flag)
        self._settles: collections.deque[tuple[int, int, bool | None]] = collections.deque()
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self._subs_dirty = False
        #: names of the private queues consumed so far, deleted on close
        self._owned: set[str] = set()
        self._session: SessionBase | None = None
        self._generation = 0
        self._down = False
        self._next_attempt = 0.0
        self._current: Task | None = None
        self._current_sub: Subscription | None = None
        #: when each connection failure text was last logged at warning level
        self._logged: dict[str | None, float] = {}
        self._closing = False
        self._close_grace = 5.0
        self._closed = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        self._policy = ReconnectPolicy(
            len(self._hosts), settings.kombu_failover_strategy,
            retry_interval=settings.rabbit_retry_interval,
            retry_backoff=settings.rabbit_retry_backoff,
            interval_max=settings.rabbit_interval_max,
            reconnect_delay=settings.kombu_reconnect_delay)
        self.connects = 0
        self.failed_attempts = 0
        self.first_failure: Future[str] = Future()
        self.last_error: str | None = None
        self.blocked: BlockedState | None = None
        self.peak_unconfirmed = 0
        #: the driver's health monitor (set by the driver): connects, losses, alarms
        self.monitor: DriverMonitor | None = None

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        """Start the I/O thread (idempotent)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._thread_main, daemon=True,
                                                name=f"{self.thread_prefix}-io-{self.purpose}")
                self._thread.start()

    @property
    def connected(self) -> bool:
        """True while a channel is open."""
        return self._session is not None

    @property
    def generation(self) -> int:
        """Identifies the current channel; it changes on every reconnect or channel reset."""
        return self._generation

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closing

    def alive(self, generation: int) -> bool:
        """True while channel ``generation`` is the live one (its deliveries can be settled).

        Deliveries of a channel that is gone are redelivered by the broker:
        a listener drops such a copy instead of running it.
        """
        session = self._session
        return session is not None and session.generation == generation

    def trouble(self) -> str | None:
        """What keeps this connection from working now, or None if nothing does."""
        blocked = self.blocked
        if blocked is not None:
            return (f"connection blocked by the broker: {blocked.reason} (for "
                    f"{time.monotonic() - blocked.since:.0f} s)")
        if self._session is None:
            if self._closing:
                return "the connection is closed"
            if self.last_error:
                return f"broker unreachable: {self.last_error}"
            return "connecting to the broker"
        return None

    def consumers(self, queue: str) -> int | None:
        """Consumers of ``queue`` now (0 if it does not exist); None if no host answered.

        A passive declare on a short connection of its own, since a missing
        queue closes the channel that asked: used only when a call is about
        to time out, to tell "no server is listening" from a silent one.
        """
        for host in self._hosts:
            try:
                return self._count_consumers(host, queue)
            except NotImplementedError:
                return None
            except Exception as exc:
                LOG.debug("Could not count the consumers of %s on %s: %s", queue,
                          self._host_label(host), exc)
        return None

    def _count_consumers(self, host: TransportHost, queue: str) -> int:
        """:meth:`consumers` on one host (the client's blocking API); raises if it cannot."""
        raise NotImplementedError

    def consuming(self, sub: Subscription) -> bool:
        """True while ``sub``'s queues are consumed on the live channel."""
        session = self._session
        return session is not None and sub.active and sub.generation == session.generation

    def publish(self, message: Publish) -> Future[None]:
        """Hand ``message`` to the I/O thread; the future completes when confirmed."""
        self._submit(message)
        return message.future

    def run(self, fn: Callable[[Any], T], *, retry: int | None = None,
            deadline: float | None = None) -> Future[T]:
        """Run ``fn(session)`` on the I/O thread once connected."""
        op = Operation(fn, retry, deadline)
        self._submit(op)
        return op.future

    def ack(self, generation: int, tag: int) -> None:
        """Acknowledge delivery ``tag`` if channel ``generation`` lives (see :meth:`reject`)."""
        self._settle(generation, tag, None)

    def reject(self, generation: int, tag: int, requeue: bool) -> None:
        """Reject delivery ``tag`` (``requeue``: give it back) if channel ``generation`` lives.

        Never charged against a retry budget: it runs as soon as the I/O
        thread gets to it, also while other queues are being consumed again
        after a reconnect, and is dropped only when its channel is gone (the
        broker requeued the delivery then).
        """
        self._settle(generation, tag, requeue)

    def _settle(self, generation: int, tag: int, requeue: bool | None) -> None:
        if self._closed.is_set():
            return
        self._settles.append((generation, tag, requeue))
        self._wake()

    def subscribe(self, sub: Subscription) -> Future[None]:
        """Declare and consume ``sub``'s queues now (or once connected) and after every reconnect.

        Returns ``sub.ready``.
        """
        if self._closing:
            settle_future(sub.ready, exc=MessageDeliveryFailure("connection closed"))
            return sub.ready
        with self._subs_lock:
            self._subs.append(sub)
            self._subs_dirty = True
        self.start()
        self._wake()
        return sub.ready

    def unsubscribe(self, sub: Subscription, delete_owned: bool = False) -> Future[None]:
        """Cancel ``sub``'s consumers (optionally deleting its owned queues)."""
        sub.active = False
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)
        return self.run(partial(self._cancel, sub, delete_owned), retry=0)

    def close(self, timeout: float = 5.0) -> None:
        """Flush queued work (up to ``timeout``), delete owned queues, close, stop the thread."""
        if self._closing:
            if self._thread is not None and not self._on_io_thread():
                self._thread.join(timeout + self.settings.connect_timeout)
            return
        self._close_grace = timeout
        self._closing = True
        self._report("closed")
        with self._start_lock:
            thread = self._thread
        if thread is None:
            self._fail_all("connection closed")
            self._release_resources()
            self._closed.set()
            return
        self._wake()
        if not self._on_io_thread():
            thread.join(timeout + self.settings.connect_timeout + 1.0)
            if thread.is_alive():
                LOG.warning("I/O thread of connection %s did not stop in time", self.name)

    @abc.abstractmethod
    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (from any thread)."""

    # ------------------------------------------------------------------ errors for callers

    def send_timed_out(self, task: Task) -> MessageDeliveryFailure:
        """The error of a send whose send timeout passed, naming what held it up."""
        why = self.trouble()
        if why is None:
            why = (f"last error: {self.last_error}" if task.failures and self.last_error
                   else "the broker did not confirm it in time")
        return MessageDeliveryFailure(
            f"Could not send {task.describe()} to {self._shown_url} within the send timeout "
            f"({self.settings.send_timeout:g} s): {why}")

    def _delivery_failure(self, task: Task) -> MessageDeliveryFailure:
        reason = self.last_error or "the broker is unreachable"
        return MessageDeliveryFailure(
            f"Could not send {task.describe()} to {self._shown_url} after {task.failures} "
            f"failed attempt(s): {reason}")

    def _past_deadline(self, task: Task) -> BaseException:
        if isinstance(task, Publish):
            if task.call:
                return MessagingTimeout(f"request to {task.describe()} not sent before the "
                                        "call's deadline")
            return self.send_timed_out(task)
        return MessagingTimeout(f"{task.describe()} not run before its deadline: "
                                f"{self.trouble() or 'the broker did not answer in time'}")

    # ------------------------------------------------------------------ submission

    def _on_io_thread(self) -> bool:
        return threading.get_ident() == self._ident

    def _submit(self, task: Task) -> None:
        if self._closing:
            settle_future(task.future, exc=MessageDeliveryFailure("connection closed"))
            return
        if self._down:
            # The bus is known to be unreachable: this counts as one failed attempt.
            task.failures = 1
            if task.over_budget():
                settle_future(task.future, exc=self._delivery_failure(task))
                return
        self._queue.append(task)
        if self._thread is None:
            self.start()
        self._wake()

    @abc.abstractmethod
    def _wake(self) -> None:
        """Have the I/O thread look at its queue, settles and flags soon (any thread)."""

    def _thread_main(self) -> None:
        self._ident = threading.get_ident()
        try:
            self._run()
        except BaseException:  # a bug: never leave callers waiting on a dead thread
            LOG.exception("I/O thread of connection %s crashed", self.name)
            self._fail_all("connection I/O thread crashed")
        finally:
            self._release_resources()
            self._closed.set()

    @abc.abstractmethod
    def _run(self) -> None:
        """The I/O thread: connect, serve, reconnect until closed; then shut down."""

    @abc.abstractmethod
    def _release_resources(self) -> None:
        """Free what the I/O loop holds (sockets, pipes) once its thread ends."""

    # ------------------------------------------------------------------ I/O thread: work

    def _take_tasks(self) -> None:
        queue, backlog = self._queue, self._backlog
        while queue:
            backlog.add(queue.popleft())

    def _run_settles(self, session: SessionBase) -> None:
        settles = self._settles
        generation = session.generation
        while settles and self._session is session:
            gen, tag, requeue = settles.popleft()
            if gen == generation:
                self._settle_on(session, tag, requeue)

    def _settle_on(self, session: SessionBase, tag: int, requeue: bool | None) -> None:
        """Ack (``requeue`` None) or reject delivery ``tag`` on the live channel."""
        if requeue is None:
            session.channel.basic_ack(tag)
        else:
            session.channel.basic_reject(tag, requeue=requeue)

    def _sweep(self, now: float, session: SessionBase | None) -> None:
        """Fail work past its deadline (also awaiting confirms) and release deferred retries."""
        backlog = self._backlog
        if now >= backlog.earliest:
            in_flight = session.confirm.pending.values() if session is not None else ()
            backlog.sweep(now, self._past_deadline, in_flight)
        backlog.release_due(now)

    def _run_backlog(self, session: SessionBase) -> None:
        """Run queued work in order while the channel lives and the broker does not block.

        :meth:`_publish` may leave a task waiting (declarations in flight):
        the run stops there, and starts again when the subclass says so.
        """
        backlog = self._backlog
        while self._session is session and self.blocked is None:
            task = backlog.first()
            if task is None:
                return
            self._current = task
            if task.expired(time.monotonic()):
                settle_future(task.future, exc=self._past_deadline(task))
            elif isinstance(task, Operation):
                settle_future(task.future, task.fn(session))
            elif isinstance(task, Publish):
                if not self._publish(task, session):
                    return  # waiting; _current stays set
            backlog.done(task)
            self._current = None

    @abc.abstractmethod
    def _publish(self, task: Publish, session: Any) -> bool:
        """Put ``task`` on the channel (declaring first if needed); False while it waits.

        Calls :meth:`_published` once the message is written.
        """

    def _published(self, task: Publish, session: SessionBase) -> None:
        """``task`` was written on a channel in confirm mode: track it, or settle it now.

        With ``publisher_confirms`` off, a send completes once written (a
        mandatory one still waits, since only its confirm says it was not
        returned).
        """
        confirm = session.confirm
        confirm.sent(task)
        if confirm.peak > self.peak_unconfirmed:
            self.peak_unconfirmed = confirm.peak
        if not (self.settings.publisher_confirms or task.mandatory):
            settle_future(task.future, None)

    # ------------------------------------------------------------------ I/O thread: confirms

    def _confirmed(self, session: SessionBase, tag: int, multiple: bool) -> None:
        """``basic.ack``: the broker took these publishes."""
        for task in session.confirm.settled(tag, multiple):
            settle_future(task.future, None)

    def _nacked(self, session: SessionBase, tag: int, multiple: bool) -> None:
        """``basic.nack``: the broker refused these publishes; retry each within its budget."""
        nacked = session.confirm.settled(tag, multiple)
        if not nacked:
            return
        self.last_error = "the broker refused the message (basic.nack)"
        retry_at = time.monotonic() + self.settings.rabbit_retry_interval
        for task in nacked:
            task.failures += 1
            if task.over_budget():
                settle_future(task.future, exc=self._delivery_failure(task))
            elif not task.future.done():
                # Not at once: a queue refusing publishes (full) stays full for a while.
                # Deferred in the backlog itself, so a reconnect meanwhile cannot lose it.
                if isinstance(task, Publish):
                    task.returned = False
                self._backlog.defer(task, retry_at)

    def _returned(self, session: SessionBase, routing_key: str, body: bytes) -> None:
        """``basic.return``: a mandatory publish found no queue."""
        for task in session.confirm.pending.values():
            if isinstance(task, Publish) and task.matches_return(routing_key, body):
                task.returned = True
                if task.undeliverable is not None:
                    settle_future(task.future, exc=task.undeliverable)
                return

    # ------------------------------------------------------------------ I/O thread: consuming

    def _deliver(self, sub: Subscription, generation: int, delivery: Delivery) -> None:
        try:
            sub.on_message(delivery, generation)
        except Exception:
            LOG.exception("Consumer callback failed on connection %s", self.name)

    def _active_subs(self) -> list[Subscription]:
        with self._subs_lock:
            return list(self._subs)

    def _refuse(self, sub: Subscription, why: str) -> None:
        """The broker refused to declare or consume ``sub``'s queues: give it up, loudly."""
        sub.active = False
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)
        sub.error = f"the broker refused the subscription: {why}"
        LOG.error("Connection %s (%s): %s; not consuming %s", self.name, self.purpose,
                  sub.error, ", ".join(spec.name for spec in sub.queues))
        settle_future(sub.ready, exc=MessageDeliveryFailure(sub.error))

    def _refuse_task(self, task: Task, why: str) -> None:
        """The broker refused the declaration ``task`` needed: retrying cannot help."""
        self._backlog.done(task)
        LOG.error("Broker refused a declaration on connection %s: %s", self.name, why)
        settle_future(task.future, exc=MessageDeliveryFailure(
            f"The broker refused a declaration: {why}"))

    def _cancel(self, sub: Subscription, delete_owned: bool, session: SessionBase) -> None:
        """Cancel ``sub``'s consumers on the live channel (and delete its owned queues)."""
        ch = session.channel
        if sub.generation == session.generation:
            for tag in sub.tags:
                ch.basic_cancel(tag)
        sub.tags = []
        sub.generation = 0
        if delete_owned:
            for spec in sub.queues:
                if spec.owned:
                    ch.queue_delete(spec.name)
                    self._owned.discard(spec.name)

    # ------------------------------------------------------------------ I/O thread: failures

    def _requeue_in_flight(self, session: SessionBase, current: Task | None,
                           charge: bool = True) -> None:
        """Put unconfirmed publishes back in front of the backlog, charging one failure."""
        in_flight: list[Task] = session.confirm.take_all()
        if current is not None:
            self._backlog.done(current)
            in_flight.append(current)
        again = []
        for task in in_flight:
            if task.future.done():
                continue
            task.failures += 1 if charge else 0
            if task.over_budget():
                settle_future(task.future, exc=self._delivery_failure(task))
            else:
                if isinstance(task, Publish):
                    task.returned = False
                again.append(task)
        self._backlog.add_front(again)

    def _lost_session(self, session: SessionBase, why: str, current: Task | None) -> None:
        """The connection is gone: requeue in-flight work and schedule a reconnect."""
        self._session = None
        self._down = True
        self.blocked = None
        self.last_error = f"{session.host}: {why}"
        self._report("lost", self.last_error)
        LOG.warning("Lost connection %s to %s (%s): %s; reconnecting", self.name,
                    session.host, self.purpose, why)
        self._requeue_in_flight(session, current)
        self._next_attempt = time.monotonic() + self._policy.lost()

    @abc.abstractmethod
    def _is_fatal(self, exc: BaseException) -> bool:
        """A connection attempt failed in a way a retry will not fix."""

    def _attempt_failed(self, exc: BaseException, why: str, label: str) -> float:
        """A connection attempt to ``label`` failed: charge waiting work, log; the delay to wait."""
        from .errors import is_refused

        self._down = True
        self.failed_attempts += 1
        fatal = self._is_fatal(exc)
        self.last_error = f"{label}: {why}"
        self._report("lost", self.last_error)
        self._take_tasks()
        self._backlog.charge_attempt(fatal, self._delivery_failure)
        if fatal:
            for sub in self._active_subs():  # they stay: consumed once the operator fixed it
                settle_future(sub.ready, exc=MessageDeliveryFailure(
                    f"Could not connect to {self._shown_url}: {self.last_error}"))
        delay = self._policy.failed(is_refused(exc))
        # Attempts repeat every second while a broker is down: the same failure is
        # logged loudly once per REPEAT_LOG_EVERY, quietly in between.
        now = time.monotonic()
        key = self.last_error
        if now - self._logged.get(key, -math.inf) >= REPEAT_LOG_EVERY:
            self._logged = {k: t for k, t in self._logged.items()
                            if now - t < REPEAT_LOG_EVERY}
            self._logged[key] = now
            log = LOG.error if fatal else LOG.warning
        else:
            log = LOG.debug
        log("Connection %s (%s) to %s failed: %s; next attempt in %.1f s", self.name,
            self.purpose, label, why, delay)
        self._next_attempt = time.monotonic() + delay
        if self.failed_attempts >= len(self._hosts):  # a whole pass over the hosts failed
            settle_future(self.first_failure, self.last_error)
        return delay

    def _established(self, session: SessionBase, label: str) -> None:
        """A connection and its channel are up: consume everything, run the backlog."""
        self._policy.connected()
        self._logged.clear()
        self._down = False
        self.blocked = None
        self._session = session
        self._subs_dirty = True
        self.connects += 1
        self._report("connected")
        if self.connects == 1:
            LOG.info("Connected to AMQP server %s (connection %s, %s)", label, self.name,
                     self.purpose)
        else:
            LOG.warning("Reconnected to AMQP server %s (connection %s, %s)", label, self.name,
                        self.purpose)

    def _on_blocked(self, reason: str) -> None:
        """I/O thread (``connection.blocked``): hold publishes until unblocked."""
        self.blocked = BlockedState(reason or "no reason given", time.monotonic())
        self._report("blocked", self.blocked.reason)
        LOG.error("The broker has blocked connection %s (%s): %s; sends wait (at most "
                  "send_timeout, %g s)", self.name, self.purpose, self.blocked.reason,
                  self.settings.send_timeout)

    def _on_unblocked(self) -> None:
        """I/O thread (``connection.unblocked``): publishing resumes."""
        blocked, self.blocked = self.blocked, None
        self._report("unblocked")
        self._subs_dirty = True  # subscriptions added meanwhile are consumed now
        since = f" after {time.monotonic() - blocked.since:.1f} s" if blocked else ""
        LOG.warning("The broker has unblocked connection %s (%s)%s", self.name, self.purpose,
                    since)

    def _report(self, event: str, *args: Any) -> None:
        """Tell the driver's monitor (``connected``, ``lost``, ``blocked``...) about this one."""
        monitor = self.monitor
        if monitor is not None:
            getattr(monitor, event)(self, *args)

    def _count_redelivery(self, redelivered: Any) -> None:
        """A delivery carried the broker's ``redelivered`` flag: count it (metrics)."""
        if redelivered and self.monitor is not None:
            self.monitor.redelivered()

    def _host_label(self, host: TransportHost) -> str:
        return f"{host.hostname or 'localhost'}:{host.port or 5672}"

    @abc.abstractmethod
    def _flush_timers(self) -> None:
        """Run delayed work now (closing), so that it fails with the rest (or drop it)."""

    def _fail_all(self, reason: str) -> None:
        """Fail every queued, delayed and unconfirmed task, and unfinished subscriptions."""
        self._flush_timers()
        self._take_tasks()
        self._backlog.fail_all(lambda _t: MessageDeliveryFailure(reason))
        session = self._session
        if session is not None:
            for task in session.confirm.take_all():
                settle_future(task.future, exc=MessageDeliveryFailure(reason))
        for sub in self._active_subs():
            settle_future(sub.ready, exc=MessageDeliveryFailure(reason))
