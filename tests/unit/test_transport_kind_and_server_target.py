"""oslo's checks around transports and server targets.

An RPC server whose target lacks a topic or server raises ``InvalidTarget``
at ``start()``; RPC built on a notification transport (or the reverse) logs
oslo.messaging's warning.
"""

from __future__ import annotations

import logging
import uuid

import pytest

import messaging

RPC_WARNING = ("Using notification transport for RPC. Please use get_rpc_transport to obtain "
               "an RPC transport instance.")
NOTIFY_WARNING = ("Using RPC transport for notifications. Please use get_notification_transport "
                  "to obtain a notification transport instance.")


@pytest.fixture
def rpc_transport():
    with messaging.get_rpc_transport(None, f"fake:///{uuid.uuid4().hex}") as transport:
        yield transport


@pytest.fixture
def notification_transport():
    with messaging.get_notification_transport(None, f"fake:///{uuid.uuid4().hex}") as transport:
        yield transport


@pytest.mark.parametrize("target", [messaging.Target(topic="t"), messaging.Target(server="s"),
                                    messaging.Target()])
def test_starting_a_server_without_topic_or_server_raises_invalid_target(rpc_transport, target):
    server = messaging.get_rpc_server(rpc_transport, target, [])
    with pytest.raises(messaging.InvalidTarget):
        server.start()
    server.stop()
    server.wait()


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_rpc_on_a_notification_transport_warns(notification_transport, caplog):
    with caplog.at_level(logging.WARNING):
        messaging.get_rpc_client(notification_transport, messaging.Target(topic="t"))
        messaging.get_rpc_server(notification_transport,
                                 messaging.Target(topic="t", server="s"), [])
    assert _warnings(caplog) == [RPC_WARNING, RPC_WARNING]


def test_notifications_on_an_rpc_transport_warn(rpc_transport, caplog):
    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            pass

    with caplog.at_level(logging.WARNING):
        messaging.Notifier(rpc_transport, driver="noop")
        messaging.get_notification_listener(rpc_transport, [messaging.Target(topic="n")],
                                            [Endpoint()])
    assert _warnings(caplog) == [NOTIFY_WARNING, NOTIFY_WARNING]


def test_the_right_kinds_do_not_warn(rpc_transport, notification_transport, caplog):
    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            pass

    with caplog.at_level(logging.WARNING):
        messaging.get_rpc_client(rpc_transport, messaging.Target(topic="t"))
        messaging.get_rpc_server(rpc_transport, messaging.Target(topic="t", server="s"), [])
        messaging.Notifier(notification_transport, driver="noop")
        messaging.get_notification_listener(notification_transport,
                                            [messaging.Target(topic="n")], [Endpoint()])
    assert _warnings(caplog) == []
