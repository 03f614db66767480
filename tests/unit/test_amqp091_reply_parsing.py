"""The client side of calls on the shared AMQP 0-9-1 layer: replies parsed off the reply queue.

Replies arrive on the driver's ``reply_<hex>`` queue (consumed without
acks, as oslo does) and are routed to the waiting call by ``_msg_id``:
a result or a failure ends the call; a call-monitor heartbeat, or the
first half of oslo's old two-message reply, keeps it waiting. Malformed
or unclaimed replies are dropped without disturbing anything.
"""

from __future__ import annotations

import bz2
import logging
from typing import Any

import pytest
from messaging_amqp091.codec import decode_body

from messaging.driver import Reply
from messaging.envelope import build_heartbeat, build_reply, encode, unwrap, wrap
from messaging.exceptions import MessagingTimeout
from messaging.target import Target


@pytest.fixture
def call(fake_amqp):
    """Start a call; ``(future, client connection, msg_id, reply queue)``."""
    driver, factory = fake_amqp()
    future = driver.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=10)
    client = factory.only("client")
    request = client.published[-1]
    inner = unwrap(decode_body(request.body, request.headers))
    return future, client, inner["_msg_id"], inner["_reply_q"], driver


def _reply(inner: dict[str, Any]) -> bytes:
    return encode(wrap(inner))


def test_a_reply_ends_the_call_with_its_result(call):
    future, client, msg_id, reply_q, _ = call
    client.deliver(reply_q, _reply(build_reply(msg_id, {"x": [1, 2]})))
    assert future.result(timeout=1) == Reply(result={"x": [1, 2]})
    assert client.settles == []  # the reply queue is consumed without acks


def test_a_failure_reply_ends_the_call_with_the_remote_failure(call):
    future, client, msg_id, reply_q, _ = call
    failure = {"class": "ValueError", "module": "builtins", "message": "no", "tb": []}
    client.deliver(reply_q, _reply(build_reply(msg_id, failure=failure)))
    assert future.result(timeout=1).failure == failure


def test_heartbeats_and_a_first_half_keep_the_call_waiting_until_the_ending(call):
    future, client, msg_id, reply_q, _ = call
    client.deliver(reply_q, _reply(build_heartbeat(msg_id)))
    client.deliver(reply_q, _reply({"_msg_id": msg_id, "result": "first half",
                                    "failure": None, "ending": False}))
    assert not future.done()
    client.deliver(reply_q, _reply({"_msg_id": msg_id, "result": None, "failure": None,
                                    "ending": True}))
    assert future.result(timeout=1) == Reply(result="first half")


@pytest.mark.parametrize("body", [b"\x00garbage", encode(wrap({"_msg_id": "x",
                                                               "failure": "[1, 2]"})),
                                  encode([1, 2])])
def test_a_malformed_reply_is_dropped_and_the_call_still_gets_its_answer(call, body, caplog):
    future, client, msg_id, reply_q, _ = call
    client.deliver(reply_q, body)
    assert not future.done()
    assert any("malformed reply" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    client.deliver(reply_q, _reply(build_reply(msg_id, "fine")))
    assert future.result(timeout=1).result == "fine"


def test_a_reply_no_call_waits_for_is_ignored(call):
    future, client, _msg_id, reply_q, _ = call
    client.deliver(reply_q, _reply(build_reply("someone-else", "late")))
    assert not future.done()


def test_a_compressed_reply_is_read(call):
    future, client, msg_id, reply_q, _ = call
    client.deliver(reply_q, bz2.compress(_reply(build_reply(msg_id, 42))),
                   {"compression": "application/x-bz2"})
    assert future.result(timeout=1).result == 42


def test_cleanup_ends_a_waiting_call_at_once(call):
    future, _client, _msg_id, _reply_q, driver = call
    driver.cleanup()
    with pytest.raises(MessagingTimeout, match="cleaned up"):
        future.result(timeout=1)
