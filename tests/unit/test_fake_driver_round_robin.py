"""fake:// spreads a topic's casts over its servers round-robin, as RabbitMQ does."""

from __future__ import annotations

import threading

import messaging
from messaging.testing.helpers import Recorder


class _Endpoint:
    def __init__(self, name: str, seen: Recorder) -> None:
        self.name = name
        self.seen = seen

    def work(self, ctxt, n):
        self.seen.add((self.name, n))


def test_casts_to_a_topic_go_to_its_servers_in_turn(transport):
    seen = Recorder()
    names = ("s0", "s1", "s2")
    servers = [messaging.get_rpc_server(transport, messaging.Target(topic="rr", server=name),
                                        [_Endpoint(name, seen)]) for name in names]
    for server in servers:  # subscription order is the round-robin order
        server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="rr"))
        for n in range(30):
            client.cast({}, "work", n=n)
        got = seen.wait_count(30)
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
    by_server = {name: sorted(n for s, n in got if s == name) for name in names}
    assert by_server == {name: list(range(i, 30, 3)) for i, name in enumerate(names)}


def test_a_busy_server_still_gets_its_turn(transport):
    """RabbitMQ (no prefetch limit, oslo's default) does not skip a busy consumer."""
    seen = Recorder()
    release = threading.Event()

    class Slow(_Endpoint):
        def work(self, ctxt, n):
            super().work(ctxt, n)
            assert release.wait(10)

    servers = [
        messaging.get_rpc_server(transport, messaging.Target(topic="busy", server="slow"),
                                 [Slow("slow", seen)], executor="blocking"),
        messaging.get_rpc_server(transport, messaging.Target(topic="busy", server="fast"),
                                 [_Endpoint("fast", seen)], executor="blocking"),
    ]
    for server in servers:
        server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="busy"))
        for n in range(4):
            client.cast({}, "work", n=n)
        early = seen.wait_count(3)  # slow holds 0; fast did 1 and 3; 2 waits for slow
        release.set()
        got = seen.wait_count(4)
    finally:
        release.set()
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
    assert sorted(early) == [("fast", 1), ("fast", 3), ("slow", 0)]
    assert sorted(got) == [("fast", 1), ("fast", 3), ("slow", 0), ("slow", 2)]
