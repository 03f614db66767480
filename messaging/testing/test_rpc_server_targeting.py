"""Kit: a call naming a server is answered by that server, and competing servers share a topic."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server


class Who:
    def __init__(self, name: str, seen: Recorder | None = None) -> None:
        self.name = name
        self.seen = seen

    def whoami(self, ctxt, n=0):
        if self.seen is not None:
            self.seen.add((self.name, n))
        return self.name


def test_call_to_named_server(api, transport, topic):
    servers = [api.get_rpc_server(transport, messaging.Target(topic=topic, server=n),
                                  [Who(n)]) for n in ("s1", "s2")]
    with running_server(servers[0]), running_server(servers[1]):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        for name in ("s1", "s2", "s1", "s2"):
            assert client.prepare(server=name).call({}, "whoami") == name


def test_competing_servers_each_request_handled_once(api, transport, topic):
    if not transport.capabilities.competing_consumers:
        pytest.skip("driver declares no competing consumers")
    seen = Recorder()
    servers = [api.get_rpc_server(transport, messaging.Target(topic=topic, server=n),
                                  [Who(n, seen)]) for n in ("s1", "s2")]
    with running_server(servers[0]), running_server(servers[1]):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        answers = [client.call({}, "whoami", n=i) for i in range(40)]
        got = seen.wait_count(40)
        assert sorted(n for _, n in got) == list(range(40))  # each exactly once
        assert set(answers) <= {"s1", "s2"}
