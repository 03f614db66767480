"""JSON messages over a local socket, for the kit's listener host processes.

Each message is a 4-byte big-endian length and that many bytes of JSON
(:func:`messaging.envelope.dumps`, so dates and sets become text as they
do on the bus). Nothing is pickled: the other end can only send data.
Sending is thread-safe; one thread receives.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from ..envelope import dumps

__all__ = ["JsonPipe", "PipeClosed"]

_HEADER = 4
#: Largest message accepted (a corrupt length must not allocate gigabytes).
MAX_MESSAGE = 256 * 1024 * 1024


class PipeClosed(EOFError):
    """The other end closed the pipe (or it broke)."""


class JsonPipe:
    """One end of a socket carrying JSON messages."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        """Send one message (JSON-serializable); raises :class:`PipeClosed` if the pipe broke."""
        data = dumps(message).encode("utf-8")
        try:
            with self._send_lock:
                self._sock.sendall(len(data).to_bytes(_HEADER, "big") + data)
        except OSError as exc:
            raise PipeClosed(str(exc)) from None

    def receive(self) -> Any:
        """The next message; :class:`PipeClosed` at the end of the stream."""
        try:
            header = self._reader.read(_HEADER)
            if len(header) < _HEADER:
                raise PipeClosed("the other end closed the pipe")
            size = int.from_bytes(header, "big")
            if size > MAX_MESSAGE:
                raise PipeClosed(f"a {size}-byte message is more than the pipe carries")
            data = self._reader.read(size)
        except OSError as exc:
            raise PipeClosed(str(exc)) from None
        if len(data) < size:
            raise PipeClosed("the pipe closed in the middle of a message")
        return json.loads(data)

    def close(self) -> None:
        """Close this end (the other end's :meth:`receive` then raises PipeClosed)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.close()
        self._sock.close()
