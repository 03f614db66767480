"""Kit: ``call`` returns the endpoint's result, with context and JSON arguments intact."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import running_server


class Echo:
    def echo(self, ctxt, value):
        return value

    def context(self, ctxt):
        return ctxt

    def add(self, ctxt, a, b):
        return a + b


@pytest.mark.parametrize("executor", ["threading", "blocking"])
def test_call_returns_result(api, transport, topic, executor):
    target = messaging.Target(topic=topic, server="s1")
    server = api.get_rpc_server(transport, target, [Echo()], executor=executor)
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "add", a=2, b=3) == 5


def test_call_round_trips_json_values(api, transport, topic):
    value = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"k": {"x": "y"}}}
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [Echo()])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value=value) == value


def test_call_passes_context(api, transport, topic):
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [Echo()])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        got = client.call({"user": "alice", "request_id": "req-1"}, "context")
        assert got["user"] == "alice" and got["request_id"] == "req-1"


def test_many_sequential_calls(api, transport, topic):
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [Echo()])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert [client.call({}, "echo", value=i) for i in range(50)] == list(range(50))


def test_unserializable_argument_is_refused(api, transport, topic):
    client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=2)
    with pytest.raises(messaging.SerializationError):
        client.cast({}, "echo", value=object())
