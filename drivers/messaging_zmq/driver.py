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

Guarantees (``capabilities``): at-most-once for requests and notifications,
nothing kept for a listener that does not exist yet, no requeue. A call to
a server that died fails with ``MessagingTimeout`` within its timeout; the
client marks the server's endpoint down as soon as its connection drops,
and later calls go to the surviving servers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar

import zmq

from messaging.correlation import ReplyCorrelator, settle_future
from messaging.driver import Capabilities, Driver, Listener, Reply, TestingHooks
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
    MessagingTimeout,
    ServerListenError,
)
from messaging.target import Target
from messaging.url import TransportURL

from .connection import IOLoop
from .directory import ANY_GROUP, Directory
from .frames import (
    CALL,
    CAST,
    NOTIFY,
    PROTOCOL,
    REPLY,
    Peer,
    fanout_key,
    fanout_prefix,
    notify_key,
    request,
    rpc_key,
)
from .listener import ZmqListener
from .matchmaker import Matchmaker, MatchmakerError, load_matchmaker
from .options import Settings, load_settings
from .peers import Dealers, Outgoing, Publisher
from .registry import Registrar, Registration

__all__ = ["ZmqDriver"]

LOG = logging.getLogger(__name__)
#: Seconds ``listen`` waits for the I/O thread to bind a listener's sockets.
_BIND_TIMEOUT = 10.0


class ZmqDriver(Driver):
    """The ZeroMQ driver; thread-safe, one per transport."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        fanout=True, competing_consumers=True, requeue=False, durable_notifications=False,
        call_monitor=True, pools=True, rpc_delivery="at-most-once",
        notification_delivery="at-most-once", publisher_confirms=False, brokered=False)

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
        self.registrar = Registrar(self.matchmaker, self.settings, self._workers)
        self.reply_to = f"zmq-{new_id()}"
        self.correlator = ReplyCorrelator(self.reply_to, state=self._trouble)
        self._ctx: zmq.Context[Any] | None = None
        self._loop: IOLoop | None = None
        self._dealers: Dealers | None = None
        self._publisher: Publisher | None = None
        self._listeners: set[ZmqListener] = set()
        self._hooks = _ZmqTestingHooks(self)

    # -- the I/O thread ---------------------------------------------------------------

    @property
    def io_loop(self) -> IOLoop:
        """The driver's I/O thread, started on first use."""
        loop = self._loop
        if loop is None:
            with self._lock:
                if self._closed:
                    raise MessageDeliveryFailure("the transport was cleaned up")
                if self._loop is None:
                    ctx: zmq.Context[Any] = zmq.Context()
                    new = IOLoop(f"messaging-zmq-io-{self.reply_to[4:12]}")
                    self._dealers = Dealers(new, ctx, self.settings, self.directory,
                                            self._on_reply, self._reroute)
                    self._publisher = Publisher(new, ctx, self.settings)
                    new.on_stop(self._dealers.close)
                    new.on_stop(self._publisher.close)
                    self._ctx = ctx
                    new.start()
                    self._loop = new
                loop = self._loop
        return loop

    @property
    def zmq_context(self) -> zmq.Context[Any]:
        """The driver's ZeroMQ context (sockets are made on the I/O thread only)."""
        self.io_loop  # noqa: B018 - starts the loop and the context
        assert self._ctx is not None
        return self._ctx

    def _trouble(self) -> str | None:
        error = self.directory.last_error
        return f"the matchmaker is unreachable: {error}" if error else None

    def _on_reply(self, frames: list[bytes]) -> None:
        """A frame on a DEALER (I/O thread): a reply or heartbeat for a call."""
        if len(frames) != 4 or frames[0] != PROTOCOL or frames[1] != REPLY:
            LOG.warning("Dropping a reply that is not from a messaging zmq server (%d frames)",
                        len(frames))
            return
        try:
            frame = parse_reply(unwrap(decode(frames[3])))
        except MalformedMessage as exc:
            LOG.warning("Dropping a malformed reply: %s", exc)
            return
        self.correlator.deliver(frame)

    # -- sending ----------------------------------------------------------------------

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
            settle_future(out.sent, exc=MessageDeliveryFailure(
                f"Could not send {out.what}: cannot look the target up in "
                f"{self.matchmaker.describe()}: {exc}"))
            return
        if peer is not None:
            self._send_to(peer, out)
        elif not wait:
            out.reason = f"no server registered in {self.matchmaker.describe()}"
            out.expire()
        else:
            out.reason = f"no server registered in {self.matchmaker.describe()}"
            self.directory.wait_for(out.key, out.group, out.deadline, out.sent.done,
                                    lambda p: self._send_to(p, out))

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

    def _expire_at_deadline(self, out: Outgoing) -> None:
        from messaging import deadlines

        handle = deadlines.schedule_at(out.deadline, out.expire)
        out.sent.add_done_callback(lambda _f: handle.cancel())

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        """Send a request to one server of ``target``; the future gets its reply."""
        if target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", target)
        msg_id = new_id()
        body = self._body(build_request(message, ctxt, msg_id=msg_id, reply_q=self.reply_to,
                                        timeout=call_monitor_timeout))
        self.io_loop  # noqa: B018 - fails at once after cleanup
        future = self.correlator.register(msg_id, timeout, call_monitor_timeout,
                                          target=target, method=message.get("method"))
        if future.done():
            return future
        key = rpc_key(target, self.default_exchange)
        sent: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, request(CALL, key, body),
                       time.monotonic() + max(timeout, 0.0), sent,
                       f"the call of {message.get('method')!r} to {target}")
        future.add_done_callback(lambda _f: settle_future(sent, exc=MessagingTimeout(
            "the call ended")))
        self.correlator.track_send(msg_id, sent)
        self._dispatch(out)
        return future

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        """Hand a request to one server of ``target`` (every server, for a fanout).

        The future completes once a connected server's socket took it. It
        fails with ``MessageDeliveryFailure`` when no server of the target
        is registered (after waiting ``zmq_send_timeout``, or at once with
        ``retry=0``); a fanout to no server is dropped, as on a broker.
        """
        body = self._body(build_request(message, ctxt))
        what = f"the cast of {message.get('method')!r} to {target}"
        if target.fanout:
            return self._fanout(target, body, what)
        key = rpc_key(target, self.default_exchange)
        sent: Future[None] = Future()
        out = Outgoing(key, ANY_GROUP, request(CAST, key, body),
                       time.monotonic() + self.settings.zmq_send_timeout, sent, what)
        self._expire_at_deadline(out)
        self._dispatch(out, wait=retry != 0)
        return sent

    def _fanout(self, target: Target, body: bytes, what: str) -> Future[None]:
        key = fanout_key(target.topic or "")
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
        frames = [fanout_prefix(key), *request(CAST, key, body)]
        endpoints = [p.endpoint for p in peers]
        publisher = self._publisher
        loop = self.io_loop
        assert publisher is not None
        loop.submit(partial(publisher.publish, key, endpoints, frames, sent, what))
        return sent

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """Hand a notification to one listener of each pool of ``<topic>.<priority>``.

        With no listener registered, the notification is dropped (and the
        future completes): notifications are not kept on this driver.
        """
        body = self._body(build_notification(message, ctxt), envelope=version >= 2.0)
        return self._notify_raw(target, body)

    def _notify_raw(self, target: Target, body: bytes) -> Future[None]:
        key = notify_key(target, self.default_exchange)
        what = f"the notification to {target.topic}"
        try:
            groups = self.directory.groups(key)
        except MatchmakerError as exc:
            failed: Future[None] = Future()
            failed.set_exception(MessageDeliveryFailure(
                f"Could not send {what}: cannot look it up in {self.matchmaker.describe()}: "
                f"{exc}"))
            return failed
        if not groups:
            LOG.debug("No listener of %s is registered: notification dropped", target.topic)
            done: Future[None] = Future()
            done.set_result(None)
            return done
        frames = request(NOTIFY, key, body)
        deadline = time.monotonic() + self.settings.zmq_send_timeout
        copies = []
        for group in groups:
            out = Outgoing(key, group, frames, deadline, Future(), what)
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
        with self._lock:
            if self._closed:
                raise ServerListenError(target, msg="the transport was cleaned up")
        try:
            self.io_loop.run(listener.open).result(_BIND_TIMEOUT)
        except zmq.ZMQError as exc:
            settings = self.settings
            raise ServerListenError(target, msg=(
                f"Cannot bind a socket on {settings.rpc_zmq_bind_address} (ports "
                f"{settings.rpc_zmq_min_port}-{settings.rpc_zmq_max_port}): {exc}")) from None
        except TimeoutError:
            raise ServerListenError(target, msg="the I/O thread did not bind the sockets "
                                                "in time") from None

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
            self._closed = True
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up %s", listener.what)
        self.correlator.close()
        self.registrar.close()
        loop, ctx = self._loop, self._ctx
        if loop is not None:
            loop.stop()
        if ctx is not None:
            _terminate(ctx, self.settings.zmq_linger)
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
        out = Outgoing(key, ANY_GROUP, request(CAST, key, bytes(body)),
                       time.monotonic() + driver.settings.zmq_send_timeout, sent,
                       f"raw bytes to {target}")
        driver._expire_at_deadline(out)
        driver._dispatch(out)
        sent.result()

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Send ``body`` verbatim to the listeners of ``target.topic``."""
        self._driver._notify_raw(target, bytes(body)).result()
