"""Sorting kombu, py-amqp and socket exceptions into what the driver does about them.

Only :mod:`messaging.exceptions` cross the driver interface; everything the
client libraries raise is classified here once:

- *connection* errors (socket errors, a closed or forced connection, missed
  heartbeats): the connection is gone; reconnect and retry within budget;
- *channel* errors (406 PRECONDITION_FAILED, 404 NOT_FOUND, 403 on a
  resource...): the channel is gone but the connection lives; open a new
  channel, and fail the operation that caused it;
- *fatal connect* errors (bad credentials, unknown vhost, a certificate that
  does not verify): retrying will not help until an operator acts, so
  pending sends fail at once instead of waiting out their budget (the
  connection still retries in the background, with backoff).
"""

from __future__ import annotations

import socket
import ssl

import amqp.exceptions as amqp_exc
import kombu.exceptions as kombu_exc
from messaging_amqp091.errors import describe, is_refused

__all__ = ["blames_declaration", "describe", "is_channel_error", "is_connection_error",
           "is_fatal_connect_error", "is_refused"]

_DECLARE_METHODS = frozenset({"Exchange.declare", "Queue.declare", "Queue.bind",
                              "Queue.delete", "Basic.consume"})


def is_connection_error(exc: BaseException) -> bool:
    """The connection cannot be used any more."""
    return isinstance(exc, (amqp_exc.ConnectionError, amqp_exc.MessageNacked, OSError,
                            socket.timeout, EOFError, kombu_exc.OperationalError,
                            kombu_exc.ConnectionError))


def is_channel_error(exc: BaseException) -> bool:
    """The broker closed the channel; the connection is still usable."""
    return isinstance(exc, (amqp_exc.ChannelError, kombu_exc.ChannelError))


def is_fatal_connect_error(exc: BaseException) -> bool:
    """A connection attempt failed in a way a retry will not fix (only asked when connecting)."""
    if isinstance(exc, (amqp_exc.AccessRefused, amqp_exc.NotAllowed, amqp_exc.InvalidPath,
                        ssl.SSLCertVerificationError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and isinstance(
        cause, (amqp_exc.AccessRefused, amqp_exc.NotAllowed, ssl.SSLCertVerificationError))


def blames_declaration(exc: BaseException) -> bool:
    """A channel error answering a declaration (not an earlier asynchronous publish)."""
    return isinstance(exc, amqp_exc.AMQPError) and exc.method_name in _DECLARE_METHODS
