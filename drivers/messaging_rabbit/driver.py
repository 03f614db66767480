"""``rabbit://`` (alias ``kombu://``): RabbitMQ over kombu/py-amqp, wire-compatible with oslo.

Everything but the I/O is the shared AMQP 0-9-1 driver
(:class:`messaging_amqp091.driver.Amqp091Driver`); this driver builds its
connections with :class:`~messaging_rabbit.connection.KombuConnection`.
"""

from __future__ import annotations

from typing import ClassVar

from messaging_amqp091.connection import ConnectionFactory
from messaging_amqp091.driver import Amqp091Driver

from .connection import KombuConnection

__all__ = ["RabbitDriver"]


class RabbitDriver(Amqp091Driver):
    """The RabbitMQ driver over kombu; thread-safe, one per transport."""

    connection_factory: ClassVar[ConnectionFactory] = KombuConnection
    client_library: ClassVar[str | None] = "kombu"
