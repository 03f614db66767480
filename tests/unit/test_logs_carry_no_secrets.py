"""Logs at INFO and above never carry a URL's password or a message's body."""

from __future__ import annotations

import logging
import uuid

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server

SECRET = "s3cr3t-payload-value"
PASSWORD = "hunter2-password"


@pytest.fixture
def leaky_transport():
    t = messaging.get_transport(
        {"oslo_messaging_tracing": {"tracing_enabled": True},
         "messaging_metrics": {"metrics_enabled": True}},
        f"fake://user:{PASSWORD}@localhost/{uuid.uuid4().hex}")
    yield t
    t.cleanup()


def test_failures_are_logged_without_bodies_or_passwords(caplog, leaky_transport, spans,
                                                         metric_reader):
    caplog.set_level(logging.DEBUG)
    failed = Recorder()

    class Endpoint:
        def explode(self, ctxt, value):
            raise RuntimeError("endpoint failed")

    class Listener:
        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            failed.add(1)
            raise RuntimeError("listener failed")

    t = leaky_transport
    server = messaging.get_rpc_server(t, messaging.Target(topic="leak", server="s"),
                                      [Endpoint()])
    listener = messaging.get_notification_listener(t, [messaging.Target(topic="leak")],
                                                   [Listener()])
    client = messaging.get_rpc_client(t, messaging.Target(topic="leak"), timeout=0.3)
    with running_server(server), running_server(listener):
        with pytest.raises(RuntimeError):
            client.call({"token": SECRET}, "explode", value=SECRET)
        with pytest.raises(messaging.NoSuchMethod):
            client.call({}, "missing", value=SECRET)
        with pytest.raises(messaging.MessagingTimeout):
            client.prepare(topic="nobody").call({}, "m", value=SECRET)
        messaging.Notifier(t, "p", driver="messagingv2", topics=["leak"]).error(
            {}, "e", {"x": SECRET})
        failed.wait_count(1)
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert loud  # the failures above were logged
    for record in loud:
        text = caplog.handler.format(record)  # with the traceback, if any
        assert SECRET not in text and PASSWORD not in text, text
    assert PASSWORD not in caplog.text  # not even at debug
