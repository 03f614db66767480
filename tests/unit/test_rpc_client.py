"""RPCClient options: prepare, version caps, timeouts, argument checks."""

from __future__ import annotations

import pytest

import messaging


@pytest.fixture
def transport():
    with messaging.get_transport(None, "fake://") as t:
        yield t


def test_prepare_overrides_without_changing_original(transport):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=3)
    prepared = client.prepare(server="s", namespace="n", timeout=9, retry=2)
    assert prepared.target == messaging.Target(topic="t", server="s", namespace="n")
    assert (prepared.timeout, prepared.retry) == (9, 2)
    assert client.target == messaging.Target(topic="t") and client.timeout == 3
    assert prepared.prepare(version="1.2").target.server == "s"


def test_prepare_validates_version(transport):
    client = messaging.RPCClient(transport, messaging.Target(topic="t"))
    with pytest.raises(messaging.MessagingException, match="major and minor"):
        client.prepare(version="2")


def test_can_send_version(transport):
    client = messaging.RPCClient(transport, messaging.Target(topic="t"), version_cap="1.5")
    assert client.can_send_version("1.5") and not client.can_send_version("1.6")
    assert not client.can_send_version("2.0")
    assert messaging.RPCClient(transport, messaging.Target(topic="t")).can_send_version("9.9")


def test_version_above_cap_is_refused_before_sending(transport):
    client = messaging.RPCClient(transport, messaging.Target(topic="t", version="1.6"),
                                 version_cap="1.5")
    with pytest.raises(messaging.RPCVersionCapError):
        client.cast({}, "m")


def test_default_timeout_comes_from_conf():
    with messaging.get_transport({"rpc_response_timeout": 0.2}, "fake://") as t:
        client = messaging.RPCClient(t, messaging.Target(topic="nobody"))
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "m")


def test_target_must_be_a_target(transport):
    with pytest.raises(TypeError):
        messaging.RPCClient(transport, {"topic": "t"})  # type: ignore[arg-type]
