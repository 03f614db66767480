"""zmq's health: brokerless, so the matchmaker is what can be down (a probe sees it)."""

from __future__ import annotations

import uuid

import pytest
from rabbitmq_local import free_port

import messaging


def test_an_unreachable_redis_matchmaker_shows_in_the_health():
    pytest.importorskip("redis")
    port = free_port()  # nothing listens there
    url = (f"zmq+redis://127.0.0.1:{port}/health-{uuid.uuid4().hex[:8]}"
           "?zmq_matchmaker_timeout=0.5")
    with messaging.get_transport(None, url) as transport:
        assert transport.health.ok  # nothing tried yet
        with pytest.raises(messaging.MessagingTimeout, match="matchmaker is unreachable"):
            messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=1).call(
                {}, "anything")
        health = transport.health
        assert health.connected is False and not health.ok
        assert "matchmaker is unreachable" in (health.last_error or "")


def test_a_local_matchmaker_is_healthy():
    with messaging.get_transport(None, f"zmq:///health-{uuid.uuid4().hex[:8]}") as transport:
        with pytest.raises(messaging.MessagingTimeout, match="no server is listening"):
            messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=1).call(
                {}, "anything")
        assert transport.health.ok and transport.health.connected is True
