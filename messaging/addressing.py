"""Where a target's messages go: oslo.messaging's exchange and routing-key rule.

Every driver names things the same way, so that the same target reaches
the same servers on any bus and the AMQP 0-9-1 drivers stay
wire-compatible with oslo.messaging:

===========================  ============================  ========================
message                      exchange                      routing key
===========================  ============================  ========================
call/cast to a topic         ``target.exchange`` or the    ``<topic>``
                             control exchange
call/cast to one server      same                          ``<topic>.<server>``
fanout cast                  ``<topic>_fanout``            ``""``
notification                 same as call/cast             ``<topic>.<priority>``
reply                        the default exchange ``""``   the reply queue name
===========================  ============================  ========================
"""

from __future__ import annotations

from .target import Target

__all__ = ["fanout_exchange", "notification_route", "rpc_route", "server_key"]


def fanout_exchange(topic: str) -> str:
    """The exchange a fanout cast to ``topic`` goes through."""
    return f"{topic}_fanout"


def server_key(topic: str, server: str) -> str:
    """The routing key (and queue name) of one server of ``topic``."""
    return f"{topic}.{server}"


def rpc_route(target: Target, default_exchange: str) -> tuple[str, str]:
    """``(exchange, routing_key)`` of a request to ``target``."""
    topic = target.topic or ""
    if target.fanout:
        return fanout_exchange(topic), ""
    exchange = target.exchange or default_exchange
    return exchange, server_key(topic, target.server) if target.server else topic


def notification_route(target: Target, default_exchange: str) -> tuple[str, str]:
    """``(exchange, routing_key)`` of a notification; ``target.topic`` is ``<topic>.<priority>``."""
    return target.exchange or default_exchange, target.topic or ""
