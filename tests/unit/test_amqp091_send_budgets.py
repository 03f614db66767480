"""What bounds each send the shared driver hands its connection: retry budget and deadline.

A cast or notification may live through ``retry`` failed connection
attempts (None: any number) and at most ``send_timeout``; a call's request
lives until the call's own deadline, with an AMQP ``expiration`` of the
time left, so a late request is dropped by the broker rather than run.
The connections enforce these (:mod:`messaging_amqp091.backlog`); here,
the fake connection shows what the driver asked for.
"""

from __future__ import annotations

import time

import pytest

from messaging.exceptions import MessageUndeliverable, SerializationError
from messaging.target import Target


def test_a_cast_carries_its_retry_budget_and_the_send_timeout(fake_amqp):
    driver, factory = fake_amqp("send_timeout=7")
    before = time.monotonic()
    driver.cast(Target(topic="t"), {}, {"method": "m"}, retry=3)
    driver.notify(Target(topic="n.info"), {}, {"priority": "INFO"}, retry=0)
    driver.cast(Target(topic="t"), {}, {"method": "m"})
    cast, note, unlimited = factory.only("client").published
    assert (cast.retry, note.retry, unlimited.retry) == (3, 0, None)
    for publish in (cast, note, unlimited):
        assert before + 7 <= publish.deadline <= time.monotonic() + 7
        assert not publish.call and publish.expiration(time.monotonic()) is None


def test_a_calls_request_lives_until_the_calls_deadline_and_expires_then(fake_amqp):
    driver, factory = fake_amqp()
    future = driver.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=4, retry=2)
    (request,) = factory.only("client").published
    assert request.call and request.retry == 2
    left = int(request.expiration(time.monotonic()))
    assert 3000 < left <= 4000  # milliseconds
    assert request.expiration(request.deadline + 1) == "1"  # never 0 (no expiry at all)
    future.cancel()


def test_a_mandatory_cast_no_queue_takes_fails_at_once_naming_where_it_went(fake_amqp):
    driver, factory = fake_amqp()
    driver.cast(Target(topic="t"), {}, {"method": "warmup"})  # builds the client connection
    factory.only("client").unroutable.add("nowhere")
    with pytest.raises(MessageUndeliverable, match="nowhere"):
        driver.cast(Target(topic="nowhere"), {}, {"method": "m"}, mandatory=True)


def test_a_message_that_is_not_json_fails_before_anything_is_sent(fake_amqp):
    driver, factory = fake_amqp()
    # the driver checks JSON itself (checks_json): the transport's SerializationError
    assert driver.checks_json
    with pytest.raises(SerializationError, match="Cannot send m"):
        driver.cast(Target(topic="t"), {}, {"method": "m", "args": {"x": object()}})
    with pytest.raises(SerializationError, match="Cannot send m"):
        driver.call(Target(topic="t"), {}, {"method": "m", "args": {"x": object()}}, timeout=5)
    with pytest.raises(SerializationError, match="Cannot send the message"):
        driver.submit_notify(Target(topic="t.info"), {}, {"payload": object(), "priority": "INFO"})
    assert all(not c.published for c in factory.made)
