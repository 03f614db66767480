"""Kit: garbage on a server's queue is dropped and the server keeps serving."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import running_server


class Echo:
    def echo(self, ctxt, value):
        return value


@pytest.mark.parametrize("body", [
    b"not json at all",
    b"[1, 2, 3]",
    b'{"oslo.version": "2.0", "oslo.message": "{broken"}',
    b'{"oslo.version": "9.0", "oslo.message": "{}"}',
    b'{"args": {}}',
    b'\xff\xfe\x00',
], ids=["not-json", "json-list", "broken-inner", "future-envelope", "no-method", "not-utf8"])
def test_malformed_body_is_dropped(api, transport, topic, body):
    hooks = transport.driver.testing
    if hooks is None:
        pytest.skip("driver offers no testing hooks to publish raw bytes")
    target = messaging.Target(topic=topic, server="s1")
    server = api.get_rpc_server(transport, target, [Echo()], executor="blocking")
    with running_server(server):
        hooks.publish_raw(target, body)
        client = api.get_rpc_client(transport, target, timeout=10)
        assert client.call({}, "echo", value="still serving") == "still serving"
