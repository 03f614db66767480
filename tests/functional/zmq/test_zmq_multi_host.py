"""Beyond one host: a server binds 127.0.0.2, registers it in Redis, and is found and called.

127.0.0.2 stands for a second machine: the server's bind address
(``rpc_zmq_bind_address``) and the address it advertises (``rpc_zmq_host``)
are options, and a client on 127.0.0.1 reaches it only through what the
Redis matchmaker says.
"""

from __future__ import annotations

import pytest
from messaging_zmq.frames import rpc_key

import messaging


@pytest.fixture
def matchmaker(redis_available: None) -> str:
    """Redis only: the local matchmaker is one host by design."""
    return "redis"


@pytest.mark.parametrize("options", [
    "rpc_zmq_bind_address=127.0.0.2",
    "rpc_zmq_bind_address=127.0.0.2&rpc_zmq_host=127.0.0.2",
], ids=["advertise-bound-address", "advertise-configured-host"])
def test_server_on_127_0_0_2_is_found_through_redis(url, topic, peers, transports, options):
    remote = peers("remote", f"{url}?{options}", rpc=[(topic, "far")])
    transport = transports(url)
    entries = transport.driver.matchmaker.lookup(
        rpc_key(messaging.Target(topic=topic), "openstack"))
    assert len(entries) == 1 and entries[0].startswith("tcp://127.0.0.2:"), entries
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
    assert client.call({}, "echo", value="hi") == {"server": "far", "value": "hi",
                                                    "ctxt": {}}
    fanout = messaging.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))
    fanout.cast({}, "record", value="everyone")
    [cast] = remote.wait_event(lambda e: e["event"] == "cast")
    assert cast["value"] == "everyone"
