"""Sorting pika's exceptions into what the driver does about them.

Only :mod:`messaging.exceptions` cross the driver interface; what pika
reports (through its callbacks, as ``SelectConnection`` raises nothing) is
classified here once:

- a connection attempt that failed for good (bad credentials, unknown
  vhost, a certificate that does not verify): retrying will not help until
  an operator acts, so pending sends fail at once instead of waiting out
  their budget (the connection still retries in the background);
- anything else while connecting is retried within budget; a channel the
  broker closed is replaced by the connection itself.

pika wraps the cause of a failed attempt in its own exceptions (a workflow
failure holding connector errors holding the socket error); :func:`unwrap`
finds the innermost one, which is what :func:`describe` reports.
"""

from __future__ import annotations

import ssl

import pika.exceptions as pika_exc
from messaging_amqp091.errors import describe as _describe
from messaging_amqp091.errors import is_refused

__all__ = ["describe", "is_fatal_connect_error", "is_refused", "unwrap"]

#: AMQP reply codes of a refused login or vhost (``ACCESS_REFUSED``, ``NOT_ALLOWED``).
_FATAL_CODES = frozenset({403, 530})


def unwrap(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps, outermost first."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        inner: BaseException | None = None
        failures = getattr(cur, "exceptions", None)
        wrapped = getattr(cur, "exception", None)  # pika's connector phase errors
        if isinstance(failures, tuple) and failures:
            inner = failures[-1]
        elif isinstance(wrapped, BaseException):
            inner = wrapped
        else:
            inner = next((a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)),
                         None)
        cur = inner or cur.__cause__ or cur.__context__
    return chain


def is_fatal_connect_error(exc: BaseException) -> bool:
    """A connection attempt failed in a way a retry will not fix (only asked when connecting)."""
    for cur in unwrap(exc):
        if isinstance(cur, (pika_exc.ProbableAuthenticationError, pika_exc.AuthenticationError,
                            pika_exc.ProbableAccessDeniedError,
                            ssl.SSLCertVerificationError)):
            return True
        if isinstance(cur, pika_exc.ConnectionClosedByBroker) and \
                cur.reply_code in _FATAL_CODES:
            return True
    return False


def describe(exc: BaseException) -> str:
    """A short text for logs and error messages: the innermost cause (never a password)."""
    chain = unwrap(exc)
    inner = chain[-1]
    text = _describe(inner)
    if isinstance(inner, pika_exc.ConnectionClosed):
        text = f"{type(inner).__name__}: {inner.reply_code} {inner.reply_text}"
    elif isinstance(inner, pika_exc.ChannelClosed):
        text = f"{type(inner).__name__}: {inner.reply_code} {inner.reply_text}"
    if len(chain) > 1:
        text = f"{type(chain[0]).__name__}: {text}"
    return text
