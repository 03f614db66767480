"""Casts and notifications are confirmed by the broker, pipelined, and fail loudly."""

from __future__ import annotations

import threading
import uuid

import kombu
import pytest

from messaging.exceptions import MessageDeliveryFailure, SerializationError
from messaging.target import Target

pytestmark = pytest.mark.rabbit


def test_concurrent_casts_share_one_connection_with_many_confirms_in_flight(
        driver, serve, topic):
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    threads, per_thread = 16, 50

    def send(n):
        for i in range(per_thread):
            driver.cast(Target(topic=topic), {}, {"method": "m", "args": {"k": f"{n}-{i}"}})

    workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    received = server.wait_count(threads * per_thread, timeout=30)
    assert len({m.message["args"]["k"] for m in received}) == threads * per_thread
    # Pipelined: publishes did not wait for each other's confirm.
    assert driver._client.peak_unconfirmed > 1


@pytest.fixture
def full_queue(url, topic, raw_url):
    """Queue ``topic`` that refuses every publish (max length 0, reject-publish)."""
    conn = kombu.Connection(raw_url)
    exchange = kombu.Exchange("openstack", "topic", durable=False)
    kombu.Queue(topic, exchange, topic, queue_arguments={
        "x-max-length": 0, "x-overflow": "reject-publish"},
        channel=conn.default_channel).declare()
    yield topic
    conn.release()


def test_a_message_the_broker_refuses_raises_after_the_retry_budget(make_driver, full_queue):
    driver = make_driver("rabbit_retry_interval=0.1")
    with pytest.raises(MessageDeliveryFailure, match=r"after 1 failed attempt.*nack"):
        driver.cast(Target(topic=full_queue), {}, {"method": "m", "args": {}}, retry=0)
    with pytest.raises(MessageDeliveryFailure, match=r"after 3 failed attempt.*nack"):
        driver.cast(Target(topic=full_queue), {}, {"method": "m", "args": {}}, retry=2)


def test_without_confirms_a_cast_only_hands_the_message_over(make_driver, serve, topic):
    driver = make_driver("publisher_confirms=false")
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
    assert server.wait_count(1)[0].message["method"] == "m"


def test_an_unserializable_message_is_a_serialization_error(driver, topic):
    """The driver checks JSON in its one encoding (checks_json): the transport's error."""
    assert driver.checks_json
    with pytest.raises(SerializationError, match="not JSON serializable"):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {"x": object()}})
    with pytest.raises(SerializationError, match="not JSON serializable"):
        driver.notify(Target(topic=f"{topic}.info"), {"c": object()},
                      {"priority": "INFO", "id": uuid.uuid4()})
