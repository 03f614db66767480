"""Notifier drivers: where a :class:`~messaging.notify.Notifier` sends what it builds.

Each driver is an entry point of the group ``messaging.notify.drivers``,
built as ``DriverClass(conf, topics=..., transport=...)`` and called as
``driver.notify(ctxt, message, priority, retry)`` with the already
sanitized, serialized context and the finished message dict. A third party
writes one by subclassing :class:`NotifierDriver` and registering an entry point.

Built-in drivers: ``messaging`` (bare 1.0 body), ``messagingv2`` (2.0
envelope), ``log`` (a Python logger, secrets masked), ``test`` (kept in
memory), ``noop``; ``routing`` lives in :mod:`messaging.notify.routing`.
"""

from __future__ import annotations

import abc
import copy
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import MessagingException
from ..target import Target

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = [
    "DRIVER_NAMESPACE",
    "Driver",
    "NotifierDriver",
    "LogDriver",
    "MessagingDriver",
    "MessagingV2Driver",
    "NoOpDriver",
    "TestDriver",
    "get_test_notifications",
    "mask_secrets",
    "reset_test_notifications",
    "transport_retry",
]

LOG = logging.getLogger(__name__)
DRIVER_NAMESPACE = "messaging.notify.drivers"


def transport_retry(retry: int | None) -> int | None:
    """Map the notifier's retry (-1 or None: forever) to the transport's (None: forever)."""
    if retry is None or retry < 0:
        return None
    return retry


class NotifierDriver(abc.ABC):
    """Base class of notifier drivers.

    :param conf: the transport's configuration (ConfigOpts, mapping or None).
    :param topics: topics to send on (drivers that do not use a bus ignore them).
    :param transport: the notifier's transport.
    """

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Transport | None = None) -> None:
        self.conf = conf
        self.topics = list(topics or ())
        self.transport = transport

    @abc.abstractmethod
    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        """Send one notification; ``priority`` is upper case (``'INFO'``)."""


#: The old name, kept for drivers written against it.
Driver = NotifierDriver


class MessagingDriver(NotifierDriver):
    """Sends on the bus to ``<topic>.<priority>`` as a bare 1.0 body (no envelope).

    Kept for consumers that still read unenveloped notifications; new code
    should use ``messagingv2``.
    """

    version = 1.0

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Transport | None = None, version: float | None = None) -> None:
        super().__init__(conf, topics, transport)
        if version is not None:  # oslo's signature: MessagingDriver(..., version=2.0)
            self.version = version
        if transport is None:
            raise ValueError(f"the {type(self).__name__} needs a transport")

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        assert self.transport is not None
        level = priority.lower()
        for topic in self.topics:
            target = Target(topic=f"{topic}.{level}")
            try:
                self.transport.notify(target, ctxt, message, version=self.version,
                                      retry=transport_retry(retry))
            except MessagingException as exc:
                # One topic failing must not stop the others (nor reach the caller).
                LOG.error("Notification %r (priority %s) to topic %s was not sent and is "
                          "dropped: %s", message.get("event_type"), priority, target.topic, exc)
            except Exception:
                LOG.exception("Notification %r (priority %s) to topic %s was not sent and is "
                              "dropped", message.get("event_type"), priority, target.topic)


class MessagingV2Driver(MessagingDriver):
    """Sends on the bus to ``<topic>.<priority>`` wrapped in the 2.0 envelope."""

    version = 2.0


#: Substrings of keys whose values the log driver replaces with ``***``.
SECRET_KEYS: tuple[str, ...] = (
    "adminpass", "admin_pass", "password", "admin_password", "auth_token", "new_pass",
    "auth_password", "secret_uuid", "secret", "sys_pswd", "token", "configdrive",
    "chappassword", "encryption_key", "cert_key", "pwd", "credential", "private_key",
)
_MASK = "***"
_SECRET_IN_TEXT = re.compile(
    r"(?P<key>[\w-]*(?:" + "|".join(re.escape(k) for k in SECRET_KEYS) + r")[\w-]*)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s'\",&;]+)", re.IGNORECASE)


def mask_secrets(value: Any) -> Any:
    """Copy of ``value`` with secrets masked: values of secret-looking keys, at any depth,
    and ``key=value`` / ``"key": "value"`` pairs inside strings.
    """
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and any(s in key.lower() for s in SECRET_KEYS) \
                    and not isinstance(item, Mapping):
                out[key] = _MASK
            else:
                out[key] = mask_secrets(item)
        return out
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return _SECRET_IN_TEXT.sub(lambda m: m["key"] + m["sep"] + _MASK, value)
    return value


#: Python logging level for each notification priority. AUDIT and SAMPLE have no
#: logging level of their own; oslo's log driver silently drops them, this one
#: logs them at INFO and DEBUG.
LOG_LEVELS: dict[str, int] = {
    "AUDIT": logging.INFO,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
    "SAMPLE": logging.DEBUG,
}


class LogDriver(NotifierDriver):
    """Logs each notification as JSON to ``oslo.messaging.notification.<event_type>``.

    The logger name is oslo.messaging's, because operators' logging
    configurations route it. The level follows the priority (see
    :data:`LOG_LEVELS`); secrets are masked with :func:`mask_secrets` before
    anything is written.
    """

    LOGGER_BASE = "oslo.messaging.notification"

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        logger = logging.getLogger(f"{self.LOGGER_BASE}.{message.get('event_type')}")
        level = LOG_LEVELS.get(priority.upper(), logging.INFO)
        if logger.isEnabledFor(level):
            logger.log(level, "%s", json.dumps(mask_secrets(message), default=str,
                                               sort_keys=True))


_test_lock = threading.Lock()
#: Every notification any :class:`TestDriver` received, oldest first (process-wide).
NOTIFICATIONS: list[tuple[dict[str, Any], dict[str, Any], str, int | None]] = []


def get_test_notifications() -> list[tuple[dict[str, Any], dict[str, Any], str, int | None]]:
    """Copy of what every ``test`` driver of the process received: ``(ctxt, message,
    priority, retry)`` tuples, oldest first.
    """
    with _test_lock:
        return list(NOTIFICATIONS)


def reset_test_notifications() -> None:
    """Forget what the ``test`` drivers received (call it in test setup)."""
    with _test_lock:
        NOTIFICATIONS.clear()


class TestDriver(NotifierDriver):
    """Keeps notifications in memory for tests, nothing is sent.

    Each driver has its own :attr:`notifications` list; the module-level
    :func:`get_test_notifications` sees those of every test driver (as
    oslo's ``_impl_test.NOTIFICATIONS``). Entries are deep copies:
    ``(ctxt, message, priority, retry)``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Transport | None = None) -> None:
        super().__init__(conf, topics, transport)
        self.notifications: list[tuple[dict[str, Any], dict[str, Any], str, int | None]] = []

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        entry = (copy.deepcopy(dict(ctxt)), copy.deepcopy(dict(message)), priority, retry)
        with _test_lock:
            self.notifications.append(entry)
            NOTIFICATIONS.append(entry)


class NoOpDriver(NotifierDriver):
    """Drops every notification; ``driver = noop`` disables notifications."""

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        pass
