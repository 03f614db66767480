"""RabbitMQ driver over kombu (``rabbit://``, alias ``kombu://``).

Wire-compatible with oslo.messaging 18.x's rabbit driver, with a dedicated
I/O thread per connection, native futures, pipelined publisher confirms,
calls and sends bounded in time (``send_timeout``), a background ``listen``
and automatic re-declaration after reconnects. See :mod:`messaging_rabbit.driver`;
:mod:`messaging_rabbit.backlog` and :mod:`messaging_rabbit.recovery` hold the
client-agnostic policy (budgets, deadlines, confirms; failover and backoff).
"""
