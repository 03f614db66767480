"""What the shared driver asks its connection to declare and publish to: oslo's topology.

RabbitMQ refuses a second declaration of a queue or exchange with other
flags or arguments (406), so a service on this library and one on
oslo.messaging 18.x share a broker only if both declare alike. These are
oslo's names, types, flags and arguments, read from what the driver hands
its (fake) connection; the functional and interop suites check the same
on a real broker.
"""

from __future__ import annotations

import re

from messaging_amqp091.topology import Binding, ExchangeSpec

from messaging.target import Target

OPENSTACK = ExchangeSpec("openstack", "topic", durable=False, auto_delete=False)


def _sent(factory):
    return factory.only("client").published


def test_casts_go_to_the_control_exchange_by_topic_or_topic_dot_server(fake_amqp):
    driver, factory = fake_amqp()
    driver.cast(Target(topic="compute"), {}, {"method": "m"})
    driver.cast(Target(topic="compute", server="h1"), {}, {"method": "m"})
    driver.cast(Target(topic="compute", exchange="nova"), {}, {"method": "m"})
    assert [(p.exchange, p.routing_key) for p in _sent(factory)] == [
        (OPENSTACK, "compute"), (OPENSTACK, "compute.h1"),
        (ExchangeSpec("nova", "topic", False, False), "compute")]


def test_a_fanout_cast_goes_to_an_auto_deleted_fanout_exchange_named_after_the_topic(fake_amqp):
    driver, factory = fake_amqp()
    driver.cast(Target(topic="compute", fanout=True), {}, {"method": "m"})
    (publish,) = _sent(factory)
    assert publish.exchange == ExchangeSpec("compute_fanout", "fanout", durable=False,
                                            auto_delete=True)
    assert publish.routing_key == ""


def test_an_rpc_server_consumes_the_topic_its_own_key_and_a_private_fanout_queue(fake_amqp):
    driver, factory = fake_amqp()
    listener = driver.listen(Target(topic="compute", server="h1"))
    (sub,) = factory.only("rpc-server").subscriptions
    shared, own, fanout = sub.queues
    assert (shared.name, shared.durable, shared.auto_delete, dict(shared.arguments)) == \
        ("compute", False, False, {})
    assert shared.bindings == (Binding(OPENSTACK, "compute"),)
    assert own.name == "compute.h1" and own.bindings == (Binding(OPENSTACK, "compute.h1"),)
    assert re.fullmatch(r"compute_fanout_[0-9a-f]{32}", fanout.name)
    assert dict(fanout.arguments) == {"x-expires": 1800 * 1000}
    assert fanout.bindings == (Binding(ExchangeSpec("compute_fanout", "fanout", False, True),
                                       "compute"),)
    assert [q.owned for q in sub.queues] == [False, False, True]  # deleted at close
    assert listener.queues == sub.queues


def test_quorum_and_durable_options_change_queues_and_exchanges_as_oslos_do(fake_amqp):
    driver, factory = fake_amqp("rabbit_quorum_queue=1&rabbit_quorum_delivery_limit=5"
                                "&rabbit_transient_queues_ttl=60")
    driver.listen(Target(topic="t", server="s"))
    shared, own, fanout = factory.only("rpc-server").subscriptions[0].queues
    durable_exchange = ExchangeSpec("openstack", "topic", durable=True, auto_delete=False)
    for queue in (shared, own):
        assert queue.durable
        assert dict(queue.arguments) == {"x-queue-type": "quorum", "x-delivery-limit": 5}
        assert queue.bindings[0].exchange == durable_exchange
    assert not fanout.durable and dict(fanout.arguments) == {"x-expires": 60000}


def test_mirrored_queues_carry_the_ha_policy_argument(fake_amqp):
    driver, factory = fake_amqp("rabbit_ha_queues=1&amqp_durable_queues=1")
    driver.listen(Target(topic="t", server="s"))
    shared, _own, fanout = factory.only("rpc-server").subscriptions[0].queues
    assert shared.durable and dict(shared.arguments) == {"x-ha-policy": "all"}
    assert dict(fanout.arguments)["x-ha-policy"] == "all"


def test_a_notification_declares_its_priority_queue_so_it_waits_for_a_listener(fake_amqp):
    driver, factory = fake_amqp()
    driver.notify(Target(topic="notifications.info"), {}, {"priority": "INFO"})
    (publish,) = _sent(factory)
    assert (publish.exchange, publish.routing_key) == (OPENSTACK, "notifications.info")
    assert publish.queue.name == "notifications.info"
    assert publish.queue.bindings == (Binding(OPENSTACK, "notifications.info"),)


def test_a_listener_pool_shares_one_queue_bound_to_every_priority(fake_amqp):
    driver, factory = fake_amqp()
    driver.listen_for_notifications([(Target(topic="n"), "info"), (Target(topic="n"), "error")],
                                    pool="audit")
    (sub,) = factory.only("notification-listener").subscriptions
    (queue,) = sub.queues
    assert queue.name == "audit"
    assert queue.bindings == (Binding(OPENSTACK, "n.info"), Binding(OPENSTACK, "n.error"))


def test_a_call_consumes_its_reply_queue_before_sending_the_request(fake_amqp):
    driver, factory = fake_amqp()
    future = driver.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5)
    client = factory.only("client")
    (subscribe, queues), (publish, key) = client.events
    assert (subscribe, publish, key) == ("subscribe", "publish", "t")
    (reply_q,) = queues
    assert re.fullmatch(r"reply_[0-9a-f]{32}", reply_q)
    (spec,) = client.subscriptions[0].queues
    assert not spec.durable and dict(spec.arguments) == {"x-expires": 1800 * 1000}
    assert spec.bindings == () and spec.owned  # default exchange; deleted at close
    future.cancel()
