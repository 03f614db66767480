"""Logging handlers that turn log records into notifications.

- :class:`LoggingNotificationHandler` sends every record as a ``logrecord``
  notification at the record's level (``logging.config`` friendly).
- :class:`LoggingErrorNotificationHandler` (alias :data:`PublishErrorsHandler`)
  sends ERROR records as ``error_notification`` events.

Both build their own transport from a URL (there is no global
configuration to read it from; the error handler also accepts a ready
transport) and never send from inside their own
sending: a record logged while a notification is being sent (by a failing
driver, or the ``log`` driver itself) is ignored, which prevents loops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .notifier import Notifier
from .options import notification_options

if TYPE_CHECKING:
    from ..serializer import Serializer
    from ..transport import Transport

__all__ = ["LoggingErrorNotificationHandler", "LoggingNotificationHandler",
           "PublishErrorsHandler"]

_local = threading.local()
_DEFAULT_DRIVER = "messagingv2"
#: Level names (lower-cased) that have a Notifier method of the same name.
_LEVEL_METHODS = ("debug", "info", "warning", "warn", "error", "critical", "audit", "sample")


def _make_transport(url: str | None, conf: Any) -> Transport:
    from ..transport import get_notification_transport

    return get_notification_transport(conf, url)


def _default_driver(driver: str | Sequence[str] | None, conf: Any) -> str | Sequence[str]:
    if driver is not None:
        return driver
    return notification_options(conf)["driver"] or _DEFAULT_DRIVER


class _SendingHandler(logging.Handler):
    """Shared plumbing: own transport, re-entrance guard, cleanup on close."""

    notifier: Notifier
    _transport: Transport | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "sending", False):
            return False  # logged by our own sending: do not notify about it
        return super().handle(record)

    def _send(self, record: logging.LogRecord, method: Any, event_type: str,
              payload: dict[str, Any]) -> None:
        _local.sending = True
        try:
            method({}, event_type, payload)
        except Exception:
            self.handleError(record)
        finally:
            _local.sending = False

    def close(self) -> None:
        """Close the handler and the transport it built."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.cleanup()
        super().close()


class LoggingNotificationHandler(_SendingHandler):
    """Sends each log record as a ``logrecord`` notification at the record's level.

    :param url: transport URL (None: conf's or the default ``rabbit://``).
    :param publisher_id: the notifications' publisher id.
    :param driver: notifier driver(s); default conf's, else ``messagingv2``
        (a handler given a URL is meant to send to it).
    :param topic: a topic or list of topics; default conf's ``topics``.
    :param serializer: a :class:`Serializer` class or instance.
    :param conf: optional configuration (ConfigOpts, mapping) for the
        transport and ``[oslo_messaging_notifications]`` defaults.

    For example, in a ``logging.config`` file::

        [handler_notifier]
        class = messaging.notify.LoggingNotificationHandler
        level = ERROR
        args = ('rabbit:///',)

    The payload carries the record's ``name, levelno, levelname, exc_info``
    (the formatted traceback or None), ``pathname, lineno, msg`` (the
    formatted message), ``funcName, thread, processName, process, extra``.
    Records at levels without a notifier method (custom levels) are ignored.
    """

    def __init__(self, url: str | None, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None,
                 topic: str | Sequence[str] | None = None,
                 serializer: type[Serializer] | Serializer | None = None, *,
                 conf: Any = None) -> None:
        super().__init__()
        if isinstance(serializer, type):
            serializer = serializer()
        topics = [topic] if isinstance(topic, str) else topic
        self._transport = _make_transport(url, conf)
        try:
            self.notifier = Notifier(self._transport, publisher_id,
                                     _default_driver(driver, conf), serializer,
                                     topics=topics)
        except Exception:
            self._transport.cleanup()
            raise

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname.lower()
        if level not in _LEVEL_METHODS:
            return
        method = getattr(self.notifier, level)
        exc_text = None
        if record.exc_info:
            exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        self._send(record, method, "logrecord", {
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "exc_info": exc_text,
            "pathname": record.pathname,
            "lineno": record.lineno,
            "msg": record.getMessage(),
            "funcName": record.funcName,
            "thread": record.thread,
            "processName": record.processName,
            "process": record.process,
            "extra": getattr(record, "extra", None),
        })


class LoggingErrorNotificationHandler(_SendingHandler):
    """Sends ERROR (and worse) records as ``error_notification`` with ``{'error': msg}``.

    :param level: the handler's level (default ERROR).
    :param url: transport URL (None: conf's or the default ``rabbit://``).
    :param conf: optional configuration; its notifier ``driver`` is used,
        else ``messagingv2``.
    :param transport: send on this transport instead of building one (the
        handler then does not clean it up).
    :param driver: notifier driver(s), overriding conf.

    Nothing is sent when the notifier uses the ``log`` driver: the
    notification would be logged, and could come back here (oslo's guard).
    """

    def __init__(self, level: int = logging.ERROR, *, url: str | None = None,
                 conf: Any = None, transport: Transport | None = None,
                 driver: str | Sequence[str] | None = None) -> None:
        super().__init__(level)
        if transport is None:
            transport = self._transport = _make_transport(url, conf)
        else:
            conf = transport.conf if conf is None else conf
        try:
            self.notifier = Notifier(transport, "error.publisher",
                                     _default_driver(driver, conf))
        except Exception:
            self.close()
            raise
        self._uses_log_driver = "log" in self.notifier.drivers

    def emit(self, record: logging.LogRecord) -> None:
        if self._uses_log_driver or record.levelno < logging.ERROR:
            return
        msg = record.msg if isinstance(record.msg, str) else str(record.msg)
        self._send(record, self.notifier.error, "error_notification", {"error": msg})


#: oslo.messaging's older name.
PublishErrorsHandler = LoggingErrorNotificationHandler
