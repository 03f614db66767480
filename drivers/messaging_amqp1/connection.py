"""The I/O side: one proton ``Container`` driven by one thread, and the connections on it.

Proton is not thread-safe, so every proton object of a driver belongs to the
thread of its :class:`IOLoop`, which runs the container's own event loop.
Other threads hand it work through a queue and a wake-up pipe the loop
selects on (:class:`_Waker`: the loop runs the queued callables when the
pipe is readable) and get :class:`concurrent.futures.Future` objects back.

An :class:`AmqpConnection` is one AMQP connection that keeps itself alive:

- it connects to the URL's hosts in turn, pausing
  ``connection_retry_interval`` (+ ``connection_retry_backoff`` per failed
  pass, at most ``connection_retry_interval_max``) after each failed pass
  and after losing an established connection; proton's own reconnect is
  off, because after a reconnect the peer may be another broker, the
  address profile is chosen again and every link is attached anew;
- at every ``open`` it picks the address profile from what the peer
  announced (:func:`~messaging_amqp1.addressing.choose_profile`), attaches
  every :class:`Subscription` and sends what waited;
- sends wait in a backlog while it is down, each bounded by its deadline and
  its ``retry`` budget (failed connection attempts; a connection lost while
  the message was unsettled counts too);
- it works around RabbitMQ 3.10's AMQP 1.0 traps: a detach answered without
  ``closed`` counts as closed; a refused attach ends the whole session, so
  every receiver and every attach that creates a node gets a session of its
  own, and a session that ends takes down only its links, which re-attach
  after ``link_retry_delay`` (or fail their work when the refusal is final).
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import ssl as _stdlib_ssl
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, cast

from proton import Condition, Delivery, Endpoint, Handler, Link, Message, SSLDomain, Terminus
from proton.reactor import Container

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.health import DriverMonitor
from messaging.url import TransportHost, TransportURL

from . import errors
from .addressing import AddressProfile, Route, Source, choose_profile, open_hostname
from .options import Settings

__all__ = ["AmqpConnection", "IOLoop", "Outgoing", "ReceiverLink", "Subscription"]

LOG = logging.getLogger(__name__)

#: How often a connection looks for sends past their deadline.
_SWEEP_INTERVAL = 0.25
#: How long closing waits for the peer before dropping a connection.
_CLOSE_GRACE = 2.0
_OWNER = "_messaging_owner"


def _owner(obj: Any) -> Any:
    """The driver object a proton connection or link belongs to (None if not ours)."""
    if obj is None:
        return None
    try:
        return getattr(obj, _OWNER, None)
    except Exception:  # a wrapper without attribute storage
        return None


class _Timer(Handler):
    """A container timer running ``fn`` on the I/O thread."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn

    def on_timer_task(self, event: Any) -> None:
        try:
            self.fn()
        except Exception:
            LOG.exception("A timer of the AMQP 1.0 I/O thread failed")


class _Waker:
    """The loop's wake-up: a pipe the container selects on; readable means "run the queue".

    Proton's ``EventInjector`` does the same through a ``queue.Queue`` of
    ``ApplicationEvent`` objects, each dispatched through every handler of the
    container; a call costs one wake-up on each side, so this one runs the
    loop's work directly when the pipe is readable.
    """

    def __init__(self, loop: IOLoop) -> None:
        self._loop = loop
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._closed = False
        self._released = False
        #: read by proton's IOHandler for every selectable (None: not a socket's)
        self._transport: Any = None

    def wake(self) -> None:
        """Make the loop run its queue soon (any thread, under the loop's lock)."""
        if self._released:
            return
        try:
            os.write(self._write_fd, b"!")
        except OSError:  # closed at shutdown, or a full pipe (a wake-up is pending anyway)
            pass

    def close(self) -> None:
        """I/O thread: leave the container's selectables (the loop may then end)."""
        self._closed = True
        self.wake()

    def release(self) -> None:
        """After the loop ended, under the loop's lock: close the pipe."""
        self._released = True
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the container's selectable protocol ------------------------------------------

    def fileno(self) -> int:
        return self._read_fd

    def on_selectable_init(self, event: Any) -> None:
        sel = event.context
        sel.reading = True
        sel.update()

    def on_selectable_readable(self, event: Any) -> None:
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._loop._drain()
        if self._closed:
            sel = event.context
            sel.terminate()
            sel.update()

    def on_unhandled(self, method: str, *args: Any) -> None:
        pass


class _Events:
    """The container's handler: routes proton events to the connection or link they concern.

    A lean stand-in for proton's ``MessagingHandler`` (whose sub-handlers
    triple the dispatching per event, and which closes the whole connection
    on a session or link error): it answers the peer's closes, decodes
    complete deliveries and reports outcomes, and nothing else. Every
    callback is guarded: an exception escaping a handler would end the
    container's event loop, and with it every connection of the driver.

    It is the container's handler itself (not a child of proton's default
    ``Handler``) and has no child handlers: each of the dozens of events of a
    call is dispatched once here instead of three times.
    """

    def __init__(self, loop: IOLoop) -> None:
        self._loop = loop

    def on_unhandled(self, method: str, *args: Any) -> None:
        """Every event type this class has no method for: nothing to do."""

    @staticmethod
    def _call(target: Any, name: str, *args: Any) -> None:
        if target is None:
            return
        try:
            getattr(target, name)(*args)
        except Exception:
            LOG.exception("AMQP 1.0 event handler %s failed", name)

    # -- loop work ------------------------------------------------------------------------

    def on_reactor_quiesced(self, event: Any) -> None:
        # Dispatched before the IOHandler's select: run what came in meanwhile first.
        self._loop._drain(sleeping=True)

    # -- connections ----------------------------------------------------------------------

    def on_connection_bound(self, event: Any) -> None:
        self._call(_owner(event.connection), "_on_bound", event.connection, event.transport)

    def on_connection_remote_open(self, event: Any) -> None:
        conn = event.connection
        if conn.state & Endpoint.LOCAL_ACTIVE:
            self._call(_owner(conn), "_on_opened", conn)

    def on_connection_remote_close(self, event: Any) -> None:
        conn = event.connection
        self._call(_owner(conn), "_on_remote_close", conn, conn.remote_condition)
        if not conn.state & Endpoint.LOCAL_CLOSED:
            conn.close()

    def on_transport_error(self, event: Any) -> None:
        self._call(_owner(event.connection), "_on_transport_error", event.connection,
                   event.transport.condition)

    def on_transport_closed(self, event: Any) -> None:
        self._call(_owner(event.connection), "_on_transport_closed", event.connection)

    def on_session_remote_close(self, event: Any) -> None:
        ssn = event.session
        self._call(_owner(ssn.connection), "_on_session_closed", ssn, ssn.remote_condition)
        if not ssn.state & Endpoint.LOCAL_CLOSED:
            ssn.close()

    # -- links ----------------------------------------------------------------------------

    def on_link_remote_open(self, event: Any) -> None:
        link = event.link
        if link.state & Endpoint.LOCAL_ACTIVE:
            self._call(_owner(link), "_on_opened", link)

    def on_link_remote_close(self, event: Any) -> None:
        self._link_gone(event.link)

    def on_link_remote_detach(self, event: Any) -> None:
        # RabbitMQ answers our detach(closed=true) with detach(closed=false): proton then
        # never reports the link closed. A detach is the end of the link either way.
        self._link_gone(event.link)

    def _link_gone(self, link: Any) -> None:
        self._call(_owner(link), "_on_detached", link, link.remote_condition)
        if not link.state & Endpoint.LOCAL_CLOSED:
            link.close()

    def on_link_flow(self, event: Any) -> None:
        link = event.link
        if link.is_sender and link.credit > 0:
            self._call(_owner(link), "_flush")

    def on_delivery(self, event: Any) -> None:
        dlv = event.delivery
        link = dlv.link
        if link.is_receiver:
            if dlv.aborted:
                dlv.settle()
            elif dlv.readable and not dlv.partial:
                message = Message()
                message.decode(link.recv(dlv.pending))
                link.advance()
                self._call(_owner(link), "_on_message", dlv, message)
        elif dlv.updated and dlv.settled:
            self._call(_owner(link), "_on_outcome", dlv)
            dlv.settle()


class IOLoop:
    """The driver's I/O thread and the proton container it owns."""

    def __init__(self, name: str, container_id: str) -> None:
        self.name = name
        self.container = Container()
        # proton's stubs type these as its own classes; they only need the methods.
        self.container.handler = cast(Handler, _Events(self))
        self.container.container_id = container_id
        self._waker = _Waker(self)
        self.container.selectable(cast(Any, self._waker))
        self._work: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._connections: set[AmqpConnection] = set()
        self._stopping = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- any thread -----------------------------------------------------------------------

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread, soon, in submission order."""
        with self._lock:
            if self._stopping:
                raise MessageDeliveryFailure("the transport was cleaned up")
            self._work.append(fn)
            if self._wake_pending:
                return
            self._wake_pending = True
            self._waker.wake()  # under the lock: never after the pipe is released

    def run(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the I/O thread; the future gets its result or exception."""
        future: Future[Any] = Future()

        def job() -> None:
            try:
                settle_future(future, fn())
            except Exception as exc:
                settle_future(future, exc=exc)
        self.submit(job)
        return future

    @property
    def in_loop(self) -> bool:
        """True on the I/O thread."""
        return threading.current_thread() is self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection (bounded) and end the thread. Idempotent."""
        with self._lock:
            if not self._stopping:
                self._work.append(self._begin_stop)
                self._wake_pending = True
                self._waker.wake()
        if not self.in_loop:
            self._thread.join(timeout)

    # -- I/O thread -----------------------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        """Run ``fn`` on the I/O thread after ``delay`` seconds; returns a cancellable task."""
        return self.container.schedule(max(delay, 0.0), _Timer(fn))

    def add(self, conn: AmqpConnection) -> None:
        self._connections.add(conn)

    def discard(self, conn: AmqpConnection) -> None:
        self._connections.discard(conn)

    def _drain(self, sleeping: bool = False) -> None:
        """Run the queued work. ``sleeping``: the loop is about to wait in ``select``.

        Until then the loop is awake and will look again, so ``submit`` need
        not write to the injector's pipe: work handed in while the loop is
        busy costs no extra wake-up.
        """
        while True:
            with self._lock:
                if not self._work:
                    if sleeping:
                        self._wake_pending = False
                    return
                batch = list(self._work)
                self._work.clear()
            for fn in batch:
                try:
                    fn()
                except Exception:
                    LOG.exception("Work on the AMQP 1.0 I/O thread failed")

    def _begin_stop(self) -> None:
        with self._lock:
            self._stopping = True
        for conn in list(self._connections):
            conn.close()
        give_up = time.monotonic() + _CLOSE_GRACE

        def check() -> None:
            if self._connections and time.monotonic() < give_up:
                self.call_later(0.05, check)
                return
            for conn in list(self._connections):
                conn._force_close()
            self._waker.close()
            self.container.stop()
        check()

    def _run(self) -> None:
        container = self.container
        container.timeout = 3.14159265359
        container.start()
        try:
            while True:
                try:
                    if not container.process():
                        break
                except Exception:
                    LOG.exception("The AMQP 1.0 event loop raised; it keeps running")
                    if self._stopping:
                        break
        finally:
            self._stopped.set()
            with self._lock:
                self._stopping = True
                work, self._work = list(self._work), collections.deque()
                self._waker.release()
            for fn in work:  # sends handed in too late: let them fail, not hang
                try:
                    fn()
                except Exception:
                    LOG.debug("Work dropped at shutdown raised", exc_info=True)


# -- outgoing messages ---------------------------------------------------------------------


class Outgoing:
    """One message to send and its outcome (its ``future``).

    :param route: picks the sender link and the message's ``to``/``subject``
        from the connection's address profile, at send time.
    :param make: builds the proton message, at send time (a call's body names
        the reply address, which a dynamic reply link learns only once attached).
    :param deadline: ``time.monotonic()`` after which the message is dropped
        and the future fails (``MessagingTimeout`` if ``timeout_error``, else
        ``MessageDeliveryFailure``).
    :param retry: failed connection attempts allowed while it waits (None: no limit).
    :param presettled: sent settled: done once written, no outcome awaited.
    :param only_if_connected: dropped at once (future done) when not connected
        (call-monitor heartbeats).
    """

    __slots__ = ("deadline", "failures", "future", "make", "only_if_connected", "presettled",
                 "retry", "route", "timeout_error", "what")

    def __init__(self, route: Callable[[AddressProfile], Route],
                 make: Callable[[AddressProfile], Message], *, what: str,
                 deadline: float | None, retry: int | None = None, presettled: bool = False,
                 timeout_error: bool = False, only_if_connected: bool = False) -> None:
        self.route = route
        self.make = make
        self.what = what
        self.deadline = deadline
        self.retry = None if retry is None or retry < 0 else retry
        self.presettled = presettled
        self.timeout_error = timeout_error
        self.only_if_connected = only_if_connected
        self.failures = 0
        self.future: Future[None] = Future()

    def over_budget(self) -> bool:
        return self.retry is not None and self.failures > self.retry

    def expire_if_due(self, now: float) -> bool:
        """Fail the future if the deadline passed; True if the message is finished."""
        if self.future.done():
            return True
        if self.deadline is not None and now >= self.deadline:
            why = f"{self.what} not sent before its deadline"
            exc: Exception = MessagingTimeout(why) if self.timeout_error \
                else MessageDeliveryFailure(why)
            settle_future(self.future, exc=exc)
            return True
        return False

    def fail(self, reason: str) -> None:
        settle_future(self.future, exc=MessageDeliveryFailure(f"{self.what}: {reason}"))


class SenderLink:
    """A sender link and the messages waiting for its credit or their outcome."""

    def __init__(self, conn: AmqpConnection, address: str | None, own_session: bool) -> None:
        self.conn = conn
        self.address = address
        self.own_session = own_session
        self.plink: Any = None
        self.opened = False
        self.pending: collections.deque[tuple[Outgoing, Route]] = collections.deque()
        self.unsettled: dict[str, Outgoing] = {}
        self.last_used = time.monotonic()
        self._tags = itertools.count(1)

    def attach(self) -> None:
        ssn = self.conn._session(f"send:{self.address}" if self.own_session else "main")
        snd = ssn.sender(f"sender-{uuid.uuid4().hex}")
        snd.target.address = self.address
        snd.snd_settle_mode = Link.SND_MIXED
        setattr(snd, _OWNER, self)
        snd.open()
        self.plink = snd

    def send(self, out: Outgoing, route: Route) -> None:
        self.pending.append((out, route))
        self.last_used = time.monotonic()
        self._flush()

    def _flush(self) -> None:
        snd = self.plink
        if not self.opened or snd is None:
            return
        profile = self.conn.profile
        assert profile is not None
        now = time.monotonic()
        while self.pending and snd.credit > 0:
            out, route = self.pending.popleft()
            if out.expire_if_due(now):
                continue
            try:
                msg = out.make(profile)
                if route.to is not None:
                    msg.address = route.to
                if route.subject is not None:
                    msg.subject = route.subject
                tag = str(next(self._tags))
                dlv = msg.send(snd, tag=tag)
            except Exception as exc:  # an encoding error: this message only
                LOG.exception("Cannot send %s", out.what)
                out.fail(f"cannot encode the message: {exc}")
                continue
            if out.presettled:
                dlv.settle()
                settle_future(out.future, None)
            else:
                self.unsettled[tag] = out

    def _on_opened(self, plink: Any) -> None:
        if plink != self.plink:
            return
        self.opened = True
        self._flush()

    def _on_outcome(self, dlv: Any) -> None:
        out = self.unsettled.pop(str(dlv.tag), None)
        if out is None:
            return
        state = dlv.remote_state
        if state == Delivery.ACCEPTED:
            settle_future(out.future, None)
        elif state == Delivery.REJECTED:
            out.fail(f"the broker rejected it ({errors.describe(dlv.remote.condition)})")
        else:  # released or modified: the broker did not take it; try again within budget
            out.failures += 1
            if out.over_budget():
                out.fail("the broker released it and the retry budget is spent")
            else:
                self.pending.append((out, self.conn.profile_route(out)))
                self._flush()

    def _on_detached(self, plink: Any, condition: Any) -> None:
        if self.plink is None:
            return
        self.conn._sender_lost(self, condition)

    def take_all(self, charge: bool) -> list[Outgoing]:
        """Everything not yet done, unsettled first (charged one failure if ``charge``)."""
        outs = list(self.unsettled.values())
        if charge:
            for out in outs:
                out.failures += 1
        outs += [out for out, _ in self.pending]
        self.unsettled.clear()
        self.pending.clear()
        return outs

    def sweep(self, now: float) -> None:
        for tag, out in list(self.unsettled.items()):
            if out.expire_if_due(now):
                del self.unsettled[tag]
        if self.pending:
            self.pending = collections.deque((o, r) for o, r in self.pending
                                             if not o.expire_if_due(now))

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.unsettled)

    def close(self) -> None:
        snd, self.plink = self.plink, None
        self.opened = False
        if snd is not None:
            try:
                snd.close()
                if self.own_session:
                    snd.session.close()
            except Exception:
                LOG.debug("Closing a sender link raised", exc_info=True)


# -- receiving -----------------------------------------------------------------------------


class ReceiverLink:
    """One attached receiver of a :class:`Subscription` (one per source, per connection)."""

    def __init__(self, sub: Subscription, conn: AmqpConnection, source: Source) -> None:
        self.sub = sub
        self.conn = conn
        self.source = source
        self.plink: Any = None
        self.opened = False
        self.alive = True
        #: the address the peer gave the source (a dynamic node's assigned address)
        self.address: str | None = source.address
        #: credit of settled deliveries not yet given back
        self.owed = 0

    def attach(self) -> None:
        ssn = self.conn._session(f"recv:{id(self)}")
        rcv = ssn.receiver(f"receiver-{uuid.uuid4().hex}")
        if self.source.dynamic:
            rcv.source.dynamic = True
        else:
            rcv.source.address = self.source.address
        if self.source.temporary:
            # Ask the peer to delete the node with the link (RabbitMQ 3.10 ignores it).
            rcv.source.expiry_policy = Terminus.EXPIRE_WITH_LINK
            rcv.source.timeout = 0
        if self.sub.presettled:
            rcv.snd_settle_mode = Link.SND_SETTLED
        setattr(rcv, _OWNER, self)
        rcv.open()
        rcv.flow(self.sub.credit)
        self.plink = rcv

    def _on_opened(self, plink: Any) -> None:
        if not self.alive:
            return
        self.opened = True
        if self.source.dynamic:
            self.address = plink.remote_source.address
        self.sub._link_opened(self)

    def _on_detached(self, plink: Any, condition: Any) -> None:
        if not self.alive:
            return
        self.conn._receiver_lost(self, condition)

    def _on_message(self, dlv: Any, message: Message) -> None:
        if not self.alive:
            return
        if message.delivery_count and self.conn.monitor is not None:  # delivered before
            self.conn.monitor.redelivered()
        self.sub.on_message(self, dlv, message)

    def settle(self, dlv: Any, outcome: int, *, condition: Condition | None = None,
               failed: bool = False, credit: bool = True) -> None:
        """Settle a delivery of this link (I/O thread); skipped if the link is gone."""
        if not self.alive or self.plink is None:
            return
        if not dlv.settled:  # a delivery the peer sent settled needs no outcome
            if outcome == Delivery.MODIFIED:
                dlv.local.failed = failed
                dlv.local.undeliverable = False
            elif outcome == Delivery.REJECTED and condition is not None:
                dlv.local.condition = condition
            dlv.update(outcome)
        dlv.settle()
        if credit and not self.sub.paused:
            # Credit goes back in batches of half the window: every flow frame costs
            # RabbitMQ a synchronous basic.credit, and us an event.
            self.owed += 1
            if self.owed * 2 >= self.sub.credit:
                self.plink.flow(self.owed)
                self.owed = 0

    def close(self) -> None:
        self.alive = False
        self.opened = False
        rcv, self.plink = self.plink, None
        if rcv is not None:
            try:
                rcv.close()
                rcv.session.close()
            except Exception:
                LOG.debug("Closing a receiver link raised", exc_info=True)


class Subscription:
    """Sources consumed with one callback; attached again at every (re)connect.

    :param sources: the sources for a connection's address profile.
    :param on_message: ``(link, delivery, message)`` on the I/O thread; the
        callback settles through ``link.settle`` (then or later).
    :param credit: unsettled deliveries one link may hold.
    :param on_change: called on the I/O thread when the subscription starts
        or stops consuming, or a link is refused (``refused`` condition).
    :param presettled: ask the peer to send deliveries settled (at-most-once, no
        outcome frames: call replies, as oslo consumes its reply queues without acks).
    """

    def __init__(self, sources: Callable[[AddressProfile], Sequence[Source]],
                 on_message: Callable[[ReceiverLink, Any, Message], None], *, credit: int,
                 on_change: Callable[[Subscription], None] | None = None,
                 presettled: bool = False) -> None:
        self.sources = sources
        self.on_message = on_message
        self.credit = credit
        self.presettled = presettled
        self.on_change = on_change
        self.links: list[ReceiverLink] = []
        self.paused = False
        self.active = True
        #: a final refusal of one of the sources (None while all is well)
        self.refused: str | None = None

    @property
    def consuming(self) -> bool:
        return bool(self.links) and all(link.opened for link in self.links)

    def _link_opened(self, link: ReceiverLink) -> None:
        if self.consuming:
            self.refused = None
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:
                LOG.exception("Subscription callback failed")


# -- the connection ------------------------------------------------------------------------


class AmqpConnection:
    """An AMQP 1.0 connection that reconnects, re-attaches and re-sends by itself.

    Created on any thread; everything else runs on the loop's I/O thread
    (use :meth:`IOLoop.submit`). ``purpose`` labels logs.
    """

    def __init__(self, loop: IOLoop, settings: Settings, url: TransportURL, *, purpose: str,
                 default_exchange: str, ssl_domain: SSLDomain | None,
                 start_host: int = 0) -> None:
        self.loop = loop
        self.settings = settings
        self.purpose = purpose
        self.default_exchange = default_exchange
        self._hosts: list[TransportHost] = list(url.hosts) or [TransportHost("localhost")]
        self._next_host = start_host % len(self._hosts)
        self._vhost = url.virtual_host or None
        self._tls = ssl_domain is not None
        self._ssl_domain = ssl_domain
        self.shown_url = url.render(mask=True)
        #: the current address profile (None until the first open)
        self.profile: AddressProfile | None = None
        self.connected = False
        #: successful opens so far (more than one after reconnects)
        self.connects = 0
        self.last_error: str | None = None
        self.closed = False
        #: the driver's health monitor (set by the driver): connects, losses
        self.monitor: DriverMonitor | None = None
        self._pconn: Any = None
        self._sessions: dict[str, Any] = {}
        self._senders: dict[tuple[str | None, bool], SenderLink] = {}
        self._subs: list[Subscription] = []
        self._backlog: collections.deque[Outgoing] = collections.deque()
        self._attempts = 0
        self._passes = 0
        self._connect_timer: Any = None
        self._retry_timer: Any = None
        self._sweeper: Any = None
        self._remote_condition: Any = None
        self._waiters: list[Future[None]] = []
        self._started = False

    # -- any thread (through the loop) -------------------------------------------------

    def start(self) -> None:
        """Connect (I/O thread); idempotent."""
        if self._started or self.closed:
            return
        self._started = True
        self.loop.add(self)
        self._sweeper = self.loop.call_later(_SWEEP_INTERVAL, self._sweep)
        self._attempt()

    def when_ready(self) -> Future[None]:
        """I/O thread: a future done at the next open, or failed when a whole pass over the
        URL's hosts failed (each host tried once since the last open)."""
        future: Future[None] = Future()
        if self.connected:
            future.set_result(None)
        else:
            self._waiters.append(future)
        return future

    def describe_trouble(self) -> str | None:
        """Why sends may not get through, for timeout errors (None when connected)."""
        if self.connected or not self.last_error:
            return None
        return f"the broker is unreachable ({self.last_error})"

    # -- sending -----------------------------------------------------------------------

    def send(self, out: Outgoing) -> None:
        """Send ``out`` now, or once connected (I/O thread)."""
        if self.closed:
            out.fail("the connection is closed")
            return
        if not self.connected or self.profile is None:
            if out.only_if_connected:
                settle_future(out.future, None)
                return
            self._backlog.append(out)
            return
        try:
            route = out.route(self.profile)
        except Exception as exc:
            out.fail(f"no address for it: {exc}")
            return
        self._sender(route).send(out, route)

    def profile_route(self, out: Outgoing) -> Route:
        assert self.profile is not None
        return out.route(self.profile)

    def _sender(self, route: Route) -> SenderLink:
        key = (route.link, route.declares)
        sender = self._senders.get(key)
        if sender is None:
            sender = SenderLink(self, route.link, own_session=route.declares)
            self._senders[key] = sender
            sender.attach()
        return sender

    def _sender_lost(self, sender: SenderLink, condition: Any) -> None:
        """The peer detached a sender (or ended its session)."""
        if self._senders.get((sender.address, sender.own_session)) is sender:
            del self._senders[(sender.address, sender.own_session)]
        outs = sender.take_all(charge=True)
        sender.close()
        if errors.is_refusal(condition):
            LOG.error("The broker refused sending to %r on %s: %s", sender.address,
                      self.shown_url, errors.describe(condition))
            for out in outs:
                out.fail(f"the broker refused the address {sender.address!r} "
                         f"({errors.describe(condition)})")
            return
        LOG.warning("The broker detached the sender to %r on %s (%s); sending again",
                    sender.address, self.shown_url, errors.describe(condition))
        for out in outs:
            if out.over_budget():
                out.fail(f"the link was lost ({errors.describe(condition)}) and the retry "
                         f"budget is spent")
            else:
                self.send(out)

    # -- receiving ---------------------------------------------------------------------

    def subscribe(self, sub: Subscription) -> None:
        """Consume ``sub`` now (if connected) and after every reconnect (I/O thread)."""
        if self.closed:
            return
        self._subs.append(sub)
        if self.connected:
            self._attach_subscription(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop consuming ``sub``: detach its links (I/O thread)."""
        sub.active = False
        if sub in self._subs:
            self._subs.remove(sub)
        for link in sub.links:
            link.close()
        sub.links = []

    def _attach_subscription(self, sub: Subscription) -> None:
        assert self.profile is not None
        for link in sub.links:
            link.close()
        sub.links = [ReceiverLink(sub, self, source) for source in sub.sources(self.profile)]
        for link in sub.links:
            link.attach()

    def _receiver_lost(self, link: ReceiverLink, condition: Any) -> None:
        """The peer detached a receiver or ended its session: attach it again later."""
        sub = link.sub
        was_consuming = sub.consuming
        link.close()
        if link in sub.links:
            sub.links.remove(link)
        what = link.source.address or "a dynamic node"
        if errors.is_refusal(condition):
            sub.refused = f"the broker refused consuming from {what!r}: " \
                          f"{errors.describe(condition)}"
            LOG.error("%s (%s); trying again in %.0f s", sub.refused, self.shown_url,
                      self.settings.link_retry_delay)
        else:
            LOG.warning("The broker detached the receiver from %r on %s (%s); attaching "
                        "again in %.1f s", what, self.shown_url, errors.describe(condition),
                        self.settings.link_retry_delay)
        if was_consuming or sub.refused:
            sub._changed()
        generation = self.connects

        def again() -> None:
            if sub.active and sub in self._subs and self.connected \
                    and generation == self.connects:
                fresh = ReceiverLink(sub, self, link.source)
                sub.links.append(fresh)
                fresh.attach()
        self.loop.call_later(self.settings.link_retry_delay, again)

    # -- sessions ----------------------------------------------------------------------

    def _session(self, key: str) -> Any:
        ssn = self._sessions.get(key)
        if ssn is None:
            ssn = self._pconn.session()
            ssn.open()
            self._sessions[key] = ssn
        return ssn

    def _on_session_closed(self, ssn: Any, condition: Any) -> None:
        """Trap 2: an attach error ends the whole session; its links go with it."""
        for key, value in list(self._sessions.items()):
            if value == ssn:
                del self._sessions[key]
        for sender in list(self._senders.values()):
            if sender.plink is not None and sender.plink.session == ssn:
                self._sender_lost(sender, condition)
        for sub in list(self._subs):
            for link in list(sub.links):
                if link.plink is not None and link.plink.session == ssn:
                    self._receiver_lost(link, condition)

    # -- connecting --------------------------------------------------------------------

    def _attempt(self) -> None:
        self._retry_timer = None
        if self.closed:
            return
        host = self._hosts[self._next_host]
        self._next_host = (self._next_host + 1) % len(self._hosts)
        s = self.settings
        name = host.hostname or "localhost"
        shown_host = f"[{name}]" if ":" in name else name
        port = host.port or (5671 if self._tls else 5672)
        url = f"{'amqps' if self._tls else 'amqp'}://{shown_host}:{port}"
        user = host.username or s.username or None
        password = host.password if host.username else (s.password or None)
        if user and s.sasl_default_realm and "@" not in user:
            user = f"{user}@{s.sasl_default_realm}"
        kwargs: dict[str, Any] = {
            "reconnect": False, "user": user, "password": password,
            "container_id": self.loop.container.container_id,
            "properties": {"product": "messaging", "process": self.purpose},
        }
        if user is None:
            kwargs.pop("user")
            kwargs.pop("password")
        hostname = open_hostname(s, self._vhost)
        if hostname:
            kwargs["virtual_host"] = hostname
        if s.idle_timeout > 0:
            kwargs["heartbeat"] = s.idle_timeout
        if self._tls:
            kwargs["ssl_domain"] = self._ssl_domain
            kwargs["sni"] = self._vhost if s.ssl_verify_vhost and self._vhost else name
        if s.sasl_mechanisms:
            kwargs["allowed_mechs"] = s.sasl_mechanisms
        elif user is not None:
            # Given credentials must be used: proton would otherwise take ANONYMOUS when the
            # broker offers it (RabbitMQ does, with amqp1_0.default_user), ignoring them.
            kwargs["allowed_mechs"] = "PLAIN"
        self._remote_condition = None
        LOG.debug("Connecting %s to %s:%s", self.purpose, name, port)
        try:
            pconn = self.loop.container.connect(url=url, **kwargs)
        except Exception as exc:  # e.g. SSL unavailable
            self._attempt_failed(f"{name}:{port}: {type(exc).__name__}: {exc}", fatal=True)
            return
        setattr(pconn, _OWNER, self)
        self._pconn = pconn
        self._sessions = {}
        self._connect_timer = self.loop.call_later(s.connect_timeout,
                                                   lambda: self._connect_timed_out(pconn))

    def _on_bound(self, pconn: Any, transport: Any) -> None:
        if self.settings.trace:
            from proton import Transport
            transport.trace(Transport.TRACE_FRM)
        sasl = transport.sasl() if self.settings.sasl_config_dir or \
            self.settings.sasl_config_name else None
        if sasl is not None:
            if self.settings.sasl_config_dir:
                sasl.config_path(self.settings.sasl_config_dir)
            if self.settings.sasl_config_name:
                sasl.config_name(self.settings.sasl_config_name)

    def _connect_timed_out(self, pconn: Any) -> None:
        if pconn != self._pconn:
            return
        if self.connected:
            return
        self._remote_condition = f"no AMQP open within {self.settings.connect_timeout:g} s"
        self._drop_transport(pconn)

    @staticmethod
    def _drop_transport(pconn: Any) -> None:
        try:
            transport = pconn.transport
            if transport is not None:
                transport.close_tail()
                transport.close_head()
        except Exception:
            LOG.debug("Dropping a transport raised", exc_info=True)

    def _on_opened(self, pconn: Any) -> None:
        if pconn != self._pconn or self.closed:
            return
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        self.connected = True
        self.connects += 1
        self._report("connected")
        self._attempts = 0
        self._passes = 0
        self.profile = choose_profile(self.settings, self._vhost, self.default_exchange,
                                      pconn.remote_properties,
                                      pconn.remote_offered_capabilities)
        label = pconn.connected_address or self.shown_url
        if self.connects == 1:
            LOG.info("Connected %s to %s (AMQP 1.0, peer %s, %s addressing)", self.purpose,
                     label, pconn.remote_container, self.profile.name)
        else:
            LOG.warning("Reconnected %s to %s (AMQP 1.0, peer %s, %s addressing)",
                        self.purpose, label, pconn.remote_container, self.profile.name)
        self.last_error = None
        for sub in list(self._subs):
            self._attach_subscription(sub)
        backlog, self._backlog = self._backlog, collections.deque()
        for out in backlog:
            self.send(out)
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            settle_future(future, None)

    def _report(self, event: str, *args: Any) -> None:
        """Tell the driver's monitor (``connected``, ``lost``, ``closed``) about this connection."""
        if self.monitor is not None:
            getattr(self.monitor, event)(self, *args)

    def _on_remote_close(self, pconn: Any, condition: Any) -> None:
        if pconn == self._pconn and condition is not None:
            self._remote_condition = condition

    def _on_transport_error(self, pconn: Any, condition: Any) -> None:
        if pconn == self._pconn and condition is not None and self._remote_condition is None:
            self._remote_condition = condition

    def _on_transport_closed(self, pconn: Any) -> None:
        if pconn != self._pconn:
            return
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        condition = self._remote_condition or getattr(pconn, "remote_condition", None)
        reason = errors.describe(condition) if condition is not None else "connection closed"
        was_connected = self.connected
        self.connected = False
        self._pconn = None
        self._sessions = {}
        # Unsettled sends may or may not have reached the broker: charge them one failure.
        outs: list[Outgoing] = []
        for sender in self._senders.values():
            outs += sender.take_all(charge=True)
            sender.plink = None
            sender.opened = False
        self._senders = {}
        for sub in self._subs:
            for link in sub.links:
                link.alive = False
                link.opened = False
                link.plink = None
            sub.links = []
            if was_connected:
                sub._changed()
        if self.closed:
            for out in outs + list(self._backlog):
                out.fail("the connection was closed")
            self._backlog.clear()
            self.loop.discard(self)
            return
        for out in reversed(outs):
            self._backlog.appendleft(out)
        if was_connected:
            self.last_error = reason
            self._report("lost", reason)
            LOG.warning("Lost AMQP 1.0 connection %s (%s): %s; reconnecting in %.1f s",
                        self.purpose, self.shown_url, reason,
                        self.settings.connection_retry_interval)
            self._charge_backlog(fatal=False, reason=reason)
            self._retry_timer = self.loop.call_later(self.settings.connection_retry_interval,
                                                     self._attempt)
        else:
            self._attempt_failed(reason, fatal=errors.is_fatal_connect(condition))

    def _attempt_failed(self, reason: str, fatal: bool) -> None:
        self._attempts += 1
        self.last_error = reason
        self._report("lost", reason)
        self._charge_backlog(fatal, reason)
        delay = 0.0
        if self._attempts % len(self._hosts) == 0:
            # A whole pass over the hosts failed: only now is the broker unreachable. (Telling
            # waiters at the first dead host made a listener return before it had tried the
            # live hosts after it, not consuming; requests sent meanwhile were lost.)
            waiters, self._waiters = self._waiters, []
            for future in waiters:
                settle_future(future, exc=MessageDeliveryFailure(
                    f"cannot connect to {self.shown_url}: {reason}"))
            s = self.settings
            delay = min(s.connection_retry_interval + s.connection_retry_backoff * self._passes,
                        s.connection_retry_interval_max)
            self._passes += 1
        (LOG.error if fatal else LOG.warning)(
            "AMQP 1.0 connection %s to %s failed: %s; next attempt in %.1f s", self.purpose,
            self.shown_url, reason, delay)
        self._retry_timer = self.loop.call_later(delay, self._attempt)

    def _charge_backlog(self, fatal: bool, reason: str) -> None:
        keep: collections.deque[Outgoing] = collections.deque()
        for out in self._backlog:
            if out.future.done():
                continue
            out.failures += 1
            if fatal or out.over_budget():
                out.fail(f"cannot reach the broker ({reason})")
            else:
                keep.append(out)
        self._backlog = keep

    def _sweep(self) -> None:
        """Periodic: fail sends past their deadline; detach idle sender links."""
        if self.closed:
            return
        now = time.monotonic()
        if self._backlog:
            self._backlog = collections.deque(o for o in self._backlog
                                              if not o.expire_if_due(now))
        idle = self.settings.default_sender_link_timeout
        for key, sender in list(self._senders.items()):
            sender.sweep(now)
            if sender.own_session and not sender.busy and now - sender.last_used > idle:
                del self._senders[key]
                sender.close()
        self._sweeper = self.loop.call_later(_SWEEP_INTERVAL, self._sweep)

    # -- closing -----------------------------------------------------------------------

    def close(self) -> None:
        """Detach everything and close (I/O thread): queued sends fail; idempotent."""
        if self.closed:
            return
        self.closed = True
        self._report("closed")
        for timer in (self._connect_timer, self._retry_timer, self._sweeper):
            if timer is not None:
                timer.cancel()
        for future in self._waiters:
            settle_future(future, exc=MessageDeliveryFailure("the connection was closed"))
        self._waiters = []
        for sub in list(self._subs):
            self.unsubscribe(sub)
        for out in self._backlog:
            out.fail("the connection was closed")
        self._backlog.clear()
        for sender in self._senders.values():
            for out, _ in sender.pending:
                out.fail("the connection was closed")
            sender.pending.clear()
        pconn = self._pconn
        if pconn is None:
            self.loop.discard(self)
            return
        try:
            pconn.close()
        except Exception:
            LOG.debug("Closing a connection raised", exc_info=True)
            self._force_close()

    def _force_close(self) -> None:
        """The peer did not answer our close in time: drop the socket."""
        pconn = self._pconn
        if pconn is not None:
            self._drop_transport(pconn)
        else:
            self.loop.discard(self)


def ssl_domain(settings: Settings, shown_url: str) -> SSLDomain:
    """The client TLS settings: verify the broker (the CA file, or the system's CAs)."""
    from proton import SSL

    from messaging.exceptions import InvalidTransportURL

    if not SSL.present():
        raise InvalidTransportURL(shown_url, "TLS was asked for, but this python-qpid-proton "
                                             "was built without SSL (install libssl-dev and "
                                             "pkg-config, then rebuild it)")
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    ca = settings.ssl_ca_file or _stdlib_ssl.get_default_verify_paths().cafile \
        or "/etc/ssl/certs/ca-certificates.crt"
    try:
        domain.set_trusted_ca_db(ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, ca)
        if settings.ssl_cert_file:
            # without a key file the key is read from the certificate file (one PEM)
            domain.set_credentials(settings.ssl_cert_file,
                                   settings.ssl_key_file or settings.ssl_cert_file,
                                   settings.ssl_key_password)
    except Exception as exc:  # proton.SSLException: unreadable file, bad key password
        raise InvalidTransportURL(shown_url, f"Bad TLS settings: {exc}") from None
    return domain
