"""Notification listeners: servers that subscribe to ``<topic>.<priority>`` and run endpoints.

::

    class ErrorEndpoint:
        filter_rule = NotificationFilter(publisher_id="^compute.*")

        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            ...
            return NotificationResult.HANDLED

    listener = get_notification_listener(transport, [Target(topic="notifications")],
                                         [ErrorEndpoint()], pool="billing")
    listener.start()
    ...
    listener.stop()
    listener.wait()

Listeners with the same ``pool`` share the notifications (each one is
handled by one of them); every pool, and the listeners without a pool,
each get their own copy. See :mod:`messaging.notify.dispatcher` for how
results, exceptions and malformed messages settle a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidTarget, NotSupported
from ..serializer import Serializer
from ..server import MessageHandlingServer
from ..target import Target
from ..transport import warn_unless_notification
from .dispatcher import BatchNotificationDispatcher, NotificationDispatcher

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["BatchNotificationServer", "NotificationServer", "get_batch_notification_listener",
           "get_notification_listener"]


class NotificationServer(MessageHandlingServer):
    """A :class:`MessageHandlingServer` running a :class:`NotificationDispatcher`."""

    def __init__(self, transport: Transport, targets: Sequence[Target],
                 dispatcher: NotificationDispatcher, executor: str | None = None,
                 allow_requeue: bool = False, pool: str | None = None) -> None:
        super().__init__(transport, dispatcher, executor)
        warn_unless_notification(transport)  # oslo's warning for an RPC transport
        self.targets = list(targets)
        self.allow_requeue = allow_requeue
        self.pool = pool


class BatchNotificationServer(NotificationServer):
    """A notification server whose endpoints receive lists of notifications."""


def _check(transport: Transport, targets: Sequence[Target], dispatcher: NotificationDispatcher,
           allow_requeue: bool, pool: str | None) -> None:
    if isinstance(targets, Target):
        raise TypeError("targets must be a list of Target, not a single Target")
    if not targets:
        raise InvalidTarget("A notification listener needs at least one target")
    for target in targets:
        if not isinstance(target, Target):
            raise TypeError(f"targets must be Target objects, not {type(target).__name__}")
        if not target.topic:
            raise InvalidTarget("A target must have a topic specified", target)
    if not dispatcher.supported_priorities:
        raise ValueError("no endpoint implements a priority method (one of audit, debug, "
                         "info, warn, error, critical, sample): nothing to listen for")
    caps = transport.capabilities
    if allow_requeue and not caps.requeue:
        raise NotSupported(f"driver {transport.url.scheme!r} cannot requeue notifications "
                           f"(allow_requeue=True)")
    if pool is not None and not caps.pools:
        raise NotSupported(f"driver {transport.url.scheme!r} does not support listener pools")


def get_notification_listener(transport: Transport, targets: Sequence[Target],
                              endpoints: Sequence[Any], executor: str | None = None,
                              serializer: Serializer | None = None, allow_requeue: bool = False,
                              pool: str | None = None) -> NotificationServer:
    """Build a notification listener (start it with ``start()``).

    :param targets: topics (and optionally exchanges) to listen on.
    :param endpoints: objects with methods named after priorities.
    :param executor: ``'threading'`` (default), ``'blocking'`` or ``'asyncio'``
        (``async def`` endpoint methods on an event loop).
    :param allow_requeue: honour ``NotificationResult.REQUEUE`` and requeue
        when an endpoint raises; otherwise such messages are acknowledged.
    :param pool: listeners sharing a pool name share the notifications.
    :raises InvalidTarget: no target, or a target without topic.
    :raises ValueError: no endpoint implements any priority.
    :raises NotSupported: the driver cannot requeue or has no pools.
    """
    dispatcher = NotificationDispatcher(endpoints, serializer, targets, pool, allow_requeue)
    _check(transport, targets, dispatcher, allow_requeue, pool)
    return NotificationServer(transport, targets, dispatcher, executor, allow_requeue, pool)


def get_batch_notification_listener(transport: Transport, targets: Sequence[Target],
                                    endpoints: Sequence[Any], executor: str | None = None,
                                    serializer: Serializer | None = None,
                                    allow_requeue: bool = False, pool: str | None = None,
                                    batch_size: int | None = None,
                                    batch_timeout: float | None = None,
                                    ) -> BatchNotificationServer:
    """Build a listener whose endpoints receive lists of notifications.

    Each endpoint method gets a list of dicts ``{ctxt, publisher_id,
    event_type, payload, metadata}`` of one priority; ``REQUEUE`` requeues
    that whole group. A batch is handed over when ``batch_size`` messages
    arrived or ``batch_timeout`` seconds passed since its first message.
    Other parameters as :func:`get_notification_listener`.
    """
    dispatcher = BatchNotificationDispatcher(endpoints, serializer, targets, pool,
                                             allow_requeue, batch_size, batch_timeout)
    _check(transport, targets, dispatcher, allow_requeue, pool)
    return BatchNotificationServer(transport, targets, dispatcher, executor, allow_requeue,
                                   pool)
