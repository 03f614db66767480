"""Exchanges, queues and bindings exactly as oslo.messaging's rabbit driver declares them.

RabbitMQ refuses to re-declare an object with other flags or arguments
(406 PRECONDITION_FAILED), so a service using this library and one using
oslo.messaging can only share a broker if both declare the same thing. The
specs below are built from :class:`~messaging_amqp091.options.Settings` the
way oslo 18.x builds them (``impl_rabbit.Consumer``/``_get_queue_arguments``,
``topic_send``, ``fanout_send``, ``notify_send``). They are plain data: each
driver's connection puts them on a channel with its own client library.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from messaging import addressing

from .options import Settings

__all__ = [
    "Binding",
    "DurableMismatch",
    "ExchangeSpec",
    "QueueSpec",
    "control_exchange",
    "durable_mismatch",
    "exchange_durability",
    "fanout_exchange",
    "merge_bindings",
    "notification_queue",
    "reply_queue",
    "rpc_server_queues",
]

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExchangeSpec:
    """An exchange to declare; the name ``''`` (default exchange) is never declared."""

    name: str
    type: str
    durable: bool
    auto_delete: bool


@dataclass(frozen=True)
class Binding:
    """A binding of a queue to an exchange with a routing key."""

    exchange: ExchangeSpec
    routing_key: str


@dataclass(frozen=True)
class QueueSpec:
    """A queue to declare, its bindings and the arguments of a consumer on it.

    ``owned`` queues (fanout queues) are private to one server and deleted
    when it closes, as oslo does.
    """

    name: str
    durable: bool
    auto_delete: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)
    bindings: tuple[Binding, ...] = ()
    consumer_arguments: Mapping[str, Any] | None = None
    owned: bool = False


class DurableMismatch(Exception):
    """A durable exchange was refused because it exists non-durable; retry non-durable.

    oslo.messaging falls back the same way so that services that disagree on
    ``amqp_durable_queues`` can still share the control exchange. Declaring
    on the channel failed and closed it: the caller opens a new channel and
    declares again (:func:`declare_exchange` then uses the recorded override).
    """

    def __init__(self, exchange: str) -> None:
        super().__init__(f"exchange {exchange!r} exists non-durable")
        self.exchange = exchange


def _queue_arguments(s: Settings, *, ttl: int, quorum: bool) -> dict[str, Any]:
    """oslo's ``_get_queue_arguments`` (a stream's: :func:`.streams.stream_queue_arguments`)."""
    args: dict[str, Any] = {}
    if s.rabbit_ha_queues:
        args["x-ha-policy"] = "all"
    if quorum:
        args["x-queue-type"] = "quorum"
        if s.rabbit_quorum_delivery_limit:
            args["x-delivery-limit"] = s.rabbit_quorum_delivery_limit
        if s.rabbit_quorum_max_memory_length:
            args["x-max-in-memory-length"] = s.rabbit_quorum_max_memory_length
        if s.rabbit_quorum_max_memory_bytes:
            args["x-max-in-memory-bytes"] = s.rabbit_quorum_max_memory_bytes
    if ttl > 0:
        args["x-expires"] = ttl * 1000
    return args


def _consumer_arguments(s: Settings) -> dict[str, Any] | None:
    return {"x-cancel-on-ha-failover": True} if s.enable_cancel_on_failover else None


def control_exchange(s: Settings, name: str) -> ExchangeSpec:
    """The topic exchange that calls, casts and notifications go through (``openstack``)."""
    return ExchangeSpec(name, "topic", s.durable, s.amqp_auto_delete)


def fanout_exchange(s: Settings, topic: str) -> ExchangeSpec:
    """``<topic>_fanout``: auto-deleted when its last queue goes."""
    return ExchangeSpec(addressing.fanout_exchange(topic), "fanout",
                        s.rabbit_transient_quorum_queue, True)


def _topic_queue(s: Settings, exchange: ExchangeSpec, routing_key: str,
                 queue_name: str | None = None) -> QueueSpec:
    return QueueSpec(queue_name or routing_key, s.durable, s.amqp_auto_delete,
                     _queue_arguments(s, ttl=0, quorum=s.rabbit_quorum_queue),
                     (Binding(exchange, routing_key),), _consumer_arguments(s))


def rpc_server_queues(s: Settings, exchange_name: str, topic: str, server: str,
                      fanout_suffix: str | None = None) -> list[QueueSpec]:
    """The three queues of an RPC server: ``T`` (shared), ``T.S`` and its fanout queue.

    The fanout queue is the server's own ``T_fanout_<uuid hex>``, deleted
    when it closes; ``T_fanout_<fanout_suffix>`` (``use_queue_manager``),
    left to expire; or, with ``rabbit_stream_fanout``, the stream ``T_fanout``
    shared by every server (:mod:`messaging_amqp091.streams`).
    """
    exchange = control_exchange(s, exchange_name)
    fanout = fanout_exchange(s, topic)
    transient = s.rabbit_transient_quorum_queue
    if s.rabbit_stream_fanout:
        from .streams import stream_queue_spec

        fanout_queue = stream_queue_spec(s, fanout, topic)
    else:
        fanout_queue = QueueSpec(
            f"{fanout.name}_{fanout_suffix or uuid.uuid4().hex}", transient, False,
            _queue_arguments(s, ttl=s.rabbit_transient_queues_ttl, quorum=transient),
            (Binding(fanout, topic),), _consumer_arguments(s), owned=fanout_suffix is None)
    return [
        _topic_queue(s, exchange, topic),
        _topic_queue(s, exchange, addressing.server_key(topic, server)),
        fanout_queue,
    ]


def reply_queue(s: Settings, name: str) -> QueueSpec:
    """A client's ``reply_<hex>`` queue, reached through the default exchange."""
    transient = s.rabbit_transient_quorum_queue
    return QueueSpec(name, transient, False,
                     _queue_arguments(s, ttl=s.rabbit_transient_queues_ttl, quorum=transient),
                     (), _consumer_arguments(s))


def notification_queue(s: Settings, exchange_name: str, routing_key: str,
                       queue_name: str | None = None) -> QueueSpec:
    """``<topic>.<priority>`` (or a pool's queue) bound to the control exchange.

    Declared by publishers too, so notifications wait for their first listener.
    """
    return _topic_queue(s, control_exchange(s, exchange_name), routing_key, queue_name)


def merge_bindings(specs: list[QueueSpec]) -> list[QueueSpec]:
    """Fold specs naming the same queue into one with all their bindings (pools)."""
    merged: dict[str, QueueSpec] = {}
    for spec in specs:
        prev = merged.get(spec.name)
        if prev is None:
            merged[spec.name] = spec
        else:
            extra = tuple(b for b in spec.bindings if b not in prev.bindings)
            merged[spec.name] = QueueSpec(prev.name, prev.durable, prev.auto_delete,
                                          prev.arguments, prev.bindings + extra,
                                          prev.consumer_arguments, prev.owned)
    return list(merged.values())


def exchange_durability(spec: ExchangeSpec, overrides: Mapping[str, bool]) -> bool:
    """The durability to declare ``spec`` with: the one that worked before, if any.

    ``overrides`` maps exchange names to the durability a refusal taught
    (see :class:`DurableMismatch` and :func:`durable_mismatch`).
    """
    return overrides.get(spec.name, spec.durable)


def durable_mismatch(spec: ExchangeSpec, durable: bool, reply_text: str,
                     overrides: MutableMapping[str, bool]) -> DurableMismatch | None:
    """If declaring ``spec`` durable was refused because it exists non-durable, learn it.

    ``reply_text`` is the broker's text of the 406 PRECONDITION_FAILED. Returns
    the :class:`DurableMismatch` to raise (and records the override), or None
    when the refusal is about something else.
    """
    if durable and "inequivalent arg 'durable'" in reply_text:
        LOG.warning("Exchange %s exists non-durable; declaring it non-durable as other "
                    "services do", spec.name)
        overrides[spec.name] = False
        return DurableMismatch(spec.name)
    return None
