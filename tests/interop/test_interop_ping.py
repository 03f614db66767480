"""The server ping (rpc_ping_enabled) works between oslo.messaging 18.x and this library."""

from __future__ import annotations

from typing import Any

import pytest

import messaging
from messaging.rpc.ping import PING_METHOD

pytestmark = pytest.mark.rabbit


class Endpoint:
    def hello(self, ctxt):
        return "hi"


def test_an_oslo_client_pings_our_server(oslo, oslo_transport, url, ours, running, topic):
    transport = messaging.get_rpc_transport({"rpc_ping_enabled": True},
                                            url.replace("rabbit://", f"{ours}://", 1))
    try:
        running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                         [Endpoint()], executor="threading"))
        client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic), timeout=10)
        assert client.call({}, PING_METHOD) == "pong"
        assert client.prepare(server="s1").call({}, PING_METHOD) == "pong"
    finally:
        transport.cleanup()


def test_we_ping_an_oslo_server(oslo, url, transport, running, topic):
    from oslo_config import cfg

    # oslo.messaging reads rpc_ping_enabled from the global cfg.CONF only
    from oslo_messaging.rpc.dispatcher import _dispatcher_opts

    cfg.CONF.register_opts(_dispatcher_opts)
    cfg.CONF.set_override("rpc_ping_enabled", True)
    try:
        from oslo_messaging._metrics.client import oslo_messaging_metrics
        from oslo_messaging._tracing.client import oslo_messaging_tracing

        conf: Any = cfg.ConfigOpts()
        conf.register_opts(oslo_messaging_tracing, group="oslo_messaging_tracing")
        conf.register_opts(oslo_messaging_metrics, group="oslo_messaging_metrics")
        conf([])
        oslo_transport = oslo.get_rpc_transport(conf, url=url)
        try:
            running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="s1"),
                                        [Endpoint()]))
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=10)
            assert client.call({}, PING_METHOD) == "pong"
        finally:
            oslo_transport.cleanup()
    finally:
        cfg.CONF.clear_override("rpc_ping_enabled")
