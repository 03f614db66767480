"""A server's NoSuchMethod / UnsupportedVersion reach the caller as oslo callers expect.

oslo.messaging callers catch them as ``RemoteError`` (with ``exc_type``);
callers written for this library catch the typed exception. Both work.
"""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import running_server


class _Endpoint:
    target = messaging.Target(version="1.1")

    def ping(self, ctxt):
        return "pong"


@pytest.fixture
def client(transport):
    server = messaging.get_rpc_server(transport, messaging.Target(topic="dispatch_errors",
                                                                  server="s1"), [_Endpoint()])
    with running_server(server):
        yield messaging.get_rpc_client(transport, messaging.Target(topic="dispatch_errors"),
                                       timeout=10)


def test_unknown_method_is_a_remote_error_with_exc_type(client):
    with pytest.raises(messaging.RemoteError) as caught:
        client.call({}, "no_such")
    assert caught.value.exc_type == "NoSuchMethod"
    assert "no_such" in caught.value.value


def test_unknown_method_is_still_no_such_method(client):
    with pytest.raises(messaging.NoSuchMethod) as caught:
        client.call({}, "no_such")
    assert caught.value.method == "no_such"


def test_unsupported_version_is_both(client):
    with pytest.raises(messaging.RemoteError) as caught:
        client.prepare(version="2.0").call({}, "ping")
    assert caught.value.exc_type == "UnsupportedVersion"
    assert isinstance(caught.value, messaging.UnsupportedVersion)
    assert caught.value.version == "2.0"
