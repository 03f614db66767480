"""AMQP 1.0 driver over python-qpid-proton (``amqp://``, ``amqps://``).

Tested against RabbitMQ 3.10 with its AMQP 1.0 plugin; a Qpid-style
address profile follows the specification. See :mod:`messaging_amqp1.driver`.
"""

from __future__ import annotations

__all__: list[str] = []
