"""``pika://``: RabbitMQ over pika, on the same wire as the kombu driver and oslo.messaging.

It reads the same ``[oslo_messaging_rabbit]`` options (and URL query) as
``rabbit://`` and declares exactly the same exchanges, queues and
arguments with the same envelope: everything but the I/O is the shared
AMQP 0-9-1 driver (:class:`messaging_amqp091.driver.Amqp091Driver`). So a
``pika://`` client calls a ``rabbit://`` or oslo.messaging server and the
reverse, and notifications cross both ways. Connections are
:class:`~messaging_pika.connection.PikaConnection`: one ``SelectConnection``
ioloop thread each. Installing ``messaging[pika]`` needs no kombu.
"""

from __future__ import annotations

from typing import ClassVar

from messaging_amqp091.connection import ConnectionFactory
from messaging_amqp091.driver import Amqp091Driver

from .connection import PikaConnection

__all__ = ["PikaDriver"]


class PikaDriver(Amqp091Driver):
    """The RabbitMQ driver over pika; thread-safe, one per transport."""

    connection_factory: ClassVar[ConnectionFactory] = PikaConnection
    client_library: ClassVar[str | None] = "pika"
