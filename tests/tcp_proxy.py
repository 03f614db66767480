"""A small TCP proxy on loopback that cuts and stalls connections, for fault tests.

No toxiproxy can be installed here, so the cluster and reconnect tests put
this between clients and a broker: ``TcpProxy(upstream_port)`` listens on
a free loopback port and forwards both ways from one thread with
``selectors``. Faults:

- :meth:`cut_all`: reset every open connection (a dropped network);
- :meth:`stall`/:meth:`resume`: stop forwarding without closing anything
  (a half-open link that only heartbeats detect);
- :meth:`refuse`/:meth:`accept`: reset new connections at once (the broker
  looks down).
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading

__all__ = ["TcpProxy"]


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a dead link or a killed peer looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream_port>; thread-safe fault switches."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._stalled = False
        self._refusing = False
        self._cut_requested = False
        self._closed = False
        #: connections accepted so far (each reconnect adds one)
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``host:port`` for a transport URL."""
        return f"127.0.0.1:{self.port}"

    # -- faults (any thread) --------------------------------------------------------------

    def cut_all(self) -> None:
        """Reset every open connection now (new ones are accepted)."""
        self._signal(cut=True)

    def stall(self) -> None:
        """Stop forwarding bytes in both directions; connections stay open."""
        self._stalled = True
        self._signal()

    def resume(self) -> None:
        """Forward again after :meth:`stall`."""
        self._stalled = False
        self._signal()

    def refuse(self) -> None:
        """Reset new connections as soon as they arrive."""
        self._refusing = True

    def accept(self) -> None:
        """Forward new connections again."""
        self._refusing = False

    def close(self) -> None:
        """Stop the proxy and reset every connection."""
        self._closed = True
        self._signal(cut=True)
        self._thread.join(5)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def _signal(self, cut: bool = False) -> None:
        if cut:
            self._cut_requested = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # -- the forwarding thread ------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed:
            for key, _ in self._sel.select(0.5):
                if key.data == "wake":
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                elif key.fileobj is self._listener:
                    self._accept()
                elif not self._stalled:
                    self._forward(key.fileobj)  # type: ignore[arg-type]
            if self._cut_requested:
                self._cut_requested = False
                self._cut()
            if self._stalled:
                self._set_reading(False)
            else:
                self._set_reading(True)
        self._cut()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        if self._refusing:
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        self.accepted += 1
        for sock in (client, upstream):
            sock.setblocking(False)
        self._peers[client] = upstream
        self._peers[upstream] = client
        self._sel.register(client, selectors.EVENT_READ, "peer")
        self._sel.register(upstream, selectors.EVENT_READ, "peer")

    def _forward(self, sock: socket.socket) -> None:
        other = self._peers.get(sock)
        if other is None:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._drop(sock)

    def _set_reading(self, on: bool) -> None:
        """While stalled, stop watching peers so the selector does not spin."""
        for sock in list(self._peers):
            try:
                key = self._sel.get_key(sock)
            except KeyError:
                if on:
                    self._sel.register(sock, selectors.EVENT_READ, "peer")
                continue
            if not on:
                self._sel.unregister(key.fileobj)

    def _drop(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self._peers.pop(s, None)
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            _reset(s)

    def _cut(self) -> None:
        for sock in list(self._peers):
            self._drop(sock)
