"""Health and driver metrics on RabbitMQ: what the AMQP 0-9-1 connections report.

A liveness probe reads ``transport.health`` / ``server.health``; the same
events feed ``messaging.driver.reconnects``, ``redeliveries`` and the
blocked-time metrics. Connections are closed from the broker side
(``rabbitmqctl close_connection``); the memory alarm is raised on a private node.
"""

from __future__ import annotations

import uuid

import pytest
from otel_helpers import total

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for

pytestmark = pytest.mark.rabbit

QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2"
MEASURED = {"messaging_metrics": {"metrics_enabled": True}}


class Echo:
    def echo(self, ctxt, value):
        return value


def _transport(url: str) -> messaging.Transport:
    return messaging.get_transport(MEASURED, f"{url}{'&' if '?' in url else '?'}{QUICK}")


def test_health_follows_a_connection_closed_by_the_broker(metric_reader, url, rmq, topic):
    with _transport(url) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [Echo()])
        with running_server(server):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
            assert client.call({}, "echo", value=1) == 1
            health = server.health
            assert health.ok and health.transport.connected is True
            assert health.transport.connections == 2  # the client's and the server's
            before = total(metric_reader, "messaging.driver.reconnects",
                           driver=transport.url.scheme)
            listener_conn = server._listener.connection.name
            rmq.close_connection(listener_conn)
            wait_for(lambda: transport.health.reconnects == 1 and server.health.ok, 15,
                     message="the server's connection to come back and consume")
            health = server.health
            assert "closed by test" in (health.transport.last_error or "")
            assert client.call({}, "echo", value=2) == 2
            assert total(metric_reader, "messaging.driver.reconnects",
                         driver=transport.url.scheme) == before + 1
    assert transport.health.connections == 0  # closed connections no longer count


def test_requeued_notifications_count_as_redeliveries(metric_reader, url, topic):
    seen = Recorder()

    class Once:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            first = payload not in seen.items
            seen.add(payload)
            return messaging.NotificationResult.REQUEUE if first else None

    with _transport(url) as transport:
        scheme = transport.url.scheme
        before = total(metric_reader, "messaging.driver.redeliveries", driver=scheme)
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic)], [Once()], allow_requeue=True)
        notifier = messaging.Notifier(transport, "svc", driver="messagingv2", topics=[topic])
        with running_server(listener):
            notifier.info({}, "thing", "p1")
            seen.wait_count(2)
        assert total(metric_reader, "messaging.driver.redeliveries", driver=scheme) \
            == before + 1


def test_a_blocked_broker_shows_in_the_health(metric_reader, vhost, scheme, private_node):
    url = f"{scheme}://{private_node.url_host}/{vhost}?send_timeout=1&{QUICK}"
    topic = f"blocked_{uuid.uuid4().hex[:8]}"
    with messaging.get_transport(MEASURED, url) as transport:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        client.cast({}, "warm_up")
        assert transport.health.ok
        private_node.ctl("set_vm_memory_high_watermark", "0")
        try:
            with pytest.raises(messaging.MessageDeliveryFailure):
                client.cast({}, "blocked")  # the broker tells the blocked connection
            health = wait_for(lambda: transport.health.blocked and transport.health, 10,
                              message="the blocked state")
            assert not health.ok and "memory" in (health.blocked_reason or "")
            assert total(metric_reader, "messaging.driver.blocked.connections",
                         driver=scheme) == 1
        finally:
            private_node.ctl("set_vm_memory_high_watermark", "0.4")
        wait_for(lambda: not transport.health.blocked, 30, message="the broker to unblock")
        assert total(metric_reader, "messaging.driver.blocked.connections", driver=scheme) == 0
        assert total(metric_reader, "messaging.driver.blocked.duration", driver=scheme) > 0
