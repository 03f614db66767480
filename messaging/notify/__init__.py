"""Notifications: publish events by priority, subscribe with listeners.

A :class:`Notifier` (or, from async code, an :class:`AsyncNotifier`) sends
``{message_id, publisher_id, event_type, priority, payload, timestamp}``
through notifier drivers (``messagingv2``, ``messaging``, ``log``,
``routing``, ``test``, ``noop``) to ``<topic>.<priority>``; :func:`get_notification_listener` and
:func:`get_batch_notification_listener` build servers that call endpoint
methods named after priorities. Plain dict contexts are never sent (see
:mod:`messaging.notify.notifier`).
"""

from ..transport import get_notification_transport
from .async_notifier import AsyncNotifier
from .dispatcher import PRIORITIES as PRIORITIES
from .dispatcher import BatchNotificationDispatcher as BatchNotificationDispatcher
from .dispatcher import NotificationDispatcher as NotificationDispatcher
from .dispatcher import NotificationResult
from .drivers import Driver as Driver
from .drivers import NotifierDriver as NotifierDriver
from .filter import NotificationFilter
from .listener import BatchNotificationServer as BatchNotificationServer
from .listener import NotificationServer as NotificationServer
from .listener import get_batch_notification_listener, get_notification_listener
from .log_handler import (
    LoggingErrorNotificationHandler,
    LoggingNotificationHandler,
    PublishErrorsHandler,
)
from .notifier import Notifier
from .notifier import NotifierDriverLoadFailure as NotifierDriverLoadFailure
from .routing import RoutingConfigError as RoutingConfigError

# What ``from messaging.notify import *`` (and oslo's top-level package) offers; the other
# names above stay importable from here.
__all__ = [
    "AsyncNotifier",
    "LoggingErrorNotificationHandler",
    "LoggingNotificationHandler",
    "NotificationFilter",
    "NotificationResult",
    "Notifier",
    "PublishErrorsHandler",
    "get_batch_notification_listener",
    "get_notification_transport",
    "get_notification_listener",
]
