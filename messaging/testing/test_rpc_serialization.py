"""Kit: what JSON cannot carry is refused before sending, with one error type on every driver."""

from __future__ import annotations

import logging

import pytest

import messaging
from messaging.testing.helpers import Recorder, running_server


class Echo:
    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, ctxt, value):
        self.seen.add(value)
        return value


@pytest.fixture
def served(api, transport, topic):
    endpoint = Echo()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        yield api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10), \
            endpoint


def test_call_with_unserializable_argument_raises_serialization_error(served):
    client, endpoint = served
    with pytest.raises(messaging.SerializationError) as info:
        client.call({}, "echo", value=object())
    assert isinstance(info.value, TypeError)  # what json would raise, for callers catching that
    assert isinstance(info.value, ValueError)  # what oslo.messaging raises ("to primitive")
    assert not isinstance(info.value, messaging.MessageDeliveryFailure)
    assert client.call({}, "echo", value="after") == "after"
    assert endpoint.seen.items == ["after"]  # the refused call never reached the server


def test_cast_with_unserializable_argument_raises_serialization_error(served):
    client, endpoint = served
    with pytest.raises(messaging.SerializationError):
        client.cast({}, "echo", value={1, 2, object()})
    client.cast({}, "echo", value="after")
    assert endpoint.seen.wait_count(1) == ["after"]


def test_unserializable_context_raises_serialization_error(served):
    client, _ = served
    with pytest.raises(messaging.SerializationError):
        client.call({"user": object()}, "echo", value=1)


def test_notifier_logs_unserializable_payload_and_does_not_raise(api, notification_transport,
                                                                 topic, caplog):
    notifier = api.Notifier(notification_transport, "kit.pub", driver="messagingv2",
                            topics=[topic])
    with caplog.at_level(logging.ERROR):
        notifier.info({}, "kit.unserializable", {"x": object()})
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the dropped notification was not logged at ERROR"
    text = " ".join(r.getMessage() for r in errors)
    assert "kit.unserializable" in text and "INFO" in text
