"""Side by side: what oslo.messaging and this library put on the bus for the same request.

Both publish to a queue captured with raw kombu; properties, envelope and the
inner keys (in order) must match, ids aside.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest

import messaging
from messaging.notify import Notifier

pytestmark = pytest.mark.rabbit


def _shape(msg) -> tuple[dict, list[str], bytes]:
    body = msg.body if isinstance(msg.body, bytes) else msg.body.encode()
    outer = json.loads(body)
    inner = json.loads(outer["oslo.message"]) if "oslo.message" in outer else outer
    props = {k: v for k, v in msg.properties.items() if k != "expiration"}
    props["application_headers"] = props.get("application_headers") or {}
    return props, list(inner), body


def test_casts_look_the_same(oslo, oslo_transport, transport, capture, topic):
    grab = capture(topic)
    ctxt = {"user": "u", "request_id": "req-1"}
    oslo.get_rpc_client(oslo_transport, oslo.Target(topic=topic)).cast(ctxt, "m", a=1)
    messaging.get_rpc_client(transport, messaging.Target(topic=topic)).cast(ctxt, "m", a=1)
    theirs, ours = _shape(grab()), _shape(grab())
    assert ours[0] == theirs[0]  # AMQP properties
    assert ours[1] == theirs[1]  # inner keys, in order
    assert len(ours[2]) == len(theirs[2])  # same bytes but for the random ids


def test_calls_look_the_same(oslo, oslo_transport, transport, capture, topic):
    grab = capture(topic)

    def call(client, timeout_error):
        with pytest.raises(timeout_error):  # nobody answers: each library's own timeout
            client.call({"user": "u"}, "m", a=1)

    callers = [
        threading.Thread(target=call, args=(oslo.get_rpc_client(
            oslo_transport, oslo.Target(topic=topic), timeout=2), oslo.MessagingTimeout)),
        threading.Thread(target=call, args=(messaging.get_rpc_client(
            transport, messaging.Target(topic=topic), timeout=2), messaging.MessagingTimeout))]
    callers[0].start()
    theirs_msg = grab()
    callers[1].start()
    ours_msg = grab()
    theirs, ours = _shape(theirs_msg), _shape(ours_msg)
    assert ours[0] == theirs[0] and ours[1] == theirs[1]
    assert "expiration" in theirs_msg.properties and "expiration" in ours_msg.properties
    assert int(ours_msg.properties["expiration"]) <= int(theirs_msg.properties["expiration"])
    for c in callers:
        c.join()


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_notifications_look_the_same(oslo, oslo_notification_transport,
                                     notification_transport, capture, topic, driver):
    grab = capture(f"{topic}.info")
    payload = {"id": str(uuid.uuid4())}
    oslo.Notifier(oslo_notification_transport, publisher_id="p", driver=driver,
                  topics=[topic]).info({}, "e", payload)
    Notifier(notification_transport, publisher_id="p", driver=driver,
             topics=[topic]).info({}, "e", payload)
    theirs, ours = _shape(grab()), _shape(grab())
    assert ours[0] == theirs[0] and ours[1] == theirs[1]
