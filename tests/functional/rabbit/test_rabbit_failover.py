"""Hosts in the URL are a failover list: servers and clients move to the next one."""

from __future__ import annotations

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2&rabbit_retry_backoff=0.2"


@pytest.mark.parametrize("strategy", ["round-robin", "shuffle"])
def test_a_dead_first_host_is_skipped(make_driver, serve, rmq, vhost, topic, strategy, scheme):
    dead = f"guest:guest@127.0.0.1:{rmq.free_port()}"
    url = f"{scheme}://{dead},guest:guest@127.0.0.1:5672/{vhost}"
    driver = make_driver(f"{QUICK}&kombu_failover_strategy={strategy}", url_=url)
    listener = driver.listen(Target(topic=topic, server="s1"))
    serve(listener, lambda m: "via the second host")
    reply = driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=20)
    assert reply.result == "via the second host"
    driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
    driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})
    assert listener.connection.name in rmq.connections()


def test_servers_and_clients_fail_over_when_their_broker_stops(
        make_driver, serve, rmq, vhost, topic, private_node, scheme, monkeypatch):
    # Connections shuffle the hosts (spread over a cluster); here every one must start on
    # the private node, so the URL's order is kept for this test.
    import messaging_amqp091.connection as amqp_connection

    monkeypatch.setattr(amqp_connection, "spread_hosts", list)
    url = f"{scheme}://{private_node.url_host},guest:guest@127.0.0.1:5672/{vhost}"
    driver = make_driver(QUICK, url_=url)
    listener = driver.listen(Target(topic=topic, server="s1"))
    serve(listener, lambda m: "served")
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=20).result == "served"
    assert listener.connection.name not in rmq.connections()  # on the private node

    private_node.stop()
    # connects counts a connection once its queues are declared and consumed again.
    rmq.wait_until(lambda: listener.connection.connects == 2, timeout=30,
                   what="the server to move to the system node")
    assert listener.connection.name in rmq.connections()
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=20).result == "served"
    assert driver._client.name in rmq.connections()
