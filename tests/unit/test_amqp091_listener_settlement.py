"""Listeners of the shared AMQP 0-9-1 layer: de-duplication and settlement, on a fake connection.

Every ack or reject goes to the channel its delivery came on (its
generation). An acknowledged request's ``_unique_id`` is remembered, so a
redelivered copy is dropped (and acked); a delivery of a channel that is
gone is dropped without being remembered, so the broker's redelivery runs.
A malformed body is rejected without requeue and the listener goes on;
stopping or cleaning up gives back what was not settled.
"""

from __future__ import annotations

import logging
import zlib

import pytest
from amqp091_fake import ACK
from messaging_amqp091.delivery import Delivery

from messaging.envelope import build_notification, build_request, encode, wrap
from messaging.target import Target


def _request(unique_id: str | None = None) -> bytes:
    inner = build_request({"method": "m", "args": {"a": 1}}, {"user": "u"})
    if unique_id is not None:
        inner["_unique_id"] = unique_id
    return encode(wrap(inner))


def _notification(unique_id: str = "n-1") -> bytes:
    inner = build_notification({"priority": "INFO", "event_type": "e", "payload": {"p": 1},
                                "publisher_id": "x", "message_id": "m",
                                "timestamp": "2026-01-01 00:00:00"}, {})
    inner["_unique_id"] = unique_id
    return encode(wrap(inner))


@pytest.fixture
def server(fake_amqp):
    """An RPC server's listener on topic ``t`` and its fake connection."""
    driver, factory = fake_amqp()
    listener = driver.listen(Target(topic="t", server="s"))
    return listener, factory.only("rpc-server")


def test_a_request_is_parsed_and_acknowledged_once_on_its_channel(server):
    listener, conn = server
    tag = conn.deliver("t", _request())
    (msg,) = listener.poll(timeout=1)
    assert (msg.ctxt, msg.message) == ({"user": "u"}, {"method": "m", "args": {"a": 1}})
    assert conn.settles == []
    msg.acknowledge()
    msg.acknowledge()
    msg.requeue()
    assert conn.settles == [(1, tag, ACK)]


def test_a_redelivered_copy_of_an_acknowledged_request_is_dropped_and_acked(server, caplog):
    listener, conn = server
    conn.deliver("t", _request("u-1"))
    listener.poll(timeout=1)[0].acknowledge()
    again = conn.deliver("t", _request("u-1"))
    assert listener.poll(timeout=0.05) == []
    assert conn.settles[-1] == (1, again, ACK)
    assert any("duplicate" in r.getMessage() and "u-1" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)


def test_a_delivery_of_a_lost_channel_is_dropped_unseen_and_its_redelivery_served(server):
    listener, conn = server
    conn.deliver("t", _request("u-2"))
    conn.new_channel()  # lost before anyone polled: the broker requeued it
    assert listener.poll(timeout=0.05) == []
    assert conn.settles == []
    tag = conn.deliver("t", _request("u-2"))  # the broker's redelivery, on channel 2
    (msg,) = listener.poll(timeout=1)
    msg.acknowledge()
    assert conn.settles == [(2, tag, ACK)]


def test_an_ack_made_after_a_reconnect_names_the_old_channel(server):
    listener, conn = server
    tag = conn.deliver("t", _request())
    (msg,) = listener.poll(timeout=1)
    conn.new_channel()
    msg.acknowledge()  # the connection drops it: that channel's deliveries were requeued
    assert conn.settles == [(1, tag, ACK)]


@pytest.mark.parametrize("body", [b"not json", b'{"oslo.version": "9.0", "oslo.message": "{}"}',
                                  encode(wrap({"args": {}}))])
def test_a_malformed_request_is_rejected_for_good_and_the_listener_goes_on(server, body,
                                                                            caplog):
    listener, conn = server
    bad = conn.deliver("t", body)
    good = conn.deliver("t", _request())
    (msg,) = listener.poll(timeout=1)
    msg.acknowledge()
    assert conn.settles == [(1, bad, False), (1, good, ACK)]
    assert any("malformed" in r.getMessage() for r in caplog.records)


def test_a_compressed_request_is_read(server):
    listener, conn = server
    conn.deliver("t", zlib.compress(_request()), {"compression": "application/x-gzip"})
    (msg,) = listener.poll(timeout=1)
    assert msg.message["method"] == "m"


def test_a_notification_is_settled_only_by_its_endpoint_and_a_requeued_one_comes_back(
        fake_amqp):
    driver, factory = fake_amqp()
    listener = driver.listen_for_notifications([(Target(topic="n"), "info")])
    conn = factory.only("notification-listener")
    first = conn.deliver("n.info", _notification("n-7"))
    (msg,) = listener.poll(timeout=1)
    assert msg.message["payload"] == {"p": 1} and conn.settles == []
    msg.requeue()
    again = conn.deliver("n.info", _notification("n-7"))  # requeued: not a duplicate
    (msg,) = listener.poll(timeout=1)
    msg.acknowledge()
    assert conn.settles == [(1, first, True), (1, again, ACK)]


def test_stopping_gives_back_what_is_buffered_and_what_arrives_later(server):
    listener, conn = server
    (sub,) = conn.subscriptions
    tags = [conn.deliver("t", _request()) for _ in range(2)]
    listener.stop()
    assert listener.poll(timeout=0.05) == []
    late = 99
    sub.on_message(Delivery(_request(), None, late, "", "t"), conn.generation)  # in flight
    assert sorted(conn.settles) == [(1, tags[0], True), (1, tags[1], True), (1, late, True)]


def test_cleanup_gives_back_what_was_polled_but_not_settled_and_closes(server):
    listener, conn = server
    tag = conn.deliver("t", _request())
    listener.poll(timeout=1)
    listener.cleanup()
    assert conn.settles == [(1, tag, True)] and conn.closed
