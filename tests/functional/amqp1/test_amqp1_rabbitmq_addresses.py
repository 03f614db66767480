"""The RabbitMQ address profile on a real node: chosen from the peer, names on the broker."""

from __future__ import annotations

import uuid

from amqp1_broker import queue_names

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for


class Echo:
    def __init__(self, name: str = "", seen: Recorder | None = None) -> None:
        self.name = name
        self.seen = seen

    def echo(self, ctxt, value):
        if self.seen is not None:
            self.seen.add((self.name, value))
        return self.name or value


def test_the_peer_is_recognised_as_rabbitmq(transport, topic):
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value=1) == 1
    assert transport.driver.client_profile == "rabbitmq"


def test_server_queues_are_named_by_exchange_topic_and_server(transport, node, topic):
    target = messaging.Target(topic=topic, server="s1", exchange="ex_a")
    server = messaging.get_rpc_server(transport, target, [Echo()])
    with running_server(server):
        names = queue_names(node)
        assert {f"ex_a/{topic}", f"ex_a/{topic}.s1"} <= names


def test_exchanges_keep_servers_of_one_topic_apart(transport, topic):
    seen = Recorder()
    a = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s",
                                                             exchange="ex_a"), [Echo("a", seen)])
    b = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s",
                                                             exchange="ex_b"), [Echo("b", seen)])
    with running_server(a), running_server(b):
        for exchange in ("ex_a", "ex_b", "ex_a"):
            client = messaging.get_rpc_client(
                transport, messaging.Target(topic=topic, exchange=exchange), timeout=10)
            assert client.call({}, "echo", value=exchange) == exchange[-1]


def test_the_notifier_declares_the_listeners_queue(transport, node, topic):
    notifier = messaging.Notifier(transport, "pub", driver="messagingv2", topics=[topic])
    notifier.info({}, "early.event", {"n": 1})
    assert f"openstack/{topic}.info" in queue_names(node)


def test_the_virtual_host_of_the_url_is_used(make_transport, node, topic):
    vhost = f"vh_{uuid.uuid4().hex[:8]}"
    node.ctl("add_vhost", vhost)
    node.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        transport = make_transport(url_=f"amqp://guest:guest@127.0.0.1:{node.port}/{vhost}")
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [Echo()])
        with running_server(server):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=10)
            assert client.call({}, "echo", value="vh") == "vh"
            in_vhost = node.ctl("list_queues", "-p", vhost, "name", "--no-table-headers")
            assert f"openstack/{topic}" in in_vhost.split()
            assert f"openstack/{topic}" not in queue_names(node)
    finally:
        transport.cleanup()
        node.ctl("delete_vhost", vhost)


def test_a_fanout_subscription_is_a_private_queue_per_server(transport, node, topic):
    seen = Recorder()
    servers = [messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=n),
                                        [Echo(n, seen)]) for n in ("s1", "s2")]
    before = {n for n in queue_names(node) if n.startswith("amq.gen-")}
    with running_server(servers[0]), running_server(servers[1]):
        private = {n for n in queue_names(node) if n.startswith("amq.gen-")} - before
        assert len(private) >= 2
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))
        client.cast({}, "echo", value="all")
        wait_for(lambda: len(seen.items) >= 2, 10, message="both servers")
        assert sorted(seen.items) == [("s1", "all"), ("s2", "all")]
