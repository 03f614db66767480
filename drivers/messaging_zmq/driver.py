"""``zmq://`` and ``zmq+<matchmaker>://``: brokerless RPC and notifications over pyzmq.

There is no broker. Every RPC server and notification listener binds its
own sockets on a random free port (``rpc_zmq_bind_address``, loopback by
default) and registers the address it can be reached at (``rpc_zmq_host``)
in a matchmaker, under the keys of :mod:`messaging_zmq.frames`; clients
look the keys up and connect straight to the servers:

==============  ====================================  ==================================
message         how                                   who gets it
==============  ====================================  ==================================
call            DEALER -> server's ROUTER, reply back  one server of the topic (round-
                on the same connection                 robin) or the named server
cast            same, no reply                         same
fanout cast     XPUB -> every server's SUB, after      every server of the topic
                each confirmed its subscription
notification    DEALER -> listener's ROUTER            one listener per pool (and one of
                                                       the listeners without a pool)
==============  ====================================  ==================================

Bodies are the oslo.messaging JSON envelope (:mod:`messaging.envelope`),
as on every driver. Calls use the core's :class:`~messaging.correlation.
ReplyCorrelator`; received messages the core's :mod:`messaging.incoming`.

Threads: one I/O thread per driver owns the client's shared sockets (a
monitored DEALER per server, the fanout XPUB) and serves the future verbs;
a synchronous call or cast goes out on the calling thread's own DEALER
(so one thread's casts to a server keep their order) and waits for its
reply there (:mod:`messaging_zmq.direct`); a listener's sockets are used
by whichever thread holds its lock (:mod:`messaging_zmq.listener`). No
socket is ever used by two threads at once.

Guarantees (``capabilities``): at-most-once for requests and notifications,
nothing kept for a listener that does not exist yet, no requeue. A call to
a server that died fails with ``MessagingTimeout`` within its timeout; the
client marks the server's endpoint down as soon as its connection drops,
and later calls go to the surviving servers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar

import zmq

from messaging import deadlines
from messaging.correlation import ReplyCorrelator, settle_future
from messaging.driver import (
    Capabilities,
    Driver,
    Listener,
    Reply,
    TestingHooks,
    wait_future,
)
from messaging.envelope import (
    MalformedMessage,
    build_notification,
    build_request,
    decode,
    encode,
    new_id,
    parse_reply,
    unwrap,
    wrap,
)
from messaging.exceptions import (
    InvalidTarget,
    MessageDeliveryFailure,
    ServerListenError,
)
from messaging.first_use import first_use_setup
from messaging.target import Target
from messaging.url import TransportURL

from .connection import IOLoop
from .direct import DirectSocket, PollItems, ThreadDealers, ThreadSockets
from .directory import ANY_GROUP, Directory
from .frames import (
    CALL,
    CAST,
    NOTIFY,
    BadFrames,
    Peer,
    fanout_key,
    fanout_prefix,
    notify_key,
    pack,
    parse_reply_frame,
    rpc_key,
)
from .listener import ZmqListener
from .matchmaker import Matchmaker, MatchmakerError, load_matchmaker
from .options import Settings, load_settings
from .peers import Dealers, Outgoing, Publisher
from .registry import Registrar, Registration
from .sockets import recv_frames

__all__ = ["ZmqDriver"]

LOG = logging.getLogger(__name__)
#: Longest wait of a direct call between two looks at its future (call monitoring).
_MONITOR_SLICE = 0.25
#: Seconds cleanup waits for a thread to let go of its direct sockets.
_CLOSE_WAIT = 5.0
_MAX_KEYS = 4096
_NOBLOCK = int(zmq.NOBLOCK)
zmq_poll = zmq.zmq_poll
#: What :meth:`ZmqDriver._send_direct` did.
_SENT, _LATE, _DETOUR = object(), object(), object()


class ZmqDriver(Driver):
    """The ZeroMQ driver; thread-safe, one per transport."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=False, durable_notifications=False,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-most-once", publisher_confirms=False, brokered=False,
        counts_listeners=True)
    client_library: ClassVar[str | None] = "pyzmq"

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        self.settings: Settings = load_settings(conf, url)
        self.matchmaker: Matchmaker = load_matchmaker(url, self.settings)
        self._lock = threading.Lock()
        self._closed = False
        self._workers = ThreadPoolExecutor(max_workers=2,
                                           thread_name_prefix="messaging-zmq-matchmaker")
        self.directory = Directory(self.matchmaker, self.settings, self._workers)
        self.directory.monitor = self.monitor
        self.registrar = Registrar(self.matchmaker, self.settings, self._workers)
        self.reply_to = f"zmq-{new_id()}"
        self.correlator = ReplyCorrelator(self.reply_to, state=self._trouble, listeners=lambda t:
                                          len(self.directory.peers(self._rpc_key(t), fresh=True)))
        self._ctx: zmq.Context[Any] | None = None
        self._loop: IOLoop | None = None
        self._dealers: Dealers | None = None
        self._publisher: Publisher | None = None
        self._listeners: set[ZmqListener] = set()
        self._closing_r, self._closing_w = os.pipe()
        self._direct = ThreadSockets(self.settings, self._closing_r)
        self._keys: dict[tuple[str | None, str | None, str | None], str] = {}
        self._hooks = _ZmqTestingHooks(self)

    # -- sockets and threads ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MessageDeliveryFailure("the transport was cleaned up")

    @property
    def zmq_context(self) -> zmq.Context[Any]:
        """The driver's ZeroMQ context, made on first use."""
        ctx = self._ctx
        if ctx is None:
            with self._lock:
                self._check_open()
                if self._ctx is None:
                    self._ctx = zmq.Context()
                ctx = self._ctx
        return ctx

    @property
    def io_loop(self) -> IOLoop:
        """The driver's I/O thread, started on first use."""
        loop = self._loop
        if loop is None:
            ctx = self.zmq_context
            with self._lock:
                self._check_open()
                if self._loop is None:
                    self._loop = self._start_io_loop(ctx)
                loop = self._loop
        return loop

    @first_use_setup
    def _start_io_loop(self, ctx: zmq.Context[Any]) -> IOLoop:
        new = IOLoop(f"messaging-zmq-io-{self.reply_to[4:12]}")
        self._dealers = Dealers(new, ctx, self.settings, self.directory,
                                self._on_reply, self._reroute)
        self._publisher = Publisher(new, ctx, self.settings)
        new.on_stop(self._dealers.close)
        new.on_stop(self._publisher.close)
        new.start()
        return new

    def _lookup_waits(self, key: str, group: str | None = ANY_GROUP) -> bool:
        """True if sending to ``key`` now would ask a networked matchmaker, which may wait.

        The future verbs then hand the send to a worker thread: their caller
        may be an event loop, which must never wait on the network.
        """
        return self.matchmaker.networked and not self.directory.answers(key, group)

    def _on_worker(self, fn: Callable[[], None], failed: Future[Any], what: str) -> None:
        """Run ``fn`` on a worker thread; if the pool is shut, fail ``failed``."""
        try:
            self._workers.submit(fn)
        except RuntimeError:
            settle_future(failed, exc=MessageDeliveryFailure(
                f"Could not send {what}: the transport was cleaned up"))

    def _from_worker(self, submit: Callable[[], Future[None]], what: str) -> Future[None]:
        """``submit()`` run on a worker thread; the returned future gets its outcome."""
        outer: Future[None] = Future()

        def run() -> None:
            try:
                inner = submit()
            except Exception as exc:
                settle_future(outer, exc=exc)
                return
            inner.add_done_callback(partial(_forward, outer, what))

        self._on_worker(run, outer, what)
        return outer

    def _trouble(self) -> str | None:
        error = self.directory.last_error
        return f"the matchmaker is unreachable: {error}" if error else None

    def _on_reply(self, frames: list[bytes]) -> None:
        """Frames on a DEALER: a reply or heartbeat for a call (any thread)."""
        try:
            frame = parse_reply(unwrap(decode(parse_reply_frame(frames))))
        except BadFrames as exc:
            LOG.warning("Dropping a reply that is not from a messaging zmq server: %s", exc)
            LOG.debug("The dropped reply began %r", exc.sample)
            return
        except MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply: %s", exc)
            return
        self.correlator.deliver(frame)

    def _rpc_key(self, target: Target) -> str:
        """The matchmaker key of ``target``, cached by the fields it is made of.

        (Targets hash by identity, and every send hands the driver a fresh copy.)
        """
        fields = (target.exchange, target.topic, target.server)
        key = self._keys.get(fields)
        if key is None:
            if len(self._keys) >= _MAX_KEYS:
                self._keys.clear()
            key = self._keys[fields] = rpc_key(target, self.default_exchange)
        return key

    # -- sending through the I/O thread -----------------------------------------------

    def _body(self, inner: Mapping[str, Any], envelope: bool = True) -> bytes:
        try:
            body = encode(wrap(inner) if envelope else inner)
        except (TypeError, ValueError) as exc:
            raise MessageDeliveryFailure(f"Cannot serialize the message: {exc}") from None
        limit = self.settings.zmq_max_message_size
        if 0 < limit < len(body):
            raise MessageDeliveryFailure(
                f"The message is {len(body)} bytes, more than zmq_max_message_size ({limit})")
        return body

    def _dispatch(self, out: Outgoing, wait: bool = True) -> None:
        """Pick a live listener for ``out`` and hand it to the I/O thread (any thread)."""
        try:
            peer = self.directory.choose(out.key, out.group)
        except MatchmakerError as exc:
            peer = None
            out.reason = f"cannot look it up in {self.matchmaker.describe()}: {exc}"
        else:
            out.reason = f"no server registered in {self.matchmaker.describe()}"
        if peer is not None:
            self._send_to(peer, out)
            return
        if wait:  # look again until the deadline (a server may come, the matchmaker return)
            def failed(exc: MatchmakerError) -> None:
                out.reason = f"cannot look it up in {self.matchmaker.describe()}: {exc}"

            self.directory.wait_for(out.key, out.group, out.deadline, out.sent.done,
                                    lambda p: self._send_to(p, out), failed)
        else:
            out.expire()

    def _send_to(self, peer: Peer, out: Outgoing) -> None:
        try:
            loop = self.io_loop
        except MessageDeliveryFailure as exc:
            settle_future(out.sent, exc=exc)
            return
        dealers = self._dealers
        assert dealers is not None
        loop.submit(partial(dealers.send, peer.endpoint, out))

    def _reroute(self, out: Outgoing) -> None:
        """A message whose server turned out unreachable (I/O thread): try another one."""
        if out.sent.done():
            return
        try:
            self._workers.submit(self._dispatch, out)
        except RuntimeError:
            settle_future(out.sent, exc=MessageDeliveryFailure(
                f"Could not send {out.what}: the transport was cleaned up"))

    @staticmethod
    def _expire_at_deadline(out: Outgoing) -> None:
        handle = deadlines.schedule_at(out.deadline, out.expire)
        out.sent.add_done_callback(lambda _f: handle.cancel())

    def _queue_call(self, target: Target, msg_id: str, key: str, body: bytes,
                    deadline: float, method: Any, peer: Peer | None = None) -> None:
        """Send a registered call's request through the I/O thread (to ``peer`` if given)."""
        sent: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, [pack(CALL, key, body)], deadline, sent, "call",
                       method, target)
        # A cancelled call's request still goes (as on a broker). It stops trying at its
        # deadline (the lookups give up, a dealer's sweep expires it), by which time the
        # correlator has ended the call with MessagingTimeout: no timer of its own.
        self.correlator.track_send(msg_id, sent)
        if peer is None:
            self._dispatch(out)
        else:
            self._send_to(peer, out)

    # -- the verbs --------------------------------------------------------------------

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        """Send a request to one server of ``target``; the future gets its reply."""
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        self._check_open()
        msg_id = new_id()
        body = self._body(build_request(message, ctxt, msg_id=msg_id, reply_q=self.reply_to,
                                        timeout=call_monitor_timeout))
        future = self.correlator.register(msg_id, timeout, call_monitor_timeout,
                                          target=target, method=message.get("method"))
        if not future.done():
            key = self._rpc_key(target)
            queue = partial(self._queue_call, target, msg_id, key, body,
                            time.monotonic() + max(timeout, 0.0), message.get("method"))
            if self._lookup_waits(key):  # a cleaned-up pool: the correlator ends the call
                self._on_worker(queue, Future(), "a call")
            else:
                queue()
        return future

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        """Send a request and wait for its reply, on this thread's own socket when it can.

        The request goes out on the calling thread's own DEALER to the
        server (waiting while that socket connects or its queue is full, see
        :meth:`_send_direct`), and the reply is read there; the I/O thread's
        monitored DEALER finds out meanwhile whether a new server is
        reachable, and sends the request elsewhere if it is not. Either way
        the core's correlator ends the call at its deadline.
        """
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        self._check_open()
        key = self._rpc_key(target)
        try:
            # Not from the cache: a server whose stop()/wait() returned has left the
            # matchmaker, but a cached answer may still name it, and this thread's socket to
            # it may not have seen the close yet (libzmq notices on its I/O thread): the
            # request would go into a closed listener and the call time out.
            peer = self.directory.choose(key, fresh=True)
        except MatchmakerError:
            peer = None  # the I/O path reports the matchmaker's trouble
        if peer is None:
            return super().call(target, ctxt, message, timeout=timeout,
                                call_monitor_timeout=call_monitor_timeout, retry=retry)
        self._probe(peer.endpoint)
        method = message.get("method")
        msg_id = new_id()
        body = self._body(build_request(message, ctxt, msg_id=msg_id, reply_q=self.reply_to,
                                        timeout=call_monitor_timeout))
        deadline = time.monotonic() + max(timeout, 0.0)
        future = self.correlator.register(msg_id, timeout, call_monitor_timeout,
                                          target=target, method=method)
        dealers = self._direct.mine()
        with dealers.lock:
            if dealers.closed or self._closed:
                future.cancel()
                self._check_open()
            direct = self._direct.socket(dealers, self.zmq_context, peer.endpoint)
            sent = self._send_direct(direct, pack(CALL, key, body), peer.endpoint, deadline)
            if sent is _SENT:
                self.correlator.sent(msg_id)
                self._await_reply(direct.sock, direct.items, future, deadline,
                                  call_monitor_timeout)
            elif sent is _DETOUR:  # unreachable, or the socket failed: the I/O thread
                self._forget_if_down(dealers, peer.endpoint)
                self._queue_call(target, msg_id, key, body, deadline, method, peer)
            # _LATE: never sent; the correlator ends the call at its deadline
        if future.done():
            return future.result()  # the reply, or MessagingTimeout from the correlator
        return wait_future(future, max(deadline - time.monotonic(), 0.0) + self.call_grace,
                           f"reply to a call to {target} not delivered in time")

    def _probe(self, endpoint: str) -> None:
        """Until ``endpoint`` is known reachable, have the I/O thread find out (its monitored
        DEALER marks it up or down) while this thread connects a socket of its own."""
        if not self.directory.is_up(endpoint):
            loop = self.io_loop
            dealers = self._dealers
            assert dealers is not None
            loop.submit(partial(dealers.probe, endpoint))

    def _send_direct(self, direct: DirectSocket, frame: bytes, endpoint: str,
                     deadline: float) -> object:
        """Send ``frame`` on this thread's socket to ``endpoint`` (its lock held).

        The frame is handed to the socket only while its connection is up
        (its monitor says so). While it still connects, or its queue is
        full, wait for it (until ``deadline``) rather than hand the message
        to the I/O thread: another connection would let it overtake, or be
        overtaken by, this thread's other messages to the same server, and
        waiting is the back-pressure a full queue asks for. Returns
        ``_SENT``, ``_LATE`` (the deadline passed first) or ``_DETOUR`` (the
        server is known unreachable or the socket failed: the I/O thread
        picks a server).
        """
        sock = direct.sock
        connecting: PollItems | None = None
        full: PollItems | None = None
        while True:
            if self._closed or self.directory.is_down(endpoint):
                return _DETOUR
            up = direct.refresh()
            if up:
                try:
                    sock.send(frame, _NOBLOCK)
                    return _SENT
                except zmq.Again:  # its queue is full
                    pass
                except zmq.ZMQError:
                    return _DETOUR
            left = deadline - time.monotonic()
            if left <= 0:
                return _LATE
            timeout = int(min(left, _MONITOR_SLICE) * 1000) + 1
            if up:
                if full is None:
                    full = [(sock, zmq.POLLOUT), (self._closing_r, zmq.POLLIN)]
                zmq_poll(full, timeout)
            else:  # connecting, or reconnecting: the monitor tells when it is up
                if connecting is None:
                    connecting = [(direct.monitor, zmq.POLLIN), (self._closing_r, zmq.POLLIN)]
                zmq_poll(connecting, timeout)

    def _forget_if_down(self, dealers: ThreadDealers, endpoint: str) -> None:
        """Close this thread's socket to a server known to be unreachable (lock held)."""
        if self.directory.is_down(endpoint):
            dealers.drop(endpoint)

    def _await_reply(self, sock: zmq.Socket[bytes], items: PollItems,
                     future: Future[Reply], deadline: float, monitor: float | None) -> None:
        """Read this thread's socket until ``future`` is done (reply, deadline, cleanup).

        One message per wake-up: usually the reply, and ``zmq_poll`` is level-triggered,
        so anything else waiting (a late reply of an earlier call) wakes the next turn.
        """
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return  # the correlator's timer ends the future
            if monitor:
                left = min(left, _MONITOR_SLICE)
            if zmq_poll(items, int(left * 1000) + 1):
                try:
                    frames = recv_frames(sock)
                except zmq.Again:  # only the closing pipe fired
                    pass
                else:
                    self._on_reply(frames)
            if future.done() or self._closed:
                return

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Hand a request to a server on this thread's own socket (as :meth:`call`).

        So a thread's casts to one server keep their order: they share one
        connection, and a full queue makes the next one wait (up to
        ``zmq_send_timeout``) instead of taking another.
        """
        self._check_open()
        if target.fanout:
            super().cast(target, ctxt, message, retry=retry)
            return
        key = self._rpc_key(target)
        try:
            peer = self.directory.choose(key)
        except MatchmakerError:
            peer = None
        if peer is None:
            super().cast(target, ctxt, message, retry=retry)
            return
        body = self._body(build_request(message, ctxt))
        frame = pack(CAST, key, body)
        deadline = time.monotonic() + self.settings.zmq_send_timeout
        self._probe(peer.endpoint)
        dealers = self._direct.mine()
        with dealers.lock:
            if not dealers.closed and not self._closed:
                direct = self._direct.socket(dealers, self.zmq_context, peer.endpoint)
                sent = self._send_direct(direct, frame, peer.endpoint, deadline)
                if sent is _SENT:
                    return
                if sent is _LATE:
                    raise MessageDeliveryFailure(
                        f"Could not send the cast of {message.get('method')!r} to {target}: "
                        f"the server at {peer.endpoint} took nothing for zmq_send_timeout "
                        f"({self.settings.zmq_send_timeout:g} s)")
                self._forget_if_down(dealers, peer.endpoint)
        sent_future: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, [frame], deadline, sent_future, "cast",
                       message.get("method"), target)
        self._expire_at_deadline(out)
        self._send_to(peer, out)
        sent_future.result()

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        """Hand a request to one server of ``target`` (every server, for a fanout).

        The future completes once a connected server's socket took it. It
        fails with ``MessageDeliveryFailure`` when no server of the target
        is registered (after waiting ``zmq_send_timeout``, or at once with
        ``retry=0``); a fanout to no server is dropped, as on a broker.
        """
        self._check_open()
        body = self._body(build_request(message, ctxt))
        if target.fanout:
            return self._fanout(target, body, message.get("method"))
        key = self._rpc_key(target)
        sent: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, [pack(CAST, key, body)],
                       time.monotonic() + self.settings.zmq_send_timeout, sent, "cast",
                       message.get("method"), target)
        self._expire_at_deadline(out)
        if self._lookup_waits(key):
            self._on_worker(partial(self._dispatch, out, wait=retry != 0), sent, out.what)
        else:
            self._dispatch(out, wait=retry != 0)
        return sent

    def _fanout(self, target: Target, body: bytes, method: Any) -> Future[None]:
        key = fanout_key(target.topic or "")
        what = f"the fanout cast of {method!r} to {target}"
        if self._lookup_waits(key):
            return self._from_worker(partial(self._fanout_now, key, target, body, what), what)
        return self._fanout_now(key, target, body, what)

    def _fanout_now(self, key: str, target: Target, body: bytes, what: str) -> Future[None]:
        sent: Future[None] = Future()
        try:
            peers = self.directory.peers(key)
        except MatchmakerError as exc:
            settle_future(sent, exc=MessageDeliveryFailure(
                f"Could not send {what}: cannot look it up in {self.matchmaker.describe()}: "
                f"{exc}"))
            return sent
        if not peers:
            LOG.debug("No server of %s is registered: fanout dropped", target)
            settle_future(sent)
            return sent
        loop = self.io_loop
        publisher = self._publisher
        assert publisher is not None
        loop.submit(partial(publisher.publish, key, [p.endpoint for p in peers],
                            [fanout_prefix(key) + pack(CAST, key, body)], sent, what))
        return sent

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """Hand a notification to one listener of each pool of ``<topic>.<priority>``.

        With no listener registered, the notification is dropped (and the
        future completes): notifications are not kept on this driver.
        """
        self._check_open()
        body = self._body(build_notification(message, ctxt), envelope=version >= 2.0)
        key = notify_key(target, self.default_exchange)
        if self._lookup_waits(key):
            return self._from_worker(partial(self._notify_raw, target, body),
                                     f"the notification to {target.topic}")
        return self._notify_raw(target, body)

    def _notify_raw(self, target: Target, body: bytes) -> Future[None]:
        key = notify_key(target, self.default_exchange)
        try:
            groups = self.directory.groups(key)
        except MatchmakerError as exc:
            failed: Future[None] = Future()
            failed.set_exception(MessageDeliveryFailure(
                f"Could not send the notification to {target.topic}: cannot look it up in "
                f"{self.matchmaker.describe()}: {exc}"))
            return failed
        if not groups:
            LOG.debug("No listener of %s is registered: notification dropped", target.topic)
            done: Future[None] = Future()
            done.set_result(None)
            return done
        frames = [pack(NOTIFY, key, body)]
        deadline = time.monotonic() + self.settings.zmq_send_timeout
        copies = []
        for group in groups:
            out = Outgoing(key, group, frames, deadline, Future(), "notification",
                           target=target.topic)
            self._expire_at_deadline(out)
            copies.append(out.sent)
            self._dispatch(out)
        return copies[0] if len(copies) == 1 else _all_of(copies)

    # -- receiving --------------------------------------------------------------------

    def listen(self, target: Target) -> Listener:
        """Bind a ROUTER and a SUB; register ``topic``, ``topic.server`` and the fanout."""
        topic_key = rpc_key(target.replace(server=None), self.default_exchange)
        server_key = rpc_key(target, self.default_exchange)
        fkey = fanout_key(target.topic or "")
        listener = ZmqListener(self, rpc=True, keys=frozenset({topic_key, server_key, fkey}),
                               fanout=fkey, what=f"RPC server {target.topic}.{target.server}")
        self._open(listener, target)
        assert listener.router_endpoint is not None and listener.sub_endpoint is not None
        router = listener.router_endpoint.advertised
        return self._register(listener, [(topic_key, router), (server_key, router),
                                         (fkey, listener.sub_endpoint.advertised)])

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Bind a ROUTER registered under ``<topic>.<priority>`` of each pair, in ``pool``."""
        keys = frozenset(notify_key(t.replace(topic=f"{t.topic}.{p}"), self.default_exchange)
                         for t, p in targets_and_priorities)
        first = targets_and_priorities[0][0] if targets_and_priorities else Target()
        listener = ZmqListener(self, rpc=False, keys=keys, fanout=None,
                               what=f"notification listener {first.topic}"
                                    + (f" (pool {pool})" if pool else ""))
        self._open(listener, first)
        assert listener.router_endpoint is not None
        value = Peer(listener.router_endpoint.advertised, pool).encode()
        return self._register(listener, [(key, value) for key in sorted(keys)])

    def _open(self, listener: ZmqListener, target: Target) -> None:
        if self._closed:
            raise ServerListenError(target, msg="the transport was cleaned up")
        try:
            listener.open()
        except zmq.ZMQBaseError as exc:  # ZMQError, or ZMQBindError: no free port in range
            listener.cleanup()  # closes what was opened
            settings = self.settings
            raise ServerListenError(target, msg=(
                f"Cannot bind a socket on {settings.rpc_zmq_bind_address} (ports "
                f"{settings.rpc_zmq_min_port}-{settings.rpc_zmq_max_port}): {exc}")) from None

    def _register(self, listener: ZmqListener, entries: list[tuple[str, str]]) -> Listener:
        registration = Registration(entries)
        listener.registration = registration
        with self._lock:
            self._listeners.add(listener)
        if not self.registrar.add(registration):
            LOG.warning("%s listens but is not registered in %s yet (retrying): %s",
                        listener.what, self.matchmaker.describe(), registration.error)
        for key, _value in entries:
            self.directory.forget(key)
        return listener

    def forget_listener(self, listener: ZmqListener) -> None:
        """A listener was cleaned up."""
        with self._lock:
            self._listeners.discard(listener)

    # -- lifecycle --------------------------------------------------------------------

    def cleanup(self) -> None:
        """Clean up the listeners, end pending calls, close every socket and thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up %s", listener.what)
        self.correlator.close()
        try:
            os.write(self._closing_w, b"\0")  # wakes direct calls waiting on their socket
        except OSError:
            pass
        self.registrar.close()
        if self._direct.close_all(_CLOSE_WAIT):  # else a thread may still poll the pipe
            for fd in (self._closing_r, self._closing_w):
                os.close(fd)
        if self._loop is not None:
            self._loop.stop()
        if self._ctx is not None:
            _terminate(self._ctx, self.settings.zmq_linger)
        self._workers.shutdown(wait=False, cancel_futures=True)
        self.matchmaker.close()
        super().cleanup()

    @property
    def testing(self) -> TestingHooks:
        """Hooks for the conformance kit (raw bytes to a server or listener)."""
        return self._hooks

    def __repr__(self) -> str:
        return f"<ZmqDriver {self.url!r} {self.matchmaker.describe()}>"


def _terminate(ctx: zmq.Context[Any], linger: int) -> None:
    """Terminate ``ctx`` (its sockets are closed), waiting at most for the linger period."""
    thread = threading.Thread(target=ctx.term, name="messaging-zmq-term", daemon=True)
    thread.start()
    thread.join(None if linger < 0 else linger + 1.0)
    if thread.is_alive():
        LOG.warning("ZeroMQ is still sending queued messages after %d s; leaving it", linger)


def _all_of(futures: list[Future[None]]) -> Future[None]:
    """A future done when all are; failed with the first failure."""
    combined: Future[None] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(f: Future[None]) -> None:
        exc = f.exception() if not f.cancelled() else MessageDeliveryFailure("cancelled")
        if exc is not None:
            settle_future(combined, exc=exc)
            return
        with lock:
            left[0] -= 1
            if left[0] == 0:
                settle_future(combined)

    for future in futures:
        future.add_done_callback(one_done)
    return combined


class _ZmqTestingHooks(TestingHooks):
    """Conformance-kit support: raw bytes where a server or listener reads."""

    def __init__(self, driver: ZmqDriver) -> None:
        self._driver = driver

    def publish_raw(self, target: Target, body: bytes) -> None:
        """Send ``body`` verbatim as a cast to a server of ``target``."""
        driver = self._driver
        key = rpc_key(target, driver.default_exchange)
        sent: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, [pack(CAST, key, bytes(body))],
                       time.monotonic() + driver.settings.zmq_send_timeout, sent, "raw bytes",
                       target=target)
        driver._expire_at_deadline(out)
        driver._dispatch(out)
        sent.result()

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Send ``body`` verbatim to the listeners of ``target.topic``."""
        self._driver._notify_raw(target, bytes(body)).result()


def _forward(outer: Future[None], what: str, inner: Future[None]) -> None:
    """Give ``outer`` the outcome of the send ``inner``."""
    if inner.cancelled():
        settle_future(outer, exc=MessageDeliveryFailure(f"Could not send {what}: cancelled"))
    else:
        settle_future(outer, exc=inner.exception())
