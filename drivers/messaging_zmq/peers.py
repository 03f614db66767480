"""The client's sockets: a DEALER per server endpoint, and an XPUB for fanout.

Everything here runs on the driver's I/O thread.

**Requests** (:class:`Dealers`). Each server endpoint gets its own DEALER,
so the client decides which server gets a message. Nothing is handed to
libzmq for a connection that does not exist: a message for an endpoint
that is still connecting waits in the dealer's ``pending`` list and goes
out once its monitor reports the handshake done (or, when its queue is
full, once the socket becomes writable). The DEALERs do not use
``IMMEDIATE``, which would do the same in libzmq but also throws away
what a connection received and nobody read yet when the connection ends:
the last replies of a server that stops right after sending them. A socket monitor tells when
a connection is refused or lost: the endpoint is reported down to the
:class:`~messaging_zmq.directory.Directory` and the dealer's pending
messages are handed back to be sent to another server. Replies arrive on
the same DEALERs and go to ``on_reply``.

**Fanout** (:class:`Publisher`). One XPUB connects to the SUB socket of
every server of a topic. ZeroMQ drops what a PUB sends before the
subscriber's subscription arrived (the "slow joiner"), so each server also
subscribes to a *hello* prefix naming its own endpoint; the XPUB
(``XPUB_VERBOSE``) receives that subscription once the server's topic
subscription has arrived too (both travel in one batch), and a fanout to a
newly found server waits for its hello, up to ``zmq_subscribe_timeout``.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from messaging.correlation import settle_future
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout

from .connection import IOLoop, Timer
from .directory import Directory
from .errors import describe, is_again
from .options import Settings
from .sockets import PEER_GONE_EVENTS, new_socket, recv_frames

__all__ = ["Dealers", "Outgoing", "Publisher"]

LOG = logging.getLogger(__name__)

_MONITOR_EVENTS = PEER_GONE_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED
#: Seconds between sweeps of abandoned pending messages and dead dealers.
_SWEEP_EVERY = 0.1
#: Seconds a dealer whose server is unreachable is kept (reconnecting) before it is closed.
_CLOSE_DOWN_AFTER = 10.0
#: Messages read from one socket before other sockets get a turn.
_READ_BATCH = 256


class Outgoing:
    """A message on its way to one listener of ``key`` (of pool ``group``).

    ``sent`` completes once a connected socket took the message, or fails
    (``MessageDeliveryFailure``) once ``deadline`` (monotonic) passed; a
    message whose ``sent`` is done (a call that ended) is not sent.
    ``kind``, ``method`` and ``target`` only name the message in errors.
    """

    __slots__ = ("deadline", "frames", "group", "key", "kind", "method", "reason", "sent",
                 "target")

    def __init__(self, key: str, group: str | None, frames: list[bytes], deadline: float,
                 sent: Future[None], kind: str, method: Any = None, target: Any = None,
                 ) -> None:
        self.key = key
        self.group = group
        self.frames = frames
        self.deadline = deadline
        self.sent = sent
        self.kind = kind
        self.method = method
        self.target = target
        #: why it is not sent yet, for the error at the deadline
        self.reason = "no server found"

    @property
    def what(self) -> str:
        """The message, for errors: ``the cast of 'm' to <Target ...>``."""
        method = f" of {self.method!r}" if self.method is not None else ""
        return f"the {self.kind}{method} to {self.target or self.key}"

    def expire(self) -> None:
        """Fail ``sent``: the deadline passed.

        A call's request fails with ``MessagingTimeout``, which the
        correlator leaves to the call's own deadline (its error says more).
        """
        error = MessagingTimeout if self.kind == "call" else MessageDeliveryFailure
        settle_future(self.sent, exc=error(f"Could not send {self.what}: {self.reason}"))


class _Dealer:
    __slots__ = ("down_since", "endpoint", "monitor", "pending", "sock", "up")

    def __init__(self, endpoint: str, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes],
                 ) -> None:
        self.endpoint = endpoint
        self.sock = sock
        self.monitor = monitor
        self.pending: collections.deque[Outgoing] = collections.deque()
        self.up = False
        self.down_since: float | None = None


class Dealers:
    """One DEALER per server endpoint; I/O thread only."""

    def __init__(self, loop: IOLoop, ctx: zmq.Context[Any], settings: Settings,
                 directory: Directory, on_reply: Callable[[list[bytes]], None],
                 reroute: Callable[[Outgoing], None]) -> None:
        self._loop = loop
        self._ctx = ctx
        self._settings = settings
        self._directory = directory
        self._on_reply = on_reply
        self._reroute = reroute
        self._dealers: dict[str, _Dealer] = {}
        self._sweeper: Timer | None = None

    def probe(self, endpoint: str) -> None:
        """Open the monitored DEALER to ``endpoint`` if there is none: its monitor tells the
        directory whether the server is reachable (for a thread sending on its own socket)."""
        if endpoint not in self._dealers:
            self._open(endpoint)

    def send(self, endpoint: str, out: Outgoing) -> None:
        """Send ``out`` to ``endpoint`` now, or once connected, or hand it back if unreachable."""
        if out.sent.done():
            return
        dealer = self._dealers.get(endpoint) or self._open(endpoint)
        if not dealer.up and dealer.down_since is not None:  # unreachable: another server
            out.reason = f"server at {endpoint} unreachable"
            self._reroute(out)
            return
        if dealer.pending or not dealer.up:  # keep the order; wait for the handshake
            self._wait(dealer, out)
            return
        try:
            dealer.sock.send_multipart(out.frames, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            if not is_again(exc):
                settle_future(out.sent, exc=MessageDeliveryFailure(
                    f"Could not send {out.what} to {endpoint}: {describe(exc)}"))
                return
            if dealer.down_since is not None:  # known unreachable: try another server
                out.reason = f"server at {endpoint} unreachable"
                self._reroute(out)
            else:  # still connecting, or its queue is full: send when writable
                self._wait(dealer, out)
            return
        settle_future(out.sent)

    def close(self) -> None:
        """Close every dealer (pending messages fail)."""
        for dealer in list(self._dealers.values()):
            self._close(dealer, "the transport was cleaned up")

    # -- internals --------------------------------------------------------------------

    def _open(self, endpoint: str) -> _Dealer:
        sock = new_socket(self._ctx, zmq.DEALER, self._settings)
        monitor = sock.get_monitor_socket(_MONITOR_EVENTS)
        dealer = _Dealer(endpoint, sock, monitor)
        self._dealers[endpoint] = dealer
        self._loop.add(sock, lambda flags: self._on_ready(dealer, flags))
        self._loop.add(monitor, lambda flags: self._on_monitor(dealer))
        sock.connect(endpoint)
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(_SWEEP_EVERY, self._sweep)
        return dealer

    def _wait(self, dealer: _Dealer, out: Outgoing) -> None:
        out.reason = (f"the server at {dealer.endpoint} takes no more messages (its queue is "
                      f"full)" if dealer.up else f"the server at {dealer.endpoint} is not "
                      f"connected")
        dealer.pending.append(out)
        if dealer.up:  # its queue is full: send when writable (else: at the handshake)
            self._loop.modify(dealer.sock, zmq.POLLIN | zmq.POLLOUT)

    def _on_ready(self, dealer: _Dealer, flags: int) -> None:
        if flags & zmq.POLLIN:
            self._read(dealer)
        if flags & zmq.POLLOUT:
            self._flush(dealer)

    def _read(self, dealer: _Dealer) -> None:
        sock = dealer.sock
        for _ in range(_READ_BATCH):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            self._on_reply(frames)

    def _flush(self, dealer: _Dealer) -> None:
        pending = dealer.pending
        if not dealer.up:
            return
        while pending:
            out = pending[0]
            if out.sent.done():
                pending.popleft()
                continue
            try:
                dealer.sock.send_multipart(out.frames, zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                if is_again(exc):
                    return
                pending.popleft()
                settle_future(out.sent, exc=MessageDeliveryFailure(
                    f"Could not send {out.what} to {dealer.endpoint}: {describe(exc)}"))
                continue
            pending.popleft()
            settle_future(out.sent)
        self._loop.modify(dealer.sock, zmq.POLLIN)

    def _on_monitor(self, dealer: _Dealer) -> None:
        while True:
            try:
                event = recv_monitor_message(dealer.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                if dealer.down_since is not None:
                    LOG.info("Server at %s is reachable again", dealer.endpoint)
                dealer.up = True
                dealer.down_since = None
                self._directory.up(dealer.endpoint)
                if dealer.pending:
                    self._flush(dealer)
            elif kind & PEER_GONE_EVENTS:
                self._gone(dealer, kind)

    def _gone(self, dealer: _Dealer, kind: int) -> None:
        if dealer.down_since is None:
            dealer.down_since = time.monotonic()
            if dealer.up:
                LOG.info("Lost the connection to the server at %s", dealer.endpoint)
            else:
                LOG.debug("Cannot connect to the server at %s (event %s)", dealer.endpoint,
                          _event_name(kind))
            dealer.up = False
            self._directory.down(dealer.endpoint)
        self._hand_back(dealer, f"server at {dealer.endpoint} unreachable")

    def _hand_back(self, dealer: _Dealer, reason: str) -> None:
        pending, dealer.pending = dealer.pending, collections.deque()
        self._loop.modify(dealer.sock, zmq.POLLIN)
        for out in pending:
            if not out.sent.done():
                out.reason = reason
                self._reroute(out)

    def _sweep(self) -> None:
        """Expire overdue pending messages; close dealers unreachable for a while."""
        self._sweeper = None
        now = time.monotonic()
        for dealer in list(self._dealers.values()):
            if dealer.pending:
                kept: collections.deque[Outgoing] = collections.deque()
                for out in dealer.pending:
                    if out.sent.done():
                        continue
                    if out.deadline <= now:
                        out.expire()
                        continue
                    kept.append(out)
                dealer.pending = kept
                if not kept and dealer.up:
                    self._loop.modify(dealer.sock, zmq.POLLIN)
            if (dealer.down_since is not None and not dealer.pending
                    and now - dealer.down_since > _CLOSE_DOWN_AFTER):
                self._close(dealer, "server unreachable")
        if self._dealers:
            self._sweeper = self._loop.call_later(_SWEEP_EVERY, self._sweep)

    def _close(self, dealer: _Dealer, reason: str) -> None:
        self._dealers.pop(dealer.endpoint, None)
        self._loop.remove(dealer.sock)
        self._loop.remove(dealer.monitor)
        for out in dealer.pending:
            settle_future(out.sent, exc=MessageDeliveryFailure(
                f"Could not send {out.what} to {dealer.endpoint}: {reason}"))
        dealer.pending.clear()
        try:
            dealer.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        dealer.monitor.close(linger=0)
        dealer.sock.close(linger=0 if reason == "server unreachable" else None)


class _Fanout:
    __slots__ = ("deadline", "endpoints", "frames", "sent", "what")

    def __init__(self, endpoints: list[str], frames: list[bytes], deadline: float,
                 sent: Future[None], what: str) -> None:
        self.endpoints = endpoints
        self.frames = frames
        self.deadline = deadline
        self.sent = sent
        self.what = what


class Publisher:
    """The XPUB of fanout casts, with the subscription handshake; I/O thread only."""

    def __init__(self, loop: IOLoop, ctx: zmq.Context[Any], settings: Settings) -> None:
        self._loop = loop
        self._ctx = ctx
        self._settings = settings
        self._sock: zmq.Socket[bytes] | None = None
        self._ready: set[str] = set()
        #: fanout key -> endpoints of its last lookup
        self._by_key: dict[str, set[str]] = {}
        self._connected: set[str] = set()
        self._waiting: collections.deque[_Fanout] = collections.deque()
        self._timer: Timer | None = None

    def publish(self, key: str, endpoints: list[str], frames: list[bytes], sent: Future[None],
                what: str) -> None:
        """Send ``frames`` to the subscribers at ``endpoints`` once each confirmed."""
        sock = self._socket()
        self._track(key, set(endpoints), sock)
        fanout = _Fanout(endpoints, frames,
                         time.monotonic() + self._settings.zmq_subscribe_timeout, sent, what)
        self._waiting.append(fanout)
        self._flush()

    def close(self) -> None:
        """Close the XPUB; fanouts still waiting are sent as they are."""
        while self._waiting:
            self._send(self._waiting.popleft())
        if self._sock is not None:
            self._loop.remove(self._sock)
            self._sock.close()
            self._sock = None

    def _socket(self) -> zmq.Socket[bytes]:
        if self._sock is None:
            sock = new_socket(self._ctx, zmq.XPUB, self._settings)
            sock.setsockopt(zmq.XPUB_VERBOSE, 1)
            self._loop.add(sock, self._on_subscription)
            self._sock = sock
        return self._sock

    def _track(self, key: str, endpoints: set[str], sock: zmq.Socket[bytes]) -> None:
        """Connect to new subscribers; disconnect those no fanout key lists any more."""
        before = self._by_key.get(key, set())
        self._by_key[key] = endpoints
        for endpoint in endpoints - self._connected:
            sock.connect(endpoint)
            self._connected.add(endpoint)
        for endpoint in before - endpoints:
            if not any(endpoint in eps for eps in self._by_key.values()):
                try:
                    sock.disconnect(endpoint)
                except zmq.ZMQError:
                    pass
                self._connected.discard(endpoint)
                self._ready.discard(endpoint)

    def _on_subscription(self, flags: int) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_READ_BATCH):
            try:
                msg = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(msg) > 3 and msg[1:2] == b"H" and msg.endswith(b"\0"):
                endpoint = msg[2:-1].decode("utf-8", "replace")
                if msg[0] == 1:
                    self._ready.add(endpoint)
                elif msg[0] == 0:
                    self._ready.discard(endpoint)
        self._flush()

    def _flush(self) -> None:
        """Send waiting fanouts in order while their subscribers are ready (or time is up)."""
        now = time.monotonic()
        while self._waiting:
            head = self._waiting[0]
            if head.sent.done():
                self._waiting.popleft()
                continue
            missing = [e for e in head.endpoints if e not in self._ready]
            if missing and head.deadline > now:
                if self._timer is None:
                    self._timer = self._loop.call_later(head.deadline - now, self._on_timer)
                return
            if missing:
                LOG.warning("Sending %s although %d subscriber(s) did not confirm their "
                            "subscription within %.1f s (they may miss it): %s", head.what,
                            len(missing), self._settings.zmq_subscribe_timeout,
                            ", ".join(missing))
            self._send(self._waiting.popleft())

    def _on_timer(self) -> None:
        self._timer = None
        self._flush()

    def _send(self, fanout: _Fanout) -> None:
        if self._sock is None:
            settle_future(fanout.sent, exc=MessageDeliveryFailure(
                f"Could not send {fanout.what}: the transport was cleaned up"))
            return
        try:
            self._sock.send_multipart(fanout.frames, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            settle_future(fanout.sent, exc=MessageDeliveryFailure(
                f"Could not send {fanout.what}: {describe(exc)}"))
            return
        settle_future(fanout.sent)


def _event_name(kind: int) -> str:
    for name in dir(zmq):
        if name.startswith("EVENT_") and getattr(zmq, name) == kind:
            return name
    return str(kind)
