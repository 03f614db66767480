"""Kit: garbage on a notification queue is dropped and the listener keeps serving."""

from __future__ import annotations

import pytest

from messaging.notify import NotificationResult
from messaging.target import Target
from messaging.testing.helpers import Recorder, raw_notification, running_server


class Info:
    def __init__(self) -> None:
        self.seen = Recorder()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.add(event_type)
        return NotificationResult.HANDLED


@pytest.mark.parametrize("body", [
    b"not json",
    b'"a string"',
    b'{"oslo.version": "2.0", "oslo.message": "[]"}',
    b'{"event_type": "no.priority", "payload": {}}',
    b'{"event_type": "x", "priority": 7, "payload": {}}',
    b"\xff\xfe",
], ids=["not-json", "json-string", "inner-list", "no-priority", "priority-not-text",
        "not-utf8"])
def test_malformed_notification_is_dropped(api, notification_transport, topic, body):
    hooks = notification_transport.driver.testing
    if hooks is None:
        pytest.skip("driver offers no testing hooks")
    endpoint = Info()
    listener = api.get_notification_listener(notification_transport, [Target(topic=topic)],
                                             [endpoint], executor="threading")
    with running_server(listener):
        try:
            hooks.publish_raw_notification(Target(topic=f"{topic}.info"), body)
        except NotImplementedError:
            pytest.skip("driver cannot publish raw notifications")
        hooks.publish_raw_notification(Target(topic=f"{topic}.info"),
                                       raw_notification("INFO", "kit.good", {}))
        assert endpoint.seen.wait_count(1, timeout=20) == ["kit.good"]
