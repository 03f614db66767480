"""Notifications: publish events by priority, subscribe with listeners.

A :class:`Notifier` sends ``{message_id, publisher_id, event_type,
priority, payload, timestamp}`` through notifier drivers (``messagingv2``,
``messaging``, ``log``, ``routing``, ``test``, ``noop``) to
``<topic>.<priority>``; :func:`get_notification_listener` and
:func:`get_batch_notification_listener` build servers that call endpoint
methods named after priorities. Plain dict contexts are never sent (see
:mod:`messaging.notify.notifier`).
"""

from .dispatcher import (
    PRIORITIES,
    BatchNotificationDispatcher,
    NotificationDispatcher,
    NotificationResult,
)
from .drivers import Driver
from .filter import NotificationFilter
from .listener import (
    BatchNotificationServer,
    NotificationServer,
    get_batch_notification_listener,
    get_notification_listener,
)
from .log_handler import (
    LoggingErrorNotificationHandler,
    LoggingNotificationHandler,
    PublishErrorsHandler,
)
from .notifier import Notifier, NotifierDriverLoadFailure
from .routing import RoutingConfigError

__all__ = [
    "BatchNotificationDispatcher",
    "BatchNotificationServer",
    "Driver",
    "LoggingErrorNotificationHandler",
    "LoggingNotificationHandler",
    "NotificationDispatcher",
    "NotificationFilter",
    "NotificationResult",
    "NotificationServer",
    "Notifier",
    "NotifierDriverLoadFailure",
    "PRIORITIES",
    "PublishErrorsHandler",
    "RoutingConfigError",
    "get_batch_notification_listener",
    "get_notification_listener",
]
