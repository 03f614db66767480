"""A publish the broker refused (``basic.nack``) is retried, also across a reconnect.

The retry of a nacked publish waits ``rabbit_retry_interval`` in the
connection's backlog; a reconnect meanwhile must not orphan it (it used to
be appended to a backlog the reconnect had replaced, and the ``cast``
waiting on it never returned).
"""

from __future__ import annotations

import json
import threading

import kombu
import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit


def test_a_nacked_cast_is_retried_after_a_reconnect(make_driver, rmq, url, topic, raw_url):
    raw = kombu.Connection(raw_url)
    exchange = kombu.Exchange("openstack", "topic", durable=False)
    queue = kombu.Queue(topic, exchange, topic, queue_arguments={
        "x-max-length": 1, "x-overflow": "reject-publish"}, channel=raw.default_channel)
    queue.declare()
    kombu.Producer(raw.default_channel).publish({"filler": True}, exchange=exchange,
                                                routing_key=topic)  # full: publishes are nacked
    driver = make_driver("rabbit_retry_interval=1&kombu_reconnect_delay=0.1")
    client = driver._client_connection()
    outcome = {}

    def cast():
        try:
            driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
            outcome["ok"] = True
        except Exception as exc:  # reported by the assertion below
            outcome["exc"] = exc

    sender = threading.Thread(target=cast, daemon=True)
    sender.start()
    rmq.wait_until(lambda: "nack" in (client.last_error or ""), what="the broker to nack")
    rmq.close_connection(client.name)  # while the retry waits its interval
    rmq.wait_until(lambda: client.connects == 2, what="the client to reconnect")
    rmq.ctl("purge_queue", topic, vhost=rmq.vhost)  # the queue takes one message again
    sender.join(20)
    assert not sender.is_alive(), "the nacked cast was lost by the reconnect: cast() hangs"
    assert outcome == {"ok": True}
    message = queue.get(no_ack=True)
    assert message is not None
    assert json.loads(message.payload["oslo.message"])["method"] == "m"
    raw.release()
