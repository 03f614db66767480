"""Notifications: stored before any listener, acked after the endpoint, requeue, pools."""

from __future__ import annotations

import uuid

import pytest

import messaging
from messaging.notify import Notifier, get_notification_listener
from messaging.target import Target

pytestmark = pytest.mark.rabbit


def _event(n: int) -> dict:
    return {"message_id": str(uuid.uuid4()), "publisher_id": "p", "event_type": "e",
            "priority": "INFO", "payload": {"n": n}, "timestamp": "2026-01-01 00:00:00"}


def test_notifications_wait_for_their_first_listener(driver, topic):
    driver.notify(Target(topic=f"{topic}.info"), {}, _event(1))
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    (msg,) = listener.poll(timeout=10)
    assert msg.message["payload"] == {"n": 1}
    msg.acknowledge()
    listener.cleanup()


def test_acked_only_after_the_endpoint_and_requeue_redelivers(driver, rmq, topic):
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    driver.notify(Target(topic=f"{topic}.info"), {"user": "u"}, _event(2))
    (msg,) = listener.poll(timeout=10)
    assert msg.ctxt == {"user": "u"}
    unacked = rmq.ctl_json("list_queues", "name", "messages_unacknowledged", vhost=rmq.vhost)
    assert {r["name"]: r["messages_unacknowledged"] for r in unacked}[f"{topic}.info"] == 1
    msg.requeue()
    (again,) = listener.poll(timeout=10)
    assert again.message == msg.message
    again.acknowledge()
    assert listener.poll(timeout=0.3) == []
    listener.cleanup()
    assert rmq.queues()[f"{topic}.info"]["messages"] == 0


def test_each_pool_gets_a_copy_and_members_share_it(driver, topic):
    targets = [(Target(topic=topic), "info")]
    a1 = driver.listen_for_notifications(targets, pool=f"{topic}-a")
    a2 = driver.listen_for_notifications(targets, pool=f"{topic}-a")
    b = driver.listen_for_notifications(targets, pool=f"{topic}-b")
    for n in range(10):
        driver.notify(Target(topic=f"{topic}.info"), {}, _event(n))

    def drain(listeners, count):
        got = []
        while len(got) < count:
            for lst in listeners:
                for m in lst.poll(timeout=0.1, max_messages=10):
                    m.acknowledge()
                    got.append(m.message["payload"]["n"])
        return sorted(got)

    assert drain([a1, a2], 10) == list(range(10))
    assert drain([b], 10) == list(range(10))
    for lst in (a1, a2, b):
        lst.cleanup()


def test_bare_1_0_notifications_arrive_too(driver, topic):
    listener = driver.listen_for_notifications([(Target(topic=topic), "error")])
    event = _event(3) | {"priority": "ERROR"}
    driver.notify(Target(topic=f"{topic}.error"), {}, event, version=1.0)
    (msg,) = listener.poll(timeout=10)
    assert msg.message == event
    msg.acknowledge()
    listener.cleanup()


def test_the_public_notifier_and_listener_api(url, rmq, topic):
    transport = messaging.get_notification_transport(None, url)
    seen = []

    class Endpoint:
        def warn(self, ctxt, publisher_id, event_type, payload, metadata):
            seen.append((publisher_id, event_type, payload))

    server = get_notification_listener(transport, [messaging.Target(topic=topic)], [Endpoint()],
                                       executor="threading")
    server.start()
    try:
        Notifier(transport, publisher_id="compute.h1", driver="messagingv2",
                 topics=[topic]).warn({}, "thing.happened", {"x": 1})
        rmq.wait_until(lambda: seen, what="the notification")
        assert seen == [("compute.h1", "thing.happened", {"x": 1})]
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
