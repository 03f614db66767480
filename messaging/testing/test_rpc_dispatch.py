"""Kit: namespaces, versions and access rules pick (or refuse) the endpoint method."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import running_server


class First:
    target = messaging.Target(namespace="namespace1", version="1.0")

    def test(self, ctxt, arg):
        return f"first:{arg}"


class Second:
    target = messaging.Target(namespace="namespace2", version="1.3")

    def test(self, ctxt, arg):
        return f"second:{arg}"

    def _secret(self, ctxt):
        return "leaked"


class Explicit:
    target = messaging.Target(namespace="explicit")

    @messaging.expose
    def shown(self, ctxt):
        return "shown"

    def hidden(self, ctxt):
        return "hidden"


@pytest.fixture
def client(api, transport, topic):
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [First(), Second()])
    with running_server(server):
        yield api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)


def test_namespace_selects_endpoint(client):
    assert client.prepare(namespace="namespace1").call({}, "test", arg="a") == "first:a"
    assert client.prepare(namespace="namespace2").call({}, "test", arg="b") == "second:b"


def test_compatible_version_is_served(client):
    c = client.prepare(namespace="namespace2")
    assert c.prepare(version="1.2").call({}, "test", arg="x") == "second:x"
    assert c.prepare(version="1.3").call({}, "test", arg="x") == "second:x"


def test_newer_minor_version_is_unsupported(client):
    with pytest.raises(messaging.UnsupportedVersion):
        client.prepare(namespace="namespace2", version="1.4").call({}, "test", arg="x")


def test_other_major_version_is_unsupported(client):
    with pytest.raises(messaging.UnsupportedVersion):
        client.prepare(namespace="namespace1", version="2.0").call({}, "test", arg="x")


def test_unknown_namespace_is_unsupported(client):
    with pytest.raises(messaging.UnsupportedVersion):
        client.prepare(namespace="nope").call({}, "test", arg="x")


def test_unknown_method_raises_no_such_method(client):
    with pytest.raises(messaging.NoSuchMethod) as info:
        client.prepare(namespace="namespace1").call({}, "missing")
    assert "missing" in str(info.value)


def test_private_method_is_refused(client):
    with pytest.raises(messaging.NoSuchMethod):
        client.prepare(namespace="namespace2").call({}, "_secret")


def test_explicit_policy_serves_only_exposed(api, transport, topic):
    server = api.get_rpc_server(
  transport, messaging.Target(topic=topic, server="s1"), [Explicit()],
  access_policy=messaging.ExplicitRPCAccessPolicy)
    with running_server(server):
        c = api.get_rpc_client(transport, messaging.Target(topic=topic,
                                                           namespace="explicit"),
                               timeout=10)
        assert c.call({}, "shown") == "shown"
        with pytest.raises(messaging.NoSuchMethod):
            c.call({}, "hidden")


def test_server_keeps_serving_after_refusals(client):
    for _ in range(3):
        with pytest.raises(messaging.NoSuchMethod):
            client.prepare(namespace="namespace1").call({}, "missing")
    assert client.prepare(namespace="namespace1").call({}, "test", arg="ok") == "first:ok"
