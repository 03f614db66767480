"""Logging handlers that turn log records into notifications.

- :class:`LoggingNotificationHandler` sends every record as a ``logrecord``
  notification at the record's level (``logging.config`` friendly).
- :class:`LoggingErrorNotificationHandler` (alias :data:`PublishErrorsHandler`)
  sends the records its level lets through as ``error_notification`` events.

Both follow the service's configuration as oslo.messaging's do: the
``[oslo_messaging_notifications]`` driver, topics and transport_url (then
``[DEFAULT] transport_url``) of ``conf``, else of the class attribute
``CONF``, else of oslo.config's global ``cfg.CONF``. oslo.log builds
``PublishErrorsHandler(logging.ERROR)`` with nothing else, so the global
configuration is the only one it can follow; with the WSGI middleware
(:mod:`messaging.notify.middleware`, built by paste.deploy) these are the
only places the library reads ``cfg.CONF`` without being handed it. Without oslo.config
(no configuration at all) the handlers send with ``messagingv2``.

Neither sends from inside its own sending: a record logged while a
notification is being sent (by a failing driver, or the ``log`` driver
itself) is ignored, which prevents loops.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .notifier import Notifier
from .options import notification_options, service_conf

if TYPE_CHECKING:
    from ..serializer import Serializer
    from ..transport import Transport

__all__ = ["LoggingErrorNotificationHandler", "LoggingNotificationHandler",
           "PublishErrorsHandler"]

_DEFAULT_DRIVER = "messagingv2"
#: Level names (lower-cased) that have a Notifier method of the same name.
_LEVEL_METHODS = ("debug", "info", "warning", "warn", "error", "critical", "audit", "sample")
_local: threading.local | None = None


def _sending() -> threading.local:
    """The re-entrance flag, made on first use: after eventlet's monkey-patching
    (when there is any), so that green threads each get their own."""
    global _local
    if _local is None:
        _local = threading.local()
    return _local


def _make_transport(url: str | None, conf: Any) -> Transport:
    from ..transport import get_notification_transport

    return get_notification_transport(conf, url)


def _drivers(driver: str | Sequence[str] | None, conf: Any) -> str | Sequence[str]:
    """Explicit drivers, else the configuration's (possibly none), else messagingv2."""
    if driver is not None:
        return driver
    if conf is None:
        return _DEFAULT_DRIVER
    return list(notification_options(conf)["driver"])


class _SendingHandler(logging.Handler):
    """Shared plumbing: own transport, re-entrance guard, cleanup on close."""

    #: Configuration to follow when none is passed; None means oslo.config's ``cfg.CONF``.
    CONF: Any = None
    notifier: Notifier
    _transport: Transport | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        if getattr(_sending(), "active", False):
            return False  # logged by our own sending: do not notify about it
        return super().handle(record)

    def _send(self, record: logging.LogRecord, method: Any, event_type: str,
              payload: dict[str, Any]) -> None:
        flag = _sending()
        flag.active = True
        try:
            method({}, event_type, payload)
        except Exception:
            self.handleError(record)
        finally:
            flag.active = False

    def close(self) -> None:
        """Close the handler and the transport it built."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.cleanup()
        super().close()


class LoggingNotificationHandler(_SendingHandler):
    """Sends each log record as a ``logrecord`` notification at the record's level.

    :param url: transport URL (None: the configuration's notification
        ``transport_url``, then its ``[DEFAULT] transport_url``).
    :param publisher_id: the notifications' publisher id.
    :param driver: notifier driver(s); default: the configuration's.
    :param topic: a topic or list of topics; default: the configuration's ``topics``.
    :param serializer: a :class:`Serializer` class or instance.
    :param conf: the configuration to follow (ConfigOpts or mapping); default
        the class attribute ``CONF``, else oslo.config's ``cfg.CONF``
        (subclass and set ``CONF`` to use another, as with oslo.messaging).

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
        conf = service_conf(conf, self.CONF)
        if isinstance(serializer, type):
            serializer = serializer()
        topics = [topic] if isinstance(topic, str) else topic
        self._transport = _make_transport(url, conf)
        try:
            self.notifier = Notifier(self._transport, publisher_id, _drivers(driver, conf),
                                     serializer, topics=topics)
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
    """Sends each record it handles as ``error_notification`` with ``{'error': msg}``.

    As oslo.messaging's, the handler's level alone picks the records: every
    record at or above it is published, at the ERROR priority
    (``PublishErrorsHandler(logging.WARNING)`` publishes warnings too; with
    no level, as ``logging.Handler``, every record). oslo.log builds it as
    ``PublishErrorsHandler(logging.ERROR)`` when ``publish_errors`` is set;
    it then follows the service's configuration (see the module docstring).

    :param level: the handler's level, a number or a name (default NOTSET,
        as oslo's).
    :param url: transport URL (None: the configuration's, as
        :class:`LoggingNotificationHandler`).
    :param conf: the configuration to follow; default ``CONF``, else ``cfg.CONF``.
    :param transport: send on this transport instead of building one (the
        handler then does not clean it up; its ``conf`` is followed).
    :param driver: notifier driver(s), overriding the configuration's.

    The payload's ``error`` is the record's unformatted ``msg``, as oslo's:
    ``logger.error("disk %s failed", "sda")`` sends ``'disk %s failed'``. A
    ``msg`` JSON can carry (a dict, a number) is sent as it is, an exception
    (``LOG.error(exc)``) as its ``repr()``, as oslo's serializer sends them;
    any other object as its ``str()`` (oslo's fails to send it). Nothing is
    sent when the notifier uses the ``log`` driver: the notification would
    be logged, and could come back here (oslo's guard).
    """

    def __init__(self, level: int | str = logging.NOTSET, *, url: str | None = None,
                 conf: Any = None, transport: Transport | None = None,
                 driver: str | Sequence[str] | None = None) -> None:
        super().__init__(level)
        if transport is None:
            conf = service_conf(conf, self.CONF)
            transport = self._transport = _make_transport(url, conf)
        elif conf is None:
            conf = transport.conf
        try:
            self.notifier = Notifier(transport, "error.publisher", _drivers(driver, conf))
        except Exception:
            self.close()
            raise
        self._uses_log_driver = "log" in self.notifier.drivers

    def emit(self, record: logging.LogRecord) -> None:
        if self._uses_log_driver:
            return
        self._send(record, self.notifier.error, "error_notification",
                   {"error": _json_or_str(record.msg)})


def _json_or_str(value: Any) -> Any:
    """``value`` if JSON carries it as it is; an exception as its ``repr()``, as oslo's
    serializer sends it (``LOG.error(exc)``); any other object as its ``str()``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Exception):
        return repr(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


#: oslo.messaging's older name.
PublishErrorsHandler = LoggingErrorNotificationHandler
