"""What both AMQP 0-9-1 drivers say about failures, whatever their client library.

Each driver's own ``errors`` module sorts its client library's exceptions
(connection lost, channel closed, refused for good); the helpers here read
what any exception says.
"""

from __future__ import annotations

__all__ = ["describe", "is_refused", "queue_unavailable"]


def is_refused(exc: BaseException) -> bool:
    """A connection attempt found nothing listening (``ECONNREFUSED``): a TCP-level failure.

    Client libraries wrap the socket error in their own; the chain of causes tells.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ConnectionRefusedError):
            return True
        seen.add(id(cur))
        nested = [a for a in (*getattr(cur, "args", ()), getattr(cur, "exception", None),
                              *getattr(cur, "exceptions", ())) if isinstance(a, BaseException)]
        cur = cur.__cause__ or cur.__context__ or (nested[-1] if nested else None)
    return False


def describe(exc: BaseException) -> str:
    """A short text for logs and error messages (never includes a password)."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def queue_unavailable(exc: BaseException | str) -> bool:
    """The broker knows the queue but cannot reach the node that holds it right now.

    RabbitMQ answers a declare or consume with 404 "home node ... is down or
    inaccessible" while that node (a cluster member, or the restarted node
    itself, before it has started its queues) is away: a pause, so the
    subscription is retried after a reconnect rather than given up.
    """
    return "is down or inaccessible" in str(exc)
