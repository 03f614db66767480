"""Making ZeroMQ sockets the way the driver needs them (options, binding, monitors).

Every socket gets the size limit (``MAXMSGSIZE``: a peer sending a larger
frame is disconnected by libzmq before the frame is read), ZMTP heartbeats
(a silent peer counts as gone after three intervals; a connection that has
not finished its handshake by then, or a connect that has not succeeded,
is dropped too), TCP keepalive when configured, and the linger of
``zmq_linger``. Sockets are only ever created
and used on the driver's I/O thread.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import zmq

from .options import Settings

__all__ = ["Endpoint", "PEER_GONE_EVENTS", "bind_random", "new_socket", "readable",
           "recv_frames"]

#: Monitor events after which a connecting socket has no usable connection.
PEER_GONE_EVENTS = (zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED | zmq.EVENT_CONNECT_RETRIED
                    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_RECONNECT_IVL_MS = 100
_RECONNECT_IVL_MAX_MS = 2000


@dataclass(frozen=True)
class Endpoint:
    """A bound socket's address: what it bound and what others connect to."""

    bound: str
    advertised: str


def _host_part(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def new_socket(ctx: zmq.Context[zmq.Socket[bytes]], kind: int, settings: Settings,
               ) -> zmq.Socket[bytes]:
    """A socket of ``kind`` with the driver's options applied."""
    sock = ctx.socket(kind)
    linger = settings.zmq_linger
    sock.setsockopt(zmq.LINGER, -1 if linger < 0 else linger * 1000)
    if settings.zmq_max_message_size > 0:
        sock.setsockopt(zmq.MAXMSGSIZE, settings.zmq_max_message_size)
    if settings.zmq_heartbeat_interval > 0:
        ivl = max(1, int(settings.zmq_heartbeat_interval * 1000))
        sock.setsockopt(zmq.HEARTBEAT_IVL, ivl)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * ivl)
        sock.setsockopt(zmq.HEARTBEAT_TTL, 3 * ivl)
        sock.setsockopt(zmq.CONNECT_TIMEOUT, 3 * ivl)
        sock.setsockopt(zmq.HANDSHAKE_IVL, 3 * ivl)
    for option, value in ((zmq.TCP_KEEPALIVE, settings.zmq_tcp_keepalive),
                          (zmq.TCP_KEEPALIVE_IDLE, settings.zmq_tcp_keepalive_idle),
                          (zmq.TCP_KEEPALIVE_CNT, settings.zmq_tcp_keepalive_cnt),
                          (zmq.TCP_KEEPALIVE_INTVL, settings.zmq_tcp_keepalive_intvl)):
        if value >= 0:
            sock.setsockopt(option, value)
    sock.setsockopt(zmq.RECONNECT_IVL, _RECONNECT_IVL_MS)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, _RECONNECT_IVL_MAX_MS)
    if ":" in settings.rpc_zmq_bind_address or ":" in settings.rpc_zmq_host:
        sock.setsockopt(zmq.IPV6, 1)
    return sock


_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def readable(sock: zmq.Socket[bytes]) -> bool:
    """True if a message can be read from ``sock`` now (``ZMQ_EVENTS``; never blocks).

    Plain ints, not pyzmq's enums: this runs several times per message.
    """
    events = sock.getsockopt(_EVENTS)
    return isinstance(events, int) and bool(events & _POLLIN)


_NOBLOCK = int(zmq.NOBLOCK)


def recv_frames(sock: zmq.Socket[bytes]) -> list[bytes]:
    """One whole message, without waiting (``zmq.Again`` if there is none).

    The frames' own "more" flag tells where the message ends, which costs less
    than asking the socket (``RCVMORE``) after every frame.
    """
    frame = sock.recv(_NOBLOCK, copy=False)
    parts = [frame.bytes]
    while frame.more:
        frame = sock.recv(_NOBLOCK, copy=False)
        parts.append(frame.bytes)
    return parts


def bind_random(sock: zmq.Socket[bytes], settings: Settings) -> Endpoint:
    """Bind to a random free port of the configured range; raises ``zmq.ZMQError``.

    The advertised address is ``rpc_zmq_host`` when set; otherwise the
    address the socket actually bound (so an interface name becomes its IP
    address), or this host's name when binding to every interface.
    """
    address = settings.rpc_zmq_bind_address
    base = "tcp://*" if address == "*" else f"tcp://{_host_part(address)}"
    port = sock.bind_to_random_port(base, min_port=settings.rpc_zmq_min_port,
                                    max_port=settings.rpc_zmq_max_port,
                                    max_tries=settings.rpc_zmq_bind_port_retries)
    last = sock.getsockopt(zmq.LAST_ENDPOINT)
    bound = last.decode() if isinstance(last, bytes) else f"{base}:{port}"
    host = settings.rpc_zmq_host
    if not host:
        if address in ("*", "0.0.0.0", "::"):
            host = socket.gethostname()
        else:
            host = bound[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    return Endpoint(bound, f"tcp://{_host_part(host)}:{port}")
