"""Heartbeats keep flowing while an endpoint blocks far longer than the heartbeat timeout.

With ``heartbeat_timeout_threshold=2`` RabbitMQ closes a connection that is
silent for about 4 s. The endpoint below blocks the server's polling thread
for 6 s; the connection's own I/O thread keeps answering heartbeats, so the
call succeeds on the same connections, with no reconnect.
"""

from __future__ import annotations

import time

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

BLOCK = 6.0


def test_a_long_blocking_endpoint_keeps_its_connection(make_driver, serve, rmq, topic):
    driver = make_driver("heartbeat_timeout_threshold=2")
    listener = driver.listen(Target(topic=topic, server="s1"))
    notifications = driver.listen_for_notifications([(Target(topic=topic), "info")])

    def block(msg):
        time.sleep(BLOCK)  # the user's thread, not the connection's
        return "survived"

    serve(listener, block)
    start = time.monotonic()
    reply = driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=30)
    assert reply.result == "survived"
    assert time.monotonic() - start >= BLOCK

    client = driver._client
    for conn in (listener.connection, notifications.connection, client):
        assert conn.connects == 1, f"{conn.purpose} reconnected"
    live = rmq.connections()
    for conn in (listener.connection, notifications.connection, client):
        assert conn.name in live
        assert live[conn.name]["state"] == "running"
    timeouts = {row["timeout"] for row in rmq.ctl_json("list_connections", "vhost", "timeout")
                if row["vhost"] == rmq.vhost}
    assert timeouts == {2}  # the short heartbeat really was negotiated
