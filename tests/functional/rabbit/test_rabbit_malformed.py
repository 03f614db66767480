"""A malformed body is logged, rejected without requeue, and the listener keeps serving."""

from __future__ import annotations

import logging

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

GARBAGE = [b"not json at all", b"[1, 2, 3]", b'{"oslo.version": "9.0", "oslo.message": "{}"}',
           b'{"oslo.version": "2.0", "oslo.message": "{not json"}', b'{"args": {}}']


def test_an_rpc_server_rejects_garbage_and_keeps_serving(driver, serve, rmq, topic, caplog):
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    with caplog.at_level(logging.WARNING, logger="messaging_amqp091"):
        for body in GARBAGE:
            driver.testing.publish_raw(Target(topic=topic), body)
        driver.cast(Target(topic=topic), {}, {"method": "good", "args": {}})
        (msg,) = server.wait_count(1)
    assert msg.message["method"] == "good"
    assert caplog.text.count("Rejecting a malformed message") == len(GARBAGE)
    queue = rmq.queues()[topic]
    assert queue["messages"] == 0  # rejected without requeue: gone, not looping


def test_a_notification_listener_rejects_garbage_and_keeps_serving(driver, rmq, topic, caplog):
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    with caplog.at_level(logging.WARNING, logger="messaging_amqp091"):
        driver.testing.publish_raw(Target(topic=f"{topic}.info"), b"\xff\xfe garbage")
        driver.testing.publish_raw(Target(topic=f"{topic}.info"), b'{"no": "priority"}')
        driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO", "payload": 1})
        (msg,) = listener.poll(timeout=10)
    assert msg.message["payload"] == 1
    msg.acknowledge()
    assert caplog.text.count("Rejecting a malformed message") == 2
    listener.cleanup()
    rmq.wait_until(lambda: rmq.queues()[f"{topic}.info"]["messages"] == 0, what="queue empty")
