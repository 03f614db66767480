"""Dispatcher errors across the wire, as an oslo.messaging caller sees them.

An oslo caller gets ``RemoteError`` (``exc_type`` set) for a server's
NoSuchMethod / UnsupportedVersion, from its own servers and from ours; our
caller gets an exception that is both that ``RemoteError`` and the typed one,
from either library's server.
"""

from __future__ import annotations

import pytest

import messaging

pytestmark = pytest.mark.rabbit


class _Endpoint:
    def ping(self, ctxt):
        return "pong"


@pytest.fixture(params=["ours", "oslo"])
def server_target(request, oslo, oslo_transport, transport, running, topic):
    """A server of either library on ``topic`` (endpoint version 1.0)."""
    if request.param == "ours":
        running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                         [_Endpoint()], executor="threading"))
    else:
        running(oslo.get_rpc_server(oslo_transport, oslo.Target(topic=topic, server="s"),
                                    [_Endpoint()], executor="threading"))
    return topic


def test_an_oslo_caller_gets_remote_error_with_exc_type(oslo, oslo_transport, server_target):
    client = oslo.get_rpc_client(oslo_transport, oslo.Target(topic=server_target), timeout=10)
    assert client.call({}, "ping") == "pong"
    with pytest.raises(oslo.RemoteError) as caught:
        client.call({}, "no_such")
    assert caught.value.exc_type == "NoSuchMethod"
    with pytest.raises(oslo.RemoteError) as caught:
        client.prepare(version="2.0").call({}, "ping")
    assert caught.value.exc_type == "UnsupportedVersion"


def test_our_caller_gets_both_remote_error_and_the_typed_error(transport, server_target):
    client = messaging.get_rpc_client(transport, messaging.Target(topic=server_target),
                                      timeout=10)
    with pytest.raises(messaging.RemoteError) as caught:
        client.call({}, "no_such")
    assert caught.value.exc_type == "NoSuchMethod"
    assert isinstance(caught.value, messaging.NoSuchMethod)
    assert caught.value.method == "no_such"
    with pytest.raises(messaging.UnsupportedVersion) as typed:
        client.prepare(version="2.0").call({}, "ping")
    assert isinstance(typed.value, messaging.RemoteError)
    assert typed.value.exc_type == "UnsupportedVersion"
