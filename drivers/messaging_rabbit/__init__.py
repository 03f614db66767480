"""RabbitMQ driver over kombu (``rabbit://``, alias ``kombu://``).

Wire-compatible with oslo.messaging 18.x's rabbit driver. The driver itself,
its options, topology, listeners, replies and recovery policy are the shared
AMQP 0-9-1 layer (:mod:`messaging_amqp091`); this package holds only kombu's
I/O loop and connect code (:mod:`messaging_rabbit.connection`) and the
classification of kombu's and py-amqp's errors (:mod:`messaging_rabbit.errors`).
"""
