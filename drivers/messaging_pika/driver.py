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

from typing import Any, ClassVar

from messaging_amqp091.connection import ConnectionFactory
from messaging_amqp091.driver import Amqp091Driver

from messaging.exceptions import InvalidTransportURL
from messaging.url import TransportURL

from .connection import PikaConnection
from .logs import quiet_attempt_records

__all__ = ["PikaDriver"]


class PikaDriver(Amqp091Driver):
    """The RabbitMQ driver over pika; thread-safe, one per transport."""

    connection_factory: ClassVar[ConnectionFactory] = PikaConnection
    client_library: ClassVar[str | None] = "pika"

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        super().__init__(conf, url, default_exchange)
        if self.settings.rabbit_login_method == "RABBIT-CR-DEMO":  # refused before any use
            raise InvalidTransportURL(url.render(mask=True), "rabbit_login_method "
                                      "RABBIT-CR-DEMO is not supported by the pika driver")
        quiet_attempt_records()
