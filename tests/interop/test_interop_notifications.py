"""Notifications both ways between oslo.messaging 18.x and this library."""

from __future__ import annotations

import pytest

import messaging
from messaging.notify import Notifier, get_notification_listener
from messaging.target import Target

pytestmark = pytest.mark.rabbit


class _Endpoint:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, object]] = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.append(("info", publisher_id, event_type, payload))

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.append(("error", publisher_id, event_type, payload))


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_an_oslo_notifier_reaches_our_listener(oslo, oslo_notification_transport,
                                               notification_transport, running, wait, topic,
                                               driver):
    endpoint = _Endpoint()
    running(get_notification_listener(notification_transport, [messaging.Target(topic=topic)],
                                      [endpoint], executor="threading"))
    notifier = oslo.Notifier(oslo_notification_transport, publisher_id="compute.h1",
                             driver=driver, topics=[topic])
    notifier.info({}, "instance.create.end", {"id": 7})
    notifier.error({}, "instance.delete.error", {"id": 8})
    wait(lambda: len(endpoint.seen) == 2, what="both notifications")
    assert sorted(endpoint.seen) == [("error", "compute.h1", "instance.delete.error", {"id": 8}),
                                     ("info", "compute.h1", "instance.create.end", {"id": 7})]


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
def test_our_notifier_reaches_an_oslo_listener(oslo, oslo_notification_transport,
                                               notification_transport, running, wait, topic,
                                               driver):
    endpoint = _Endpoint()
    running(oslo.get_notification_listener(oslo_notification_transport,
                                           [oslo.Target(topic=topic)], [endpoint],
                                           executor="threading"))
    notifier = Notifier(notification_transport, publisher_id="compute.h2", driver=driver,
                        topics=[topic])
    notifier.info({}, "volume.attach", {"v": 1})
    wait(lambda: endpoint.seen, what="the notification")
    assert endpoint.seen == [("info", "compute.h2", "volume.attach", {"v": 1})]


def test_driver_level_both_ways_with_pools(oslo, oslo_notification_transport,
                                           notification_transport, running, wait, topic):
    # Our driver's notify() lands in an oslo pool; oslo's notifier in one of ours.
    theirs = _Endpoint()
    running(oslo.get_notification_listener(oslo_notification_transport,
                                           [oslo.Target(topic=topic)], [theirs],
                                           executor="threading", pool=f"{topic}-oslo"))
    listener = notification_transport.driver.listen_for_notifications(
        [(Target(topic=topic), "info")], pool=f"{topic}-ours")
    try:
        notification_transport.driver.notify(
            Target(topic=f"{topic}.info"), {}, {"message_id": "m", "publisher_id": "p",
                                                "event_type": "e", "priority": "INFO",
                                                "payload": {"x": 1},
                                                "timestamp": "2026-01-01 00:00:00"})
        oslo.Notifier(oslo_notification_transport, publisher_id="q", driver="messagingv2",
                      topics=[topic]).info({}, "f", {"y": 2})
        wait(lambda: len(theirs.seen) == 2, what="oslo's pool to get both")
        got = []
        while len(got) < 2:
            for msg in listener.poll(timeout=5):
                msg.acknowledge()
                got.append(msg.message["payload"])
        assert sorted(got, key=str) == [{"x": 1}, {"y": 2}]
        assert sorted((payload for *_, payload in theirs.seen), key=str) == [{"x": 1},
                                                                             {"y": 2}]
    finally:
        listener.cleanup()
