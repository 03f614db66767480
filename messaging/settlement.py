"""Settling received messages: once each, duplicates dropped only after settling.

A listener hands messages out through ``poll``; each must be settled
(acknowledged or requeued) exactly once, those still unsettled when the
listener is cleaned up go back to the bus, and a request the bus delivers
again (because an acknowledgement was lost with a connection) must not run
twice. The order matters, and is the reason this lives in the core: an id
is remembered when its message is *acknowledged*, never when it arrives, so
a message that was only buffered when a connection died, and is therefore
redelivered, is not mistaken for a duplicate.

A driver keeps one :class:`DeliveryTracker` per listener and routes its
messages' ``acknowledge``/``requeue`` through :meth:`DeliveryTracker.settle`.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["DEDUP_WINDOW", "DeliveryTracker"]

#: Acknowledged ids remembered per listener (oslo.messaging keeps 16).
DEDUP_WINDOW = 4096

M = TypeVar("M", bound=Hashable)


class DeliveryTracker(Generic[M]):
    """Messages handed out and not yet settled, and the ids of those acknowledged.

    Thread-safe: ``settle`` is called from executor threads, the rest from
    the listener's own thread.
    """

    def __init__(self, window: int = DEDUP_WINDOW) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._unsettled: dict[M, str | None] = {}
        self._acked: collections.OrderedDict[str, None] = collections.OrderedDict()

    def is_duplicate(self, unique_id: str | None) -> bool:
        """True if a message with ``unique_id`` was already acknowledged here."""
        return unique_id is not None and unique_id in self._acked

    def track(self, message: M, unique_id: str | None = None) -> None:
        """``message`` is handed out and must be settled."""
        with self._lock:
            self._unsettled[message] = unique_id

    def settle(self, message: M, *, requeue: bool) -> bool:
        """Record the first settlement of ``message``; False if it was settled already.

        An acknowledged message's id is remembered, so a redelivered copy is
        a duplicate; a requeued one is not (its redelivery is wanted).
        """
        with self._lock:
            if message not in self._unsettled:
                return False
            unique_id = self._unsettled.pop(message)
            if not requeue and unique_id is not None:
                self._acked[unique_id] = None
                if len(self._acked) > self._window:
                    self._acked.popitem(last=False)
        return True

    def forget(self, message: M) -> None:
        """Drop ``message`` without settling it (its channel is gone; the bus redelivers it)."""
        with self._lock:
            self._unsettled.pop(message, None)

    def take_unsettled(self) -> list[M]:
        """Every message not yet settled (for cleanup to give back); they count as settled now."""
        with self._lock:
            out, self._unsettled = list(self._unsettled), {}
        return out

    def __len__(self) -> int:
        """Messages handed out and not yet settled."""
        return len(self._unsettled)
