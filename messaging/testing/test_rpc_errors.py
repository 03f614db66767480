"""Kit: endpoint exceptions reach the caller as the same type, or as RemoteError."""

from __future__ import annotations

import pytest

import messaging
from messaging.testing.helpers import running_server


class AppError(Exception):
    pass


class Failing:
    def value_error(self, ctxt):
        raise ValueError("bad value", 42)

    def key_error(self, ctxt):
        raise KeyError("k")

    def app_error(self, ctxt):
        raise AppError("custom failure")

    def unencodable(self, ctxt):
        return object()

    @messaging.expected_exceptions(ValueError)
    def expected(self, ctxt):
        raise ValueError("declared")


@pytest.fixture
def client(api, transport, topic):
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [Failing()])
    with running_server(server):
        yield api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)


def test_builtin_exception_keeps_type_and_args(client):
    with pytest.raises(ValueError) as info:
        client.call({}, "value_error")
    assert info.value.args == ("bad value", 42)
    assert "Traceback" in info.value.remote_traceback  # type: ignore[attr-defined]


def test_key_error_keeps_type(client):
    with pytest.raises(KeyError):
        client.call({}, "key_error")


def test_unlisted_module_becomes_remote_error(client):
    with pytest.raises(messaging.RemoteError) as info:
        client.call({}, "app_error")
    assert info.value.exc_type == "AppError"
    assert "custom failure" in str(info.value.value)


def test_expected_exception_arrives_as_original(client):
    with pytest.raises(ValueError, match="declared"):
        client.call({}, "expected")


def test_result_the_bus_cannot_carry_fails_fast(client):
    # the timeout is 10 s; the failure must come back as a reply, not a timeout
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.call({}, "unencodable")


def test_allowed_module_is_rebuilt(api, transport_url, topic):
    from messaging.testing.plugin import require_broker

    require_broker(transport_url)
    with messaging.get_rpc_transport(None, transport_url,
                                     allowed_remote_exmods=[__name__]) as t:
        server = api.get_rpc_server(t, messaging.Target(topic=topic, server="s1"),
                                    [Failing()])
        with running_server(server):
            c = api.get_rpc_client(t, messaging.Target(topic=topic), timeout=10)
            with pytest.raises(AppError, match="custom failure"):
                c.call({}, "app_error")
