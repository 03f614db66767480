"""Listeners: lease messages from the file, hand them out, settle them back.

Settling, de-duplication and give-back at cleanup come from the core
(:mod:`messaging.settlement`, :mod:`messaging.incoming`); this module only
says what acknowledging, giving back and replying mean on the file.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from messaging.driver import IncomingMessage, Listener
from messaging.envelope import decode, encode, parse_notification, parse_request, unwrap
from messaging.incoming import (
    NotificationMessage,
    RequestMessage,
    TrackedMessage,
    give_back_unsettled,
)
from messaging.settlement import DeliveryTracker

from .options import Settings
from .store import Delivery, Store

__all__ = ["SqliteListener"]

LOG = logging.getLogger(__name__)


class _Lease:
    """Where a delivery came from: enough to acknowledge it or give it back."""

    __slots__ = ("id", "owner", "store")

    def __init__(self, store: Store, owner: str, delivery: Delivery) -> None:
        self.store = store
        self.owner = owner
        self.id = delivery.id

    def settle(self, requeue: bool) -> None:
        if requeue:
            self.store.give_back(self.id, self.owner)
        else:
            self.store.acknowledge(self.id, self.owner)


class SqliteRequest(RequestMessage):
    """An RPC request read from the file; replies go to the caller's reply queue."""

    def __init__(self, lease: _Lease, *args: Any) -> None:
        super().__init__(*args)
        self._lease = lease

    def _settle(self, requeue: bool) -> None:
        self._lease.settle(requeue)

    def _send_reply(self, envelope: dict[str, str], final: bool) -> None:
        assert self.reply_q is not None
        if not self._lease.store.send_to_queue(self.reply_q, encode(envelope)):
            LOG.info("Reply queue %s is gone; the reply to message ID %s is dropped",
                     self.reply_q, self.msg_id)


class SqliteNotification(NotificationMessage):
    """A notification read from the file."""

    def __init__(self, lease: _Lease, *args: Any) -> None:
        super().__init__(*args)
        self._lease = lease

    def _settle(self, requeue: bool) -> None:
        self._lease.settle(requeue)


Parser = Callable[[_Lease, bytes, DeliveryTracker[Any]], TrackedMessage]


def parse_rpc(lease: _Lease, body: bytes, tracker: DeliveryTracker[Any]) -> TrackedMessage:
    """An RPC request from the envelope bytes."""
    return SqliteRequest(lease, parse_request(unwrap(decode(body))), tracker)


def parse_notification_body(lease: _Lease, body: bytes,
                            tracker: DeliveryTracker[Any]) -> TrackedMessage:
    """A notification from the envelope (or bare 1.0) bytes."""
    inner = unwrap(decode(body))
    unique_id = inner.get("_unique_id")
    ctxt, message = parse_notification(inner)
    return SqliteNotification(lease, ctxt, message, tracker,
                              unique_id if isinstance(unique_id, str) else None)


class SqliteListener(Listener):
    """Polls some queues of the file; a keeper thread renews its leases and private queues.

    :param owned: private queues (fanout) deleted at cleanup and kept alive meanwhile.
    """

    def __init__(self, store: Store, settings: Settings, queues: Sequence[str],
                 parser: Parser, owned: Sequence[str] = (),
                 on_cleanup: Callable[[SqliteListener], None] | None = None) -> None:
        self._store = store
        self._settings = settings
        self._queues = list(queues)
        self._parser = parser
        self._owned = list(owned)
        self._on_cleanup = on_cleanup
        self._owner = uuid.uuid4().hex
        self._tracker: DeliveryTracker[TrackedMessage] = DeliveryTracker()
        self._stopped = threading.Event()
        self._closing = threading.Event()  # the keeper runs until cleanup, not until stop
        self._closed = False
        self._keeper = threading.Thread(target=self._keep, name="messaging-sqlite-keeper",
                                        daemon=True)
        self._keeper.start()

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Up to ``max_messages`` messages within ``timeout`` (None: until stopped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.is_set():
            out: list[IncomingMessage] = []
            for delivery in self._store.lease(self._queues, self._owner, max(max_messages, 1),
                                              self._settings.lease):
                message = self._accept(delivery)
                if message is not None:
                    out.append(message)
            if out:
                return out
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return []
            wait = self._settings.poll_interval if left is None \
                else min(self._settings.poll_interval, left)
            self._stopped.wait(wait)
        return []

    def _accept(self, delivery: Delivery) -> TrackedMessage | None:
        lease = _Lease(self._store, self._owner, delivery)
        try:
            message = self._parser(lease, delivery.body, self._tracker)
        except Exception as exc:  # MalformedMessage, undecodable bytes...
            LOG.warning("Dropping a malformed message from queue %s: %s", delivery.queue, exc)
            lease.settle(requeue=False)
            return None
        if self._tracker.is_duplicate(message.unique_id):
            LOG.warning("Dropping a duplicate of message %s from queue %s", message.unique_id,
                        delivery.queue)
            lease.settle(requeue=False)
            return None
        self._tracker.track(message, message.unique_id)
        return message

    def _keep(self) -> None:
        """Renew leases and private queues until the listener is cleaned up."""
        period = max(min(self._settings.lease, self._settings.queue_ttl) / 3.0, 0.05)
        while not self._closing.wait(period):
            try:
                self._store.renew(self._owner, self._settings.lease)
                self._store.refresh(self._owned, time.time() + self._settings.queue_ttl)
            except Exception as exc:
                LOG.warning("Could not renew leases on %s: %s", self._store.path, exc)

    @property
    def consuming(self) -> bool:
        """True until stopped: the file is always there to read."""
        return not self._stopped.is_set()

    def stop(self) -> None:
        """Stop taking messages; a blocked poll returns at once."""
        self._stopped.set()

    def cleanup(self) -> None:
        """Give back what is unsettled, delete private queues."""
        self.stop()
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._keeper.join(5)
        give_back_unsettled(self._tracker)
        for queue in self._owned:
            self._store.delete(queue)
        if self._on_cleanup is not None:
            self._on_cleanup(self)
