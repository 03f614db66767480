"""Notifier drivers: where a :class:`~messaging.notify.Notifier` sends what it builds.

Each driver is an entry point of the group ``messaging.notify.drivers``,
built as ``DriverClass(conf, topics=..., transport=...)`` and called as
``driver.notify(ctxt, message, priority, retry)`` with the already
sanitized, serialized context and the finished message dict. A third party
writes one by subclassing :class:`NotifierDriver` and registering an entry point.
:class:`~messaging.notify.AsyncNotifier` calls the future form,
``driver.submit_notify(...)``: the bus drivers send through the transport's
future verbs, the in-memory ones (``inline``) run at once, and any other
driver's ``notify`` runs on a small thread pool, so none blocks an event loop.

Built-in drivers: ``messaging`` (bare 1.0 body), ``messagingv2`` (2.0
envelope), ``log`` (a Python logger, secrets masked), ``test`` (kept in
memory), ``noop``; ``routing`` lives in :mod:`messaging.notify.routing`.
"""

from __future__ import annotations

import abc
import concurrent.futures
import copy
import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import MessagingException
from ..executors import StartedThreadPool
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
    "notify_each",
    "reset_test_notifications",
    "submit_each",
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

    #: ``notify`` never blocks (memory, logging): ``submit_notify`` runs it in the caller.
    inline: ClassVar[bool] = False

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Transport | None = None) -> None:
        self.conf = conf
        self.topics = list(topics or ())
        self.transport = transport

    @abc.abstractmethod
    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        """Send one notification; ``priority`` is upper case (``'INFO'``)."""

    def submit_notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                      priority: str, retry: int | None) -> Future[None]:
        """:meth:`notify` as a future that completes once the notification is sent.

        The default runs :meth:`notify` in the caller when :attr:`inline`,
        else on a small shared thread pool. Drivers that can send without
        blocking override it.
        """
        if self.inline:
            future: Future[None] = Future()
            try:
                self.notify(ctxt, message, priority, retry)
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)
            return future
        return _blocking_pool().submit(self.notify, ctxt, message, priority, retry)


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

    def _targets(self, priority: str) -> list[Target]:
        level = priority.lower()
        return [Target(topic=f"{topic}.{level}") for topic in self.topics]

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        assert self.transport is not None
        for target in self._targets(priority):
            try:
                self.transport.notify(target, ctxt, message, version=self.version,
                                      retry=transport_retry(retry))
            except Exception as exc:
                # One topic failing must not stop the others (nor reach the caller).
                _dropped(message, priority, target, exc)

    def submit_notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                      priority: str, retry: int | None) -> Future[None]:
        """Send to every topic through the transport's futures; failures are logged."""
        return _when_all(_start(self._submissions(ctxt, message, priority, retry)))

    def _submissions(self, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                     priority: str, retry: int | None) -> Iterator[Submission]:
        """One ``(submit, report)`` per topic: the transport's future, and its logging."""
        transport = self.transport
        assert transport is not None
        for target in self._targets(priority):
            yield (functools.partial(transport.submit_notify, target, ctxt, message,
                                     version=self.version, retry=transport_retry(retry)),
                   functools.partial(_dropped, message, priority, target))


def _dropped(message: Mapping[str, Any], priority: str, target: Target,
             exc: BaseException) -> None:
    """Log a notification that did not reach ``target`` (never raised to the caller)."""
    what = (message.get("event_type"), priority, target.topic)
    if isinstance(exc, MessagingException):
        LOG.error("Notification %r (priority %s) to topic %s was not sent and is dropped: %s",
                  *what, exc)
    else:
        LOG.error("Notification %r (priority %s) to topic %s was not sent and is dropped",
                  *what, exc_info=exc)


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

    inline = True

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
    inline = True

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

    inline = True

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        pass


def notify_each(drivers: Iterable[tuple[str, NotifierDriver]], ctxt: Mapping[str, Any],
                message: Mapping[str, Any], priority: str, retry: int | None) -> None:
    """Send through each ``(name, driver)`` in turn; a driver that fails is logged, never raised."""
    for name, driver in drivers:
        try:
            driver.notify(ctxt, message, priority, retry)
        except Exception as exc:
            _driver_failed(name, message, priority, exc)


def submit_each(drivers: Iterable[tuple[str, NotifierDriver]], ctxt: Mapping[str, Any],
                message: Mapping[str, Any], priority: str, retry: int | None) -> Future[None]:
    """:func:`notify_each` with every driver's ``submit_notify`` at once.

    The future completes (never with an error: failures are logged) once
    every driver is done; cancelling it cancels theirs.
    """
    return _when_all(start_each(drivers, ctxt, message, priority, retry))


def start_each(drivers: Iterable[tuple[str, NotifierDriver]], ctxt: Mapping[str, Any],
               message: Mapping[str, Any], priority: str, retry: int | None,
               ) -> list[Future[None]]:
    """Start the sends of :func:`submit_each`; their futures, each one logging its failure.

    The bus drivers' sends are the transport's own futures, one per topic
    (not a future per driver completing on theirs): the async notifier awaits
    these directly, with no futures layer in between.
    """
    return _start(submission for name, driver in drivers
                  for submission in _driver_submissions(name, driver, ctxt, message, priority,
                                                        retry))


#: How to start one send, and how to report its failure.
Submission = tuple[Callable[[], Future[None]], Callable[[BaseException], None]]


def _driver_submissions(name: str, driver: NotifierDriver, ctxt: Mapping[str, Any],
                        message: Mapping[str, Any], priority: str, retry: int | None,
                        ) -> Iterator[Submission]:
    if isinstance(driver, MessagingDriver) and \
            type(driver).submit_notify is MessagingDriver.submit_notify:
        return driver._submissions(ctxt, message, priority, retry)
    return iter([(functools.partial(driver.submit_notify, ctxt, message, priority, retry),
                  functools.partial(_driver_failed, name, message, priority))])


def _driver_failed(name: str, message: Mapping[str, Any], priority: str,
                   exc: BaseException) -> None:
    LOG.error("Notifier driver %r failed to send notification %r (%s)", name,
              message.get("event_type"), priority, exc_info=exc)


def _start(submissions: Iterable[Submission]) -> list[Future[None]]:
    """Start each ``(submit, report)``; their futures, ``report(exc)`` called on failure.

    A submission that raises at once is reported and has no future.
    """
    futures = []
    for submit, report in submissions:
        try:
            future = submit()
        except Exception as exc:
            report(exc)
            continue
        future.add_done_callback(functools.partial(_report_failure, report))
        futures.append(future)
    return futures


def _report_failure(report: Callable[[BaseException], None], future: Future[None]) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        report(error)


def _when_all(futures: list[Future[None]]) -> Future[None]:
    """A future that completes with None once all of ``futures`` are done, whatever they hold.

    Their failures are reported where they are made (:func:`_logged`).
    """
    combined: Future[None] = Future()
    if not futures:
        combined.set_result(None)
        return combined
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_f: Future[None]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last and combined.set_running_or_notify_cancel():
            combined.set_result(None)

    def cancel_all(f: Future[None]) -> None:
        if f.cancelled():
            for future in futures:
                future.cancel()

    combined.add_done_callback(cancel_all)
    for future in futures:
        future.add_done_callback(one_done)
    return combined


#: The threads that run blocking notifier drivers for :meth:`NotifierDriver.submit_notify`,
#: all started at once on first use (so an event loop waits for that once, not per send).
_pool = StartedThreadPool(8, "messaging-notify")


def _blocking_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The pool behind :meth:`NotifierDriver.submit_notify` for drivers without a future form."""
    return _pool.get()
