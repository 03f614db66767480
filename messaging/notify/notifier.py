"""The Notifier: builds notification messages and hands them to its drivers.

A notification is a dict ``{message_id, publisher_id, event_type, priority,
payload, timestamp}`` (oslo.messaging's fields and formats). Each enabled
driver (``messagingv2``, ``log``, ...) delivers it its own way; a driver that
fails is logged and never raises into the caller.

Request contexts are not leaked: a plain dict (or None) context is sent as
``{}``, because it may carry tokens and passwords. Only a context object
that offers ``redacted_copy()`` (an oslo.context ``RequestContext``) is sent,
as its redacted copy (oslo.messaging >= 14.4 behaves the same).
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..envelope import new_uuid_str
from ..exceptions import DriverLoadFailure
from ..serializer import NoOpSerializer, Serializer
from ..transport import get_notification_transport, warn_unless_notification
from .drivers import DRIVER_NAMESPACE, Driver, notify_each
from .options import notification_options

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["Driver", "Notifier", "NotifierDriverLoadFailure", "WIRE_PRIORITIES", "load_drivers",
           "sanitize_context", "get_notification_transport"]

LOG = logging.getLogger(__name__)

#: Priorities as sent on the wire, in oslo.messaging's order.
WIRE_PRIORITIES: tuple[str, ...] = ("AUDIT", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "SAMPLE")

_UNSET: Any = object()
N = TypeVar("N", bound="_NotifierBase")


class NotifierDriverLoadFailure(DriverLoadFailure):
    """A notifier driver is not installed or could not be built."""

    def __init__(self, driver: str, ex: BaseException | str) -> None:
        super().__init__(driver, ex)
        self.msg = f"Failed to load notifier driver {driver!r}: {ex}"
        self.args = (self.msg,)


def _utcnow_str() -> str:
    """Now in UTC as ``YYYY-MM-DD HH:MM:SS.ffffff`` (always with microseconds)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%d %H:%M:%S.%f")


def sanitize_context(ctxt: Any) -> Any:
    """The context a notification may carry: ``{}`` unless ``ctxt`` can redact itself.

    Plain dicts are dropped (logged at debug when not empty) because nothing
    tells which of their keys are secret; objects without ``redacted_copy()``
    are dropped with a warning.
    """
    if ctxt is None:
        return {}
    if isinstance(ctxt, Mapping):
        if ctxt:
            LOG.debug("Not sending a plain dict context with a notification (it may hold "
                      "credentials); pass a context object with redacted_copy() to send one")
        return {}
    redact = getattr(ctxt, "redacted_copy", None)
    if callable(redact):
        return redact()
    LOG.warning("Not sending a %s context with a notification: it has no redacted_copy()",
                type(ctxt).__name__)
    return {}


def load_drivers(names: Sequence[str], conf: Any, topics: Sequence[str],
                 transport: Transport | None) -> dict[str, Driver]:
    """Build the notifier drivers ``names`` (entry points of ``messaging.notify.drivers``).

    Raises :class:`NotifierDriverLoadFailure` naming an unknown driver (with the
    installed ones) or a driver whose construction failed, so that a
    misconfigured notifier fails when it is built rather than dropping
    notifications later.
    """
    from stevedore import named

    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}

    def reraise(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        if isinstance(exc, NotifierDriverLoadFailure):
            raise exc
        raise NotifierDriverLoadFailure(entrypoint.name, exc) from exc

    def missing(names: Any) -> None:
        from importlib import metadata

        installed = sorted(ep.name for ep in metadata.entry_points(group=DRIVER_NAMESPACE))
        raise NotifierDriverLoadFailure(
            ", ".join(sorted(names)),
            f"not installed; installed notifier drivers: {', '.join(installed)}")

    manager = named.NamedExtensionManager(
        DRIVER_NAMESPACE, names=wanted, invoke_on_load=True, invoke_args=(conf,),
        invoke_kwds={"topics": list(topics), "transport": transport},
        name_order=True, on_load_failure_callback=reraise,
        on_missing_entrypoints_callback=missing)
    return {ext.name: ext.obj for ext in manager.extensions if ext.obj is not None}


class _NotifierBase:
    """What :class:`Notifier` and :class:`~messaging.notify.AsyncNotifier` share: options,
    drivers, ``prepare`` and building the message. Only sending differs.
    """

    def __init__(self, transport: Transport, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None, serializer: Serializer | None = None,
                 retry: int | None = None, topics: Sequence[str] | None = None,
                 topic: str | None = None) -> None:
        warn_unless_notification(transport)  # oslo's warning for an RPC transport
        conf = transport.conf
        opts = notification_options(conf)
        self.transport = transport
        self.publisher_id = publisher_id
        self.retry: int | None = retry if retry is not None else opts["retry"]
        if driver is None:
            names = list(opts["driver"])
        elif isinstance(driver, str):
            names = [driver]
        else:
            names = list(driver)
        if topics is not None and topic is not None:
            raise TypeError("pass topics= or topic=, not both")
        if topics is None:
            topics = [topic] if topic is not None else list(opts["topics"])
        elif isinstance(topics, str):
            topics = [topics]
        self._topics = list(topics)
        self._driver_names = names
        self._serializer = serializer or NoOpSerializer()
        self._drivers = load_drivers(names, conf, self._topics, transport)

    def prepare(self: N, publisher_id: str | None = _UNSET, retry: int | None = _UNSET) -> N:
        """A notifier sharing this one's drivers with another publisher id or retry."""
        sub = copy.copy(self)
        if publisher_id is not _UNSET:
            sub.publisher_id = publisher_id
        if retry is not _UNSET:
            sub.retry = retry
        return sub

    @property
    def drivers(self) -> dict[str, Driver]:
        """The loaded drivers by name (for tests and introspection)."""
        return dict(self._drivers)

    def is_enabled(self) -> bool:
        """False when notifications go nowhere: no driver configured, or only ``noop``.

        (oslo.messaging returns True when no driver is configured at all,
        although nothing is sent; this one tells the truth.)
        """
        return any(name != "noop" for name in self._drivers)

    def _build(self, ctxt: Any, event_type: str, payload: Any, priority: str,
               ) -> tuple[Any, dict[str, Any]] | None:
        """The wire context and message to send, or None (logged) if they cannot be built."""
        if not self._drivers:
            return None
        try:
            message = {
                "message_id": new_uuid_str(),
                "publisher_id": self.publisher_id,
                "event_type": event_type,
                "priority": priority,
                "payload": self._serializer.serialize_entity(ctxt, payload),
                "timestamp": _utcnow_str(),
            }
            wire_ctxt = self._serializer.serialize_context(sanitize_context(ctxt))
        except Exception:
            LOG.exception("Could not serialize notification %r (%s); not sent",
                          event_type, priority)
            return None
        return wire_ctxt, message

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} publisher_id={self.publisher_id!r} "
                f"drivers={list(self._drivers)} topics={self._topics}>")


class Notifier(_NotifierBase):
    """Sends notifications through the configured notifier drivers.

    :param transport: where the ``messaging*`` drivers send; its ``conf``
        supplies ``[oslo_messaging_notifications]`` defaults.
    :param publisher_id: the ``publisher_id`` field, for example ``'compute.host1'``.
    :param driver: a driver name or a list of them; default: conf's ``driver``
        (none: notifications are dropped and :meth:`is_enabled` is False).
    :param serializer: serializes payloads (and context objects).
    :param retry: connection retries: None takes conf's ``retry``; -1 means
        forever, 0 none, N at most N.
    :param topics: topics to send on; default conf's ``topics`` (``['notifications']``).
    :param topic: one topic (the older spelling of ``topics=[topic]``).

    Building a Notifier loads its drivers; use :meth:`prepare` for cheap
    variants with another publisher or retry. Thread-safe.
    """

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        built = self._build(ctxt, event_type, payload, priority)
        if built is not None:
            notify_each(self._drivers.items(), *built, priority, self.retry)

    def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at AUDIT priority (``ctxt``: see the module docstring)."""
        self._notify(ctxt, event_type, payload, "AUDIT")

    def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at DEBUG priority."""
        self._notify(ctxt, event_type, payload, "DEBUG")

    def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at INFO priority."""
        self._notify(ctxt, event_type, payload, "INFO")

    def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at WARN priority (the wire says ``WARN``, the topic ``.warn``)."""
        self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at ERROR priority."""
        self._notify(ctxt, event_type, payload, "ERROR")

    def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at CRITICAL priority."""
        self._notify(ctxt, event_type, payload, "CRITICAL")

    def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at SAMPLE priority (frequent, small measurements)."""
        self._notify(ctxt, event_type, payload, "SAMPLE")
