"""One AMQP connection over kombu/py-amqp, driven by its own I/O thread.

The client-agnostic part (work, budgets, confirms, failover, subscriptions,
failure bookkeeping) is :class:`~messaging_amqp091.connection.ConnectionBase`;
this module adds the kombu I/O loop and connect code. The loop is the only
thread that ever touches the socket, the kombu connection or its channel:

- it connects with kombu, walking the URL's hosts (the base class's policy);
- it puts its channel in confirm mode and consumes every subscription
  (queue and binding declarations, ``basic.consume``) after each
  (re)connect; declarations are synchronous here (py-amqp waits for the
  ``-ok`` on the I/O thread);
- it runs the work other threads hand it, woken through a pipe, reads
  frames whenever the socket is readable and calls ``heartbeat_check`` on
  time, so heartbeats flow while endpoints block;
- it reads ``connection.blocked``/``unblocked`` with the broker's reason.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import amqp
import kombu.connection
from messaging_amqp091.connection import ConnectionBase, SessionBase
from messaging_amqp091.delivery import Delivery
from messaging_amqp091.errors import queue_unavailable
from messaging_amqp091.options import Settings
from messaging_amqp091.topology import (
    DurableMismatch,
    ExchangeSpec,
    QueueSpec,
    durable_mismatch,
    exchange_durability,
)
from messaging_amqp091.work import PROPERTIES, Operation, Publish, Subscription

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure
from messaging.url import TransportHost, TransportURL

from . import errors
from .poller import Poller

__all__ = ["KombuConnection", "Session"]

LOG = logging.getLogger(__name__)

#: kombu's Connection is untyped: the one place this driver builds it.
_KombuConnection: Any = kombu.connection.Connection

#: Frames read in one go before queued work gets a turn.
_DRAIN_BATCH = 256
_BASIC_PUBLISH = amqp.spec.Basic.Publish


class Session(SessionBase):
    """The live channel of a :class:`KombuConnection`; used on its I/O thread only."""

    def __init__(self, kconn: Any, amqp_connection: Any, channel: Any,
                 generation: int, host: str) -> None:
        super().__init__(channel, generation, host)
        self.kconn = kconn
        #: the py-amqp connection (never ``kconn.connection``: that property reconnects)
        self.amqp_connection = amqp_connection


def declare_exchange(channel: Any, spec: ExchangeSpec,
                     overrides: dict[str, bool]) -> None:
    """Declare ``spec`` on a py-amqp channel (no-op for the default exchange)."""
    if not spec.name:
        return
    durable = exchange_durability(spec, overrides)
    try:
        channel.exchange_declare(spec.name, spec.type, durable=durable,
                                 auto_delete=spec.auto_delete)
    except amqp.exceptions.PreconditionFailed as exc:
        mismatch = durable_mismatch(spec, durable, str(exc), overrides)
        if mismatch is not None:
            raise mismatch from exc
        raise


def declare_queue(channel: Any, spec: QueueSpec, overrides: dict[str, bool]) -> None:
    """Declare ``spec``, its exchanges and its bindings on a py-amqp channel."""
    for binding in spec.bindings:
        declare_exchange(channel, binding.exchange, overrides)
    channel.queue_declare(spec.name, durable=spec.durable, auto_delete=spec.auto_delete,
                          arguments=dict(spec.arguments) or None)
    for binding in spec.bindings:
        channel.queue_bind(spec.name, binding.exchange.name, binding.routing_key)


class KombuConnection(ConnectionBase):
    """An AMQP connection over kombu with its own I/O thread.

    Built as the base class is (``purpose``, ``prefetch_count``).
    """

    thread_prefix = "rabbit"

    def __init__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> None:
        super().__init__(settings, url, purpose=purpose, prefetch_count=prefetch_count)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._wake_pending = False
        # select.poll, or eventlet's hub in a monkey-patched process (poller.py)
        self._poller = Poller()
        self._poller.register(self._wake_r)
        self._sock: Any = None
        #: the socket's fd as registered (a closed socket's fileno() is -1)
        self._sock_fd = -1
        self._readable: Any = None
        self._session: Session | None = None
        self._next_heartbeat = 0.0

    # ------------------------------------------------------------------ any thread

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (from any thread)."""
        when = time.monotonic() + delay
        if self._on_io_thread():
            heapq.heappush(self._timers, (when, next(self._seq), fn))
        else:
            self.run(lambda _s: heapq.heappush(self._timers, (when, next(self._seq), fn)))

    def _wake(self) -> None:
        if not self._wake_pending and not self._on_io_thread():
            self._wake_pending = True
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
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

    def _take_tasks(self) -> None:
        self._wake_pending = False
        super()._take_tasks()

    def _serve(self, session: Session) -> None:
        self._take_tasks()
        if self._settles:
            self._run_settles(session)
        if self._subs_dirty and self.blocked is None:  # a blocked broker answers nothing
            self._consume_missing(session)
        self._sweep(time.monotonic(), session)
        self._run_backlog(session)
        self._run_timers()
        backlog = self._backlog
        if self._queue or self._settles or (self.blocked is None and backlog.first()):
            timeout = 0.0
        else:
            timeout = self._wait_time()
        buffered = self._buffered(session)
        events = self._poller.poll(0.0 if buffered else timeout)
        readable = buffered
        for fd in events:
            if fd == self._wake_r:
                self._clear_wakeups()
            elif fd == self._sock_fd:
                readable = True
        if readable:
            self._drain(session)
        self._heartbeat(session)

    def _publish(self, task: Publish, session: Session) -> bool:
        ch = session.channel
        exchange = task.exchange
        if exchange is not None and exchange.name and exchange.name not in session.declared:
            declare_exchange(ch, exchange, self.durable_overrides)
            session.declared.add(exchange.name)
        if task.queue is not None and ("q", task.queue.name) not in session.declared:
            declare_queue(ch, task.queue, self.durable_overrides)
            session.declared.add(("q", task.queue.name))
        props = dict(PROPERTIES)
        props["application_headers"] = task.headers if task.headers is not None else {}
        expiration = task.expiration(time.monotonic())
        if expiration is not None:
            props["expiration"] = expiration
        # Channel.send_method, not basic_publish: py-amqp's basic_publish first
        # drains the socket (for connection.blocked), a second read per message;
        # the I/O thread reads the socket anyway.
        ch.send_method(_BASIC_PUBLISH, "Bssbb",
                       (0, task.exchange_name, task.routing_key, task.mandatory, False),
                       amqp.Message(task.body, **props))
        self._published(task, session)
        return True

    def _buffered(self, session: Session) -> bool:
        """Bytes already read from the socket (py-amqp's buffer, TLS) wait for parsing."""
        if getattr(session.amqp_connection.transport, "_read_buffer", b""):
            return True
        sock = self._sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def _clear_wakeups(self) -> None:
        try:
            while self._poller.read(self._wake_r, 4096):
                pass
        except OSError:
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

    def _flush_timers(self) -> None:
        # Delayed work (reply retries) runs now, to fail with the rest.
        timers, self._timers = self._timers, []
        for _, _, fn in timers:
            try:
                fn()
            except Exception:
                LOG.debug("Delayed work failed while closing", exc_info=True)

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

    def _count_consumers(self, host: TransportHost, queue: str) -> int:
        with _KombuConnection(**self._connection_kwargs(host)) as probe:
            channel = probe.channel()
            try:
                return int(channel.queue_declare(queue=queue, passive=True).consumer_count)
            except amqp.exceptions.NotFound:
                return 0

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
        raw._callbacks[blocked] = lambda reason="": self._on_blocked(reason)
        raw._callbacks[amqp.spec.Connection.Unblocked] = self._on_unblocked

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
            session = Session(kconn, raw, raw.channel(), self._generation, label)
            self._setup_channel(session)
        except Exception as exc:
            if kconn is not None:
                self._release(kconn)
            self._attempt_failed(exc, errors.describe(exc), label)
            return
        self._established(session, label)
        self._watch_socket(session)
        self._next_heartbeat = 0.0

    def _is_fatal(self, exc: BaseException) -> bool:
        return errors.is_fatal_connect_error(exc)

    def _wait_disconnected(self, delay: float) -> None:
        """Sleep until the next attempt, waking for close() and to drop expired work."""
        now = time.monotonic()
        wait = min(delay, self._backlog.earliest - now, 0.5)
        if self._poller.poll(max(wait, 0.0)):
            self._clear_wakeups()
        self._take_tasks()
        self._settles.clear()  # their channel is gone: the broker requeued those deliveries
        self._sweep(time.monotonic(), None)

    def _watch_socket(self, session: Session) -> None:
        self._forget_socket()
        self._sock = session.amqp_connection.sock
        self._sock_fd = self._sock.fileno()
        self._poller.register(self._sock_fd)
        self._readable = Poller()
        self._readable.register(self._sock_fd)
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
        ch.events["basic_ack"].add(partial(self._confirmed, session))
        ch.events["basic_nack"].add(partial(self._nacked, session))
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
        for sub in self._active_subs():
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
                             callback=partial(self._on_message, sub, session.generation, spec.name),
                             arguments=dict(spec.consumer_arguments or {}) or None,
                             on_cancel=partial(self._on_cancel, sub))
            tags.append(tag)
        sub.tags = tags
        sub.generation = session.generation

    def _on_message(self, sub: Subscription, generation: int, queue: str,
                    message: amqp.Message) -> None:
        info = message.delivery_info
        self._count_redelivery(info.get("redelivered"))
        self._deliver(sub, generation, Delivery(
            message.body, message.headers, info["delivery_tag"], info.get("exchange", ""),
            info.get("routing_key", ""), queue))

    def _on_cancel(self, sub: Subscription, tag: str) -> None:
        if sub.active and not self._closing:
            LOG.warning("The broker cancelled consumer %s (queue deleted?) on connection %s; "
                        "declaring and consuming again", tag, self.name)
            raise _ConsumerCancelled(tag)

    def _on_return(self, session: Session, exc: Exception, exchange: str, routing_key: str,
                   message: amqp.Message) -> None:
        self._returned(session, routing_key, message.body)

    # ------------------------------------------------------------------ failures

    def _on_error(self, session: Session, exc: BaseException) -> None:
        current, self._current = self._current, None
        sub, self._current_sub = self._current_sub, None
        if isinstance(exc, DurableMismatch):
            self._reset_channel(session, exc, current=current, charge=False)
        elif errors.is_channel_error(exc) and queue_unavailable(exc):
            LOG.warning("Connection %s: %s; reconnecting to try again", self.name,
                        errors.describe(exc))
            self._lost(session, exc, current)
        elif isinstance(exc, _ConsumerCancelled) or errors.is_channel_error(exc):
            if sub is not None and errors.blames_declaration(exc):
                self._refuse(sub, errors.describe(exc))
            elif current is not None and errors.blames_declaration(exc):
                self._refuse_task(current, errors.describe(exc))
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

    def _reset_channel(self, session: Session, exc: BaseException,
                       current: Any, charge: bool = True) -> None:
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
                            session.amqp_connection.channel(), self._generation, session.host)
            self._setup_channel(fresh)
        except Exception as again:
            self._lost(session, again, None)
            return
        self._session = fresh
        self._subs_dirty = True

    def _lost(self, session: Session, exc: BaseException, current: Any) -> None:
        """The connection is gone: requeue in-flight work and schedule a reconnect."""
        self._lost_session(session, errors.describe(exc), current)
        self._forget_socket()
        self._release(session.kconn)

    @staticmethod
    def _release(kconn: Any) -> None:
        try:
            kconn.collect()
        except Exception:
            LOG.debug("Releasing a broken connection raised", exc_info=True)

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
                    self._current = task
                    if isinstance(task, Publish):
                        self._publish(task, session)
                    elif isinstance(task, Operation):
                        settle_future(task.future, task.fn(session))
                    self._backlog.done(task)
                    self._current = None
                while session.confirm.pending and time.monotonic() < deadline:
                    if self._buffered(session) or self._poller.poll(0.05):
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

    def _release_resources(self) -> None:
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
