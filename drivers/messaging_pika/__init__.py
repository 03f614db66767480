"""RabbitMQ driver over pika (``pika://``), on the same wire as ``rabbit://`` and oslo.messaging.

The driver, its options, topology, listeners, replies and recovery policy
are the shared AMQP 0-9-1 layer (:mod:`messaging_amqp091`); this package
holds only pika's I/O (:mod:`messaging_pika.connection`: one
``SelectConnection`` ioloop thread per connection) and the classification of
pika's errors (:mod:`messaging_pika.errors`). It does not need kombu.
"""
