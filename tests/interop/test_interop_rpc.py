"""RPC both ways between oslo.messaging 18.x and this library over RabbitMQ."""

from __future__ import annotations

import threading
import time

import pytest

import messaging

pytestmark = pytest.mark.rabbit


class _Endpoint:
    """The same endpoint for both libraries' servers."""

    def __init__(self, name: str, target: object = None) -> None:
        self.name = name
        self.casts: list[object] = []
        self.event = threading.Event()
        if target is not None:
            self.target = target

    def add(self, ctxt, a, b):
        return {"sum": a + b, "server": self.name, "user": ctxt.get("user")}

    def note(self, ctxt, value):
        self.casts.append(value)
        self.event.set()

    def fail(self, ctxt, text):
        raise ValueError(text)

    def slow(self, ctxt, seconds):
        time.sleep(seconds)
        return "slow done"


def test_an_oslo_client_calls_and_casts_our_server(oslo, oslo_transport, transport, running,
                                                   wait, topic):
    ours = _Endpoint("ours", messaging.Target(namespace="calc", version="1.3"))
    running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                     [ours], executor="threading"))
    client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic, namespace="calc",
                                                             version="1.1"), timeout=10)
    assert client.call({"user": "alice"}, "add", a=2, b=3) == {"sum": 5, "server": "ours",
                                                                 "user": "alice"}
    client.cast({}, "note", value="cast!")
    wait(lambda: ours.casts == ["cast!"], what="the cast")
    with pytest.raises(ValueError, match="no good"):
        client.call({}, "fail", text="no good")
    with pytest.raises(oslo.MessagingException):
        client.prepare(version="2.0").call({}, "add", a=1, b=1)  # UnsupportedVersion remotely


def test_an_oslo_client_fans_out_and_targets_one_of_our_servers(
        oslo, oslo_transport, transport, running, wait, topic):
    servers = [_Endpoint(f"s{i}") for i in range(2)]
    for i, endpoint in enumerate(servers):
        running(messaging.get_rpc_server(transport, messaging.Target(topic=topic,
                                                                     server=f"s{i}"),
                                         [endpoint], executor="threading"))
    client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=10)
    client.prepare(fanout=True).cast({}, "note", value="everyone")
    wait(lambda: all(e.casts == ["everyone"] for e in servers), what="fanout to both")
    for _ in range(3):
        assert client.prepare(server="s1").call({}, "add", a=1, b=1)["server"] == "s1"


def test_an_oslo_call_monitor_is_fed_by_our_heartbeats(oslo, oslo_transport, transport,
                                                       running, topic):
    running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                     [_Endpoint("ours")], executor="threading"))
    client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=15,
                                 call_monitor_timeout=2)
    assert client.call({}, "slow", seconds=3.0) == "slow done"


def test_our_client_calls_and_casts_an_oslo_server(oslo, oslo_transport, transport, running,
                                                   wait, topic):
    theirs = _Endpoint("oslo", oslo.Target(namespace="calc", version="1.3"))
    running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="o1"),
                                [theirs], executor="threading"))
    client = messaging.get_rpc_client(transport, messaging.Target(
        topic=topic, namespace="calc", version="1.2"), timeout=10)
    assert client.call({"user": "bob"}, "add", a=20, b=22) == {"sum": 42, "server": "oslo",
                                                                "user": "bob"}
    client.cast({}, "note", value=1)
    wait(lambda: theirs.casts == [1], what="the cast")
    with pytest.raises(ValueError, match="theirs failed"):
        client.call({}, "fail", text="theirs failed")
    assert client.prepare(server="o1").call({}, "add", a=1, b=2)["sum"] == 3
    client.prepare(fanout=True).cast({}, "note", value=2)
    wait(lambda: theirs.casts == [1, 2], what="the fanout cast")
    monitored = client.prepare(timeout=15, call_monitor_timeout=2)
    assert monitored.call({}, "slow", seconds=3.0) == "slow done"


def test_oslo_and_our_servers_share_one_topic(oslo, oslo_transport, transport, running, wait,
                                              topic):
    # Same queues declared by both: RabbitMQ would refuse any difference (406).
    ours, theirs = _Endpoint("ours"), _Endpoint("oslo")
    running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="a"),
                                     [ours], executor="threading"))
    running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="b"),
                                [theirs], executor="threading"))
    oslo_client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=10)
    our_client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    answered = {oslo_client.call({}, "add", a=1, b=1)["server"] for _ in range(20)}
    answered |= {our_client.call({}, "add", a=1, b=1)["server"] for _ in range(20)}
    assert answered == {"ours", "oslo"}
    our_client.prepare(fanout=True).cast({}, "note", value="all")
    wait(lambda: ours.casts == ["all"] and theirs.casts == ["all"], what="fanout to both")
