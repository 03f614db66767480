"""Notification dispatchers: call the endpoint methods named after a notification's priority.

An endpoint handles a priority by having a method of that name (``info``,
``warn``, ``error``...), called as ``(ctxt, publisher_id, event_type,
payload, metadata)`` with ``metadata = {'message_id', 'timestamp'}``. Only
implemented priorities are subscribed. Every message is settled here:

- acknowledged when every endpoint returned ``None`` / ``HANDLED``;
- requeued when an endpoint returned ``REQUEUE`` or raised, if the listener
  allows requeue (the remaining endpoints are not called: they see the
  message on redelivery, as in oslo.messaging); without ``allow_requeue``
  this is logged, the remaining endpoints still run and the message is
  acknowledged;
- acknowledged and dropped, with a warning, when malformed: not a JSON
  object, no or unknown priority, or a context/payload the serializer
  cannot rebuild (redelivering it could never succeed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..driver import IncomingMessage, Listener
from ..serializer import NoOpSerializer, Serializer
from ..server import Dispatcher
from ..steps import Step, Steps
from ..target import Target
from .filter import NotificationFilter

if TYPE_CHECKING:
    from ..instrument import Receipt
    from ..transport import Transport

__all__ = ["BatchNotificationDispatcher", "NotificationDispatcher", "NotificationResult",
           "PRIORITIES"]

LOG = logging.getLogger(__name__)

#: Endpoint method names, one per priority (the wire's priority lower-cased).
PRIORITIES: tuple[str, ...] = ("audit", "debug", "info", "warn", "error", "critical", "sample")
_ALIASES = {"warning": "warn"}


class NotificationResult:
    """What an endpoint method returns; ``None`` counts as ``HANDLED``."""

    HANDLED = "handled"
    REQUEUE = "requeue"


@dataclass
class _Notification:
    """A received notification, checked and deserialized."""

    incoming: IncomingMessage
    priority: str
    fields: dict[str, Any]  # ctxt, publisher_id, event_type, payload, metadata


Callback = tuple[Any, Any, Callable[..., Any]]  # (endpoint, filter or None, method)


class NotificationDispatcher(Dispatcher):
    """Routes each notification to the endpoints implementing its priority.

    :param endpoints: objects with priority-named methods and optionally a
        ``filter_rule`` (:class:`NotificationFilter`).
    :param serializer: rebuilds contexts and payloads.
    :param targets: the topics (and exchanges) to listen on.
    :param pool: listeners of one pool share the notifications.
    :param allow_requeue: honour ``REQUEUE`` (and requeue on exceptions).
    """

    kind = "notification"

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None,
                 targets: Sequence[Target] = (), pool: str | None = None,
                 allow_requeue: bool = False) -> None:
        self.endpoints = tuple(endpoints)
        self.serializer = serializer or NoOpSerializer()
        self.targets = tuple(targets)
        self.pool = pool
        self.allow_requeue = allow_requeue
        self._callbacks: dict[str, list[Callback]] = {}
        for endpoint in self.endpoints:
            screen = getattr(endpoint, "filter_rule", None)
            if screen is not None and not callable(getattr(screen, "match", None)):
                raise TypeError(f"endpoint {endpoint!r} has a filter_rule without match()")
            for priority in PRIORITIES:
                method = getattr(endpoint, priority, None)
                if callable(method):
                    self._callbacks.setdefault(priority, []).append((endpoint, screen, method))

    @property
    def supported_priorities(self) -> list[str]:
        """The priorities some endpoint implements, in :data:`PRIORITIES` order."""
        return [p for p in PRIORITIES if p in self._callbacks]

    @property
    def targets_and_priorities(self) -> list[tuple[Target, str]]:
        """One ``(target, priority)`` pair per target and implemented priority."""
        return list(dict.fromkeys((t, p) for t in self.targets
                                  for p in self.supported_priorities))

    @property
    def target(self) -> tuple[Target, ...]:
        """The targets, for error messages (``ServerListenError``)."""
        return self.targets

    def listen(self, transport: Transport) -> Listener:
        return transport.listen_for_notifications(self.targets_and_priorities, self.pool)

    def steps(self, incoming: list[IncomingMessage]) -> Steps[None]:
        """Run the endpoints for each notification, then settle it (see :mod:`messaging.steps`)."""
        for message in incoming:
            notification = self._extract(message)
            if notification is None:
                self._malformed()
                requeue = False
            else:
                receipt = self._receipt(notification)
                requeue = yield from self._dispatch(notification, receipt)
                if receipt is not None:
                    receipt.finish("requeued" if requeue else None)
            yield Step(_settle, [message], requeue)

    def _destination(self, priority: str) -> str:
        """``<topic>.<priority>`` as metrics and spans name it (topics joined if several)."""
        topics = sorted({str(t.topic) for t in self.targets})
        return f"{','.join(topics)}.{priority}"

    def _receipt(self, n: _Notification) -> Receipt | None:
        inst = self.instrumentation
        if inst is None:
            return None
        message_id = n.fields["metadata"]["message_id"]
        return inst.receive("notify", self._destination(n.priority), n.priority,
                            n.incoming.ctxt,
                            message_id=message_id if isinstance(message_id, str) else None)

    def _malformed(self) -> None:
        inst = self.instrumentation
        if inst is not None:
            inst.dropped("notify", self._destination("unknown"))

    def _dispatch(self, n: _Notification, receipt: Receipt | None = None) -> Steps[bool]:
        """Call the endpoints for one notification; True if it must be requeued."""
        f = n.fields
        for endpoint, screen, method in self._callbacks.get(n.priority, ()):
            if screen is not None and not _passes(screen, f):
                continue
            step = Step(method, f["ctxt"], f["publisher_id"], f["event_type"], f["payload"],
                        f["metadata"])
            try:
                result = yield step if receipt is None else receipt.step(step)
            except Exception as exc:
                LOG.exception("Endpoint %s failed on notification %r (%s, message_id %s)",
                              _name(endpoint), f["event_type"], n.priority,
                              f["metadata"]["message_id"])
                if receipt is not None:
                    receipt.failed(exc)
                result = NotificationResult.REQUEUE
                if not self.allow_requeue:
                    continue
            if result == NotificationResult.REQUEUE:
                if self.allow_requeue:
                    return True
                _refused_requeue(endpoint, f["event_type"])
        return False

    def _extract(self, message: IncomingMessage) -> _Notification | None:
        """Check and deserialize one message; None (logged) when it is malformed."""
        body = message.message
        if not isinstance(body, Mapping):
            LOG.warning("Dropping a malformed notification: the body is a %s, not an object",
                        type(body).__name__)
            return None
        raw = body.get("priority")
        priority = raw.lower() if isinstance(raw, str) else None
        priority = _ALIASES.get(priority, priority) if priority else priority
        if priority not in PRIORITIES:
            LOG.warning("Dropping a malformed notification %r (message_id %s): "
                        "%s priority %r", body.get("event_type"), body.get("message_id"),
                        "no" if raw is None else "unknown", raw)
            return None
        try:
            ctxt = self.serializer.deserialize_context(message.ctxt or {})
            payload = self.serializer.deserialize_entity(ctxt, body.get("payload"))
        except Exception:
            LOG.exception("Dropping notification %r (message_id %s): the serializer could "
                          "not rebuild its context or payload", body.get("event_type"),
                          body.get("message_id"))
            return None
        return _Notification(message, str(priority), {
            "ctxt": ctxt,
            "publisher_id": body.get("publisher_id"),
            "event_type": body.get("event_type"),
            "payload": payload,
            "metadata": {"message_id": body.get("message_id"),
                         "timestamp": body.get("timestamp")},
        })


class BatchNotificationDispatcher(NotificationDispatcher):
    """Hands endpoints lists of notifications, grouped by priority.

    Each endpoint method receives a list of dicts ``{ctxt, publisher_id,
    event_type, payload, metadata}`` (those its ``filter_rule`` passes).
    ``REQUEUE`` (or an exception) requeues the whole priority group when
    requeue is allowed.

    :param batch_size: messages per call; None means 1, unless
        ``batch_timeout`` is given, then up to :data:`MAX_UNSIZED_BATCH`.
    :param batch_timeout: seconds to wait for a batch to fill after its
        first message; None waits until ``batch_size`` messages arrived.
    """

    #: Batch size when only ``batch_timeout`` is given (oslo: unbounded).
    MAX_UNSIZED_BATCH = 1000

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None,
                 targets: Sequence[Target] = (), pool: str | None = None,
                 allow_requeue: bool = False, batch_size: int | None = None,
                 batch_timeout: float | None = None) -> None:
        super().__init__(endpoints, serializer, targets, pool, allow_requeue)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if batch_timeout is not None and batch_timeout < 0:
            raise ValueError(f"batch_timeout must not be negative, not {batch_timeout}")
        if batch_size is None:
            batch_size = 1 if batch_timeout is None else self.MAX_UNSIZED_BATCH
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout

    def steps(self, incoming: list[IncomingMessage]) -> Steps[None]:
        """Group by priority, run the endpoints per group, settle each group."""
        groups: dict[str, list[_Notification]] = {}
        malformed: list[IncomingMessage] = []
        for message in incoming:
            notification = self._extract(message)
            if notification is None:
                malformed.append(message)
            else:
                groups.setdefault(notification.priority, []).append(notification)
        if malformed:
            for _message in malformed:
                self._malformed()
            yield Step(_settle, malformed, False)
        inst = self.instrumentation
        for priority, group in groups.items():
            receipt = None if inst is None else inst.receive(
                "notify", self._destination(priority), priority, None,
                batch=[n.incoming.ctxt for n in group])
            requeue = yield from self._dispatch_group(priority, group, receipt)
            if receipt is not None:
                receipt.finish("requeued" if requeue else None)
            yield Step(_settle, [n.incoming for n in group], requeue)

    def _dispatch_group(self, priority: str, group: list[_Notification],
                        receipt: Receipt | None = None) -> Steps[bool]:
        """Call the endpoints with one priority's batch; True if it must be requeued."""
        for endpoint, screen, method in self._callbacks.get(priority, ()):
            batch = [n.fields for n in group if screen is None or _passes(screen, n.fields)]
            if not batch:
                continue
            step = Step(method, batch)
            try:
                result = yield step if receipt is None else receipt.step(step)
            except Exception as exc:
                LOG.exception("Endpoint %s failed on a batch of %d %s notification(s)",
                              _name(endpoint), len(batch), priority)
                if receipt is not None:
                    receipt.failed(exc)
                result = NotificationResult.REQUEUE
                if not self.allow_requeue:
                    continue
            if result == NotificationResult.REQUEUE:
                if self.allow_requeue:
                    return True
                _refused_requeue(endpoint, f"a batch of {len(batch)}")
        return False


def _passes(screen: NotificationFilter, f: Mapping[str, Any]) -> bool:
    try:
        return bool(screen.match(f["ctxt"], f["publisher_id"], f["event_type"],
                                 f["metadata"], f["payload"]))
    except Exception:
        LOG.exception("filter_rule failed on notification %r; skipping the endpoint",
                      f["event_type"])
        return False


def _refused_requeue(endpoint: Any, what: Any) -> None:
    LOG.warning("Endpoint %s asked to requeue %r but the listener was built without "
                "allow_requeue; acknowledging it", _name(endpoint), what)


def _settle(messages: list[IncomingMessage], requeue: bool) -> None:
    for message in messages:
        try:
            if requeue:
                message.requeue()
            else:
                message.acknowledge()
        except Exception:
            LOG.exception("Could not %s a notification",
                          "requeue" if requeue else "acknowledge")


def _name(endpoint: Any) -> str:
    return type(endpoint).__name__
