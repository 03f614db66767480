"""Kit: fanout casts reach every server of a topic; a fanout call is refused."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server


class Collect:
    def __init__(self, name: str, seen: Recorder) -> None:
        self.name = name
        self.seen = seen

    def test(self, ctxt, arg):
        self.seen.add((self.name, arg))
        return arg


def test_fanout_cast_reaches_every_server(api, transport, topic):
    if not transport.capabilities.fanout:
        pytest.skip("driver declares no fanout")
    seen = Recorder()
    servers = [api.get_rpc_server(transport, messaging.Target(topic=topic, server=n),
                                  [Collect(n, seen)]) for n in ("s1", "s2", "s3")]
    with running_server(servers[0]), running_server(servers[1]), running_server(servers[2]):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))
        client.cast({}, "test", arg="hello")
        got = seen.wait_count(3)
        assert sorted(got) == [("s1", "hello"), ("s2", "hello"), ("s3", "hello")]


def test_call_with_fanout_is_invalid(api, transport, topic):
    client = api.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))
    with pytest.raises(messaging.InvalidTarget):
        client.call({}, "test", arg=1)


def test_send_without_topic_is_invalid(api, transport):
    client = api.get_rpc_client(transport, messaging.Target())
    with pytest.raises(messaging.InvalidTarget):
        client.cast({}, "test")
