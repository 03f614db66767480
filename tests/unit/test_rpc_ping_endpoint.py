"""rpc_ping_enabled: servers answer oslo_rpc_server_ping with 'pong', as oslo.messaging's."""

from __future__ import annotations

import uuid

import pytest

import messaging
from messaging.rpc.ping import PING_METHOD, PingEndpoint
from messaging.testing.helpers import running_server


class Endpoint:
    def hello(self, ctxt):
        return "hi"


def _transport(ping: bool) -> messaging.Transport:
    return messaging.get_transport({"rpc_ping_enabled": ping}, f"fake:///{uuid.uuid4().hex}")


@pytest.mark.parametrize("server_name", [None, "s1"])
def test_ping_answers_pong_on_topic_and_server(server_name):
    with _transport(True) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                          [Endpoint()])
        with running_server(server):
            client = messaging.get_rpc_client(transport, messaging.Target(
                topic="p", server=server_name))
            assert client.call({}, PING_METHOD) == "pong"
            assert client.call({}, "hello") == "hi"


def test_ping_is_off_by_default():
    with _transport(False) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                          [Endpoint()])
        with running_server(server):
            with pytest.raises(messaging.NoSuchMethod):
                messaging.get_rpc_client(transport, messaging.Target(topic="p")).call(
                    {}, PING_METHOD)


def test_ping_passes_the_explicit_access_policy():
    with _transport(True) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                          [Endpoint()],
                                          access_policy=messaging.ExplicitRPCAccessPolicy)
        with running_server(server):
            assert messaging.get_rpc_client(transport, messaging.Target(topic="p")).call(
                {}, PING_METHOD) == "pong"


def test_callers_endpoint_list_is_not_changed():
    endpoints = [Endpoint()]
    with _transport(True) as transport:
        messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                 endpoints)
    assert len(endpoints) == 1


def test_an_endpoint_of_its_own_keeps_the_name(caplog):
    class OwnPing:
        def oslo_rpc_server_ping(self, ctxt, **kwargs):
            return "mine"

    with _transport(True) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                          [OwnPing()])
        assert not any(isinstance(e, PingEndpoint) for e in server.dispatcher.endpoints)
        with running_server(server):
            assert messaging.get_rpc_client(transport, messaging.Target(topic="p")).call(
                {}, PING_METHOD) == "mine"
    assert "not adding the ping endpoint" in caplog.text


def test_enabled_from_an_oslo_config_file(tmp_path):
    from oslo_config import cfg

    path = tmp_path / "svc.conf"
    path.write_text("[DEFAULT]\nrpc_ping_enabled = true\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    with messaging.get_transport(conf, f"fake:///{uuid.uuid4().hex}") as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic="p", server="s1"),
                                          [Endpoint()])
        assert any(isinstance(e, PingEndpoint) for e in server.dispatcher.endpoints)
