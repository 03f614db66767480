"""``TransportOptions(at_least_once=True)`` on RabbitMQ: an unserved request fails at once.

oslo.messaging publishes the request mandatory and raises
``MessageUndeliverable`` when the broker returns it; so must we, on the
same broker, instead of dropping a cast or waiting out a call's timeout.
"""

from __future__ import annotations

import time

import pytest

import messaging

pytestmark = pytest.mark.rabbit

def test_oslo_reference_behaviour(oslo, oslo_transport, topic):
    client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=30,
                                 transport_options=oslo.TransportOptions(at_least_once=True))
    started = time.monotonic()
    with pytest.raises(oslo.MessageUndeliverable):
        client.call({}, "ping")
    with pytest.raises(oslo.MessageUndeliverable):  # a cast too, as ours below
        client.cast({}, "ping")
    assert time.monotonic() - started < 10


def test_our_call_and_cast_to_an_unserved_topic_fail_at_once(transport, topic):
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic=topic), timeout=30,
        transport_options=messaging.TransportOptions(at_least_once=True))
    started = time.monotonic()
    with pytest.raises(messaging.MessageUndeliverable):
        client.call({}, "ping")
    with pytest.raises(messaging.MessageUndeliverable):
        client.cast({}, "ping")
    assert time.monotonic() - started < 10


def test_our_mandatory_call_to_an_oslo_server_goes_through(oslo, oslo_transport, transport,
                                                           running, topic):
    class Endpoint:
        def ping(self, ctxt):
            return "pong"

    running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="s"),
                                [Endpoint()], executor="threading"))
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic=topic), timeout=10,
        transport_options=messaging.TransportOptions(at_least_once=True))
    assert client.call({}, "ping") == "pong"
    client.prepare(server="s").cast({}, "ping")
