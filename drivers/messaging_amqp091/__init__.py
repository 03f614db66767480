"""The AMQP 0-9-1 layer both RabbitMQ drivers share (``rabbit://`` over kombu, ``pika://``).

Client-agnostic, importing neither kombu nor pika:

- :mod:`~messaging_amqp091.options`: the ``[oslo_messaging_rabbit]`` option table;
- :mod:`~messaging_amqp091.topology`: oslo.messaging's exchanges, queues and bindings;
- :mod:`~messaging_amqp091.codec`: bodies (JSON, kombu's compression with the stdlib);
- :mod:`~messaging_amqp091.delivery`, :mod:`~messaging_amqp091.work`: the values a
  connection consumes and carries out;
- :mod:`~messaging_amqp091.connection`: the connection protocol and the bookkeeping
  every connection shares; :mod:`~messaging_amqp091.backlog` (retry budgets,
  deadlines, confirm tracking) and :mod:`~messaging_amqp091.recovery` (failover
  and backoff);
- :mod:`~messaging_amqp091.listener`, :mod:`~messaging_amqp091.reply`: RPC servers,
  notification listeners and the client's reply queue;
- :mod:`~messaging_amqp091.driver`: the driver, given a connection factory.

``messaging_rabbit`` (kombu) and ``messaging_pika`` (pika) add their I/O.
"""
