"""oslo.messaging's ``notify.logger`` module path for :class:`LoggingNotificationHandler`.

``logging.config`` files name the handler class by its module path; both
``messaging.notify.logger.LoggingNotificationHandler`` and
``messaging.LoggingNotificationHandler`` work.
"""

from .log_handler import LoggingNotificationHandler

__all__ = ["LoggingNotificationHandler"]
