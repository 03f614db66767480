"""RabbitMQ 3.10's AMQP 1.0 traps, each handled (see ``brokers.md`` 2a and ``doc/amqp1.md``).

1. A detach is answered without ``closed``: closing must not wait for it.
2. A refused attach ends the whole session: only the work that asked for it fails.
3. Temporary queues are never deleted: their names match the expiry policy.
4. Unroutable messages are accepted: a cast nobody can receive still succeeds.
"""

from __future__ import annotations

import re
import time

import pytest
from amqp1_broker import EXPIRY_POLICY, declare_durable_queue, delete_queue, queue_names

import messaging
from messaging.testing.helpers import running_server, wait_for


class Echo:
    def echo(self, ctxt, value):
        return value


def test_closing_does_not_wait_for_a_closed_detach(transport, topic):
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    assert client.call({}, "echo", value=1) == 1
    start = time.monotonic()
    server.stop()
    server.wait()  # cleans the listener up: detaches its links
    transport.cleanup()
    assert time.monotonic() - start < 5


def test_a_receiver_the_broker_detaches_is_attached_again(make_transport, node, topic):
    transport = make_transport("link_retry_delay=0.2")
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value="before") == "before"
        delete_queue(node, f"openstack/{topic}")  # the broker cancels the consumer
        wait_for(lambda: f"openstack/{topic}" in queue_names(node), 20,
                 message="the server to attach (and so declare) its queue again")
        assert client.call({}, "echo", value="after") == "after"


def test_a_refused_send_fails_alone_and_the_rest_keeps_working(transport, node, topic):
    declare_durable_queue(node, f"openstack/{topic}.info")  # our attach declares non-durable
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value=1) == 1
        notifier = messaging.Notifier(transport, "pub", driver="messagingv2", topics=[topic])
        start = time.monotonic()
        with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)precondition"):
            transport.notify(messaging.Target(topic=f"{topic}.info"), {},
                             {"priority": "INFO", "event_type": "e", "payload": {}})
        assert time.monotonic() - start < 10
        notifier.info({}, "still.refused", {})  # the notifier logs and carries on
        assert client.call({}, "echo", value=2) == 2


def test_a_refused_subscription_raises_server_listen_error(transport, node, topic):
    declare_durable_queue(node, f"openstack/{topic}")
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with pytest.raises(messaging.ServerListenError, match=r"(?i)precondition"):
        server.start()


def test_temporary_queues_match_the_expiry_policy(transport, node, topic):
    policies = node.ctl("list_policies", "--no-table-headers")
    name, pattern, _ = EXPIRY_POLICY
    assert name in policies
    before = queue_names(node)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value=1) == 1
        created = queue_names(node) - before
    named = {f"openstack/{topic}", f"openstack/{topic}.s1"}
    temporary = created - named
    assert named <= created
    assert any(q.startswith("reply_") for q in temporary)  # the client's reply queue
    assert any(q.startswith("amq.gen-") for q in temporary)  # the server's fanout queue
    assert all(re.match(pattern, q) for q in temporary), temporary


def test_a_cast_nobody_can_receive_is_accepted_and_stores_nothing(transport, node, topic):
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, server="nobody"))
    client.cast({}, "echo", value=1)  # returns: the broker accepted (and dropped) it
    assert not any(topic in q for q in queue_names(node))
