"""Sorting pyzmq errors into what the driver does about them.

Only :mod:`messaging.exceptions` cross the driver interface; the pyzmq
errors a send or bind can raise are classified here once:

- *again* (``EAGAIN``): the socket cannot take the message now (no
  connected peer, or the peer's queue is full); keep it and try later or
  elsewhere;
- *unreachable* (``EHOSTUNREACH`` on a ROUTER): the peer that sent a
  request is gone, so its reply has nowhere to go;
- anything else is a failure of this message (or a closed socket).
"""

from __future__ import annotations

import errno

import zmq

__all__ = ["describe", "is_again", "is_unreachable"]


def is_again(exc: BaseException) -> bool:
    """The socket would block: no connected peer, or its queue is full."""
    return isinstance(exc, zmq.Again) or (isinstance(exc, zmq.ZMQError)
                                          and exc.errno == errno.EAGAIN)


def is_unreachable(exc: BaseException) -> bool:
    """A ROUTER has no peer with that identity any more."""
    return isinstance(exc, zmq.ZMQError) and exc.errno == errno.EHOSTUNREACH


def describe(exc: BaseException) -> str:
    """A short text for logs and error messages."""
    return f"{type(exc).__name__}: {exc}"
