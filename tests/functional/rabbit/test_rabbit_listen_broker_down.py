"""``server.start()`` returns promptly while the broker is down; the server connects later.

The listener connects and reconnects in the background and says how it goes
through ``consuming`` and ``last_error``. A broker that is up but refuses the
subscription (conflicting queue arguments) still makes ``start()`` raise.
"""

from __future__ import annotations

import time

import kombu
import pytest

import messaging
from messaging.exceptions import ServerListenError
from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2&rabbit_retry_backoff=0.2" \
        "&rabbit_interval_max=1"


class Echo:
    def echo(self, ctxt, value):
        return value


def test_start_returns_while_the_broker_is_down_and_serves_once_it_is_up(
        private_node, vhost, topic, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}?{QUICK}"
    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"), [Echo()])
    private_node.stop()
    try:
        started = time.monotonic()
        server.start()
        assert time.monotonic() - started < 1.5, "start() waited for the broker"
        assert server.running
        assert not server.consuming
        assert "unreachable" in (server.last_error or "")
        assert "guest:guest" not in server.last_error  # never a password

        private_node.start()
        wait_for(lambda: server.consuming, 30, message="the server to consume")
        assert server.last_error is None
        client = messaging.get_rpc_client(transport, Target(topic=topic))
        assert client.prepare(timeout=20).call({}, "echo", value="up") == "up"
    finally:
        private_node.start()
        server.stop()
        server.wait()
        transport.cleanup()


def test_start_raises_when_the_broker_refuses_the_subscription(url, topic, raw_url):
    with kombu.Connection(raw_url) as raw:
        kombu.Queue(topic, kombu.Exchange("openstack", "topic", durable=False), topic,
                    queue_arguments={"x-max-length": 5}, channel=raw.default_channel).declare()
    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"), [Echo()])
    try:
        with pytest.raises(ServerListenError, match="PRECONDITION_FAILED"):
            server.start()
        assert not server.running
    finally:
        transport.cleanup()


def test_a_subscription_refused_once_the_broker_is_back_is_reported(
        make_driver, private_node, vhost, topic, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}"
    with kombu.Connection(f"amqp://{private_node.url_host}/{vhost}") as raw:  # survives a restart
        kombu.Queue(topic, kombu.Exchange("openstack", "topic", durable=False), topic,
                    durable=True, channel=raw.default_channel).declare()
    driver = make_driver(QUICK, url_=url)
    private_node.stop()
    try:
        listener = driver.listen(Target(topic=topic, server="s1"))  # returns: broker down
        assert not listener.consuming
        private_node.start()
        wait_for(lambda: "refused the subscription" in (listener.last_error or ""), 30,
                 message="the refusal to be reported")
        assert "PRECONDITION_FAILED" in listener.last_error
        assert not listener.consuming
        assert listener.connection.connects == 1  # given up, not retried in a loop
        listener.cleanup()
    finally:
        private_node.start()
