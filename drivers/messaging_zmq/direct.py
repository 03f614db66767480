"""Synchronous calls and casts from the caller's own thread.

A synchronous ``call`` through the I/O thread costs two thread hand-offs
(the request to the I/O thread, the reply back), each worth more than the
ZeroMQ round trip itself. So a thread that calls or casts synchronously
gets DEALERs of its own, one per server endpoint, used by that thread
alone: it sends the request and waits for the reply on its socket
(``zmq_poll``, with a wake-up pipe that ``Driver.cleanup`` writes), feeding
the reply to the core's :class:`~messaging.correlation.ReplyCorrelator`
like any other. One connection per thread and server also keeps a thread's
casts to a server in order (a ROUTER takes turns between connections, so
two would mix them): a server not known reachable yet, or a socket whose
queue is full (the send would block), is waited for, not bypassed.

The I/O thread's monitored DEALER to the same server tells whether it is
reachable; a message for a server found unreachable, futures, fanout and
notifications go through the I/O thread.

A thread keeps at most :data:`MAX_PER_THREAD` such sockets (least recently
used go first); its socket to a server marked down is closed when a send on
it fails (dropping what it queued: nobody would take it); a thread's
sockets are closed when the thread ends, and all of them at cleanup (each
under its thread's lock, so never while the thread uses it), in both cases
with ``zmq_linger``, so casts already queued still go out. This costs one
connection per calling thread and server, which is the price of the round
trip without hand-offs.
"""

from __future__ import annotations

import collections
import logging
import threading
import weakref
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from .options import Settings
from .sockets import PEER_GONE_EVENTS, new_socket

__all__ = ["MAX_PER_THREAD", "DirectSocket", "ThreadDealers", "ThreadSockets"]

LOG = logging.getLogger(__name__)

#: DEALERs one thread keeps for direct calls (least recently used are closed).
MAX_PER_THREAD = 32
#: What a direct call polls: its socket and the driver's closing pipe (``zmq_poll`` items).
PollItems = list[tuple[Any, int]]
_MONITOR_EVENTS = PEER_GONE_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED


class DirectSocket:
    """A thread's DEALER to one server and the monitor telling whether it is connected.

    The DEALER has no ``IMMEDIATE`` (with it, libzmq throws away what a
    connection received and the thread did not read yet when that
    connection ends: the last replies of a server that stops right after
    sending them). The monitor gives the same rule on the sending side:
    a message is handed to the socket only while its connection is up.
    """

    __slots__ = ("items", "monitor", "sock", "up")

    def __init__(self, sock: zmq.Socket[bytes], wake_fd: int) -> None:
        self.sock = sock
        self.monitor = sock.get_monitor_socket(_MONITOR_EVENTS)
        #: what ``zmq_poll`` waits on for a reply: the socket and the driver's closing pipe
        self.items: PollItems = [(sock, zmq.POLLIN), (wake_fd, zmq.POLLIN)]
        #: None: connecting; True: handshake done; False: the connection went away
        self.up: bool | None = None

    def refresh(self) -> bool | None:
        """Read the monitor's news (never blocks); the connection's state."""
        while True:
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.ZMQError:  # zmq.Again: nothing more
                return self.up
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.up = True
            elif kind & PEER_GONE_EVENTS:
                self.up = False

    def close(self, linger: int | None = None) -> None:
        """Close the monitor and the socket (``linger`` None: ``zmq_linger``)."""
        try:
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(linger=0)
        self.sock.close(linger=linger)


class ThreadDealers:
    """One thread's DEALERs by endpoint; used only while holding :attr:`lock`."""

    def __init__(self) -> None:
        #: held by the owning thread while it uses the sockets, and by cleanup to close them
        self.lock = threading.Lock()
        self.sockets: collections.OrderedDict[str, DirectSocket] = collections.OrderedDict()
        self.closed = False

    def close(self) -> None:
        """Close every socket (caller holds :attr:`lock`); what is queued still goes out."""
        self.closed = True
        _close_sockets(self.sockets)

    def drop(self, endpoint: str) -> None:
        """Close the socket to an unreachable ``endpoint``, dropping what it queued (lock held)."""
        entry = self.sockets.pop(endpoint, None)
        if entry is not None:
            entry.close(linger=0)


def _close_sockets(sockets: dict[str, DirectSocket]) -> None:
    """Close ``sockets`` with their linger (``zmq_linger``): casts already queued still go."""
    for direct in sockets.values():
        direct.close()
    sockets.clear()


class ThreadSockets:
    """The per-thread DEALERs of one driver."""

    def __init__(self, settings: Settings, wake_fd: int) -> None:
        self._settings = settings
        self._wake_fd = wake_fd
        self._local = threading.local()
        self._all: weakref.WeakSet[ThreadDealers] = weakref.WeakSet()
        self._lock = threading.Lock()

    def mine(self) -> ThreadDealers:
        """The calling thread's dealers (made on first use)."""
        dealers: ThreadDealers | None = getattr(self._local, "dealers", None)
        if dealers is None:
            dealers = ThreadDealers()
            self._local.dealers = dealers
            # When the thread ends its thread-local storage goes, and with it these sockets.
            weakref.finalize(dealers, _close_sockets, dealers.sockets)
            with self._lock:
                self._all.add(dealers)
        return dealers

    def socket(self, dealers: ThreadDealers, ctx: zmq.Context[Any], endpoint: str,
               ) -> DirectSocket:
        """The thread's DEALER to ``endpoint`` (made and connecting if there is none).

        The caller holds ``dealers.lock``.
        """
        entry = dealers.sockets.get(endpoint)
        if entry is not None:
            dealers.sockets.move_to_end(endpoint)
            return entry
        while len(dealers.sockets) >= MAX_PER_THREAD:
            _endpoint, old = dealers.sockets.popitem(last=False)
            old.close()  # with its linger: what it queued still goes
        sock = new_socket(ctx, zmq.DEALER, self._settings)
        direct = DirectSocket(sock, self._wake_fd)
        sock.connect(endpoint)
        dealers.sockets[endpoint] = direct
        return direct

    def close_all(self, timeout: float) -> bool:
        """Close every thread's sockets, waiting up to ``timeout`` for a thread to let go.

        Returns False if a thread kept its sockets (they stay open).
        """
        with self._lock:
            every = list(self._all)
        closed = True
        for dealers in every:
            if dealers.lock.acquire(timeout=timeout):
                try:
                    dealers.close()
                finally:
                    dealers.lock.release()
            else:
                closed = False
                LOG.warning("A thread still uses its zmq sockets after cleanup; not closing "
                            "them")
        return closed
