"""Kit: ``cast`` is delivered once and does not wait for the endpoint."""

from __future__ import annotations

import threading

import messaging
from messaging.testing.helpers import Recorder, running_server


class Blocking:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.done = Recorder()

    def work(self, ctxt, arg):
        self.started.set()
        self.release.wait(30)
        self.done.add(arg)


def test_cast_is_delivered(api, transport, topic):
    endpoint = Blocking()
    endpoint.release.set()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic))
        assert client.cast({}, "work", arg="x") is None
        assert endpoint.done.wait_count(1) == ["x"]


def test_cast_returns_before_endpoint_finishes(api, transport, topic):
    endpoint = Blocking()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic))
        client.cast({}, "work", arg="slow")
        assert endpoint.started.wait(10), "endpoint never started"
        assert endpoint.done.items == []  # cast already returned while the endpoint blocks
        endpoint.release.set()
        assert endpoint.done.wait_count(1) == ["slow"]


def test_cast_to_server_reaches_only_that_server(api, transport, topic):
    a, b = Blocking(), Blocking()
    a.release.set()
    b.release.set()
    sa = api.get_rpc_server(transport, messaging.Target(topic=topic, server="a"), [a])
    sb = api.get_rpc_server(transport, messaging.Target(topic=topic, server="b"), [b])
    with running_server(sa), running_server(sb):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic, server="b"))
        for i in range(5):
            client.cast({}, "work", arg=i)
        assert sorted(b.done.wait_count(5)) == [0, 1, 2, 3, 4]
        assert a.done.items == []
