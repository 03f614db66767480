"""pika:// and rabbit:// (kombu) on one broker: the same wire, so they serve each other.

Each test runs with either driver as ``ours`` and the other one as
``other``: a client of one calls, casts and fans out to a server of the
other, both share a topic (RabbitMQ would refuse any difference in the
declared queues: 406), and notifications cross both ways.
"""

from __future__ import annotations

import threading

import pytest

import messaging
from messaging.notify import Notifier, get_notification_listener

pytestmark = pytest.mark.rabbit


class _Endpoint:
    def __init__(self, name: str) -> None:
        self.name = name
        self.casts: list[object] = []
        self.lock = threading.Lock()

    def add(self, ctxt, a, b):
        return {"sum": a + b, "server": self.name, "user": ctxt.get("user")}

    def note(self, ctxt, value):
        with self.lock:
            self.casts.append(value)

    def fail(self, ctxt, text):
        raise ValueError(text)

    def slow(self, ctxt, seconds):
        threading.Event().wait(seconds)
        return "slow done"


def test_a_client_of_one_driver_calls_casts_and_fans_out_to_a_server_of_the_other(
        transport, other_transport, running, wait, topic):
    theirs = _Endpoint("other")
    running(messaging.get_rpc_server(other_transport, messaging.Target(topic=topic, server="o"),
                                     [theirs], executor="threading"))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    assert client.call({"user": "ann"}, "add", a=1, b=2) == {"sum": 3, "server": "other",
                                                              "user": "ann"}
    assert client.prepare(server="o").call({}, "add", a=2, b=2)["sum"] == 4
    with pytest.raises(ValueError, match="refused there"):
        client.call({}, "fail", text="refused there")
    client.cast({}, "note", value="cast")
    client.prepare(fanout=True).cast({}, "note", value="fanout")
    wait(lambda: sorted(theirs.casts) == ["cast", "fanout"], what="the cast and the fanout")
    monitored = client.prepare(timeout=15, call_monitor_timeout=2)
    assert monitored.call({}, "slow", seconds=3.0) == "slow done"


def test_servers_of_both_drivers_share_one_topic(transport, other_transport, running, wait,
                                                 topic):
    mine, theirs = _Endpoint("ours"), _Endpoint("other")
    running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="a"),
                                     [mine], executor="threading"))
    running(messaging.get_rpc_server(other_transport, messaging.Target(topic=topic, server="b"),
                                     [theirs], executor="threading"))
    clients = [messaging.get_rpc_client(t, messaging.Target(topic=topic), timeout=10)
               for t in (transport, other_transport)]
    answered = {c.call({}, "add", a=1, b=1)["server"] for c in clients for _ in range(20)}
    assert answered == {"ours", "other"}
    clients[0].prepare(fanout=True).cast({}, "note", value="all")
    wait(lambda: mine.casts == ["all"] and theirs.casts == ["all"], what="fanout to both")


class _Listener:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, object]] = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.append((publisher_id, event_type, payload))


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_notifications_cross_both_ways(notification_transport, other_notification_transport,
                                       running, wait, topic, driver):
    for way, (source, sink) in enumerate(((notification_transport, other_notification_transport),
                                          (other_notification_transport, notification_transport))):
        listener = _Listener()
        running(get_notification_listener(sink, [messaging.Target(topic=f"{topic}_{way}")],
                                          [listener], executor="threading"))
        Notifier(source, publisher_id="p1", driver=driver, topics=[f"{topic}_{way}"]).info(
            {}, "thing.done", {"n": way})
        wait(lambda lst=listener: lst.seen, what="the notification")
        assert listener.seen == [("p1", "thing.done", {"n": way})]
