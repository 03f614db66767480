"""RabbitMQ driver over kombu (``rabbit://``)."""
