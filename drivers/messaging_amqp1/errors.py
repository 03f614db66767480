"""Sorting what proton and the peer report into what the driver does about it.

Only :mod:`messaging.exceptions` cross the driver interface. Proton reports
trouble as AMQP error conditions (on the transport, the connection, a
session or a link) rather than exceptions; they are classified here once:

- *fatal connect*: bad credentials or a certificate that does not verify;
  retrying will not help until an operator acts, so waiting sends fail at
  once (the connection still retries in the background, with backoff);
- *refused*: the peer refused a link for good (a missing node, a field it
  does not implement, conflicting queue properties); the send or
  subscription that asked for it fails instead of retrying forever;
- anything else (a forced close, a lost socket, an internal error) is
  transient: reconnect or re-attach after a pause.
"""

from __future__ import annotations

from typing import Any

__all__ = ["describe", "is_fatal_connect", "is_refusal"]

_FATAL_CONNECT = frozenset({"amqp:unauthorized-access", "amqp:not-allowed"})
_REFUSED = frozenset({"amqp:not-found", "amqp:invalid-field", "amqp:not-implemented",
                      "amqp:precondition-failed", "amqp:unauthorized-access",
                      "amqp:not-allowed", "amqp:decode-error"})
_FATAL_TEXT = ("certificate verify failed", "authentication failed", "sasl auth",
               "access_refused", "access refused")


def _name(condition: Any) -> str:
    return str(getattr(condition, "name", "") or "")


def describe(condition: Any) -> str:
    """``name: description`` of a proton ``Condition`` (or a text), for logs and errors."""
    if condition is None:
        return "no error condition given"
    if isinstance(condition, str):
        return condition
    name, text = _name(condition), getattr(condition, "description", None)
    return f"{name}: {text}" if text else name or repr(condition)


def is_fatal_connect(condition: Any) -> bool:
    """A connection attempt failed in a way a retry will not fix."""
    if condition is None:
        return False
    if _name(condition) in _FATAL_CONNECT:
        return True
    return any(t in describe(condition).lower() for t in _FATAL_TEXT)


def is_refusal(condition: Any) -> bool:
    """The peer refused a link (or ended its session over it) for a reason that will stay."""
    return condition is not None and _name(condition) in _REFUSED
