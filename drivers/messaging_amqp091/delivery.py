"""One message as a consumer receives it, whatever the AMQP client library.

Connections turn their client's message object into a :class:`Delivery`
before handing it to a :class:`~messaging_amqp091.work.Subscription`'s
callback, so listeners and the reply queue never see py-amqp or pika types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery"]


@dataclass(slots=True)
class Delivery:
    """A received message: its bytes, application headers and where it came from.

    :param delivery_tag: the channel's tag, used to settle it (on the
        channel it came from: see the connection's ``ack``/``reject``).
    :param queue: the queue it was consumed from (a stream's deliveries are
        settled differently).
    """

    body: bytes
    headers: dict[str, Any] | None
    delivery_tag: int
    exchange: str
    routing_key: str
    queue: str = ""
