"""The health a liveness probe reads: what drivers report through their monitor."""

from __future__ import annotations

import json

import messaging
from messaging.health import DriverMonitor, TransportHealth
from messaging.testing.helpers import running_server


def test_a_new_monitor_knows_nothing_yet():
    health = DriverMonitor().snapshot()
    assert health == TransportHealth(connected=None, blocked=False, blocked_reason=None,
                                     last_error=None, connections=0, reconnects=0)
    assert health.ok  # not connected yet is not a failure


def test_brokerless_driver_that_reports_nothing_is_connected():
    assert DriverMonitor().snapshot(brokered=False).connected is True


def test_connection_loss_and_reconnect():
    monitor = DriverMonitor()
    client, listener = object(), object()
    monitor.connected(client)
    monitor.connected(listener)
    assert monitor.snapshot().connected is True and monitor.snapshot().connections == 2
    monitor.lost(listener, ConnectionResetError("peer closed"))
    down = monitor.snapshot()
    assert down.connected is False and not down.ok
    assert down.last_error == "ConnectionResetError: peer closed"
    monitor.connected(listener)
    up = monitor.snapshot()
    assert up.connected is True and up.reconnects == 1 and up.ok
    assert up.last_error == "ConnectionResetError: peer closed"  # kept for the operator
    monitor.closed(listener)
    assert monitor.snapshot().connections == 1


def test_blocked_connection():
    monitor = DriverMonitor()
    conn = object()
    monitor.connected(conn)
    monitor.blocked(conn, "low on memory")
    blocked = monitor.snapshot()
    assert blocked.blocked and blocked.blocked_reason == "low on memory" and not blocked.ok
    monitor.unblocked(conn)
    assert monitor.snapshot().ok
    monitor.blocked(conn, None)
    monitor.lost(conn, "gone")  # a lost connection is no longer blocked
    assert not monitor.snapshot().blocked


def test_as_dict_is_json():
    monitor = DriverMonitor()
    monitor.connected("c")
    assert json.loads(json.dumps(monitor.snapshot().as_dict())) == {
        "connected": True, "blocked": False, "blocked_reason": None, "last_error": None,
        "connections": 1, "reconnects": 0, "ok": True}


def test_server_health_follows_its_lifecycle(transport):
    class Endpoint:
        def noop(self, ctxt):
            return None

    server = messaging.get_rpc_server(transport, messaging.Target(topic="h", server="s"),
                                      [Endpoint()])
    assert not server.health.ok and not server.health.running
    with running_server(server):
        health = server.health
        assert health.running and health.consuming and health.ok
        assert health.transport == transport.health
        assert json.loads(json.dumps(health.as_dict()))["ok"] is True
    assert not server.health.running


def test_transport_health_of_the_driver_monitor(transport):
    assert transport.health.ok and transport.health.connected is True  # fake: brokerless
    transport.driver.monitor.blocked("conn", "disk alarm")
    assert transport.health.blocked_reason == "disk alarm"
