"""RPC servers and notification listeners: their sockets, messages and replies.

A listener binds its own ROUTER (requests, notifications) on a random free
port, and an RPC server also a SUB (fanout casts); the driver registers
their addresses in the matchmaker. Frames are checked on the I/O thread (a
message that is not from this driver, or for a key this listener does not
serve, is logged and dropped); bodies are parsed by :meth:`ZmqListener.poll`
in the server's thread, where a malformed one is logged and dropped too.
Replies and call-monitor heartbeats are handed back to the I/O thread and
leave through the ROUTER on the connection the request came in on.

Delivery is at-most-once for everything: there is no broker to keep a
message, so nothing can be given back. A message still unsettled when the
listener is cleaned up, or arriving after it stopped, is dropped (and
logged); that is also why the driver declares ``requeue=False``.
"""

from __future__ import annotations

import logging
import queue
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from messaging.driver import IncomingMessage, Listener
from messaging.envelope import (
    MalformedMessage,
    Request,
    decode,
    encode,
    parse_notification,
    parse_request,
    unwrap,
    wrap_reply,
)
from messaging.incoming import NotificationMessage, RequestMessage, TrackedMessage
from messaging.remote import serialize_exception
from messaging.settlement import DeliveryTracker

from .errors import describe, is_again, is_unreachable
from .frames import (
    CALL,
    CAST,
    NOTIFY,
    PROTOCOL,
    REPLY,
    BadFrames,
    fanout_prefix,
    hello_prefix,
)
from .frames import parse_request as parse_frames
from .registry import Registration
from .sockets import Endpoint, bind_random, new_socket

if TYPE_CHECKING:
    from .driver import ZmqDriver

__all__ = ["ZmqListener", "ZmqNotification", "ZmqRequest"]

LOG = logging.getLogger(__name__)
_STOP = object()
_READ_BATCH = 256
_HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                     | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


class ZmqRequest(RequestMessage):
    """An RPC request; a call's reply goes back through the ROUTER it came in on."""

    def __init__(self, listener: ZmqListener, identity: bytes | None, request: Request,
                 tracker: DeliveryTracker[Any]) -> None:
        super().__init__(request, tracker)
        self._listener = listener
        self._identity = identity

    def _settle(self, requeue: bool) -> None:
        if requeue:
            LOG.warning("Request %s cannot be given back (ZeroMQ has no broker to keep it); "
                        "dropped", self.unique_id)

    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        if self._identity is None:
            LOG.debug("Request %s came as a cast; no reply is sent", self.unique_id)
            return
        self._listener.send_reply(self._identity, self.msg_id, envelope, final)


class ZmqNotification(NotificationMessage):
    """A notification; acknowledging it has nothing to tell anybody."""

    def _settle(self, requeue: bool) -> None:
        if requeue:
            LOG.warning("Notification %s cannot be given back (ZeroMQ has no broker to keep "
                        "it); dropped", self.unique_id)


class ZmqListener(Listener):
    """Messages for one RPC server (``rpc``) or notification listener.

    :param keys: the matchmaker keys this listener registers; a message
        for any other key is dropped.
    :param fanout: the fanout key of an RPC server (it binds a SUB for it).
    """

    def __init__(self, driver: ZmqDriver, *, rpc: bool, keys: frozenset[str],
                 fanout: str | None, what: str) -> None:
        self._driver = driver
        self._loop = driver.io_loop
        self._rpc = rpc
        self._keys = keys
        self._fanout = fanout
        self.what = what
        self._kinds = frozenset({CALL, CAST}) if rpc else frozenset({NOTIFY})
        self._incoming: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._stopped = False
        self._cleaned = False
        self._router: zmq.Socket[bytes] | None = None
        self._sub: zmq.Socket[bytes] | None = None
        self._monitors: list[zmq.Socket[bytes]] = []
        self.router_endpoint: Endpoint | None = None
        self.sub_endpoint: Endpoint | None = None
        self.registration: Registration | None = None
        self._unregistered: Future[None] | None = None

    # -- I/O thread -------------------------------------------------------------------

    def open(self) -> None:
        """Bind the ROUTER (and the SUB of an RPC server) and start reading them."""
        settings = self._driver.settings
        ctx = self._driver.zmq_context
        router = new_socket(ctx, zmq.ROUTER, settings)
        try:
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.router_endpoint = bind_random(router, settings)
        except BaseException:
            router.close(linger=0)
            raise
        self._router = router
        self._loop.add(router, self._on_router)
        self._watch(router, self.router_endpoint)
        if self._fanout is not None:
            sub = new_socket(ctx, zmq.SUB, settings)
            try:
                self.sub_endpoint = bind_random(sub, settings)
            except BaseException:
                sub.close(linger=0)
                raise
            # The topic first, the hello last: a publisher seeing the hello knows both arrived.
            sub.setsockopt(zmq.SUBSCRIBE, fanout_prefix(self._fanout))
            sub.setsockopt(zmq.SUBSCRIBE, hello_prefix(self.sub_endpoint.advertised))
            self._sub = sub
            self._loop.add(sub, self._on_sub)
            self._watch(sub, self.sub_endpoint)

    def _watch(self, sock: zmq.Socket[bytes], endpoint: Endpoint) -> None:
        monitor = sock.get_monitor_socket(_HANDSHAKE_FAILED | zmq.EVENT_DISCONNECTED)
        self._monitors.append(monitor)
        self._loop.add(monitor, lambda flags: self._on_monitor(monitor, endpoint))

    def _on_monitor(self, monitor: zmq.Socket[bytes], endpoint: Endpoint) -> None:
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.ZMQError:
                return
            if event["event"] & _HANDSHAKE_FAILED:
                LOG.warning("Dropped a connection to %s that failed the ZeroMQ handshake "
                            "(not a ZeroMQ peer, or an incompatible one; error %s)",
                            endpoint.bound, event["value"])
            else:
                LOG.debug("A peer of %s disconnected", endpoint.bound)

    def _on_router(self, flags: int) -> None:
        router = self._router
        if router is None:
            return
        for _ in range(_READ_BATCH):
            try:
                frames = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._accept(frames[0], frames[1:])

    def _on_sub(self, flags: int) -> None:
        sub = self._sub
        if sub is None:
            return
        for _ in range(_READ_BATCH):
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._accept(None, frames[1:])

    def _accept(self, identity: bytes | None, frames: list[bytes]) -> None:
        try:
            kind, key, body = parse_frames(frames)
        except BadFrames as exc:
            LOG.warning("Dropping a message that is not from a messaging zmq client on %s: %s",
                        self.what, exc)
            return
        if key not in self._keys or kind not in self._kinds:
            LOG.warning("Dropping a %s message for %s on %s (it serves %s); a stale "
                        "matchmaker entry may point at a reused port", kind.decode(), key,
                        self.what, ", ".join(sorted(self._keys)))
            return
        if self._stopped:
            LOG.debug("Dropping a message for %s: the listener stopped", key)
            return
        self._incoming.put((identity if kind == CALL else None, body))

    def _close_sockets(self) -> None:
        for sock in (self._router, self._sub):
            if sock is not None:
                self._loop.remove(sock)
                try:
                    sock.disable_monitor()
                except zmq.ZMQError:
                    pass
                sock.close()
        for monitor in self._monitors:
            self._loop.remove(monitor)
            monitor.close(linger=0)
        self._router = self._sub = None
        self._monitors = []

    def _send_reply_now(self, identity: bytes, msg_id: str | None, body: bytes) -> None:
        router = self._router
        if router is None:
            LOG.info("Reply to message ID %s dropped: %s was cleaned up", msg_id, self.what)
            return
        try:
            router.send_multipart([identity, PROTOCOL, REPLY, b"", body], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            if is_unreachable(exc):
                LOG.info("Reply to message ID %s dropped: the caller disconnected", msg_id)
            elif is_again(exc):
                LOG.warning("Reply to message ID %s dropped: the caller's queue is full",
                            msg_id)
            else:
                LOG.error("Reply to message ID %s could not be sent: %s", msg_id,
                          describe(exc))

    # -- any thread -------------------------------------------------------------------

    def send_reply(self, identity: bytes, msg_id: str | None, envelope: dict[str, str],
                   final: bool) -> None:
        """Encode a reply frame (or heartbeat) and hand it to the I/O thread."""
        body = encode(envelope)
        limit = self._driver.settings.zmq_max_message_size
        if 0 < limit < len(body):
            if not final:
                return
            LOG.error("The reply to message ID %s is %d bytes, over zmq_max_message_size "
                      "(%d); sending an error instead", msg_id, len(body), limit)
            body = encode(wrap_reply(msg_id or "", failure=serialize_exception(ValueError(
                f"the result is {len(body)} bytes, more than the {limit} bytes "
                f"zmq_max_message_size allows"))))
        self._loop.submit(lambda: self._send_reply_now(identity, msg_id, body))

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Up to ``max_messages`` messages, waiting up to ``timeout`` (None: until stopped)."""
        if self._stopped:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        out: list[IncomingMessage] = []
        while not out:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._incoming.get(timeout=remaining)
            except queue.Empty:
                return []
            while True:
                if item is _STOP or self._stopped:
                    self._incoming.put(_STOP)  # wake any other poller too
                    return out
                self._parse(item, out)
                if len(out) >= max_messages:
                    break
                try:
                    item = self._incoming.get_nowait()
                except queue.Empty:
                    break
            if deadline is not None and not out and time.monotonic() >= deadline:
                return []
        return out

    def _parse(self, item: tuple[bytes | None, bytes], out: list[IncomingMessage]) -> None:
        identity, body = item
        message: TrackedMessage
        try:
            inner = unwrap(decode(body))
            if self._rpc:
                message = ZmqRequest(self, identity, parse_request(inner), self._tracker)
            else:
                unique_id = inner.get("_unique_id")
                ctxt, notification = parse_notification(inner)
                message = ZmqNotification(ctxt, notification, self._tracker,
                                          unique_id if isinstance(unique_id, str) else None)
        except MalformedMessage as exc:
            LOG.warning("Dropping a malformed message on %s: %s (body %r)", self.what, exc,
                        body[:200])
            return
        if self._tracker.is_duplicate(message.unique_id):
            LOG.warning("Dropping a duplicate of message %s on %s", message.unique_id,
                        self.what)
            return
        self._tracker.track(message, message.unique_id)
        out.append(message)

    @property
    def consuming(self) -> bool:
        """True while the sockets are bound and registered in the matchmaker."""
        registration = self.registration
        return (not self._stopped and registration is not None and registration.registered)

    @property
    def last_error(self) -> str | None:
        """Why the listener is not registered, if it is not."""
        registration = self.registration
        return registration.error if registration is not None else None

    def stop(self) -> None:
        """Stop taking messages and leave the matchmaker; a blocked :meth:`poll` returns."""
        if self._stopped:
            return
        self._stopped = True
        self._incoming.put(_STOP)
        if self.registration is not None:
            self._unregistered = self._driver.registrar.remove(self.registration)
        for key in self._keys:
            self._driver.directory.forget(key)

    def cleanup(self) -> None:
        """Stop, wait until the matchmaker entries are gone, close the sockets."""
        if self._cleaned:
            return
        self._cleaned = True
        self.stop()
        if self._unregistered is not None:
            try:
                self._unregistered.result(self._driver.settings.zmq_matchmaker_timeout + 1.0)
            except Exception as exc:  # TimeoutError or a worker failure: entries expire anyway
                LOG.warning("Leaving the matchmaker took too long on %s: %s", self.what, exc)
        dropped = len(self._tracker.take_unsettled())
        while True:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                dropped += 1
        if dropped:
            LOG.warning("%d message(s) taken by %s but not handled are dropped (ZeroMQ has "
                        "no broker to give them back to)", dropped, self.what)
        if self._loop.alive:
            try:
                self._loop.run(self._close_sockets).result(10)
            except Exception:
                LOG.exception("Could not close the sockets of %s", self.what)
        self._driver.forget_listener(self)
