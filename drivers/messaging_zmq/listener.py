"""RPC servers and notification listeners: their sockets, messages and replies.

A listener binds its own ROUTER (requests, notifications) on a random free
port, and an RPC server also a SUB (fanout casts); the driver registers
their addresses in the matchmaker.

The listener's sockets belong to no I/O thread: whoever holds the
listener's lock may use them, and nobody else. :meth:`ZmqListener.poll`
takes the lock to read what is there, and releases it while it waits on
the sockets' file descriptors (``ZMQ_FD``) and a wake-up pipe; a reply or
call-monitor heartbeat is sent by the thread that produces it, under the
lock. So a request reaches the server's thread and its reply leaves without
passing through another thread, and two threads never use a socket at the
same time. (``ZMQ_FD`` only signals changes: a thread that used a socket
checks ``ZMQ_EVENTS`` before letting go and wakes the poller if a message
is waiting.)

Frames are checked as they are read (a message that is not from this
driver, or for a key this listener does not serve, is logged and dropped),
bodies parsed outside the lock (a malformed one is logged and dropped).

Delivery is at-most-once for everything: there is no broker to keep a
message, so nothing can be given back. A message still unsettled when the
listener is cleaned up, or arriving after it stopped, is dropped (and
logged); that is also why the driver declares ``requeue=False``.
"""

from __future__ import annotations

import logging
import os
import select
import threading
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
    BadFrames,
    fanout_prefix,
    hello_prefix,
    reply,
    unpack,
)
from .registry import Registration
from .sockets import Endpoint, bind_random, new_socket, readable, recv_frames

if TYPE_CHECKING:
    from .driver import ZmqDriver

__all__ = ["ZmqListener", "ZmqNotification", "ZmqRequest"]

LOG = logging.getLogger(__name__)
_HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                     | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
#: Seconds cleanup waits for a poll in another thread to notice the stop.
_POLLERS_GONE = 5.0
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)


def _fd(sock: zmq.Socket[bytes]) -> int:
    fd = sock.getsockopt(zmq.FD)
    assert isinstance(fd, int)
    return fd


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
        self._rpc = rpc
        self._keys = keys
        self._fanout = fanout
        self.what = what
        self._kinds = frozenset({CALL, CAST}) if rpc else frozenset({NOTIFY})
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._lock = threading.Lock()  # guards the sockets
        self._state = threading.Condition()  # guards _polling
        self._polling = 0
        self._stopped = False
        self._cleaned = False
        self._router: zmq.Socket[bytes] | None = None
        self._sub: zmq.Socket[bytes] | None = None
        self._monitors: list[tuple[zmq.Socket[bytes], Endpoint, int]] = []
        #: (socket, its ZMQ_FD, whether it is the ROUTER) in reading order
        self._readers: list[tuple[zmq.Socket[bytes], int, bool]] = []
        # Plain descriptors (ZMQ_FD, the wake-up pipe): the OS poll, not zmq_poll, which
        # would touch the sockets while another thread may be using them.
        self._poller = select.poll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, select.POLLIN)
        self._router_fd = -1
        #: descriptors of the sockets that may have something to read (lock held)
        self._unread: set[int] = set()
        #: of those, the ones whose descriptor fired: most likely a message (lock held)
        self._fired: set[int] = set()
        self.router_endpoint: Endpoint | None = None
        self.sub_endpoint: Endpoint | None = None
        self.registration: Registration | None = None
        self._unregistered: Future[None] | None = None

    # -- sockets (under the lock) -----------------------------------------------------

    def open(self) -> None:
        """Bind the ROUTER (and the SUB of an RPC server); raises ``zmq.ZMQBaseError``."""
        settings = self._driver.settings
        ctx = self._driver.zmq_context
        with self._lock:
            self._router = new_socket(ctx, zmq.ROUTER, settings)
            self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.router_endpoint = bind_random(self._router, settings)
            self._watch(self._router, self.router_endpoint)
            if self._fanout is not None:
                self._sub = new_socket(ctx, zmq.SUB, settings)
                self.sub_endpoint = bind_random(self._sub, settings)
                # The topic first, the hello last: a publisher that sees the hello knows
                # both subscriptions arrived (they travel in one batch, in this order).
                self._sub.setsockopt(zmq.SUBSCRIBE, fanout_prefix(self._fanout))
                self._sub.setsockopt(zmq.SUBSCRIBE, hello_prefix(self.sub_endpoint.advertised))
                self._watch(self._sub, self.sub_endpoint)

    def _watch(self, sock: zmq.Socket[bytes], endpoint: Endpoint) -> None:
        fd = _fd(sock)
        self._readers.append((sock, fd, sock.type == zmq.ROUTER))
        self._poller.register(fd, select.POLLIN)
        monitor = sock.get_monitor_socket(_HANDSHAKE_FAILED | zmq.EVENT_DISCONNECTED)
        monitor_fd = _fd(monitor)
        self._monitors.append((monitor, endpoint, monitor_fd))
        self._poller.register(monitor_fd, select.POLLIN)
        self._unread |= {fd, monitor_fd}
        if sock.type == zmq.ROUTER:
            self._router_fd = fd

    def _read(self, limit: int) -> list[tuple[bytes | None, bytes]]:
        """Up to ``limit`` accepted ``(identity, body)`` from the sockets that may have some.

        Only the sockets in ``_unread`` are looked at (their descriptor fired,
        or we stopped reading them at ``limit``, or another thread used them):
        a socket drained to empty signals its descriptor when something new
        arrives, so the others need no look. Caller holds the lock.
        """
        got: list[tuple[bytes | None, bytes]] = []
        unread, fired = self._unread, self._fired
        for monitor, endpoint, fd in self._monitors:
            if fd in unread:
                while readable(monitor):
                    self._on_monitor(recv_monitor_message(monitor), endpoint)
                unread.discard(fd)
        for sock, fd, routed in self._readers:
            if fd not in unread:
                continue
            # A socket whose descriptor fired is read at once (no ZMQ_EVENTS first: it
            # nearly always holds a message); after that, ask before each read.
            ask = fd not in fired
            while len(got) < limit:
                if ask and not readable(sock):
                    unread.discard(fd)
                    break
                ask = True
                try:
                    frames = recv_frames(sock)
                except zmq.Again:
                    unread.discard(fd)
                    break
                item = self._accept(frames, routed)
                if item is not None:
                    got.append(item)
        fired.clear()
        return got

    def _on_monitor(self, event: Any, endpoint: Endpoint) -> None:
        if event["event"] & _HANDSHAKE_FAILED:
            LOG.warning("Dropped a connection to %s (%s) that failed the ZeroMQ handshake: not "
                        "a ZeroMQ peer, or an incompatible one (error %s)", endpoint.bound,
                        self.what, event["value"])
        else:
            LOG.debug("A peer of %s disconnected", endpoint.bound)

    def _accept(self, frames: list[bytes], routed: bool) -> tuple[bytes | None, bytes] | None:
        """Check one received message; ``(identity of a call or None, body)`` or None (dropped)."""
        try:
            if len(frames) != (2 if routed else 1):
                raise BadFrames(f"{len(frames) - routed} frames instead of 1")
            frame = frames[-1]
            if not routed:  # strip the subscription prefix: F<key>NUL
                frame = frame[frame.index(b"\0") + 1:]
            kind, key, body = unpack(frame)
        except (BadFrames, ValueError) as exc:
            LOG.warning("Dropping a %d-byte message that is not from a messaging zmq client "
                        "on %s: %s", sum(len(f) for f in frames[routed:]), self.what, exc)
            LOG.debug("The dropped message began %r",
                      getattr(exc, "sample", b"") or (frames[-1][:64] if frames else b""))
            return None
        if key not in self._keys or kind not in self._kinds:
            LOG.warning("Dropping a %s message for %s on %s (it serves %s); a stale "
                        "matchmaker entry may point at a reused port", kind.decode(), key,
                        self.what, ", ".join(sorted(self._keys)))
            return None
        if self._stopped:
            LOG.debug("Dropping a message for %s: the listener stopped", key)
            return None
        return frames[0] if routed and kind == CALL else None, body

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):  # full (a wake-up is pending anyway) or closed
            pass

    def _settle_readable(self) -> None:
        """After using the ROUTER (lock held): don't strand a message that arrived meanwhile.

        Using a socket consumes its descriptor's signal, so the next read
        must look at the ROUTER, and a poller asleep right now is woken if
        something is there.
        """
        self._unread.add(self._router_fd)
        router = self._router
        if self._polling and router is not None and readable(router):
            self._wake()

    # -- replies (any thread) ---------------------------------------------------------

    def send_reply(self, identity: bytes, msg_id: str | None, envelope: dict[str, str],
                   final: bool) -> None:
        """Send a reply frame (or heartbeat) to the caller, from the calling thread."""
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
        with self._lock:
            router = self._router
            if router is None:
                LOG.info("Reply to message ID %s dropped: %s was cleaned up", msg_id,
                         self.what)
                return
            try:
                router.send(identity, _SNDMORE_NOBLOCK)
                router.send(reply(body), _NOBLOCK)
            except zmq.ZMQError as exc:
                if is_unreachable(exc):
                    LOG.info("Reply to message ID %s dropped: the caller disconnected",
                             msg_id)
                elif is_again(exc):
                    LOG.warning("Reply to message ID %s dropped: the caller's queue is full",
                                msg_id)
                else:
                    LOG.error("Reply to message ID %s could not be sent: %s", msg_id,
                              describe(exc))
            self._settle_readable()

    # -- the Listener interface -------------------------------------------------------

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Up to ``max_messages`` messages, waiting up to ``timeout`` (None: until stopped)."""
        if self._stopped:
            return []
        limit = max(1, max_messages)
        deadline: float | None = None
        with self._state:
            self._polling += 1
        try:
            while True:
                with self._lock:
                    if self._router is None:
                        return []
                    items = self._read(limit)
                    idle = not self._unread
                if items:
                    out: list[IncomingMessage] = []
                    for item in items:
                        self._parse(item, out)
                    if out:
                        return out
                if self._stopped:
                    return []
                if not idle:  # all dropped, and more may wait: read on at once
                    continue
                if timeout is None:
                    wait_ms = None
                else:
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + timeout
                    left = deadline - now
                    if left <= 0:
                        return []
                    wait_ms = int(left * 1000) + 1
                fired = self._wait(wait_ms)
                with self._lock:
                    self._unread |= fired
                    self._fired |= fired
        finally:
            with self._state:
                self._polling -= 1
                if self._cleaned:
                    self._state.notify_all()

    def _wait(self, wait_ms: int | None) -> set[int]:
        """Sleep until a descriptor fires; the sockets that may have something to read."""
        fired = {fd for fd, _flags in self._poller.poll(wait_ms)}
        if self._wake_r in fired:  # someone used the ROUTER, or stop
            fired.discard(self._wake_r)
            fired.add(self._router_fd)
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        return fired

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
            LOG.warning("Dropping a malformed message (%d bytes) on %s: %s", len(body),
                        self.what, exc)
            LOG.debug("The dropped message began %r", body[:200])
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
        self._wake()
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
        with self._state:
            if not self._state.wait_for(lambda: self._polling == 0, _POLLERS_GONE):
                LOG.warning("A poll of %s did not return after stop; closing anyway",
                            self.what)
        dropped = len(self._tracker.take_unsettled())
        with self._lock:
            for sock in (self._router, self._sub):
                if sock is None:
                    continue
                while readable(sock):
                    sock.recv_multipart()
                    dropped += 1
                try:
                    sock.disable_monitor()
                except zmq.ZMQError:
                    pass
                sock.close()
            for monitor, _endpoint, _fd in self._monitors:
                monitor.close(linger=0)
            self._router = self._sub = None
            self._monitors = []
            self._readers = []
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if dropped:
            LOG.warning("%d message(s) received by %s but not handled are dropped (ZeroMQ has "
                        "no broker to give them back to)", dropped, self.what)
        self._driver.forget_listener(self)
