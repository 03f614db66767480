"""After the broker drops a connection, everything is declared and consumed again.

Connections are closed from the broker side with ``rabbitmqctl
close_connection`` (the system node is never restarted).
"""

from __future__ import annotations

import threading

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2"


def _call(driver, topic, timeout=10.0):
    return driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=timeout)


def test_a_server_whose_connection_is_closed_reconnects_and_serves(
        make_driver, serve, rmq, topic):
    driver = make_driver(QUICK)
    listener = driver.listen(Target(topic=topic, server="s1"))
    serve(listener, lambda m: "ok")
    assert _call(driver, topic).result == "ok"

    rmq.close_connection(listener.connection.name)
    rmq.wait_until(lambda: listener.connection.connects == 2, what="the server reconnects")
    assert _call(driver, topic).result == "ok"
    assert rmq.queues()[topic]["consumers"] == 1
    assert rmq.queues()[f"{topic}.s1"]["consumers"] == 1


def test_a_deleted_queue_is_declared_and_consumed_again(make_driver, serve, rmq, topic):
    driver = make_driver(QUICK)
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    rmq.ctl("delete_queue", topic, vhost=rmq.vhost)
    rmq.wait_until(lambda: rmq.queues().get(topic, {}).get("consumers") == 1,
                   what="queue consumed again")
    driver.cast(Target(topic=topic), {}, {"method": "again", "args": {}})
    assert server.wait_count(1)[0].message["method"] == "again"


def test_a_call_in_flight_survives_the_clients_reconnect(make_driver, serve, rmq, topic):
    driver = make_driver(QUICK)
    started, release = threading.Event(), threading.Event()

    def slow(msg):
        started.set()
        release.wait(20)
        return "late but fine"

    serve(driver.listen(Target(topic=topic, server="s1")), slow)
    result = {}
    caller = threading.Thread(target=lambda: result.setdefault("r", _call(driver, topic, 30)))
    caller.start()
    assert started.wait(10)
    rmq.close_connection(driver._client.name)
    rmq.wait_until(lambda: driver._client.connects == 2, what="the client reconnects")
    release.set()  # the reply goes to the reply queue, consumed again after the reconnect
    caller.join(25)
    assert result["r"].result == "late but fine"


def test_casts_sent_across_a_reconnect_are_not_lost(make_driver, serve, rmq, topic):
    driver = make_driver(QUICK)
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    sent = []
    errors = []
    closed = threading.Event()

    def cast_until_well_after_the_reconnect():
        after = 0
        while after < 100 and len(sent) < 50000:
            try:
                driver.cast(Target(topic=topic), {}, {"method": "m", "args": {"i": len(sent)}})
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)
                return
            sent.append(len(sent))
            if closed.is_set() and driver._client.connects >= 2:
                after += 1

    sender = threading.Thread(target=cast_until_well_after_the_reconnect)
    sender.start()
    rmq.wait_until(lambda: len(server.received) >= 20, what="first casts")
    rmq.close_connection(driver._client.name)
    closed.set()
    sender.join(60)
    assert not errors
    assert driver._client.connects == 2
    rmq.wait_until(lambda: {m.message["args"]["i"] for m in server.received} == set(sent),
                   timeout=20, what="every confirmed cast")


def test_unacked_notifications_come_back_after_a_reconnect(make_driver, rmq, topic):
    driver = make_driver(QUICK)
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO", "payload": {"n": 1}})
    (first,) = listener.poll(timeout=10)
    rmq.close_connection(listener.connection.name)  # before the endpoint acked
    rmq.wait_until(lambda: listener.connection.connects == 2, what="the listener reconnects")
    first.acknowledge()  # stale: the broker already gave it back
    (again,) = listener.poll(timeout=10)
    assert again.message == first.message
    again.acknowledge()
    assert listener.poll(timeout=0.5) == []
    listener.cleanup()
    rmq.wait_until(lambda: rmq.queues()[f"{topic}.info"]["messages"] == 0, what="acked")


def test_a_deleted_exchange_is_declared_again_on_a_new_channel(driver, rmq, url, topic, raw_url):
    import kombu

    exchange = f"ex_{topic}"
    target = Target(topic=topic, exchange=exchange)
    driver.cast(target, {}, {"method": "first", "args": {}})
    assert driver._client.generation == 1
    with kombu.Connection(raw_url) as raw:
        raw.default_channel.exchange_delete(exchange)
    assert exchange not in rmq.exchanges()
    # The publish hits the missing exchange: 404 closes the channel; the driver
    # opens another on the same connection, declares again and re-sends the
    # unconfirmed cast, which the broker then confirms.
    driver.cast(target, {}, {"method": "second", "args": {}})
    assert driver._client.generation == 2 and driver._client.connects == 1
    assert exchange in rmq.exchanges()


def test_a_refused_declaration_fails_only_that_send(driver, serve, url, topic, raw_url):
    import kombu

    from messaging.exceptions import MessageDeliveryFailure

    with kombu.Connection(raw_url) as raw:
        kombu.Queue(f"{topic}.info", kombu.Exchange("openstack", "topic", durable=False),
                    f"{topic}.info", queue_arguments={"x-max-length": 5},
                    channel=raw.default_channel).declare()
    with pytest.raises(MessageDeliveryFailure, match="PRECONDITION_FAILED"):
        driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    driver.cast(Target(topic=topic), {}, {"method": "still fine", "args": {}})
    assert server.wait_count(1)[0].message["method"] == "still fine"
