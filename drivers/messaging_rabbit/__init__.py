"""RabbitMQ driver over kombu (``rabbit://``, alias ``kombu://``).

Wire-compatible with oslo.messaging 18.x's rabbit driver, with a dedicated
I/O thread per connection, pipelined publisher confirms, bounded calls and
automatic re-declaration after reconnects. See :mod:`messaging_rabbit.driver`.
"""
