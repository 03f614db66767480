"""One AMQP connection driven by its own I/O thread.

kombu and py-amqp are not thread-safe, and heartbeats must keep flowing
while an endpoint blocks the user's threads. So every connection of this
driver belongs to one daemon thread, the only thread that ever touches the
socket, the kombu connection or its channel. It:

- connects, walking the URL's hosts with the configured failover strategy,
  retrying as :mod:`messaging_rabbit.recovery` says (every
  ``rabbit_retry_interval`` while nothing listens, capped backoff otherwise);
- puts its channel in confirm mode and consumes every :class:`Subscription`
  (queue and binding declarations, ``basic.consume``) after each
  (re)connect, so consumption resumes by itself;
- runs the work other threads hand it (publishes, operations) in the order
  given, from a :class:`~messaging_rabbit.backlog.Backlog`, woken through a
  pipe, and reads frames whenever the socket is readable, calling
  ``heartbeat_check`` on time;
- acknowledges and rejects deliveries on the channel they came from
  (:meth:`IOConnection.settle`): such a settlement is never dropped while
  that channel lives, reconnecting or not, and is moot once it is gone (the
  broker then redelivers);
- tracks publisher confirms by delivery tag, so any number of publishes can
  be in flight (pipelined). A publish unconfirmed when the connection drops
  is sent again, until its ``retry`` budget (failed connection attempts) is
  spent or its deadline passes; then its future fails with
  :class:`~messaging.exceptions.MessageDeliveryFailure` (a call's request:
  :class:`~messaging.exceptions.MessagingTimeout`);
- holds publishes while the broker blocks the connection (a memory or disk
  alarm, ``connection.blocked``), recording why and since when in
  :attr:`IOConnection.blocked`; the send timeout still bounds them.

Other threads use only the thread-safe methods: :meth:`IOConnection.publish`,
:meth:`IOConnection.run`, :meth:`IOConnection.settle`,
:meth:`IOConnection.subscribe`, :meth:`IOConnection.unsubscribe`,
:meth:`IOConnection.call_later` and :meth:`IOConnection.close`.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import os
import select
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

import amqp
import kombu.connection

from messaging.correlation import settle_future
from messaging.exceptions import InvalidTransportURL, MessageDeliveryFailure, MessagingTimeout
from messaging.url import TransportHost, TransportURL

from . import errors
from .backlog import Backlog, BlockedState, ConfirmTracker, Task
from .options import Settings
from .recovery import ReconnectPolicy
from .topology import DurableMismatch, ExchangeSpec, QueueSpec, declare_exchange, declare_queue

__all__ = ["IOConnection", "Publish", "Session", "Subscription", "ssl_protocol"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: kombu's Connection is untyped: the one place this driver builds it.
_KombuConnection: Any = kombu.connection.Connection

_SSL_VERSIONS = {"tlsv1": "PROTOCOL_TLSv1", "tlsv1_1": "PROTOCOL_TLSv1_1",
                 "tlsv1_2": "PROTOCOL_TLSv1_2", "sslv23": "PROTOCOL_SSLv23",
                 "tls": "PROTOCOL_TLS", "tls_client": "PROTOCOL_TLS_CLIENT"}
#: Seconds between two warnings about the same failing connection attempt.
_REPEAT_LOG_EVERY = 30.0
#: Frames read in one go before queued work gets a turn.
_DRAIN_BATCH = 256
_BASIC_PUBLISH = amqp.spec.Basic.Publish
_PROPERTIES = {"content_type": "application/json", "content_encoding": "utf-8",
               "delivery_mode": 2, "priority": 0}


def ssl_protocol(settings: Settings, shown_url: str) -> Any:
    """The ``ssl`` module constant for ``ssl_version`` (None: negotiate).

    Raises ``InvalidTransportURL`` for a version this Python does not have.
    """
    if not (settings.ssl and settings.ssl_version):
        return None
    attr = _SSL_VERSIONS.get(settings.ssl_version.lower())
    if attr is None or not hasattr(ssl, attr):
        raise InvalidTransportURL(shown_url, f"Invalid SSL version: {settings.ssl_version}")
    return getattr(ssl, attr)


class _IOTask(Task):
    """A :class:`~messaging_rabbit.backlog.Task` the I/O thread runs on a live session."""

    __slots__ = ()

    def execute(self, conn: IOConnection, session: Session) -> None:
        """Run on the I/O thread with a live session; settle ``future`` (or let confirms)."""
        raise NotImplementedError

    def past_deadline(self, conn: IOConnection) -> BaseException:
        """The error for a task whose deadline passed."""
        return MessagingTimeout(f"{self.describe()} not run before its deadline: "
                                f"{conn.trouble() or 'the broker did not answer in time'}")


class Publish(_IOTask):
    """One message to publish and its outcome.

    The future's result is None once the broker routed the message
    (confirmed, when confirms are on); :attr:`returned` then tells whether a
    ``mandatory`` publish came back unroutable.

    :param exchange: declared before the first publish on a channel; None
        means the default exchange.
    :param queue: also declared (and bound) first: notifications do this so
        they wait for their first listener.
    :param deadline: ``time.monotonic()`` after which the message is useless
        (a call's) or the send gives up (a cast's send timeout).
    :param expire: set the AMQP ``expiration`` to the time left to ``deadline``.
    :param retry: connection attempts allowed to fail (None: until the deadline).
    :param call: a call's request: past its deadline the future fails with
        ``MessagingTimeout`` (the call's own timeout says more), not
        ``MessageDeliveryFailure``.
    """

    __slots__ = ("body", "call", "exchange", "expire", "headers", "mandatory", "queue",
                 "returned", "routing_key")

    def __init__(self, exchange: ExchangeSpec | None, routing_key: str, body: bytes, *,
                 mandatory: bool = False, queue: QueueSpec | None = None,
                 deadline: float | None = None, expire: bool = False,
                 retry: int | None = None, headers: dict[str, Any] | None = None,
                 call: bool = False) -> None:
        super().__init__(retry, deadline)
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.mandatory = mandatory
        self.queue = queue
        self.expire = expire
        self.headers = headers
        self.call = call
        #: a mandatory publish came back unroutable (``basic.return``)
        self.returned = False

    def execute(self, conn: IOConnection, session: Session) -> None:
        now = time.monotonic()
        if self.expired(now):
            settle_future(self.future, exc=self.past_deadline(conn))
            return
        ch = session.channel
        exchange = self.exchange
        if exchange is not None and exchange.name and exchange.name not in session.declared:
            declare_exchange(ch, exchange, conn.durable_overrides)
            session.declared.add(exchange.name)
        if self.queue is not None and ("q", self.queue.name) not in session.declared:
            declare_queue(ch, self.queue, conn.durable_overrides)
            session.declared.add(("q", self.queue.name))
        props = dict(_PROPERTIES)
        props["application_headers"] = self.headers if self.headers is not None else {}
        if self.expire and self.deadline is not None:
            props["expiration"] = str(max(1, int((self.deadline - now) * 1000)))
        # Channel.send_method, not basic_publish: py-amqp's basic_publish first
        # drains the socket (for connection.blocked), a second read per message;
        # the I/O thread reads the socket anyway.
        ch.send_method(_BASIC_PUBLISH, "Bssbb",
                       (0, exchange.name if exchange is not None else "", self.routing_key,
                        self.mandatory, False), amqp.Message(self.body, **props))
        if session.confirms:
            session.confirm.sent(self)
            if session.confirm.peak > conn.peak_unconfirmed:
                conn.peak_unconfirmed = session.confirm.peak
        else:
            settle_future(self.future, None)

    def describe(self) -> str:
        name = self.exchange.name if self.exchange is not None else ""
        return f"exchange {name!r} routing key {self.routing_key!r}"

    def past_deadline(self, conn: IOConnection) -> BaseException:
        if self.call:
            return MessagingTimeout(f"request to {self.describe()} not sent before the call's "
                                    "deadline")
        return conn.send_timed_out(self)


class _Op(_IOTask):
    """A function of the live session."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Session], Any], retry: int | None,
                 deadline: float | None) -> None:
        super().__init__(retry, deadline)
        self.fn = fn

    def execute(self, conn: IOConnection, session: Session) -> None:
        if self.expired(time.monotonic()):
            settle_future(self.future, exc=self.past_deadline(conn))
            return
        settle_future(self.future, self.fn(session))


class Subscription:
    """Queues consumed with one callback, declared and consumed after every (re)connect.

    ``on_message(message, generation)`` runs on the I/O thread for each
    delivery; ``generation`` identifies the channel, so that a later ack can
    tell it is stale (the broker requeued the message when the channel went).
    ``ready`` completes once the queues are first consumed, or fails if the
    broker refused them (a declaration, e.g. 406 PRECONDITION_FAILED; or the
    login, though the subscription then stays and is consumed once a login
    works).
    """

    def __init__(self, queues: Sequence[QueueSpec],
                 on_message: Callable[[amqp.Message, int], None], *,
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


class Session:
    """The live channel of an :class:`IOConnection`; used on its I/O thread only."""

    def __init__(self, kconn: Any, amqp_connection: Any, channel: Any,
                 generation: int, confirms: bool, host: str) -> None:
        self.kconn = kconn
        #: the py-amqp connection (never ``kconn.connection``: that property reconnects)
        self.amqp_connection = amqp_connection
        self.channel = channel
        self.generation = generation
        self.confirms = confirms
        self.host = host
        #: exchange names and ("q", name) of queues declared for publishing on this channel
        self.declared: set[Any] = set()
        self.confirm = ConfirmTracker()


class IOConnection:
    """An AMQP connection with its own I/O thread, reconnecting and failing over by itself.

    :param purpose: a label for logs and the thread name ("client", "rpc-server"...).
    :param prefetch_count: ``basic.qos`` for consumers (0: unlimited).
    """

    def __init__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> None:
        self.settings = settings
        self.purpose = purpose
        self._hosts: list[TransportHost] = list(url.hosts) or [
            TransportHost("localhost", 5672, "guest", "guest")]
        self._vhost = url.virtual_host or "/"
        self._shown_url = url.render(mask=True)
        self._ssl_version = ssl_protocol(settings, self._shown_url)
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        #: ``connection_name`` shown by ``rabbitmqctl list_connections client_properties``
        self.name = f"{prog}:{os.getpid()}:{uuid.uuid4()}"
        self.durable_overrides: dict[str, bool] = {}
        self._prefetch = prefetch_count
        #: tasks handed over by other threads, not yet in the backlog
        self._queue: collections.deque[_IOTask] = collections.deque()
        self._backlog = Backlog()
        #: acks and rejects: (channel generation, function of the session)
        self._settles: collections.deque[tuple[int, Callable[[Session], None]]] = \
            collections.deque()
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self._subs_dirty = False
        #: names of the private queues consumed so far, deleted on close
        self._owned: set[str] = set()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._tags = itertools.count(1)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._wake_pending = False
        self._poller = select.poll()
        self._poller.register(self._wake_r, select.POLLIN)
        self._sock: Any = None
        #: the socket's fd as registered (a closed socket's fileno() is -1)
        self._sock_fd = -1
        self._readable: Any = None
        self._session: Session | None = None
        self._generation = 0
        self._down = False
        self._next_attempt = 0.0
        self._next_heartbeat = 0.0
        self._current: _IOTask | None = None
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
        #: successful connections so far (1 after the first connect; more after reconnects)
        self.connects = 0
        #: connection attempts that failed so far
        self.failed_attempts = 0
        #: completes (with the error text) once a first pass over the hosts failed
        self.first_failure: Future[str] = Future()
        #: the last connection error, for error messages
        self.last_error: str | None = None
        #: set while the broker blocks this connection (resource alarm)
        self.blocked: BlockedState | None = None
        #: most publishes ever awaiting their confirm at once (pipelining depth reached)
        self.peak_unconfirmed = 0

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        """Start the I/O thread (idempotent)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"rabbit-io-{self.purpose}")
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

    def consuming(self, sub: Subscription) -> bool:
        """True while ``sub``'s queues are consumed on the live channel."""
        session = self._session
        return session is not None and sub.active and sub.generation == session.generation

    def publish(self, message: Publish) -> Future[None]:
        """Hand ``message`` to the I/O thread; the future completes when confirmed."""
        self._submit(message)
        return message.future

    def run(self, fn: Callable[[Session], T], *, retry: int | None = None,
            deadline: float | None = None) -> Future[T]:
        """Run ``fn(session)`` on the I/O thread once connected."""
        op = _Op(fn, retry, deadline)
        self._submit(op)
        return op.future

    def settle(self, generation: int, fn: Callable[[Session], None]) -> None:
        """Run ``fn(session)`` (an ack or reject) if channel ``generation`` still lives.

        Never charged against a retry budget: it runs as soon as the I/O
        thread gets to it, also while other queues are being consumed again
        after a reconnect, and is dropped only when its channel is gone (the
        broker requeued the delivery then).
        """
        if self._closed.is_set():
            return
        self._settles.append((generation, fn))
        if threading.get_ident() != self._ident:
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
        if threading.get_ident() != self._ident:
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
            if self._thread is not None and threading.get_ident() != self._ident:
                self._thread.join(timeout + self.settings.connect_timeout)
            return
        self._close_grace = timeout
        self._closing = True
        with self._start_lock:
            thread = self._thread
        if thread is None:
            self._fail_all("connection closed")
            self._close_fds()
            self._closed.set()
            return
        self._wake()
        if threading.get_ident() != self._ident:
            thread.join(timeout + self.settings.connect_timeout + 1.0)
            if thread.is_alive():
                LOG.warning("I/O thread of connection %s did not stop in time", self.name)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (from any thread)."""
        when = time.monotonic() + delay
        if threading.get_ident() == self._ident:
            heapq.heappush(self._timers, (when, next(self._seq), fn))
        else:
            self.run(lambda _s: heapq.heappush(self._timers, (when, next(self._seq), fn)))

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
        assert isinstance(task, _IOTask)
        return task.past_deadline(self)

    # ------------------------------------------------------------------ submission

    def _submit(self, task: _IOTask) -> None:
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
        if threading.get_ident() != self._ident:
            self._wake()

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
        self._ident = threading.get_ident()
        try:
            while not self._closing:
                session = self._session
                if session is None:
                    self._connect_step()
                    continue
                try:
                    self._serve(session)
                except Exception as exc:
                    self._on_error(session, exc)
            self._shutdown()
        except BaseException:  # a bug: never leave callers waiting on a dead thread
            LOG.exception("I/O thread of connection %s crashed", self.name)
            self._fail_all("connection I/O thread crashed")
        finally:
            self._close_fds()
            self._closed.set()

    def _take_tasks(self) -> None:
        self._wake_pending = False
        queue, backlog = self._queue, self._backlog
        while queue:
            backlog.add(queue.popleft())

    def _serve(self, session: Session) -> None:
        self._take_tasks()
        if self._settles:
            self._run_settles(session)
        if self._subs_dirty and self.blocked is None:  # a blocked broker answers nothing
            self._consume_missing(session)
        backlog = self._backlog
        now = time.monotonic()
        if now >= backlog.earliest:
            backlog.sweep(now, self._past_deadline, session.confirm.pending.values())
        backlog.release_due(now)
        if self.blocked is None:
            while self._session is session:
                task = backlog.first()
                if task is None:
                    break
                assert isinstance(task, _IOTask)
                self._current = task
                task.execute(self, session)
                backlog.done(task)
                self._current = None
        self._run_timers()
        if self._queue or self._settles or (self.blocked is None and backlog.first()):
            timeout = 0.0
        else:
            timeout = self._wait_time()
        buffered = self._buffered(session)
        events = self._poller.poll(0 if buffered else math.ceil(timeout * 1000))
        readable = buffered
        for fd, _event in events:
            if fd == self._wake_r:
                self._clear_wakeups()
            elif fd == self._sock_fd:
                readable = True
        if readable:
            self._drain(session)
        self._heartbeat(session)

    def _run_settles(self, session: Session) -> None:
        settles = self._settles
        generation = session.generation
        while settles and self._session is session:
            gen, fn = settles.popleft()
            if gen == generation:
                fn(session)

    def _buffered(self, session: Session) -> bool:
        """Bytes already read from the socket (py-amqp's buffer, TLS) wait for parsing."""
        if getattr(session.amqp_connection.transport, "_read_buffer", b""):
            return True
        sock = self._sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def _clear_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _wait_time(self) -> float:
        until = min(self._next_heartbeat, self._backlog.earliest, self._backlog.next_due())
        if self._timers:
            until = min(until, self._timers[0][0])
        return max(0.0, until - time.monotonic())

    def _drain(self, session: Session) -> None:
        """Read the frames available now (at most a batch); called once the socket is readable.

        One frame per ``blocking_read``, and a ``poll(0)`` before the next:
        cheaper than ``drain_events(timeout=0)``, which switches the socket's
        timeout twice and ends every batch with an exception.
        """
        conn = session.amqp_connection
        transport = conn.transport
        readable = self._readable
        for _ in range(_DRAIN_BATCH):
            try:
                conn.blocking_read(None)
            except TimeoutError:  # socket.timeout (an alias since 3.10): a frame cut short
                return
            if self._session is not session:
                return
            if not (getattr(transport, "_read_buffer", b"") or readable.poll(0)):
                return

    def _heartbeat(self, session: Session) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        threshold = self.settings.heartbeat_timeout_threshold
        if threshold > 0:
            session.amqp_connection.heartbeat_tick(rate=self.settings.heartbeat_rate)
            self._next_heartbeat = now + threshold / self.settings.heartbeat_rate / 2.0
        else:
            self._next_heartbeat = now + 1.0

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            try:
                fn()
            except Exception:
                LOG.exception("Timer of connection %s failed", self.name)

    # ------------------------------------------------------------------ connecting

    def _connection_kwargs(self, host: TransportHost) -> dict[str, Any]:
        s = self.settings
        hostname = host.hostname or "localhost"
        if ":" in hostname:
            hostname = f"[{hostname}]"
        options: dict[str, Any] = {
            "client_properties": {
                "capabilities": {"authentication_failure_close": True,
                                 "connection.blocked": True,
                                 "consumer_cancel_notify": True},
                "connection_name": self.name},
        }
        if s.heartbeat_timeout_threshold > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
            options["socket_settings"] = {
                socket.TCP_USER_TIMEOUT: int(s.heartbeat_timeout_threshold * 1000)}
        return {"hostname": hostname, "port": host.port or 5672, "userid": host.username,
                "password": host.password, "virtual_host": self._vhost,
                "transport": "pyamqp", "connect_timeout": s.connect_timeout,
                "login_method": s.rabbit_login_method, "heartbeat": s.heartbeat_timeout_threshold,
                "ssl": self._ssl_params(host), "transport_options": options}

    def _ssl_params(self, host: TransportHost) -> Any:
        s = self.settings
        if not s.ssl:
            return False
        params: dict[str, Any] = {}
        if self._ssl_version is not None:
            params["ssl_version"] = self._ssl_version
        if s.ssl_key_file:
            params["keyfile"] = s.ssl_key_file
        if s.ssl_cert_file:
            params["certfile"] = s.ssl_cert_file
        if s.ssl_ca_file:
            params["ca_certs"] = s.ssl_ca_file
            params["cert_reqs"] = ssl.CERT_REQUIRED
            params["server_hostname"] = host.hostname
        return params or True

    def _hear_blocking(self, raw: Any) -> None:
        """Have ``connection.blocked``/``unblocked`` call us, with the broker's reason.

        py-amqp declares ``connection.blocked`` without its ``reason`` argument
        (and so passes a fixed text); the method table of this one connection
        is told to read it (a shortstr, AMQP 0-9-1 extension).
        """
        blocked = amqp.spec.Connection.Blocked
        methods = dict(raw._METHODS)
        methods[blocked] = amqp.spec.method(blocked, "s")
        raw._METHODS = methods
        raw._callbacks[blocked] = self._on_blocked
        raw._callbacks[amqp.spec.Connection.Unblocked] = self._on_unblocked

    def _on_blocked(self, reason: str = "") -> None:
        """I/O thread (``connection.blocked``): hold publishes until unblocked."""
        self.blocked = BlockedState(reason or "no reason given", time.monotonic())
        LOG.error("The broker has blocked connection %s (%s): %s; sends wait (at most "
                  "send_timeout, %g s)", self.name, self.purpose, self.blocked.reason,
                  self.settings.send_timeout)

    def _on_unblocked(self) -> None:
        """I/O thread (``connection.unblocked``): publishing resumes."""
        blocked, self.blocked = self.blocked, None
        self._subs_dirty = True  # subscriptions added meanwhile are consumed now
        since = f" after {time.monotonic() - blocked.since:.1f} s" if blocked else ""
        LOG.warning("The broker has unblocked connection %s (%s)%s", self.name, self.purpose,
                    since)

    def _host_label(self, host: TransportHost) -> str:
        return f"{host.hostname or 'localhost'}:{host.port or 5672}"

    def _connect_step(self) -> None:
        """Wait for the next attempt (serving wakeups), then try one host."""
        now = time.monotonic()
        if now < self._next_attempt:
            self._wait_disconnected(self._next_attempt - now)
            return
        host = self._hosts[self._policy.next_host()]
        label = self._host_label(host)
        kconn = None
        try:
            kconn = _KombuConnection(**self._connection_kwargs(host))
            kconn.ensure_connection(max_retries=0)
            raw = kconn.connection
            # Reads block at most this long once a frame started (a peer dying
            # mid-frame), writes too (a peer not reading); heartbeats catch the rest.
            threshold = self.settings.heartbeat_timeout_threshold
            raw.sock.settimeout(float(threshold) if threshold > 0 else 60.0)
            self._hear_blocking(raw)
            self._generation += 1
            session = Session(kconn, raw, raw.channel(), self._generation, True, label)
            self._setup_channel(session)
        except Exception as exc:
            if kconn is not None:
                self._release(kconn)
            self._attempt_failed(exc, label)
            return
        self._policy.connected()
        self._logged.clear()
        self._down = False
        self.blocked = None
        self._session = session
        self._subs_dirty = True
        self.connects += 1
        self._watch_socket(session)
        self._next_heartbeat = 0.0
        if self.connects == 1:
            LOG.info("Connected to AMQP server %s (connection %s, %s)", label, self.name,
                     self.purpose)
        else:
            LOG.warning("Reconnected to AMQP server %s (connection %s, %s)", label, self.name,
                        self.purpose)

    def _wait_disconnected(self, delay: float) -> None:
        """Sleep until the next attempt, waking for close() and to drop expired work."""
        backlog = self._backlog
        now = time.monotonic()
        wait = min(delay, backlog.earliest - now, 0.5)
        if self._poller.poll(math.ceil(max(wait, 0.0) * 1000)):
            self._clear_wakeups()
        self._take_tasks()
        self._settles.clear()  # their channel is gone: the broker requeued those deliveries
        now = time.monotonic()
        if now >= backlog.earliest:
            backlog.sweep(now, self._past_deadline)
        backlog.release_due(now)

    def _watch_socket(self, session: Session) -> None:
        self._forget_socket()
        self._sock = session.amqp_connection.sock
        self._sock_fd = self._sock.fileno()
        self._poller.register(self._sock_fd, select.POLLIN)
        self._readable = select.poll()
        self._readable.register(self._sock_fd, select.POLLIN)
        if isinstance(self._sock, ssl.SSLSocket):
            self._readable = _SSLReadable(self._sock, self._readable)

    def _forget_socket(self) -> None:
        # By the number registered: once py-amqp closed the socket its fileno() is -1,
        # and a stale registration would report another file's events as ours.
        if self._sock_fd >= 0:
            try:
                self._poller.unregister(self._sock_fd)
            except (KeyError, ValueError, OSError):
                pass
        self._sock = None
        self._sock_fd = -1

    def _setup_channel(self, session: Session) -> None:
        ch = session.channel
        ch.auto_decode = False  # bodies stay bytes (compressed ones must)
        ch.events["basic_ack"].add(partial(self._on_ack, session))
        ch.events["basic_nack"].add(partial(self._on_nack, session))
        ch.events["basic_return"].add(partial(self._on_return, session))
        ch.confirm_select()
        if self._prefetch > 0:
            ch.basic_qos(0, self._prefetch, False)

    # ------------------------------------------------------------------ consuming

    def _consume_missing(self, session: Session) -> None:
        """Consume every active subscription not yet consumed on this channel, one by one.

        Deliveries on the first queues arrive (and are settled) meanwhile;
        a refused declaration gives up that subscription only (see _on_error).
        """
        self._subs_dirty = False
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            if not sub.active or sub.generation == session.generation:
                continue
            self._current_sub = sub
            self._consume(session, sub)
            self._current_sub = None
            if self._session is not session:
                return
            settle_future(sub.ready, None)

    def _consume(self, session: Session, sub: Subscription) -> None:
        ch = session.channel
        for spec in sub.queues:
            declare_queue(ch, spec, self.durable_overrides)
            if spec.owned:
                self._owned.add(spec.name)
        tags = []
        for spec in sub.queues:
            tag = str(next(self._tags))
            ch.basic_consume(spec.name, consumer_tag=tag, no_ack=sub.no_ack,
                             callback=partial(self._deliver, sub, session.generation),
                             arguments=dict(spec.consumer_arguments or {}) or None,
                             on_cancel=partial(self._on_cancel, sub))
            tags.append(tag)
        sub.tags = tags
        sub.generation = session.generation

    def _cancel(self, sub: Subscription, delete_owned: bool, session: Session) -> None:
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

    def _refuse(self, sub: Subscription, exc: BaseException) -> None:
        """The broker refused to declare or consume ``sub``'s queues: give it up, loudly."""
        sub.active = False
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)
        sub.error = f"the broker refused the subscription: {errors.describe(exc)}"
        LOG.error("Connection %s (%s): %s; not consuming %s", self.name, self.purpose,
                  sub.error, ", ".join(spec.name for spec in sub.queues))
        settle_future(sub.ready, exc=MessageDeliveryFailure(sub.error))

    def _deliver(self, sub: Subscription, generation: int, message: amqp.Message) -> None:
        try:
            sub.on_message(message, generation)
        except Exception:
            LOG.exception("Consumer callback failed on connection %s", self.name)

    def _on_cancel(self, sub: Subscription, tag: str) -> None:
        if sub.active and not self._closing:
            LOG.warning("The broker cancelled consumer %s (queue deleted?) on connection %s; "
                        "declaring and consuming again", tag, self.name)
            raise _ConsumerCancelled(tag)

    # ------------------------------------------------------------------ confirms

    def _on_ack(self, session: Session, tag: int, multiple: bool) -> None:
        for task in session.confirm.settled(tag, multiple):
            settle_future(task.future, None)

    def _on_nack(self, session: Session, tag: int, multiple: bool) -> None:
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

    def _on_return(self, session: Session, exc: Exception, exchange: str, routing_key: str,
                   message: amqp.Message) -> None:
        for task in session.confirm.pending.values():
            if isinstance(task, Publish) and task.mandatory and not task.returned \
                    and task.routing_key == routing_key and task.body == message.body:
                task.returned = True
                return

    # ------------------------------------------------------------------ failures

    def _on_error(self, session: Session, exc: BaseException) -> None:
        current, self._current = self._current, None
        sub, self._current_sub = self._current_sub, None
        if isinstance(exc, DurableMismatch):
            self._reset_channel(session, exc, current=current, charge=False)
        elif isinstance(exc, _ConsumerCancelled) or errors.is_channel_error(exc):
            if sub is not None and errors.blames_declaration(exc):
                self._refuse(sub, exc)
            elif current is not None and errors.blames_declaration(exc):
                # This task's own declaration was refused: retrying cannot help.
                self._backlog.done(current)
                LOG.error("Broker refused a declaration on connection %s: %s", self.name,
                          errors.describe(exc))
                settle_future(current.future, exc=MessageDeliveryFailure(
                    f"The broker refused a declaration: {errors.describe(exc)}"))
                current = None
            else:
                LOG.warning("Channel error on connection %s: %s", self.name,
                            errors.describe(exc))
            self._reset_channel(session, exc, current=current)
        elif errors.is_connection_error(exc):
            self._lost(session, exc, current)
        else:
            LOG.exception("Unexpected error on connection %s; reconnecting", self.name)
            if current is not None:
                self._backlog.done(current)
                settle_future(current.future, exc=MessageDeliveryFailure(
                    f"Unexpected error: {errors.describe(exc)}"))
            self._lost(session, exc, None)

    def _requeue_in_flight(self, session: Session, current: _IOTask | None,
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

    def _reset_channel(self, session: Session, exc: BaseException,
                       current: _IOTask | None, charge: bool = True) -> None:
        """Open a new channel on the same connection; subscriptions are consumed again."""
        self._session = None
        self.last_error = f"{session.host}: {errors.describe(exc)}"
        self._requeue_in_flight(session, current, charge=charge)
        try:
            try:
                session.channel.close()
            except Exception:
                LOG.debug("Closing the failed channel raised", exc_info=True)
            self._generation += 1
            fresh = Session(session.kconn, session.amqp_connection,
                            session.amqp_connection.channel(), self._generation, True,
                            session.host)
            self._setup_channel(fresh)
        except Exception as again:
            self._lost(session, again, None)
            return
        self._session = fresh
        self._subs_dirty = True

    def _lost(self, session: Session, exc: BaseException, current: _IOTask | None) -> None:
        """The connection is gone: requeue in-flight work and schedule a reconnect."""
        self._session = None
        self._down = True
        self.blocked = None
        self.last_error = f"{session.host}: {errors.describe(exc)}"
        LOG.warning("Lost connection %s to %s (%s): %s; reconnecting", self.name,
                    session.host, self.purpose, errors.describe(exc))
        self._requeue_in_flight(session, current)
        self._forget_socket()
        self._release(session.kconn)
        self._next_attempt = time.monotonic() + self._policy.lost()

    def _attempt_failed(self, exc: BaseException, label: str) -> None:
        self._down = True
        self.failed_attempts += 1
        fatal = errors.is_fatal_connect_error(exc)
        self.last_error = f"{label}: {errors.describe(exc)}"
        self._take_tasks()
        self._backlog.charge_attempt(fatal, self._delivery_failure)
        if fatal:
            with self._subs_lock:
                subs = list(self._subs)
            for sub in subs:  # they stay: consumed once the operator fixed the login
                settle_future(sub.ready, exc=MessageDeliveryFailure(
                    f"Could not connect to {self._shown_url}: {self.last_error}"))
        delay = self._policy.failed(errors.is_refused(exc))
        # Attempts repeat every second while a broker is down: the same failure is
        # logged loudly once per _REPEAT_LOG_EVERY, quietly in between.
        now = time.monotonic()
        key = self.last_error
        if now - self._logged.get(key, -math.inf) >= _REPEAT_LOG_EVERY:
            self._logged = {k: t for k, t in self._logged.items()
                            if now - t < _REPEAT_LOG_EVERY}
            self._logged[key] = now
            log = LOG.error if fatal else LOG.warning
        else:
            log = LOG.debug
        log("Connection %s (%s) to %s failed: %s; next attempt in %.1f s", self.name,
            self.purpose, label, errors.describe(exc), delay)
        self._next_attempt = time.monotonic() + delay
        if self.failed_attempts >= len(self._hosts):  # a whole pass over the hosts failed
            settle_future(self.first_failure, self.last_error)

    @staticmethod
    def _release(kconn: Any) -> None:
        try:
            kconn.collect()
        except Exception:
            LOG.debug("Releasing a broken connection raised", exc_info=True)

    def _fail_all(self, reason: str) -> None:
        """Fail every queued, delayed and unconfirmed task, and unfinished subscriptions."""
        # Delayed work (reply retries) runs now, to fail with the rest.
        timers, self._timers = self._timers, []
        for _, _, fn in timers:
            try:
                fn()
            except Exception:
                LOG.debug("Delayed work failed while closing", exc_info=True)
        self._take_tasks()
        self._backlog.fail_all(lambda _t: MessageDeliveryFailure(reason))
        session = self._session
        if session is not None:
            for task in session.confirm.take_all():
                settle_future(task.future, exc=MessageDeliveryFailure(reason))
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            settle_future(sub.ready, exc=MessageDeliveryFailure(reason))

    def _shutdown(self) -> None:
        """Flush queued work and confirms (bounded), cancel, delete owned queues, close.

        On a connection the broker blocks, nothing is flushed (the broker
        does not read it): the socket is just dropped.
        """
        session = self._session
        deadline = time.monotonic() + self._close_grace
        if session is not None and self.blocked is None:
            try:
                self._take_tasks()
                self._run_settles(session)
                while time.monotonic() < deadline:
                    task = self._backlog.first()
                    if task is None:
                        break
                    assert isinstance(task, _IOTask)
                    self._current = task
                    task.execute(self, session)
                    self._backlog.done(task)
                    self._current = None
                while session.confirm.pending and time.monotonic() < deadline:
                    if self._buffered(session) or self._poller.poll(50):
                        self._clear_wakeups()
                        if self._buffered(session) or self._readable.poll(0):
                            self._drain(session)
                ch = session.channel
                with self._subs_lock:
                    subs, self._subs = self._subs, []
                for sub in subs:
                    sub.active = False
                    if sub.generation == session.generation:
                        for tag in sub.tags:
                            ch.basic_cancel(tag)
                for name in sorted(self._owned):
                    ch.queue_delete(name)
                self._owned.clear()
            except Exception as exc:
                LOG.debug("Closing connection %s: %s", self.name, errors.describe(exc))
            self._fail_all("connection closed")
            self._session = None
            try:
                session.amqp_connection.close()
            except Exception:
                LOG.debug("Closing connection %s raised", self.name, exc_info=True)
            self._release(session.kconn)
        else:
            self._fail_all("connection closed")
            self._session = None
            if session is not None:
                self._release(session.kconn)
        LOG.debug("Connection %s (%s) closed", self.name, self.purpose)

    def _close_fds(self) -> None:
        self._forget_socket()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1


class _ConsumerCancelled(Exception):
    """The broker cancelled one of our consumers; consume the subscriptions again."""


class _SSLReadable:
    """``poll(0)`` for a TLS socket: bytes decrypted but unread count as readable."""

    def __init__(self, sock: ssl.SSLSocket, poller: Any) -> None:
        self._sock = sock
        self._poller = poller

    def poll(self, timeout: float) -> bool:
        return bool(self._sock.pending() or self._poller.poll(timeout))
