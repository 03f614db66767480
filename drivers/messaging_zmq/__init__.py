"""ZeroMQ driver over pyzmq (``zmq://``, ``zmq+redis://``): brokerless RPC and notifications.

Servers bind their own sockets and register their addresses in a
matchmaker; clients look the addresses up and connect straight to them.
See :mod:`messaging_zmq.driver` and ``doc/zmq.md``.
"""
