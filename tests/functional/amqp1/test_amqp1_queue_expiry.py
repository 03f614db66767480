"""What the driver created and RabbitMQ 3.10 never deletes goes away with the expiry policy.

A node of its own with a short expiry: after the driver is cleaned up, its
reply queue and its servers' fanout queues are removed by the broker.
"""

from __future__ import annotations

import json

import pytest
from amqp1_broker import EXPIRY_POLICY, queue_names

import messaging
from messaging.testing.helpers import running_server, wait_for


class Echo:
    def echo(self, ctxt, value):
        return value


@pytest.fixture
def short_expiry(own):
    name, pattern, _ = EXPIRY_POLICY
    own.ctl("set_policy", name, pattern, json.dumps({"expires": 1000}), "--apply-to", "queues")
    try:
        yield own
    finally:
        own.set_policy()


def test_leftover_temporary_queues_expire_after_cleanup(short_expiry, make_transport, topic):
    node = short_expiry
    transport = make_transport(url_=node.url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value=1) == 1
        temporary = {q for q in queue_names(node) if q.startswith(("reply_", "amq.gen-"))}
        assert temporary
    transport.cleanup()
    wait_for(lambda: not (temporary & queue_names(node)), 30, interval=0.5,
             message=f"the broker to expire {sorted(temporary)}")
    assert f"openstack/{topic}" in queue_names(node)  # a server's queue is no temporary one
