"""Stream fanout (``rabbit_stream_fanout``): one stream queue per fanout topic.

Without the option every RPC server declares its own ``<topic>_fanout_<id>``
queue bound to the ``<topic>_fanout`` exchange, so a fanout cast is copied
once per server. With it, as in oslo.messaging 18.x, there is a single
queue named ``<topic>_fanout`` with ``x-queue-type: stream`` (and
``x-max-age: <rabbit_transient_queues_ttl>s``, the retention, instead of
``x-expires``), durable, shared by every server of the topic and never
deleted by them. A stream is a log: consuming it does not remove messages;
each consumer says where to start with the ``x-stream-offset`` consumer
argument and every delivery carries its offset in the ``x-stream-offset``
header.

:class:`StreamCursor` is that start position for one server:

- a new consumer starts at ``"next"``: fanout casts sent from now on (oslo
  starts at ``"last"``, the last chunk, which replays up to a chunk of old
  casts to a starting server);
- after a reconnect (the channel and its unsettled deliveries are gone) it
  resumes at the first offset not yet handled: the lowest delivered and
  unsettled one, else last delivered + 1. Offsets handled ahead of that
  point (settled out of order, or settled after the channel went) are
  remembered and skipped when the stream delivers them again, so nothing
  handled is handed to the server twice and nothing unhandled is lost.

RabbitMQ requires consumer acknowledgements and a prefetch
(``rabbit_qos_prefetch_count`` > 0) on a stream, and 3.10 answers a
``basic.reject``/``basic.nack`` on one with channel error 540
NOT_IMPLEMENTED: a stream delivery is always *acked* (an ack only returns
credit, the message stays in the log), whether it ran, was malformed, or
was handed back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from .options import Settings
from .topology import Binding, ExchangeSpec, QueueSpec

__all__ = ["OFFSET_HEADER", "StreamCursor", "check_settings", "offset_of", "stream_cursor",
           "stream_queue_arguments", "stream_queue_name", "stream_queue_spec"]

#: The consumer argument and the delivery header of stream offsets.
OFFSET_HEADER = "x-stream-offset"
#: How many out-of-order handled offsets to keep before pruning below the resume point.
_PRUNE_AT = 1024


def stream_queue_name(topic: str) -> str:
    """``<topic>_fanout``: the same name as the fanout exchange (oslo's)."""
    return f"{topic}_fanout"


def stream_queue_arguments(s: Settings) -> dict[str, Any]:
    """oslo's stream arguments: ``x-queue-type: stream`` and ``x-max-age`` (no other)."""
    args: dict[str, Any] = {"x-queue-type": "stream"}
    if s.rabbit_transient_queues_ttl > 0:
        args["x-max-age"] = f"{s.rabbit_transient_queues_ttl}s"
    return args


def stream_queue_spec(s: Settings, fanout: ExchangeSpec, topic: str) -> QueueSpec:
    """The shared ``<topic>_fanout`` stream, bound to the fanout exchange, with a new cursor.

    Durable and not auto-deleted (RabbitMQ requires both of a stream), not
    owned: no server deletes it when it closes (the others still read it).
    """
    name = stream_queue_name(topic)
    return QueueSpec(name, True, False, stream_queue_arguments(s), (Binding(fanout, topic),),
                     StreamCursor(name), owned=False)


def stream_cursor(spec: QueueSpec) -> StreamCursor | None:
    """The cursor of a stream queue's spec, or None for any other queue."""
    args = spec.consumer_arguments
    return args if isinstance(args, StreamCursor) else None


class StreamCursor(Mapping[str, Any]):
    """Where one server's consumer of stream ``queue`` starts, and what it has handled.

    It is the queue's consumer arguments (a read-only mapping of one key,
    ``x-stream-offset``): a connection reads it each time it consumes the
    queue, i.e. first and after every reconnect, and that read fixes the
    resume point. Offsets delivered on a channel that is gone stay
    pending until the stream delivers them again and they are handled.
    :meth:`delivered` runs on the connection's I/O thread, :meth:`handled`
    on any thread.
    """

    def __init__(self, queue: str, start: str = "next") -> None:
        self.queue = queue
        self._start = start
        self._lock = threading.Lock()
        self._high: int | None = None  # highest offset delivered + 1
        self._pending: set[int] = set()  # delivered, not yet handled
        self._done: set[int] = set()  # handled, and a consume may deliver them again
        self._consumed_at: int | None = None  # the offset the current consumer started at
        self._since: int | None = None  # highest offset delivered since then
        #: deliveries skipped because their offset had been handled (a replay avoided)
        self.skipped = 0
        #: how many times the queue was consumed (1 + reconnects)
        self.consumes = 0

    # Mapping: the consumer arguments -----------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key != OFFSET_HEADER:
            raise KeyError(key)
        with self._lock:
            self.consumes += 1
            offset = self._resume_locked()
            self._consumed_at = offset if isinstance(offset, int) else None
            self._since = None
            return offset

    def __iter__(self) -> Iterator[str]:
        return iter((OFFSET_HEADER,))

    def __len__(self) -> int:
        return 1

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:  # identity: comparing must not read the offset
        return self is other

    def _resume_locked(self) -> int | str:
        if self._high is None:
            return self._start
        return min(self._pending) if self._pending else self._high

    def _may_come_again(self, offset: int) -> bool:
        """Could a consumer still deliver ``offset`` (the current one, or one after a reconnect)?"""
        floor = self._resume_locked()
        if isinstance(floor, int) and offset >= floor:
            return True
        return (self._consumed_at is not None and offset >= self._consumed_at
                and (self._since is None or offset > self._since))

    # Deliveries ----------------------------------------------------------------

    @property
    def resume_offset(self) -> int | str:
        """Where a consume would start now (the ``x-stream-offset`` it would send)."""
        with self._lock:
            return self._resume_locked()

    def delivered(self, offset: int) -> bool:
        """Record a delivery; False if its offset was handled already (skip it, ack it)."""
        with self._lock:
            if self._since is None or offset > self._since:
                self._since = offset
            if offset in self._done:
                self.skipped += 1
                return False
            self._pending.add(offset)
            if self._high is None or offset >= self._high:
                self._high = offset + 1
            return True

    def handled(self, offset: int) -> None:
        """The delivery at ``offset`` ran or was settled for good: never deliver it again."""
        with self._lock:
            self._pending.discard(offset)
            if self._may_come_again(offset):
                self._done.add(offset)
            if len(self._done) > _PRUNE_AT:
                self._done = {o for o in self._done if self._may_come_again(o)}

    def __repr__(self) -> str:
        return (f"StreamCursor({self.queue!r}, resume={self.resume_offset!r}, "
                f"consumes={self.consumes}, skipped={self.skipped})")


def offset_of(headers: Mapping[str, Any] | None) -> int | None:
    """The ``x-stream-offset`` header of a delivery, or None."""
    if not headers:
        return None
    value = headers.get(OFFSET_HEADER)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_settings(s: Settings) -> str | None:
    """Why ``s`` cannot use stream fanout, or None (the driver refuses the URL with it)."""
    if not s.rabbit_stream_fanout:
        return None
    if s.rabbit_qos_prefetch_count <= 0:
        return ("rabbit_stream_fanout needs rabbit_qos_prefetch_count > 0: RabbitMQ only "
                "lets a consumer with a prefetch limit read a stream")
    if not s.rabbit_transient_quorum_queue:
        return ("rabbit_stream_fanout needs rabbit_transient_quorum_queue = true: the "
                "stream is durable, so its <topic>_fanout exchange must be too, as "
                "oslo.messaging declares it with these options")
    return None
