"""One AMQP connection over pika, owned by the thread that runs its ``SelectConnection`` ioloop.

pika is not thread-safe: every connection of this driver has one daemon
thread running a pika ``IOLoop``, and only that thread touches the pika
connection and its channel. Other threads hand it work through the shared
:class:`~messaging_amqp091.connection.ConnectionBase` methods, which queue
it and wake the loop with ``IOLoop.add_callback_threadsafe`` (the only
wake-up: no pipe of our own). Everything is asynchronous, as pika's
``SelectConnection`` is:

- a connection attempt is one ``SelectConnection`` on the long-lived ioloop;
  the base class's policy picks the host and the wait between attempts;
- the channel is put in confirm mode (``confirm_delivery`` with a callback:
  confirms are pipelined, matched by delivery tag); returns, consumer
  cancellations and channel closings have callbacks too;
- declarations are RPCs: a publish that needs its exchange (or queue)
  declared first waits, and the work behind it too, until the last
  ``-ok`` arrives; subscriptions are declared and consumed one after the
  other, each acknowledged by its last ``basic.consume-ok``;
- a channel the broker closes (404, 406...) blames the declaration in
  flight when the broker's text names one of its objects (that send or
  subscription fails), and a new channel takes over; a lost connection
  puts unconfirmed work back in the backlog and reconnects;
- heartbeats are pika's own timers on the ioloop, independent of the
  threads that run endpoints; ``connection.blocked``/``unblocked`` hold and
  resume publishing.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pika
import pika.exceptions
import pika.spec
from messaging_amqp091.connection import ConnectionBase, SessionBase
from messaging_amqp091.delivery import Delivery
from messaging_amqp091.errors import queue_unavailable
from messaging_amqp091.options import Settings
from messaging_amqp091.tls import ssl_context
from messaging_amqp091.topology import (
    ExchangeSpec,
    QueueSpec,
    durable_mismatch,
    exchange_durability,
)
from messaging_amqp091.work import PROPERTIES, Publish, Subscription
from pika.adapters.select_connection import IOLoop

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure
from messaging.url import TransportHost, TransportURL
from messaging_pika.logs import driver_work

from . import errors

__all__ = ["PikaConnection", "Session"]

LOG = logging.getLogger(__name__)

#: pika's classes are untyped where it matters: used through these names.
_SelectConnection: Any = pika.SelectConnection
_BasicProperties: Any = pika.BasicProperties
_ACK: Any = pika.spec.Basic.Ack
#: How often a closing connection looks whether its work was flushed and confirmed.
_FLUSH_POLL = 0.02


class Session(SessionBase):
    """The live channel of a :class:`PikaConnection`; used on its I/O thread only."""

    def __init__(self, pconn: Any, channel: Any, generation: int, host: str,
                 new_connection: bool) -> None:
        super().__init__(channel, generation, host)
        self.pconn = pconn
        #: the first channel of its connection (opening it completes a connect)
        self.new_connection = new_connection


class PikaConnection(ConnectionBase):
    """An AMQP connection over pika's ``SelectConnection`` with its own I/O thread.

    Built as the base class is (``purpose``, ``prefetch_count``).
    """

    thread_prefix = "pika"

    def __init__(self, settings: Settings, url: TransportURL, *, purpose: str,
                 prefetch_count: int = 0) -> None:
        super().__init__(settings, url, purpose=purpose, prefetch_count=prefetch_count)
        self._ioloop: Any = IOLoop()
        self._wake_pending = False
        self._session: Session | None = None
        #: the pika connection being opened or open (None between attempts)
        self._pconn: Any = None
        self._pconn_label = ""
        #: the one timer that wakes the loop for deadlines, retries and attempts
        self._timer: Any = None
        self._timer_at = math.inf
        #: a publish waits for its declarations (the backlog waits behind it)
        self._waiting = False
        #: exchanges being declared now, with the durability asked for
        self._declaring: dict[str, tuple[ExchangeSpec, bool]] = {}
        self._shutting_down = False
        self._stopped = False
        #: work :meth:`call_later` scheduled, by key: (pika's timer, the function)
        self._delayed: dict[int, tuple[Any, Callable[[], None]]] = {}
        self._delayed_keys = itertools.count()
        self._delayed_flushed = False

    # ------------------------------------------------------------------ any thread

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (from any thread).

        Still pending when the connection closes, ``fn`` runs then: what it
        sends (a reply retry) fails and is reported with the rest.
        """
        if self._on_io_thread():
            self._add_delayed(delay, fn)
        else:
            self._threadsafe(partial(self._add_delayed, delay, fn))

    def _add_delayed(self, delay: float, fn: Callable[[], None]) -> None:
        if self._delayed_flushed:  # closing: it fails with the rest now
            self._guarded(fn)
            return
        key = next(self._delayed_keys)
        self._delayed[key] = (self._ioloop.call_later(delay, partial(self._run_delayed, key)),
                              fn)

    def _run_delayed(self, key: int) -> None:
        entry = self._delayed.pop(key, None)
        if entry is not None:
            self._guarded(entry[1])

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            LOG.exception("Timer of connection %s failed", self.name)

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            self._threadsafe(self._serve)

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        if self._stopped:
            return
        try:
            self._ioloop.add_callback_threadsafe(fn)
        except Exception:  # the loop is gone (closing): nothing left to wake
            LOG.debug("Connection %s: the I/O loop is closed", self.name)

    # ------------------------------------------------------------------ I/O thread: loop

    def _run(self) -> None:
        with driver_work():
            self._ioloop.add_callback_threadsafe(self._serve)
            self._ioloop.start()

    def _flush_timers(self) -> None:
        # Delayed work (reply retries) runs now, to fail and be reported with the rest.
        self._delayed_flushed = True
        delayed, self._delayed = self._delayed, {}
        for timer, fn in delayed.values():
            with contextlib.suppress(Exception):  # the loop may be gone (a crash)
                self._ioloop.remove_timeout(timer)
            self._guarded(fn)

    def _release_resources(self) -> None:
        self._stopped = True
        pconn, self._pconn = self._pconn, None
        if pconn is not None and not pconn.is_closed:
            LOG.debug("Connection %s ended before pika closed its socket: it closes when "
                      "the pika connection is collected", self.name)
        try:
            self._ioloop.close()
        except Exception:
            LOG.debug("Closing the I/O loop of %s raised", self.name, exc_info=True)

    def _serve(self) -> None:
        """Run what is due: settles, subscriptions, deadlines, the backlog; then sleep."""
        self._wake_pending = False
        if self._stopped:
            return
        try:
            self._serve_now()
        except Exception as exc:  # a bug or an odd client state: never kill the loop
            LOG.exception("Connection %s (%s) failed serving its work; reconnecting", self.name,
                          self.purpose)
            self._recover(exc)

    def _recover(self, exc: BaseException) -> None:
        """Fail the work at hand and drop the connection (it reconnects)."""
        current, self._current = self._current, None
        if current is not None:
            self._backlog.done(current)
            settle_future(current.future, exc=MessageDeliveryFailure(
                f"Unexpected error: {errors.describe(exc)}"))
        pconn = self._pconn
        if pconn is not None and pconn.is_open:
            pconn.close(320, "client error")
        elif pconn is None and self._session is not None:
            self._lost_session(self._session, errors.describe(exc), None)

    def _serve_now(self) -> None:
        if self._closing and not self._shutting_down:
            self._begin_shutdown()
        self._take_tasks()
        session = self._session
        now = time.monotonic()
        if session is None:
            self._settles.clear()  # their channel is gone: the broker requeued the deliveries
            self._sweep(now, None)
            if self._shutting_down:
                self._finish_shutdown()
                return
            if self._pconn is None and now >= self._next_attempt:
                self._connect()
            self._schedule()
            return
        if self._settles:
            self._run_settles(session)
        if self._subs_dirty and self.blocked is None and self._current_sub is None:
            self._consume_next(session)
        self._sweep(now, session)
        if not self._waiting:
            self._run_backlog(session)
        self._schedule()

    def _schedule(self) -> None:
        """Have the loop run :meth:`_serve` when the next deadline, retry or attempt is due."""
        backlog = self._backlog
        until = min(backlog.earliest, backlog.next_due())
        if self._session is None and self._pconn is None and not self._shutting_down:
            until = min(until, self._next_attempt)
        if until >= self._timer_at or until == math.inf:
            return
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
        self._timer_at = until
        self._timer = self._ioloop.call_later(max(0.0, until - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._serve()

    # ------------------------------------------------------------------ I/O thread: work

    def _publish(self, task: Publish, session: Session) -> bool:
        exchanges: list[ExchangeSpec] = []
        queues: list[QueueSpec] = []
        exchange = task.exchange
        if exchange is not None and exchange.name and exchange.name not in session.declared:
            exchanges.append(exchange)
        if task.queue is not None and ("q", task.queue.name) not in session.declared:
            queues.append(task.queue)
        if exchanges or queues:
            self._waiting = True
            keys: list[Any] = [e.name for e in exchanges] + [("q", q.name) for q in queues]
            self._declare(session, exchanges, queues,
                          partial(self._declared_for_publish, session, keys))
            return False
        properties = _BasicProperties(
            content_type=PROPERTIES["content_type"],
            content_encoding=PROPERTIES["content_encoding"],
            headers=task.headers if task.headers is not None else {},
            delivery_mode=PROPERTIES["delivery_mode"], priority=PROPERTIES["priority"],
            expiration=task.expiration(time.monotonic()))
        session.channel.basic_publish(task.exchange_name, task.routing_key, task.body,
                                      properties, task.mandatory)
        self._published(task, session)
        return True

    def _declared_for_publish(self, session: Session, keys: list[Any]) -> None:
        if self._session is not session:
            return
        session.declared.update(keys)
        self._waiting = False
        self._serve()

    def _declare(self, session: Session, exchanges: list[ExchangeSpec],
                 queues: list[QueueSpec], done: Callable[[], None]) -> None:
        """Declare exchanges, then queues with their exchanges and bindings; ``done()`` after.

        pika sends a channel's RPCs one after the other, so they are all
        issued now and only the last one's ``-ok`` calls ``done``.
        """
        ch = session.channel
        calls: list[Callable[..., None]] = []
        seen: set[str] = set()

        def exchange_call(spec: ExchangeSpec) -> None:
            if not spec.name or spec.name in seen:
                return
            seen.add(spec.name)
            durable = exchange_durability(spec, self.durable_overrides)
            self._declaring[spec.name] = (spec, durable)
            calls.append(partial(ch.exchange_declare, spec.name, spec.type, durable=durable,
                                 auto_delete=spec.auto_delete))

        for spec in exchanges:
            exchange_call(spec)
        for queue in queues:
            for binding in queue.bindings:
                exchange_call(binding.exchange)
            calls.append(partial(ch.queue_declare, queue.name, durable=queue.durable,
                                 auto_delete=queue.auto_delete,
                                 arguments=dict(queue.arguments) or None))
            for binding in queue.bindings:
                calls.append(partial(ch.queue_bind, queue.name, binding.exchange.name,
                                     routing_key=binding.routing_key))
        if not calls:
            done()
            return
        for call in calls[:-1]:
            call(callback=None)

        def last_ok(_frame: Any) -> None:
            self._declaring.clear()
            done()

        calls[-1](callback=last_ok)

    # ------------------------------------------------------------------ I/O thread: consuming

    def _consume_next(self, session: Session) -> None:
        """Declare and consume the next subscription not consumed on this channel, if any."""
        for sub in self._active_subs():
            if sub.active and sub.generation != session.generation:
                self._current_sub = sub
                self._declare(session, [], sub.queues,
                              partial(self._consume, session, sub))
                return
        self._subs_dirty = False

    def _consume(self, session: Session, sub: Subscription) -> None:
        if self._session is not session:
            return
        ch = session.channel
        tags = [str(next(self._tags)) for _ in sub.queues]
        for spec, tag in zip(sub.queues, tags, strict=True):
            if spec.owned:
                self._owned.add(spec.name)
            last = tag == tags[-1]
            ch.basic_consume(spec.name, partial(self._on_message, sub, session.generation,
                                                        spec.name),
                             auto_ack=sub.no_ack, consumer_tag=tag,
                             arguments=dict(spec.consumer_arguments or {}) or None,
                             callback=partial(self._consumed, session, sub, tags) if last
                             else None)

    def _consumed(self, session: Session, sub: Subscription, tags: list[str],
                  _frame: Any) -> None:
        if self._session is not session:
            return
        self._current_sub = None
        sub.tags = tags
        sub.generation = session.generation
        if not sub.active:  # unsubscribed meanwhile
            self._cancel(sub, False, session)
        settle_future(sub.ready, None)
        self._subs_dirty = True  # look for the next one
        self._serve()

    def _on_message(self, sub: Subscription, generation: int, queue: str, _channel: Any,
                    method: Any, properties: Any, body: bytes) -> None:
        self._count_redelivery(method.redelivered)
        self._deliver(sub, generation, Delivery(body, properties.headers, method.delivery_tag,
                                                method.exchange, method.routing_key, queue))

    def _on_consumer_cancelled(self, session: Session, frame: Any) -> None:
        """The broker cancelled a consumer (its queue was deleted): consume everything again."""
        if self._session is not session or self._closing:
            return
        tag = frame.method.consumer_tag
        LOG.warning("The broker cancelled consumer %s (queue deleted?) on connection %s; "
                    "declaring and consuming again", tag, self.name)
        self._reset_channel(session, f"the broker cancelled consumer {tag}", None)

    # ------------------------------------------------------------------ I/O thread: confirms

    def _on_confirm(self, session: Session, frame: Any) -> None:
        if self._session is not session:
            return
        method = frame.method
        if isinstance(method, _ACK):
            self._confirmed(session, method.delivery_tag, method.multiple)
        else:
            self._nacked(session, method.delivery_tag, method.multiple)
            self._schedule()

    def _on_return(self, session: Session, _channel: Any, method: Any, _properties: Any,
                   body: bytes) -> None:
        if self._session is session:
            self._returned(session, method.routing_key, body)

    # ------------------------------------------------------------------ I/O thread: connecting

    def _count_consumers(self, host: TransportHost, queue: str) -> int:
        with driver_work():  # pika's records of a failed probe: the caller logs the failure
            return self._probe_consumers(host, queue)

    def _probe_consumers(self, host: TransportHost, queue: str) -> int:
        probe = pika.BlockingConnection(self._parameters(host))
        try:
            try:
                declared = probe.channel().queue_declare(queue=queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code == 404:
                    return 0
                raise
            return int(declared.method.consumer_count)
        finally:
            if probe.is_open:
                probe.close()

    def _parameters(self, host: TransportHost) -> Any:
        """pika's connection parameters for ``host`` from the settings."""
        s = self.settings
        credentials: Any
        if s.rabbit_login_method == "EXTERNAL":
            credentials = pika.credentials.ExternalCredentials()
        else:  # PLAIN; AMQPLAIN (the option's default) sends the same user and password
            credentials = pika.PlainCredentials(host.username or "guest",
                                                host.password or "guest")
        tcp_options = None
        if s.heartbeat_timeout_threshold > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
            tcp_options = {"TCP_USER_TIMEOUT": int(s.heartbeat_timeout_threshold * 1000)}
        ssl_options = None
        hostname = host.hostname or "localhost"
        if s.ssl:
            ssl_options = pika.SSLOptions(ssl_context(s, self._ssl_version),
                                          server_hostname=hostname)
        return pika.ConnectionParameters(
            host=hostname, port=host.port or 5672, virtual_host=self._vhost,
            credentials=credentials, heartbeat=s.heartbeat_timeout_threshold,
            socket_timeout=s.connect_timeout, stack_timeout=s.connect_timeout,
            connection_attempts=1, retry_delay=0, blocked_connection_timeout=None,
            client_properties={"connection_name": self.name}, ssl_options=ssl_options,
            tcp_options=tcp_options)

    def _connect(self) -> None:
        """Start one connection attempt to the next host."""
        host = self._hosts[self._policy.next_host()]
        label = self._host_label(host)
        self._pconn_label = label
        try:
            params = self._parameters(host)
            self._pconn = _SelectConnection(
                params, on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_connection_closed, custom_ioloop=self._ioloop)
        except Exception as exc:
            self._pconn = None
            self._attempt_failed(exc, errors.describe(exc), label)

    def _is_fatal(self, exc: BaseException) -> bool:
        return errors.is_fatal_connect_error(exc)

    def _on_open(self, pconn: Any) -> None:
        if pconn is not self._pconn:
            return
        pconn.add_on_connection_blocked_callback(self._on_connection_blocked)
        pconn.add_on_connection_unblocked_callback(self._on_connection_unblocked)
        self._open_channel(pconn, new_connection=True)

    def _on_open_error(self, pconn: Any, exc: BaseException) -> None:
        if pconn is not self._pconn:
            return
        self._pconn = None
        if self._shutting_down:
            self._stop_loop()
            return
        self._attempt_failed(exc, errors.describe(exc), self._pconn_label)
        self._serve()

    def _open_channel(self, pconn: Any, new_connection: bool) -> None:
        self._generation += 1
        pconn.channel(on_open_callback=partial(self._on_channel_open, pconn, self._generation,
                                               new_connection))

    def _on_channel_open(self, pconn: Any, generation: int, new_connection: bool,
                         channel: Any) -> None:
        if pconn is not self._pconn or generation != self._generation:
            return
        session = Session(pconn, channel, generation, self._pconn_label, new_connection)
        channel.add_on_close_callback(partial(self._on_channel_closed, session))
        channel.add_on_return_callback(partial(self._on_return, session))
        channel.add_on_cancel_callback(partial(self._on_consumer_cancelled, session))
        channel.confirm_delivery(ack_nack_callback=partial(self._on_confirm, session),
                                 callback=partial(self._on_confirm_mode, session))

    def _on_confirm_mode(self, session: Session, _frame: Any) -> None:
        if self._prefetch > 0:
            session.channel.basic_qos(prefetch_count=self._prefetch,
                                      callback=partial(self._on_session_ready, session))
        else:
            self._on_session_ready(session, None)

    def _on_session_ready(self, session: Session, _frame: Any) -> None:
        if session.pconn is not self._pconn or session.generation != self._generation:
            return
        if session.new_connection:
            self._established(session, session.host)
        else:
            self._session = session
            self._subs_dirty = True
        self._serve()

    def _on_connection_blocked(self, _pconn: Any, frame: Any) -> None:
        self._on_blocked(getattr(frame.method, "reason", "") or "")

    def _on_connection_unblocked(self, _pconn: Any, _frame: Any) -> None:
        self._on_unblocked()
        self._serve()

    # ------------------------------------------------------------------ I/O thread: failures

    def _on_channel_closed(self, session: Session, _channel: Any, reason: BaseException,
                           ) -> None:
        """A channel closed: by the broker (a channel error), or with its connection."""
        if session.pconn is not self._pconn or session.generation != self._generation:
            return  # an older channel, or the connection's close handles it
        if self._shutting_down or not session.pconn.is_open:
            return
        why = errors.describe(reason)
        text = str(reason)
        if queue_unavailable(text):
            # Retried after a reconnect (the connection's close requeues the work in flight).
            LOG.warning("Connection %s: %s; reconnecting to try again", self.name, why)
            session.pconn.close()
            return
        current, sub = self._current, self._current_sub
        self._current_sub = None
        charge = True
        mismatch = next((durable_mismatch(spec, durable, text, self.durable_overrides)
                         for spec, durable in self._declaring.values()
                         if f"exchange '{spec.name}'" in text), None)
        if mismatch is not None:
            charge = False
        elif sub is not None and _names_any(text, sub.names()):
            self._refuse(sub, why)
        elif current is not None and self._waiting and isinstance(current, Publish) \
                and _names_any(text, _task_names(current)):
            self._refuse_task(current, why)
            current = None
        else:
            LOG.warning("Channel error on connection %s: %s", self.name, why)
        if not self._waiting:
            current = None  # not in flight: still at the head of the backlog
        self._reset_channel(session, why, current, charge)

    def _reset_channel(self, session: Session, why: str, current: Any,
                       charge: bool = True) -> None:
        """Open a new channel on the same connection; subscriptions are consumed again."""
        self._session = None
        self._current = None
        self._current_sub = None
        self._waiting = False
        self._declaring.clear()
        self.last_error = f"{session.host}: {why}"
        self._requeue_in_flight(session, current, charge=charge)
        for sub in self._active_subs():
            sub.generation = 0
        if session.channel.is_open:
            try:
                session.channel.close()
            except Exception:
                LOG.debug("Closing the channel of connection %s raised", self.name,
                          exc_info=True)
        try:
            self._open_channel(session.pconn, new_connection=False)
        except Exception as exc:
            LOG.warning("Connection %s cannot open a channel (%s); reconnecting", self.name,
                        errors.describe(exc))
            session.pconn.close()

    def _on_connection_closed(self, pconn: Any, reason: BaseException) -> None:
        if pconn is not self._pconn:
            return
        self._pconn = None
        session = self._session
        if self._shutting_down:
            self._session = None
            self._stop_loop()
            return
        current = self._current if self._waiting else None
        self._current = None
        self._current_sub = None
        self._waiting = False
        self._declaring.clear()
        if session is not None:
            self._lost_session(session, errors.describe(reason), current)
        else:  # closed while its channel was being set up: a failed attempt
            self._attempt_failed(reason, errors.describe(reason), self._pconn_label)
        for sub in self._active_subs():
            sub.generation = 0
        self._serve()

    # ------------------------------------------------------------------ I/O thread: closing

    def _begin_shutdown(self) -> None:
        """Flush queued work and confirms (bounded by the grace), then close."""
        self._shutting_down = True
        self._shutdown_deadline = time.monotonic() + self._close_grace
        self._ioloop.call_later(self._close_grace + 1.0, self._give_up_closing)  # last resort
        if self._session is None or self.blocked is not None:
            self._finish_shutdown()
            return
        self._ioloop.call_later(_FLUSH_POLL, self._flush_poll)

    def _flush_poll(self) -> None:
        if self._stopped or self._session is None:
            return
        session = self._session
        flushed = self._backlog.first() is None and not session.confirm.pending \
            and not self._queue
        if flushed or time.monotonic() >= self._shutdown_deadline:
            self._finish_shutdown()
        else:
            self._serve()
            self._ioloop.call_later(_FLUSH_POLL, self._flush_poll)

    def _finish_shutdown(self) -> None:
        """Cancel consumers, delete owned queues, fail what is left, close the connection."""
        session, pconn = self._session, self._pconn
        if session is not None and self.blocked is None and session.channel.is_open:
            try:
                with self._subs_lock:
                    subs, self._subs = self._subs, []
                for sub in subs:
                    sub.active = False
                    if sub.generation == session.generation:
                        for tag in sub.tags:
                            session.channel.basic_cancel(tag)
                for name in sorted(self._owned):
                    session.channel.queue_delete(name)
                self._owned.clear()
            except Exception as exc:
                LOG.debug("Closing connection %s: %s", self.name, errors.describe(exc))
        self._fail_all("connection closed")
        self._session = None
        if pconn is not None and not pconn.is_closed and not pconn.is_closing:
            if self.blocked is not None:
                self._drop(pconn)  # the broker reads nothing: no close handshake
                return
            try:
                pconn.close()  # after the queued cancels and deletes; its close ends the loop
                return
            except Exception:
                LOG.debug("Closing connection %s raised", self.name, exc_info=True)
        if pconn is None or pconn.is_closed:
            self._stop_loop()

    def _give_up_closing(self) -> None:
        """The close did not end within the grace (the broker does not answer): drop it."""
        pconn = self._pconn
        if self._stopped or pconn is None or pconn.is_closed:
            self._stop_loop()
            return
        LOG.warning("Connection %s (%s): the broker did not answer the close in time; "
                    "dropping the connection", self.name, self.purpose)
        self._ioloop.call_later(1.0, self._stop_loop)  # should pika not report the end
        self._drop(pconn)

    def _drop(self, pconn: Any) -> None:
        """End ``pconn`` without the close handshake; the loop stops once pika reports it."""
        if not drop_stream(pconn):
            LOG.warning("Connection %s: this pika cannot drop a connection; its socket "
                        "closes when the pika connection is collected", self.name)
            self._stop_loop()

    def _stop_loop(self) -> None:
        if not self._stopped:
            LOG.debug("Connection %s (%s) closed", self.name, self.purpose)
            self._ioloop.stop()


def drop_stream(pconn: Any) -> bool:
    """Abort ``pconn``'s socket without the AMQP close handshake; False if this pika cannot.

    pika has no public call for this: ``close()`` waits for the broker's
    ``close-ok``, which a broker blocking the connection (it reads nothing
    during a resource alarm) or a vanished one never sends. The hook pika's
    adapters implement for it, ``Connection._adapter_disconnect_stream``, has
    the same meaning in pika 1.3.2 and 1.4.4 (checked): the abort completes on
    the running ioloop and ends with the connection's close callback. A pika
    without it makes this return False.
    """
    disconnect = getattr(pconn, "_adapter_disconnect_stream", None)
    if not callable(disconnect):
        return False
    try:
        disconnect()
    except Exception:
        LOG.debug("Dropping a pika connection raised", exc_info=True)
        return False
    return True


def _names_any(text: str, names: set[str]) -> bool:
    """True if the broker's error ``text`` names one of ``names`` (it quotes them)."""
    return any(f"'{name}'" in text for name in names if name)


def _task_names(task: Publish) -> set[str]:
    names = {task.exchange_name}
    if task.queue is not None:
        names.add(task.queue.name)
        names.update(b.exchange.name for b in task.queue.bindings)
    return names

