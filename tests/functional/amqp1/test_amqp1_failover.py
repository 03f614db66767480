"""Hosts of the URL are a failover list: a dead host is skipped, connections spread."""

from __future__ import annotations

import messaging
from messaging.testing.helpers import running_server


class Echo:
    def echo(self, ctxt, value):
        return value


def test_a_dead_first_host_is_skipped(make_transport, node, dead_port, topic):
    url = (f"amqp://guest:guest@127.0.0.1:{dead_port},guest:guest@127.0.0.1:{node.port}/"
           f"?connection_retry_interval=0.2&connection_retry_backoff=0")
    transport = make_transport(url_=url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
        for n in range(3):
            assert client.call({}, "echo", value=n) == n
