"""A listener on a URL whose first hosts are dead fails over to a live one before listen() returns.

The hosts of a URL are a failover list. An RPC server or notification
listener whose connection starts at a dead host (a loopback port that was
bound and closed: connection refused) must have tried the next hosts, and be
consuming from the live one, when ``listen()`` returns: a request sent right
after ``start()`` then reaches its queue (on RabbitMQ a request to a queue
that does not exist yet is dropped, so a late server loses it). Only when a
whole pass over the hosts failed does listen() give up waiting and return,
not consuming, naming why.

Every connection of a transport starts at the next host of the URL, so the
tests open as many listeners as the URL has hosts: one of them starts at
each host, the dead ones included.
"""

from __future__ import annotations

import socket
import time

import pytest

import messaging
from messaging.testing.helpers import running_server

_QUERY = "connection_retry_interval=0.2&connection_retry_backoff=0"
#: Longest a call to a server behind dead hosts may take (it takes milliseconds when it works).
_CALL_BOUND = 10.0


def _dead_ports(count: int) -> list[int]:
    """Distinct loopback ports nothing listens on (bound together, then closed)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _url(ports: list[int]) -> str:
    hosts = ",".join(f"guest:guest@127.0.0.1:{port}" for port in ports)
    return f"amqp://{hosts}/?{_QUERY}"


class Echo:
    def echo(self, ctxt, value):
        return value


def test_rpc_servers_behind_dead_hosts_answer_a_call_made_right_after_start(
        make_transport, node, topic):
    ports = [*_dead_ports(2), node.port]
    servers_transport = make_transport(url_=_url(ports))
    # The caller is already connected, so its request goes out at once after start().
    caller = make_transport(url_=f"amqp://guest:guest@127.0.0.1:{node.port}/")
    warm = messaging.get_rpc_client(caller, messaging.Target(topic=f"{topic}_warm"),
                                    timeout=0.5)
    with pytest.raises(messaging.MessagingTimeout):
        warm.call({}, "nobody")
    for n in range(len(ports)):  # one server starts at each host of the URL
        name = f"s{n}"
        server = messaging.get_rpc_server(
            servers_transport, messaging.Target(topic=topic, server=name), [Echo()])
        with running_server(server):
            client = messaging.get_rpc_client(
                caller, messaging.Target(topic=topic, server=name), timeout=_CALL_BOUND)
            start = time.monotonic()
            assert client.call({}, "echo", value=n) == n
            assert time.monotonic() - start < _CALL_BOUND


def test_listeners_behind_dead_hosts_consume_when_listen_returns(make_transport, node, topic):
    ports = [*_dead_ports(2), node.port]
    transport = make_transport(url_=_url(ports))
    listeners = []
    try:
        for n in range(len(ports)):
            start = time.monotonic()
            listeners.append(transport.listen(messaging.Target(topic=topic, server=f"s{n}")))
            listeners.append(transport.listen_for_notifications(
                [(messaging.Target(topic=f"{topic}_n{n}"), "info")]))
            assert time.monotonic() - start < 20
        assert [listener.consuming for listener in listeners] == [True] * len(listeners)
    finally:
        for listener in listeners:
            listener.cleanup()


def test_notifications_reach_a_listener_behind_dead_hosts(make_transport, node, topic):
    ports = [*_dead_ports(2), node.port]
    transport = make_transport(url_=_url(ports))
    notifier_transport = make_transport(url_=f"amqp://guest:guest@127.0.0.1:{node.port}/")
    got: list[object] = []

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            got.append(payload)

    notifier = messaging.Notifier(notifier_transport, publisher_id="p", driver="messagingv2",
                                  topics=[topic])
    for n in range(len(ports)):
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic)], [Endpoint()])
        with running_server(listener):
            notifier.info({}, "e", n)
            deadline = time.monotonic() + _CALL_BOUND
            while n not in got and time.monotonic() < deadline:
                time.sleep(0.02)
            assert n in got


def test_listen_gives_up_after_a_whole_pass_over_dead_hosts(make_transport, topic):
    transport = make_transport(url_=_url(_dead_ports(3)))
    start = time.monotonic()
    listener = transport.listen(messaging.Target(topic=topic, server="s1"))
    try:
        assert time.monotonic() - start < 5  # refused at once: no waiting for connect_timeout
        assert not listener.consuming
        assert "refused" in (listener.last_error or "").lower()
    finally:
        listener.cleanup()
