"""One AMQP connection driven by its own I/O thread.

kombu and py-amqp are not thread-safe, and heartbeats must keep flowing
while an endpoint blocks the user's threads. So every connection of this
driver belongs to one daemon thread, the only thread that ever touches the
socket, the kombu connection or its channel. It:

- connects, walking the URL's hosts with the configured failover strategy
  and backing off (``rabbit_retry_interval``/``backoff``/``interval_max``)
  after each full pass that fails;
- puts its channel in confirm mode and re-applies every
  :class:`Subscription` (queue and binding declarations, ``basic.consume``)
  after each (re)connect, so consumption resumes by itself;
- runs the work other threads hand it (publishes, acks, rejects, cancels) in
  the order given, woken through a pipe, and reads frames whenever the socket
  is readable, calling ``heartbeat_check`` on time;
- tracks publisher confirms by delivery tag, so any number of publishes can
  be in flight (pipelined): the caller waits on a future, not on a round trip
  made by the thread. A publish unconfirmed when the connection drops is
  sent again, until its ``retry`` budget (connection attempts) is spent; then
  its future fails with :class:`~messaging.exceptions.MessageDeliveryFailure`.

Other threads use only the thread-safe methods: :meth:`IOConnection.publish`,
:meth:`IOConnection.run`, :meth:`IOConnection.subscribe`,
:meth:`IOConnection.unsubscribe` and :meth:`IOConnection.close`.
"""

from __future__ import annotations

import abc
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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from functools import partial
from typing import Any, TypeVar

import amqp
import kombu
from kombu.connection import failover_strategies

from messaging.exceptions import InvalidTransportURL, MessageDeliveryFailure, MessagingTimeout
from messaging.url import TransportHost, TransportURL

from . import errors
from .options import Settings
from .topology import DurableMismatch, ExchangeSpec, QueueSpec, declare_exchange, declare_queue

__all__ = ["IOConnection", "Publish", "Session", "Subscription", "ssl_protocol"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

_SSL_VERSIONS = {"tlsv1": "PROTOCOL_TLSv1", "tlsv1_1": "PROTOCOL_TLSv1_1",
                 "tlsv1_2": "PROTOCOL_TLSv1_2", "sslv23": "PROTOCOL_SSLv23",
                 "tls": "PROTOCOL_TLS", "tls_client": "PROTOCOL_TLS_CLIENT"}
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


def _settle(future: Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
    """Complete ``future`` unless something else already did."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class _Task(abc.ABC):
    """Work for the I/O thread, with its retry budget (counted in failed connection attempts)."""

    __slots__ = ("deadline", "failures", "future", "retry")

    def __init__(self, retry: int | None, deadline: float | None) -> None:
        self.retry = retry
        self.deadline = deadline
        self.failures = 0
        self.future: Future[Any] = Future()

    def over_budget(self) -> bool:
        return self.retry is not None and 0 <= self.retry < self.failures

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    @abc.abstractmethod
    def execute(self, conn: IOConnection, session: Session) -> None:
        """Run on the I/O thread with a live session; settle ``future``."""


class Publish(_Task):
    """One message to publish and its outcome.

    The future's result is True if the broker returned the message as
    unroutable (only for ``mandatory`` publishes), False once it is routed
    (confirmed, when confirms are on).

    :param exchange: declared before the first publish on a channel; None
        means the default exchange.
    :param queue: also declared (and bound) first: notifications do this so
        they wait for their first listener.
    :param deadline: ``time.monotonic()`` after which the message is useless
        (a call's); it is then dropped instead of sent.
    :param expire: set the AMQP ``expiration`` to the time left to ``deadline``.
    :param retry: connection attempts allowed to fail (None: no limit).
    """

    __slots__ = ("body", "exchange", "expire", "headers", "mandatory", "queue", "returned",
                 "routing_key")

    def __init__(self, exchange: ExchangeSpec | None, routing_key: str, body: bytes, *,
                 mandatory: bool = False, queue: QueueSpec | None = None,
                 deadline: float | None = None, expire: bool = False,
                 retry: int | None = None, headers: dict[str, Any] | None = None) -> None:
        super().__init__(retry, deadline)
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.mandatory = mandatory
        self.queue = queue
        self.expire = expire
        self.headers = headers
        self.returned = False

    def execute(self, conn: IOConnection, session: Session) -> None:
        now = time.monotonic()
        if self.expired(now):
            _settle(self.future, exc=MessagingTimeout(
                f"message to {self.describe()} not sent before its deadline"))
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
            pending = session.pending
            pending[session.next_tag] = self
            session.next_tag += 1
            if len(pending) > conn.peak_unconfirmed:
                conn.peak_unconfirmed = len(pending)
        else:
            _settle(self.future, False)

    def describe(self) -> str:
        name = self.exchange.name if self.exchange is not None else ""
        return f"exchange {name!r} routing key {self.routing_key!r}"


class _Op(_Task):
    """A function of the live session; skipped if bound to a channel that is gone."""

    __slots__ = ("fn", "generation")

    def __init__(self, fn: Callable[[Session], Any], generation: int | None,
                 retry: int | None, deadline: float | None) -> None:
        super().__init__(retry, deadline)
        self.fn = fn
        self.generation = generation

    def execute(self, conn: IOConnection, session: Session) -> None:
        if self.generation is not None and self.generation != session.generation:
            _settle(self.future, None)
            return
        if self.expired(time.monotonic()):
            _settle(self.future, exc=MessagingTimeout("operation not run before its deadline"))
            return
        _settle(self.future, self.fn(session))


class Subscription:
    """Queues consumed with one callback, re-declared and re-consumed after every reconnect.

    ``on_message(message, generation)`` runs on the I/O thread for each
    delivery; ``generation`` identifies the channel, so that a later ack can
    tell it is stale (the broker requeued the message when the channel went).
    """

    def __init__(self, queues: Sequence[QueueSpec],
                 on_message: Callable[[amqp.Message, int], None], *,
                 no_ack: bool = False) -> None:
        self.queues = list(queues)
        self.on_message = on_message
        self.no_ack = no_ack
        self.tags: list[str] = []
        self.active = True


class Session:
    """The live channel of an :class:`IOConnection`; used on its I/O thread only."""

    def __init__(self, kconn: kombu.Connection, amqp_connection: Any, channel: Any,
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
        self.pending: dict[int, Publish] = {}
        self.next_tag = 1


class IOConnection:
    """An AMQP connection with its own I/O thread, reconnecting and failing over by itself.

    :param purpose: a label for logs and the thread name ("client", "listener").
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
        self._queue: collections.deque[_Task] = collections.deque()
        self._backlog: collections.deque[_Task] = collections.deque()
        self._subs: list[Subscription] = []
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
        self._attempts = 0
        self._passes = 0
        self._next_attempt = 0.0
        self._next_heartbeat = 0.0
        self._current: _Task | None = None
        self._closing = False
        self._close_grace = 5.0
        self._closed = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        strategy: Any = failover_strategies[settings.kombu_failover_strategy]
        indices: list[int] = [i for i, _ in enumerate(self._hosts)]
        self._host_cycle: Iterator[int] = strategy(indices)
        #: successful connections so far (1 after the first connect; more after reconnects)
        self.connects = 0
        #: the last connection error, for error messages
        self.last_error: str | None = None
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

    def publish(self, message: Publish) -> Future[bool]:
        """Hand ``message`` to the I/O thread; the future completes when confirmed."""
        self._submit(message)
        return message.future

    def run(self, fn: Callable[[Session], T], *, generation: int | None = None,
            retry: int | None = None, deadline: float | None = None) -> Future[T]:
        """Run ``fn(session)`` on the I/O thread once connected.

        With ``generation``, ``fn`` is skipped (the result is None) unless that
        channel is still the current one: acks and rejects use it.
        """
        op = _Op(fn, generation, retry, deadline)
        self._submit(op)
        return op.future

    def subscribe(self, sub: Subscription) -> Future[None]:
        """Declare and consume ``sub``'s queues now and after every reconnect.

        The future completes once consuming (it fails if a declaration is
        refused, e.g. 406 PRECONDITION_FAILED, or the broker refuses the login).
        """
        return self.run(partial(self._consume_new, sub))

    def unsubscribe(self, sub: Subscription, delete_owned: bool = False) -> Future[None]:
        """Cancel ``sub``'s consumers (optionally deleting its owned queues)."""
        sub.active = False
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

    # ------------------------------------------------------------------ submission

    def _submit(self, task: _Task) -> None:
        if self._closing:
            _settle(task.future, exc=MessageDeliveryFailure("connection closed"))
            return
        if self._down:
            # The bus is known to be unreachable: this counts as one failed attempt.
            task.failures = 1
            if task.over_budget():
                _settle(task.future, exc=self._delivery_failure(task))
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

    def _delivery_failure(self, task: _Task) -> MessageDeliveryFailure:
        what = task.describe() if isinstance(task, Publish) else "operation"
        reason = self.last_error or "the broker is unreachable"
        return MessageDeliveryFailure(
            f"Could not send {what} to {self._shown_url} after {task.failures} failed "
            f"attempt(s): {reason}")

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
            backlog.append(queue.popleft())

    def _serve(self, session: Session) -> None:
        self._take_tasks()
        backlog = self._backlog
        while backlog and self._session is session:
            task = backlog[0]
            self._current = task
            task.execute(self, session)
            backlog.popleft()
            self._current = None
        self._run_timers()
        if self._queue or self._backlog:
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
        now = time.monotonic()
        until = self._next_heartbeat
        if self._timers:
            until = min(until, self._timers[0][0])
        return max(0.0, until - now)

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
            except TimeoutError:  # a frame cut short: the rest comes, or heartbeats notice
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

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (from any thread)."""
        when = time.monotonic() + delay
        if threading.get_ident() == self._ident:
            heapq.heappush(self._timers, (when, next(self._seq), fn))
        else:
            self.run(lambda _s: heapq.heappush(self._timers, (when, next(self._seq), fn)))

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
            "on_blocked": self._on_blocked,
            "on_unblocked": self._on_unblocked,
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

    @staticmethod
    def _on_blocked(reason: str) -> None:
        LOG.error("The broker has blocked the connection: %s", reason)

    @staticmethod
    def _on_unblocked() -> None:
        LOG.info("The broker has unblocked the connection")

    def _host_label(self, host: TransportHost) -> str:
        return f"{host.hostname or 'localhost'}:{host.port or 5672}"

    def _connect_step(self) -> None:
        """Wait for the next attempt (serving wakeups), then try one host."""
        now = time.monotonic()
        if now < self._next_attempt:
            self._wait_disconnected(self._next_attempt - now)
            return
        index = next(self._host_cycle)
        host = self._hosts[index]
        label = self._host_label(host)
        kconn = None
        try:
            kconn = kombu.Connection(**self._connection_kwargs(host))
            kconn.ensure_connection(max_retries=0)
            raw = kconn.connection
            # Reads block at most this long once a frame started (a peer dying
            # mid-frame), writes too (a peer not reading); heartbeats catch the rest.
            threshold = self.settings.heartbeat_timeout_threshold
            raw.sock.settimeout(float(threshold) if threshold > 0 else 60.0)
            self._generation += 1
            session = Session(kconn, raw, raw.channel(), self._generation, True, label)
            self._setup_session(session)
        except Exception as exc:
            if kconn is not None:
                self._release(kconn)
            self._attempt_failed(exc, label)
            return
        self._attempts = self._passes = 0
        self._down = False
        self._session = session
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
        if self._poller.poll(math.ceil(min(delay, 0.5) * 1000)):
            self._clear_wakeups()
        self._take_tasks()
        now = time.monotonic()
        keep: collections.deque[_Task] = collections.deque()
        for task in self._backlog:
            if task.expired(now):
                _settle(task.future, exc=MessagingTimeout("not sent before its deadline"))
            else:
                keep.append(task)
        self._backlog = keep

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

    def _setup_session(self, session: Session) -> None:
        ch = session.channel
        ch.auto_decode = False  # bodies stay bytes (compressed ones must)
        ch.events["basic_ack"].add(partial(self._on_ack, session))
        ch.events["basic_nack"].add(partial(self._on_nack, session))
        ch.events["basic_return"].add(partial(self._on_return, session))
        ch.confirm_select()
        if self._prefetch > 0:
            ch.basic_qos(0, self._prefetch, False)
        self._subs = [sub for sub in self._subs if sub.active]
        for sub in self._subs:
            self._consume(session, sub)

    def _consume_new(self, sub: Subscription, session: Session) -> None:
        if not sub.active:
            return
        self._consume(session, sub)
        self._subs.append(sub)

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

    def _cancel(self, sub: Subscription, delete_owned: bool, session: Session) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        ch = session.channel
        for tag in sub.tags:
            ch.basic_cancel(tag)
        sub.tags = []
        if delete_owned:
            for spec in sub.queues:
                if spec.owned:
                    ch.queue_delete(spec.name)
                    self._owned.discard(spec.name)

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
        pending = session.pending
        if multiple:
            while pending:
                first = next(iter(pending))
                if first > tag:
                    break
                p = pending.pop(first)
                _settle(p.future, p.returned)
        else:
            one = pending.pop(tag, None)
            if one is not None:
                _settle(one.future, one.returned)

    def _on_nack(self, session: Session, tag: int, multiple: bool) -> None:
        pending = session.pending
        nacked = []
        if multiple:
            while pending:
                first = next(iter(pending))
                if first > tag:
                    break
                nacked.append(pending.pop(first))
        elif tag in pending:
            nacked.append(pending.pop(tag))
        for p in nacked:
            p.failures += 1
            self.last_error = "the broker refused the message (basic.nack)"
            if p.over_budget():
                _settle(p.future, exc=self._delivery_failure(p))
            else:
                # Not at once: a queue refusing publishes (full) stays full for a while.
                p.returned = False
                self.call_later(self.settings.rabbit_retry_interval,
                                partial(self._backlog.append, p))

    def _on_return(self, session: Session, exc: Exception, exchange: str, routing_key: str,
                   message: amqp.Message) -> None:
        for p in session.pending.values():
            if p.mandatory and not p.returned and p.routing_key == routing_key \
                    and p.body == message.body:
                p.returned = True
                return

    # ------------------------------------------------------------------ failures

    def _on_error(self, session: Session, exc: BaseException) -> None:
        current, self._current = self._current, None
        if isinstance(exc, DurableMismatch):
            self._reset_channel(session, exc, current=None)
        elif isinstance(exc, _ConsumerCancelled) or errors.is_channel_error(exc):
            if current is not None and errors.blames_declaration(exc):
                # This task's own declaration was refused: retrying cannot help.
                if self._backlog and self._backlog[0] is current:
                    self._backlog.popleft()
                LOG.error("Broker refused a declaration on connection %s: %s", self.name,
                          errors.describe(exc))
                _settle(current.future, exc=MessageDeliveryFailure(
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
                if self._backlog and self._backlog[0] is current:
                    self._backlog.popleft()
                _settle(current.future, exc=MessageDeliveryFailure(
                    f"Unexpected error: {errors.describe(exc)}"))
            self._lost(session, exc, None)

    def _requeue_in_flight(self, session: Session, current: _Task | None,
                           charge: bool = True) -> None:
        """Put unconfirmed publishes back in front of the backlog, charging one failure."""
        in_flight: list[_Task] = list(session.pending.values())
        session.pending.clear()
        if current is not None and self._backlog and self._backlog[0] is current:
            self._backlog.popleft()
            in_flight.append(current)
        for task in reversed(in_flight):
            task.failures += 1 if charge else 0
            if task.over_budget():
                _settle(task.future, exc=self._delivery_failure(task))
            else:
                if isinstance(task, Publish):
                    task.returned = False
                self._backlog.appendleft(task)

    def _reset_channel(self, session: Session, exc: BaseException,
                       current: _Task | None) -> None:
        """Open a new channel on the same connection and re-apply the subscriptions."""
        self._session = None
        self.last_error = f"{session.host}: {errors.describe(exc)}"
        self._requeue_in_flight(session, current, charge=not isinstance(exc, DurableMismatch))
        try:
            try:
                session.channel.close()
            except Exception:
                LOG.debug("Closing the failed channel raised", exc_info=True)
            self._generation += 1
            fresh = Session(session.kconn, session.amqp_connection,
                            session.amqp_connection.channel(), self._generation, True,
                            session.host)
            self._setup_session(fresh)
        except Exception as again:
            self._lost(session, again, None)
            return
        self._session = fresh

    def _lost(self, session: Session, exc: BaseException, current: _Task | None) -> None:
        """The connection is gone: requeue in-flight work and schedule a reconnect."""
        self._session = None
        self._down = True
        self.last_error = f"{session.host}: {errors.describe(exc)}"
        LOG.warning("Lost connection %s to %s (%s): %s; reconnecting", self.name,
                    session.host, self.purpose, errors.describe(exc))
        self._requeue_in_flight(session, current)
        self._forget_socket()
        self._release(session.kconn)
        self._next_attempt = time.monotonic() + self.settings.kombu_reconnect_delay

    def _attempt_failed(self, exc: BaseException, label: str) -> None:
        self._down = True
        self._attempts += 1
        fatal = errors.is_fatal_connect_error(exc)
        self.last_error = f"{label}: {errors.describe(exc)}"
        self._take_tasks()
        keep: collections.deque[_Task] = collections.deque()
        for task in self._backlog:
            task.failures += 1
            if fatal or task.over_budget():
                _settle(task.future, exc=self._delivery_failure(task))
            else:
                keep.append(task)
        self._backlog = keep
        delay = 0.0
        if self._attempts % len(self._hosts) == 0:
            s = self.settings
            delay = min(s.rabbit_retry_interval + s.rabbit_retry_backoff * self._passes,
                        s.rabbit_interval_max)
            self._passes += 1
        log = LOG.error if fatal else LOG.warning
        log("Connection %s (%s) to %s failed: %s; next attempt in %.1f s", self.name,
            self.purpose, label, errors.describe(exc), delay)
        self._next_attempt = time.monotonic() + delay

    @staticmethod
    def _release(kconn: kombu.Connection) -> None:
        try:
            kconn.collect()
        except Exception:
            LOG.debug("Releasing a broken connection raised", exc_info=True)

    def _fail_all(self, reason: str) -> None:
        """Fail every queued, delayed and unconfirmed task (each with its own exception)."""
        # Delayed work (nacked publishes, reply retries) re-enters the backlog to fail too.
        timers, self._timers = self._timers, []
        for _, _, fn in timers:
            try:
                fn()
            except Exception:
                LOG.debug("Delayed work failed while closing", exc_info=True)
        self._take_tasks()
        for task in self._backlog:
            _settle(task.future, exc=MessageDeliveryFailure(reason))
        self._backlog.clear()
        session = self._session
        if session is not None:
            for p in session.pending.values():
                _settle(p.future, exc=MessageDeliveryFailure(reason))
            session.pending.clear()

    def _shutdown(self) -> None:
        """Flush queued work and confirms (bounded), cancel, delete owned queues, close."""
        session = self._session
        deadline = time.monotonic() + self._close_grace
        if session is not None:
            try:
                self._take_tasks()
                while self._backlog and time.monotonic() < deadline:
                    task = self._backlog[0]
                    self._current = task
                    task.execute(self, session)
                    self._backlog.popleft()
                    self._current = None
                while session.pending and time.monotonic() < deadline:
                    if self._buffered(session) or self._poller.poll(50):
                        self._clear_wakeups()
                        if self._buffered(session) or self._readable.poll(0):
                            self._drain(session)
                ch = session.channel
                for sub in self._subs:
                    sub.active = False
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
        LOG.debug("Connection %s (%s) closed", self.name, self.purpose)

    def _close_fds(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1


class _ConsumerCancelled(Exception):
    """The broker cancelled one of our consumers; re-apply the subscriptions."""


class _SSLReadable:
    """``poll(0)`` for a TLS socket: bytes decrypted but unread count as readable."""

    def __init__(self, sock: ssl.SSLSocket, poller: Any) -> None:
        self._sock = sock
        self._poller = poller

    def poll(self, timeout: float) -> bool:
        return bool(self._sock.pending() or self._poller.poll(timeout))
