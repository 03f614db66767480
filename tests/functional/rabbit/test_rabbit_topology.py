"""Exchanges, queues, bindings and arguments are oslo.messaging's (checked with rabbitmqctl)."""

from __future__ import annotations

import re
import uuid

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

HEX32 = "[0-9a-f]{32}"


def test_an_rpc_server_declares_oslos_topology(driver, rmq, topic):
    listener = driver.listen(Target(topic=topic, server="s1"))
    queues, exchanges, bindings = rmq.queues(), rmq.exchanges(), rmq.bindings()

    assert exchanges["openstack"] | {"arguments": []} == {
        "name": "openstack", "type": "topic", "durable": False, "auto_delete": False,
        "arguments": []}
    assert exchanges[f"{topic}_fanout"]["type"] == "fanout"
    assert exchanges[f"{topic}_fanout"]["durable"] is False
    assert exchanges[f"{topic}_fanout"]["auto_delete"] is True
    for name in (topic, f"{topic}.s1"):
        q = queues[name]
        assert (q["durable"], q["auto_delete"], q["arguments"]) == (False, False, {})
        assert ("openstack", name, name) in bindings
    (fanout_q,) = [n for n in queues if n.startswith(f"{topic}_fanout_")]
    assert re.fullmatch(f"{topic}_fanout_{HEX32}", fanout_q)
    q = queues[fanout_q]
    assert (q["durable"], q["auto_delete"], q["arguments"]) == (False, False,
                                                                {"x-expires": 1800000})
    assert (f"{topic}_fanout", fanout_q, topic) in bindings
    assert q["consumers"] == 1 and queues[topic]["consumers"] == 1

    listener.cleanup()
    assert fanout_q not in rmq.queues()  # the server deletes its own fanout queue


def test_the_reply_queue_has_x_expires_and_goes_with_the_driver(driver, rmq, topic):
    from messaging.exceptions import MessagingTimeout

    with pytest.raises(MessagingTimeout):
        driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=0.5)
    replies = {n: q for n, q in rmq.queues().items() if n.startswith("reply_")}
    (name,) = [n for n in replies if n == driver._replies.queue_name]
    assert re.fullmatch(f"reply_{HEX32}", name)
    q = replies[name]
    assert (q["durable"], q["auto_delete"], q["arguments"]) == (False, False,
                                                                {"x-expires": 1800000})
    driver.cleanup()
    assert name not in rmq.queues()


def test_a_notification_publisher_declares_the_priority_queue(driver, rmq, topic):
    driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO", "event_type": "e",
                                                      "payload": {}})
    q = rmq.queues()[f"{topic}.info"]
    assert (q["durable"], q["auto_delete"], q["arguments"], q["messages"]) == (
        False, False, {}, 1)
    assert ("openstack", f"{topic}.info", f"{topic}.info") in rmq.bindings()


def test_a_pool_shares_one_queue_bound_to_every_priority(driver, rmq, topic):
    pool = f"pool_{uuid.uuid4().hex[:8]}"
    listener = driver.listen_for_notifications(
        [(Target(topic=topic), "info"), (Target(topic=topic), "warn")], pool=pool)
    bindings = rmq.bindings()
    assert ("openstack", pool, f"{topic}.info") in bindings
    assert ("openstack", pool, f"{topic}.warn") in bindings
    q = rmq.queues()[pool]
    assert (q["durable"], q["auto_delete"], q["arguments"]) == (False, False, {})
    listener.cleanup()
    assert pool in rmq.queues()  # a pool queue is shared: it stays


def test_the_exchange_comes_from_the_target_or_the_control_exchange(make_driver, rmq, topic):
    control = f"ctl_{uuid.uuid4().hex[:8]}"
    own = f"own_{uuid.uuid4().hex[:8]}"
    driver = make_driver(default_exchange=control)
    driver.listen(Target(topic=topic, server="s1")).cleanup()
    driver.listen(Target(topic=f"{topic}_b", server="s1", exchange=own)).cleanup()
    bindings = rmq.bindings()
    assert (control, topic, topic) in bindings
    assert (own, f"{topic}_b", f"{topic}_b") in bindings


def test_options_change_flags_and_arguments_as_in_oslo(make_driver, rmq, topic):
    exchange = f"ex_{uuid.uuid4().hex[:8]}"
    driver = make_driver("amqp_durable_queues=true&rabbit_transient_queues_ttl=60"
                         "&rabbit_ha_queues=1")
    driver.listen(Target(topic=topic, server="s1", exchange=exchange))
    queues, exchanges = rmq.queues(), rmq.exchanges()
    assert exchanges[exchange]["durable"] is True
    assert queues[topic]["durable"] is True
    assert queues[topic]["arguments"] == {"x-ha-policy": "all"}
    (fanout_q,) = [n for n in queues if n.startswith(f"{topic}_fanout_")]
    assert queues[fanout_q]["durable"] is False
    assert queues[fanout_q]["arguments"] == {"x-ha-policy": "all", "x-expires": 60000}


def test_quorum_queues(make_driver, rmq, topic):
    exchange = f"ex_{uuid.uuid4().hex[:8]}"
    driver = make_driver("rabbit_quorum_queue=1&rabbit_quorum_delivery_limit=5"
                         "&rabbit_transient_quorum_queue=1")
    driver.listen(Target(topic=topic, server="s1", exchange=exchange))
    queues, exchanges = rmq.queues(), rmq.exchanges()
    assert exchanges[exchange]["durable"] is True  # quorum forces durable, as oslo
    assert queues[topic]["durable"] is True
    assert queues[topic]["arguments"] == {"x-queue-type": "quorum", "x-delivery-limit": 5}
    (fanout_q,) = [n for n in queues if n.startswith(f"{topic}_fanout_")]
    assert queues[fanout_q]["durable"] is True
    assert queues[fanout_q]["arguments"] == {"x-queue-type": "quorum", "x-delivery-limit": 5,
                                             "x-expires": 1800000}
    assert exchanges[f"{topic}_fanout"]["durable"] is True


def test_a_durable_publisher_falls_back_to_an_existing_non_durable_exchange(
        make_driver, driver, serve, topic):
    exchange = f"ex_{uuid.uuid4().hex[:8]}"
    # A non-durable service declared the exchange first...
    server = serve(driver.listen(Target(topic=topic, server="s1", exchange=exchange)))
    # ...a durable one still gets through, as with oslo's fallback.
    durable = make_driver("amqp_durable_queues=1")
    durable.cast(Target(topic=topic, exchange=exchange), {}, {"method": "m", "args": {}})
    assert server.wait_count(1)[0].message["method"] == "m"
